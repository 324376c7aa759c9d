//! Exact sums of floating-point values, the same whatever the order of the additions.
//!
//! Why: a parallel floating-point sum changes with the number of workers, ranks and chunks,
//! so the mean of one volume would differ between a laptop and a cluster. Here nothing is
//! rounded until the end.
//!
//! Method (a binned accumulator, in the spirit of Kulisch's long accumulator and of the
//! binned sums of ReproBLAS): every finite `f64` is `m × 2^(e − 1075)`, with `m` a signed
//! integer of at most 53 bits and `e` its biased exponent (1 for subnormals). The accumulator
//! keeps, per exponent `e`, the integer `Σ m` in an `i128`, which takes 2^74 additions before
//! it could overflow. Adding is two bit operations and an integer addition, so it is exact and
//! its order does not matter; two accumulators merge by adding their bins. `f32` values are
//! `f64` values exactly; their squares too (48-bit mantissas). For the square of an `f64`,
//! `x·x` and `fma(x, x, −x·x)` are added, whose sum is `x²` exactly unless it underflows
//! (|x| < 2^−511) or overflows (|x| > 2^511). Infinities and NaNs are counted apart.
//!
//! The exact value is `Σ_e bins[e] · 2^e / 2^1075`, a rational that is rounded once to the
//! nearest `f64` (ties to even) by `num-rational`: the sum equals Python's `math.fsum` of the
//! values, and a mean or variance computed from exact sums is the correctly rounded value of
//! the exact mean or variance.

use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{ToPrimitive, Zero};
use serde::{Deserialize, Serialize};

/// Biased exponents of `f64` (0 and 2047 excluded: subnormals use 1, non-finite values are
/// counted apart).
const BINS: usize = 2047;

/// The power of two by which the integer the bins stand for is divided.
const SCALE: usize = 1075;

/// An exact sum of floating-point values (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExactSum {
    bins: Vec<i128>,
    positive_infinities: u64,
    negative_infinities: u64,
    nans: u64,
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum::new()
    }
}

impl ExactSum {
    /// Zero.
    pub fn new() -> Self {
        ExactSum {
            bins: vec![0; BINS],
            positive_infinities: 0,
            negative_infinities: 0,
            nans: 0,
        }
    }

    /// Adds `x` exactly.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let bits = x.to_bits();
        let exponent = ((bits >> 52) & 0x7ff) as usize;
        if exponent == 0x7ff {
            self.add_non_finite(x);
            return;
        }
        let fraction = (bits & ((1 << 52) - 1)) as i128;
        let (m, e) = match exponent {
            0 => (fraction, 1),
            _ => (fraction | (1 << 52), exponent),
        };
        self.bins[e] += if bits >> 63 == 1 { -m } else { m };
    }

    #[cold]
    fn add_non_finite(&mut self, x: f64) {
        if x.is_nan() {
            self.nans += 1;
        } else if x > 0.0 {
            self.positive_infinities += 1;
        } else {
            self.negative_infinities += 1;
        }
    }

    /// Adds `x²` exactly (see the module docs for the range where it is exact for `f64`).
    #[inline]
    pub fn add_square(&mut self, x: f64) {
        let high = x * x;
        self.add(high);
        if high.is_finite() {
            self.add(x.mul_add(x, -high));
        }
    }

    /// Adds every `f32` of `values` (and, with `squares`, their squares) exactly: a fast path
    /// for `f32` data, whose mantissas and exponents fit small local bins.
    pub fn add_f32s(&mut self, values: &[f32], squares: Option<&mut ExactSum>) {
        // Per f32 biased exponent: Σ m in an i64 (24-bit m: 2^39 additions before overflow)
        // and Σ m² in an i128; flushed into the f64 bins every 2^31 values.
        let mut sums = [0i64; 256];
        let mut square_sums = squares.as_ref().map(|_| [0i128; 256]);
        // Squares of infinities and NaNs.
        let (mut infinite, mut nan) = (0u64, 0u64);
        for block in values.chunks(1 << 31) {
            for &x in block {
                let bits = x.to_bits();
                let exponent = ((bits >> 23) & 0xff) as usize;
                if exponent == 0xff {
                    self.add_non_finite(f64::from(x));
                    if x.is_nan() {
                        nan += 1;
                    } else {
                        infinite += 1;
                    }
                    continue;
                }
                let fraction = i64::from(bits & ((1 << 23) - 1));
                let (m, e) = match exponent {
                    0 => (fraction, 1),
                    _ => (fraction | (1 << 23), exponent),
                };
                sums[e] += if bits >> 31 == 1 { -m } else { m };
                if let Some(square_sums) = square_sums.as_mut() {
                    square_sums[e] += i128::from(m * m);
                }
            }
            // A value m·2^(e−150) lies in f64 bin e + 925: 2^(e+925−1075) = 2^(e−150).
            for (e, sum) in sums.iter_mut().enumerate().filter(|(_, s)| **s != 0) {
                self.bins[e + 925] += i128::from(std::mem::take(sum));
            }
        }
        if let (Some(squares), Some(square_sums)) = (squares, square_sums) {
            // m²·2^(2e−300) lies in f64 bin 2e + 775 (non-finite values were counted above).
            for (e, &sum) in square_sums.iter().enumerate().filter(|(_, s)| **s != 0) {
                squares.bins[2 * e + 775] += sum;
            }
            squares.positive_infinities += infinite;
            squares.nans += nan;
        }
    }

    /// Adds another sum.
    pub fn merge(&mut self, other: &ExactSum) {
        for (bin, &add) in self.bins.iter_mut().zip(&other.bins) {
            *bin += add;
        }
        self.positive_infinities += other.positive_infinities;
        self.negative_infinities += other.negative_infinities;
        self.nans += other.nans;
    }

    /// The exact value, or `None` when a NaN or an infinity was added.
    pub fn exact(&self) -> Option<BigRational> {
        if self.nans + self.positive_infinities + self.negative_infinities > 0 {
            return None;
        }
        let mut total = BigInt::zero();
        for (e, &bin) in self.bins.iter().enumerate().rev() {
            if bin != 0 {
                total += BigInt::from(bin) << e;
            }
        }
        Some(BigRational::new(total, BigInt::from(1) << SCALE))
    }

    /// The sum rounded once to the nearest `f64`: NaN when a NaN or both infinities were added,
    /// the infinity when one was.
    pub fn value(&self) -> f64 {
        match (
            self.nans,
            self.positive_infinities,
            self.negative_infinities,
        ) {
            (0, 0, 0) => self.exact().map_or(f64::NAN, |exact| round(&exact)),
            (0, _, 0) => f64::INFINITY,
            (0, 0, _) => f64::NEG_INFINITY,
            _ => f64::NAN,
        }
    }
}

