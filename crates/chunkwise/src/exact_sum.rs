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

    /// Adds every `f32` of `values` (and, with `squares`, their squares) exactly: the fast
    /// path for `f32` data.
    ///
    /// Sums: per block of 1024 values, those whose exponent is within 22 of the block's
    /// largest are summed in eight `f64` lanes, which is exact (each lane's 128 values are
    /// multiples of the smallest such value's ulp, and their sum stays below 2^53 of them);
    /// the lanes' sums and the few smaller values go into the bins. Squares: likewise, each
    /// split into three terms of 24 bits (see `add_f32_squares_portable`).
    pub fn add_f32s(&mut self, values: &[f32], squares: Option<&mut ExactSum>) {
        self.add_f32_values(values);
        if let Some(squares) = squares {
            squares.add_f32_squares(values);
        }
    }

    fn add_f32_values(&mut self, values: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above), all the function requires.
            unsafe { self.add_f32_values_avx2(values) };
            return;
        }
        self.add_f32_values_portable(values);
    }

    /// [`ExactSum::add_f32_values_portable`] compiled for AVX2 (the same code, vectorized
    /// wider).
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add_f32_values_avx2(&mut self, values: &[f32]) {
        self.add_f32_values_portable(values);
    }

    #[inline(always)]
    fn add_f32_values_portable(&mut self, values: &[f32]) {
        const BLOCK: usize = 1024;
        const LANES: usize = 8;
        // Each lane sums BLOCK / LANES = 2^7 values: exact when their exponents are within
        // 53 − 24 − 7 = 22 of the block's largest.
        const WINDOW: u32 = 22;
        let exponent = |x: f32| (x.to_bits() >> 23) & 0xff;
        let mut blocks = values.chunks_exact(BLOCK);
        for block in &mut blocks {
            let largest = block.iter().map(|&x| exponent(x)).max().unwrap_or(0);
            if largest == 0xff {
                block.iter().for_each(|&x| self.add(f64::from(x)));
                continue;
            }
            let threshold = largest.saturating_sub(WINDOW);
            let mut lanes = [0f64; LANES];
            let mut kept = 0u32;
            for group in block.chunks_exact(LANES) {
                for (lane, &x) in lanes.iter_mut().zip(group) {
                    // All ones when kept, else zero: the value or +0.
                    let mask = u32::from(exponent(x) >= threshold).wrapping_neg();
                    kept += mask & 1;
                    *lane += f64::from(f32::from_bits(x.to_bits() & mask));
                }
            }
            lanes.iter().for_each(|&lane| self.add(lane));
            if kept as usize != BLOCK {
                for &x in block.iter().filter(|&&x| exponent(x) < threshold) {
                    self.add(f64::from(x));
                }
            }
        }
        blocks
            .remainder()
            .iter()
            .for_each(|&x| self.add(f64::from(x)));
    }

    /// Adds the squares of `values` exactly (see [`ExactSum::add_f32s`]).
    fn add_f32_squares(&mut self, values: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above), all the function requires.
            unsafe { self.add_f32_squares_avx2(values) };
            return;
        }
        self.add_f32_squares_portable(values);
    }

    /// [`ExactSum::add_f32_squares_portable`] compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn add_f32_squares_avx2(&mut self, values: &[f32]) {
        self.add_f32_squares_portable(values);
    }

    /// Squares by blocks of 1024: each value `x` is split into `h + l`, its top and bottom 12
    /// mantissa bits, so that `x² = h² + 2hl + l²` with three terms of at most 24 significant
    /// bits; for the values whose exponent is within 11 of the block's largest, each term is
    /// summed in eight `f64` lanes, exactly (128 terms of 24 bits whose units differ by at most
    /// 2^22 stay below 2^53 units). The lanes' sums and the squares of the smaller values go
    /// into the bins.
    #[inline(always)]
    fn add_f32_squares_portable(&mut self, values: &[f32]) {
        const BLOCK: usize = 1024;
        const LANES: usize = 8;
        const WINDOW: u32 = 11;
        let exponent = |x: f32| (x.to_bits() >> 23) & 0xff;
        let mut blocks = values.chunks_exact(BLOCK);
        for block in &mut blocks {
            let largest = block.iter().map(|&x| exponent(x)).max().unwrap_or(0);
            if largest == 0xff {
                block.iter().for_each(|&x| self.add_square(f64::from(x)));
                continue;
            }
            let threshold = largest.saturating_sub(WINDOW);
            let (mut hh, mut hl, mut ll) = ([0f64; LANES], [0f64; LANES], [0f64; LANES]);
            let mut kept = 0u32;
            for group in block.chunks_exact(LANES) {
                for (k, &x) in group.iter().enumerate() {
                    let mask = u32::from(exponent(x) >= threshold).wrapping_neg();
                    kept += mask & 1;
                    let x = f32::from_bits(x.to_bits() & mask);
                    let high = f32::from_bits(x.to_bits() & !0xfff);
                    let (h, l) = (f64::from(high), f64::from(x - high));
                    hh[k] += h * h;
                    hl[k] += h * l;
                    ll[k] += l * l;
                }
            }
            for k in 0..LANES {
                self.add(hh[k]);
                self.add(2.0 * hl[k]);
                self.add(ll[k]);
            }
            if kept as usize != BLOCK {
                for &x in block.iter().filter(|&&x| exponent(x) < threshold) {
                    self.add_square(f64::from(x));
                }
            }
        }
        blocks
            .remainder()
            .iter()
            .for_each(|&x| self.add_square(f64::from(x)));
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
        assert_eq!(forward.exact(), backward.exact());
        // 1 + 0.5 − 0.25 + tiny: the two 1e100 cancel exactly.
        assert_eq!(forward.value(), 1.25);
        let mut halves = ExactSum::new();
        let mut other = ExactSum::new();
        values[..3].iter().for_each(|&x| halves.add(x));
        values[3..].iter().for_each(|&x| other.add(x));
        halves.merge(&other);
        assert_eq!(halves.exact(), forward.exact());
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

    #[test]
    fn the_f32_fast_path_equals_one_by_one_over_blocks_of_every_kind() {
        // Blocks of values in a narrow band with a few far smaller ones, subnormals, huge
        // values, and blocks with infinities and NaNs: the blocked paths against `add`.
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values = Vec::new();
        for block in 0..40 {
            for i in 0..1024 + block * 13 {
                let r = next();
                let unit = (r >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                let x = match (block % 5, i % 37) {
                    (0, _) => unit,
                    (1, 3) => unit * 1e-30,
                    (1, _) => unit * 1e4,
                    (2, _) => f32::from_bits((r as u32) & 0x007f_ffff),
                    (3, _) if block % 10 == 3 => unit * 3e38,
                    // Exponents spread over 40: the window matters.
                    (3, _) if block % 20 == 8 => unit * 2f32.powi((r % 40) as i32),
                    // Two magnitudes 2^27 apart: beyond the window, but not far beyond.
                    (3, _) => unit * 2f32.powi(if r % 2 == 0 { 27 } else { 0 }),
                    (4, 0) if block % 10 == 4 => f32::INFINITY,
                    (4, 1) => f32::NAN,
                    _ => unit * 1e-20,
                };
                values.push(x);
            }
        }
        // A block whose lane sums would need 55 bits if its small values were summed with the
        // large ones (2^26 apart, just beyond the window): they must go to the bins.
        let odd = 1.0 + f32::EPSILON;
        values.extend((0..1024).map(|i| if i % 3 == 0 { odd * 2f32.powi(26) } else { odd }));
        // Without the infinities and NaNs (whose sum has no exact value to compare), then
        // with them.
        let finite: Vec<f32> = values
            .iter()
            .map(|&x| if x.is_finite() { x } else { 0.0 })
            .collect();
        let n = values.len();
        for (data, from, to) in [
            (&finite, 0, n),
            (&finite, 0, 30 * 1024),
            (&finite, 5000, 9000),
            (&finite, n - 1024, n),
            (&values, 0, n),
        ] {
            let part = &data[from..to];
            let mut fast = ExactSum::new();
            let mut fast_squares = ExactSum::new();
            fast.add_f32s(part, Some(&mut fast_squares));
            let mut slow = ExactSum::new();
            let mut slow_squares = ExactSum::new();
            for &x in part {
                slow.add(f64::from(x));
                slow_squares.add_square(f64::from(x));
            }
            // The bins may hold the value differently; the value is the same.
            assert_eq!(fast.exact(), slow.exact(), "sums of {from}..{to}");
            assert_eq!(
                fast.value().to_bits(),
                slow.value().to_bits(),
                "sums of {from}..{to}"
            );
            assert_eq!(
                fast_squares.exact(),
                slow_squares.exact(),
                "squares of {from}..{to}"
            );
            assert_eq!(
                fast_squares.value().to_bits(),
                slow_squares.value().to_bits(),
                "squares of {from}..{to}"
            );
        }
    }
}
