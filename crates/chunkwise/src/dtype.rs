//! Element types: their names (Rust, numpy), scalar values of any of them, and the
//! type-erased chunk buffer that stores pass around.
//!
//! Datasets are typed at run time (the dtype is stored with the dataset), while reading and
//! writing is typed at compile time (`read::<f32>`). [`Element`] connects the two: it is
//! implemented for exactly the ten supported primitive types, and every typed entry point checks
//! that `T::DTYPE` is the dataset's dtype. [`with_element_type!`](crate::with_element_type) turns
//! a run-time dtype back into a type for code (like the CLI) that must handle any dataset.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The element type of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
}

impl DType {
    /// Every supported dtype, in the order of the docs.
    pub const ALL: [DType; 10] = [
        DType::U8,
        DType::U16,
        DType::U32,
        DType::U64,
        DType::I8,
        DType::I16,
        DType::I32,
        DType::I64,
        DType::F32,
        DType::F64,
    ];

    /// Size of one element in bytes.
    pub fn size(self) -> usize {
        match self {
            DType::U8 | DType::I8 => 1,
            DType::U16 | DType::I16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::U64 | DType::I64 | DType::F64 => 8,
        }
    }

    /// The Rust-style short name: `u8`, `f32`, …
    pub fn name(self) -> &'static str {
        match self {
            DType::U8 => "u8",
            DType::U16 => "u16",
            DType::U32 => "u32",
            DType::U64 => "u64",
            DType::I8 => "i8",
            DType::I16 => "i16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }

    /// numpy's `dtype.str` on a little-endian machine: `<f4`, `|u1`, … This is the string DosNa's
    /// formats store in a dataset's `dtype` attribute.
    pub fn numpy_name(self) -> &'static str {
        match self {
            DType::U8 => "|u1",
            DType::U16 => "<u2",
            DType::U32 => "<u4",
            DType::U64 => "<u8",
            DType::I8 => "|i1",
            DType::I16 => "<i2",
            DType::I32 => "<i4",
            DType::I64 => "<i8",
            DType::F32 => "<f4",
            DType::F64 => "<f8",
        }
    }

    /// True for `f32` and `f64`.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = Error;

    /// Accepts the Rust names (`f32`), numpy's names with or without byte-order mark (`<f4`,
    /// `=f4`, `|u1`, `f4`) and the numpy type names (`float32`, `uint8`). Big-endian names are
    /// rejected: chunkwise stores little-endian data.
    ///
    /// # Errors
    /// [`Error::UnknownDType`] naming the string.
    fn from_str(text: &str) -> Result<Self> {
        let trimmed = text.trim();
        let body = trimmed.strip_prefix(['<', '|', '=']).unwrap_or(trimmed);
        let dtype = match body {
            "u8" | "u1" | "uint8" | "B" => DType::U8,
            "u16" | "u2" | "uint16" => DType::U16,
            "u32" | "u4" | "uint32" => DType::U32,
            "u64" | "uint64" => DType::U64,
            "i8" | "i1" | "int8" | "b" => DType::I8,
            "i16" | "i2" | "int16" => DType::I16,
            "i32" | "i4" | "int32" => DType::I32,
            "i64" | "int64" => DType::I64,
            "f32" | "f4" | "float32" => DType::F32,
            "f64" | "f8" | "float64" | "double" => DType::F64,
            _ => return Err(Error::UnknownDType(text.to_string())),
        };
        // "u8"/"i8" are ambiguous: Rust's u8 is numpy's u1, numpy's "<u8" is 8 bytes. With a
        // byte-order mark the string is numpy notation; without one it is the Rust name.
        let numpy_marked = trimmed.len() != body.len();
        Ok(match (numpy_marked, body) {
            (true, "u8") => DType::U64,
            (true, "i8") => DType::I64,
            _ => dtype,
        })
    }
}

