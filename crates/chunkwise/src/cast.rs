//! Converting elements between dtypes, with numpy's rules for which conversions are safe.
//!
//! A conversion is *safe* when every value of the source type has an exact equal in the target
//! type, as `numpy.can_cast(from, to, casting="safe")` decides: wider integers of the same
//! signedness, unsigned into wider signed, any integer of up to 16 bits into `f32`, up to 32
//! bits into `f64`, and — as numpy allows although it rounds large values — 64-bit integers into
//! `f64`. Anything else (narrowing, signed into unsigned, floats into integers) loses values and
//! is refused unless asked for; then values convert as numpy's `astype` does: integers wrap
//! modulo the target's range, floats into integers round toward zero, and — where numpy's
//! result is undefined — out-of-range floats saturate and NaN becomes 0.

use crate::dtype::{ChunkData, DType, Scalar};
use crate::error::{Error, Result};

/// Whether every value of `from` converts exactly into `to` (numpy's "safe" casting).
pub fn can_cast_safely(from: DType, to: DType) -> bool {
    use DType::*;
    if from == to {
        return true;
    }
    match from {
        U8 => matches!(to, U16 | U32 | U64 | I16 | I32 | I64 | F32 | F64),
        U16 => matches!(to, U32 | U64 | I32 | I64 | F32 | F64),
        U32 => matches!(to, U64 | I64 | F64),
        U64 => matches!(to, F64),
        I8 => matches!(to, I16 | I32 | I64 | F32 | F64),
        I16 => matches!(to, I32 | I64 | F32 | F64),
        I32 => matches!(to, I64 | F64),
        I64 => matches!(to, F64),
        F32 => matches!(to, F64),
        F64 => false,
    }
}

/// Checks a conversion: `Ok` when safe, or when `unsafe_allowed`.
///
/// # Errors
/// [`Error::InvalidSetting`] naming both dtypes, when the conversion can lose values.
pub fn check_cast(from: DType, to: DType, unsafe_allowed: bool) -> Result<()> {
    if unsafe_allowed || can_cast_safely(from, to) {
        return Ok(());
    }
    Err(Error::InvalidSetting {
        name: "dtype".into(),
        value: format!("{from} → {to}"),
        expected: format!(
            "expected a conversion that keeps every value ({from} into {to} can lose values \
             by numpy's casting rules)"
        ),
    })
}

macro_rules! cast_vec {
    ($values:expr, $to:expr) => {
        match $to {
            DType::U8 => ChunkData::U8($values.iter().map(|&v| v as u8).collect()),
            DType::U16 => ChunkData::U16($values.iter().map(|&v| v as u16).collect()),
            DType::U32 => ChunkData::U32($values.iter().map(|&v| v as u32).collect()),
            DType::U64 => ChunkData::U64($values.iter().map(|&v| v as u64).collect()),
            DType::I8 => ChunkData::I8($values.iter().map(|&v| v as i8).collect()),
            DType::I16 => ChunkData::I16($values.iter().map(|&v| v as i16).collect()),
            DType::I32 => ChunkData::I32($values.iter().map(|&v| v as i32).collect()),
            DType::I64 => ChunkData::I64($values.iter().map(|&v| v as i64).collect()),
            DType::F32 => ChunkData::F32($values.iter().map(|&v| v as f32).collect()),
            DType::F64 => ChunkData::F64($values.iter().map(|&v| v as f64).collect()),
        }
    };
}

impl ChunkData {
    /// The elements converted into `to` (see the module docs; no check of safety here: see
    /// [`check_cast`]). Returns `self` unchanged when it already has that dtype.
    pub fn cast(self, to: DType) -> ChunkData {
        if self.dtype() == to {
            return self;
        }
        match &self {
            ChunkData::U8(v) => cast_vec!(v, to),
            ChunkData::U16(v) => cast_vec!(v, to),
            ChunkData::U32(v) => cast_vec!(v, to),
            ChunkData::U64(v) => cast_vec!(v, to),
            ChunkData::I8(v) => cast_vec!(v, to),
            ChunkData::I16(v) => cast_vec!(v, to),
            ChunkData::I32(v) => cast_vec!(v, to),
            ChunkData::I64(v) => cast_vec!(v, to),
            ChunkData::F32(v) => cast_vec!(v, to),
            ChunkData::F64(v) => cast_vec!(v, to),
        }
    }
}

impl Scalar {
    /// The value converted into `to`, as [`ChunkData::cast`] converts elements.
    pub fn cast(self, to: DType) -> Scalar {
        let one = match self {
            Scalar::U8(v) => ChunkData::U8(vec![v]),
            Scalar::U16(v) => ChunkData::U16(vec![v]),
            Scalar::U32(v) => ChunkData::U32(vec![v]),
            Scalar::U64(v) => ChunkData::U64(vec![v]),
            Scalar::I8(v) => ChunkData::I8(vec![v]),
            Scalar::I16(v) => ChunkData::I16(vec![v]),
            Scalar::I32(v) => ChunkData::I32(vec![v]),
            Scalar::I64(v) => ChunkData::I64(vec![v]),
            Scalar::F32(v) => ChunkData::F32(vec![v]),
            Scalar::F64(v) => ChunkData::F64(vec![v]),
        };
        match one.cast(to) {
            ChunkData::U8(v) => Scalar::U8(v[0]),
            ChunkData::U16(v) => Scalar::U16(v[0]),
            ChunkData::U32(v) => Scalar::U32(v[0]),
            ChunkData::U64(v) => Scalar::U64(v[0]),
            ChunkData::I8(v) => Scalar::I8(v[0]),
            ChunkData::I16(v) => Scalar::I16(v[0]),
            ChunkData::I32(v) => Scalar::I32(v[0]),
            ChunkData::I64(v) => Scalar::I64(v[0]),
            ChunkData::F32(v) => Scalar::F32(v[0]),
            ChunkData::F64(v) => Scalar::F64(v[0]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_follow_astype() {
        let floats = ChunkData::F64(vec![-1.7, 2.9, 300.0, f64::NAN, -1e300]);
        assert_eq!(
            floats.clone().cast(DType::I16),
            ChunkData::I16(vec![-1, 2, 300, 0, i16::MIN])
        );
        assert_eq!(floats.cast(DType::U8), ChunkData::U8(vec![0, 2, 255, 0, 0]));
        // Integers wrap.
        assert_eq!(
            ChunkData::I32(vec![-1, 256, 70000]).cast(DType::U8),
            ChunkData::U8(vec![255, 0, 112])
        );
        assert_eq!(Scalar::U8(200).cast(DType::I8), Scalar::I8(-56));
        assert_eq!(Scalar::F32(1.5).cast(DType::F64), Scalar::F64(1.5));
    }

    #[test]
    fn refusals_name_both_types() {
        let error = check_cast(DType::F64, DType::F32, false)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("f64 → f32") && error.contains("can lose values"),
            "{error}"
        );
        assert!(check_cast(DType::F64, DType::F32, true).is_ok());
        assert!(check_cast(DType::U8, DType::F32, false).is_ok());
    }
}