/// `value` rounded to the nearest `f64`, ties to even (±∞ beyond the range).
pub fn round(value: &BigRational) -> f64 {
    value.to_f64().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_are_exact_and_do_not_depend_on_the_order() {
        let values = [
            1e100,
            1.0,
            -1e100,
            3.0e-300,
            0.5,
            -0.25,
            f64::MIN_POSITIVE / 8.0,
        ];
        let mut forward = ExactSum::new();
        values.iter().for_each(|&x| forward.add(x));
        let mut backward = ExactSum::new();
        values.iter().rev().for_each(|&x| backward.add(x));
        assert_eq!(forward, backward);
        // 1 + 0.5 − 0.25 + tiny: the two 1e100 cancel exactly.
        assert_eq!(forward.value(), 1.25);
        let mut halves = ExactSum::new();
        let mut other = ExactSum::new();
        values[..3].iter().for_each(|&x| halves.add(x));
        values[3..].iter().for_each(|&x| other.add(x));
        halves.merge(&other);
        assert_eq!(halves, forward);
    }

    #[test]
    fn rounding_is_to_nearest_even_once() {
        // 1 + 2^-53 is exactly halfway between 1 and the next f64: ties to even gives 1; one
        // more 2^-105 tips it up.
        let mut s = ExactSum::new();
        s.add(1.0);
        s.add(2f64.powi(-53));
        assert_eq!(s.value(), 1.0);
        s.add(2f64.powi(-105));
        assert_eq!(s.value(), 1.0 + f64::EPSILON);
    }

    #[test]
    fn non_finite_values_and_the_f32_path() {
        let mut s = ExactSum::new();
        s.add(f64::INFINITY);
        assert_eq!(s.value(), f64::INFINITY);
        s.add(f64::NEG_INFINITY);
        assert!(s.value().is_nan());
        let values: Vec<f32> = (0..1000).map(|i| (i as f32 - 500.5) * 1.000_1e-3).collect();
        let mut fast = ExactSum::new();
        let mut fast_squares = ExactSum::new();
        fast.add_f32s(&values, Some(&mut fast_squares));
        let mut slow = ExactSum::new();
        let mut slow_squares = ExactSum::new();
        for &x in &values {
            slow.add(f64::from(x));
            slow_squares.add_square(f64::from(x));
        }
        assert_eq!(fast.exact(), slow.exact());
        assert_eq!(fast_squares.exact(), slow_squares.exact());
    }
}