/// Parses a float, refusing finite text that overflows to infinity (`1e99` as f32).
fn parse_float<F: FromStr + Copy + fmt::Display>(text: &str) -> std::result::Result<F, String>
where
    F::Err: fmt::Display,
{
    let value: F = text
        .parse()
        .map_err(|e: F::Err| format!("{e} (expected a floating-point number)"))?;
    let says_infinite = text
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .starts_with("inf");
    if value.to_string().contains("inf") && !says_infinite {
        return Err("out of range (the value overflows to infinity)".to_string());
    }
    Ok(value)
}

/// One value of any supported element type: a fill value, a value to write.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    F32(f32),
    F64(f64),
}

impl Scalar {
    /// Zero of the given dtype (the default fill value).
    pub fn zero(dtype: DType) -> Self {
        crate::with_element_type!(dtype, T => T::default().to_scalar())
    }

    /// The dtype of this value.
    pub fn dtype(&self) -> DType {
        match self {
            Scalar::U8(_) => DType::U8,
            Scalar::U16(_) => DType::U16,
            Scalar::U32(_) => DType::U32,
            Scalar::U64(_) => DType::U64,
            Scalar::I8(_) => DType::I8,
            Scalar::I16(_) => DType::I16,
            Scalar::I32(_) => DType::I32,
            Scalar::I64(_) => DType::I64,
            Scalar::F32(_) => DType::F32,
            Scalar::F64(_) => DType::F64,
        }
    }

    /// Parses text as a value of `dtype`: integers must fit the type exactly (no rounding, no
    /// wrapping); floats accept `nan`, `inf`, `-inf` and exponents.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] naming the text and the dtype.
    pub fn parse(dtype: DType, text: &str) -> Result<Self> {
        let trimmed = text.trim();
        let invalid = |problem: String| Error::InvalidValue {
            value: text.to_string(),
            dtype: dtype.to_string(),
            problem,
        };
        macro_rules! parse_as {
            ($t:ty, $variant:ident) => {
                trimmed.parse::<$t>().map(Scalar::$variant).map_err(|e| {
                    invalid(format!(
                        "{e} (expected a number between {} and {})",
                        <$t>::MIN,
                        <$t>::MAX
                    ))
                })
            };
        }
        match dtype {
            DType::U8 => parse_as!(u8, U8),
            DType::U16 => parse_as!(u16, U16),
            DType::U32 => parse_as!(u32, U32),
            DType::U64 => parse_as!(u64, U64),
            DType::I8 => parse_as!(i8, I8),
            DType::I16 => parse_as!(i16, I16),
            DType::I32 => parse_as!(i32, I32),
            DType::I64 => parse_as!(i64, I64),
            DType::F32 => parse_float::<f32>(trimmed)
                .map(Scalar::F32)
                .map_err(invalid),
            DType::F64 => parse_float::<f64>(trimmed)
                .map(Scalar::F64)
                .map_err(invalid),
        }
    }

    /// The value as `T`, if `T` is this scalar's type.
    pub fn get<T: Element>(&self) -> Option<T> {
        T::from_scalar(*self)
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::U8(v) => write!(f, "{v}"),
            Scalar::U16(v) => write!(f, "{v}"),
            Scalar::U32(v) => write!(f, "{v}"),
            Scalar::U64(v) => write!(f, "{v}"),
            Scalar::I8(v) => write!(f, "{v}"),
            Scalar::I16(v) => write!(f, "{v}"),
            Scalar::I32(v) => write!(f, "{v}"),
            Scalar::I64(v) => write!(f, "{v}"),
            Scalar::F32(v) => write!(f, "{v}"),
            Scalar::F64(v) => write!(f, "{v}"),
        }
    }
}

/// The elements of one whole chunk (padded to the chunk shape), in C order, typed at run time.
///
/// This is what stores read and write: it keeps the store trait object-safe while the data stays
/// in its native type with no byte reinterpretation or alignment concerns.
#[derive(Debug, Clone, PartialEq)]
pub enum ChunkData {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    U64(Vec<u64>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl ChunkData {
    /// The dtype of the elements.
    pub fn dtype(&self) -> DType {
        match self {
            ChunkData::U8(_) => DType::U8,
            ChunkData::U16(_) => DType::U16,
            ChunkData::U32(_) => DType::U32,
            ChunkData::U64(_) => DType::U64,
            ChunkData::I8(_) => DType::I8,
            ChunkData::I16(_) => DType::I16,
            ChunkData::I32(_) => DType::I32,
            ChunkData::I64(_) => DType::I64,
            ChunkData::F32(_) => DType::F32,
            ChunkData::F64(_) => DType::F64,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        crate::with_chunk_data!(self, v => v.len())
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements' bytes in memory order.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        crate::with_chunk_data!(self, v => element_bytes(v))
    }

    /// `len` elements all equal to `value`.
    pub fn filled(value: Scalar, len: usize) -> Self {
        crate::with_element_type!(value.dtype(), T => {
            let v: T = T::from_scalar(value).unwrap_or_default();
            T::into_chunk(vec![v; len])
        })
    }
}

/// The bytes of `values` in memory order.
pub fn element_bytes<T: Element>(values: &[T]) -> &[u8] {
    // SAFETY: `Element` types are plain integers and floats: no padding, every byte initialised;
    // the slice covers exactly the memory of `values` and lives as long as it.
    unsafe {
        std::slice::from_raw_parts(values.as_ptr().cast::<u8>(), std::mem::size_of_val(values))
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A primitive type chunkwise can store: `u8`…`u64`, `i8`…`i64`, `f32`, `f64`.
///
/// Sealed: the set of types is fixed by the on-disk formats.
pub trait Element:
    Copy
    + Default
    + PartialEq
    + PartialOrd
    + fmt::Debug
    + fmt::Display
    + Send
    + Sync
    + 'static
    + sealed::Sealed
{
    /// The run-time dtype of this type.
    const DTYPE: DType;
    /// Wraps a vector of this type.
    fn into_chunk(values: Vec<Self>) -> ChunkData;
    /// Unwraps a chunk of this type (`Err` gives the chunk back when its dtype differs).
    fn from_chunk(chunk: ChunkData) -> std::result::Result<Vec<Self>, ChunkData>;
    /// Borrows the elements of a chunk of this type.
    fn chunk_slice(chunk: &ChunkData) -> Option<&[Self]>;
    /// Wraps a value.
    fn to_scalar(self) -> Scalar;
    /// Unwraps a value of this type.
    fn from_scalar(value: Scalar) -> Option<Self>;
    /// `value` converted as Rust's `as` does (rounding toward zero and saturating for
    /// integers); used for boundary constants.
    fn from_f64(value: f64) -> Self;
    /// The value as `f64` (exact for all but the largest 64-bit integers).
    fn to_f64(self) -> f64;
}

macro_rules! impl_element {
    ($($t:ty => $variant:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn into_chunk(values: Vec<Self>) -> ChunkData {
                ChunkData::$variant(values)
            }
            fn from_chunk(chunk: ChunkData) -> std::result::Result<Vec<Self>, ChunkData> {
                match chunk {
                    ChunkData::$variant(values) => Ok(values),
                    other => Err(other),
                }
            }
            fn chunk_slice(chunk: &ChunkData) -> Option<&[Self]> {
                match chunk {
                    ChunkData::$variant(values) => Some(values),
                    _ => None,
                }
            }
            fn to_scalar(self) -> Scalar {
                Scalar::$variant(self)
            }
            fn from_scalar(value: Scalar) -> Option<Self> {
                match value {
                    Scalar::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn from_f64(value: f64) -> Self {
                value as $t
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    )*};
}

impl_element!(
    u8 => U8, u16 => U16, u32 => U32, u64 => U64,
    i8 => I8, i16 => I16, i32 => I32, i64 => I64,
    f32 => F32, f64 => F64,
);

/// Runs `$body` with `$T` bound to the Rust type of the run-time dtype `$dtype`.
///
/// ```
/// use chunkwise::{with_element_type, DType};
/// let size = with_element_type!(DType::F64, T => std::mem::size_of::<T>());
/// assert_eq!(size, 8);
/// ```
#[macro_export]
macro_rules! with_element_type {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::DType::U16 => {
                type $T = u16;
                $body
            }
            $crate::DType::U32 => {
                type $T = u32;
                $body
            }
            $crate::DType::U64 => {
                type $T = u64;
                $body
            }
            $crate::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// Runs `$body` with `$v` bound to the typed vector inside a [`ChunkData`].
#[macro_export]
macro_rules! with_chunk_data {
    ($chunk:expr, $v:ident => $body:expr) => {
        match $chunk {
            $crate::ChunkData::U8($v) => $body,
            $crate::ChunkData::U16($v) => $body,
            $crate::ChunkData::U32($v) => $body,
            $crate::ChunkData::U64($v) => $body,
            $crate::ChunkData::I8($v) => $body,
            $crate::ChunkData::I16($v) => $body,
            $crate::ChunkData::I32($v) => $body,
            $crate::ChunkData::I64($v) => $body,
            $crate::ChunkData::F32($v) => $body,
            $crate::ChunkData::F64($v) => $body,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for dtype in DType::ALL {
            assert_eq!(dtype.numpy_name().parse::<DType>().unwrap(), dtype);
            assert_eq!(dtype.name().parse::<DType>().unwrap(), dtype);
        }
        assert_eq!("<u8".parse::<DType>().unwrap(), DType::U64);
        assert_eq!("u8".parse::<DType>().unwrap(), DType::U8);
        assert_eq!("float32".parse::<DType>().unwrap(), DType::F32);
    }

    #[test]
    fn unknown_dtype_is_named() {
        let err = "f16".parse::<DType>().unwrap_err().to_string();
        assert!(err.contains("\"f16\""), "{err}");
        assert!(">f4".parse::<DType>().is_err());
    }

    #[test]
    fn scalars_parse_exactly() {
        assert_eq!(Scalar::parse(DType::U8, "255").unwrap(), Scalar::U8(255));
        let err = Scalar::parse(DType::U8, "256").unwrap_err().to_string();
        assert!(
            err.contains("\"256\"") && err.contains("u8") && err.contains("255"),
            "{err}"
        );
        assert!(Scalar::parse(DType::I32, "1.5").is_err());
        assert_eq!(
            Scalar::parse(DType::F64, "-2.5e3").unwrap(),
            Scalar::F64(-2500.0)
        );
        assert!(matches!(Scalar::parse(DType::F32, "nan").unwrap(), Scalar::F32(v) if v.is_nan()));
        assert_eq!(
            Scalar::parse(DType::F32, "-inf").unwrap(),
            Scalar::F32(f32::NEG_INFINITY)
        );
        let err = Scalar::parse(DType::F32, "1e99").unwrap_err().to_string();
        assert!(
            err.contains("\"1e99\"") && err.contains("f32") && err.contains("out of range"),
            "{err}"
        );
        assert!(Scalar::parse(DType::F64, "1e99").is_ok());
    }

    #[test]
    fn chunk_data_is_typed() {
        let chunk = f32::into_chunk(vec![1.0, 2.0]);
        assert_eq!(chunk.dtype(), DType::F32);
        assert!(f64::chunk_slice(&chunk).is_none());
        assert_eq!(f32::from_chunk(chunk).unwrap(), vec![1.0, 2.0]);
        assert_eq!(
            ChunkData::filled(Scalar::I16(-3), 3),
            ChunkData::I16(vec![-3; 3])
        );
    }
}
