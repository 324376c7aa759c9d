//! The element types the filters compute in.

use std::ops::{Add, Mul};

use chunkwise::Element;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// `f32` or `f64`. Each 1-D pass computes in the array's own type and stores its result in
/// that type, so an `f32` filter rounds between axes as scipy's float32 filter does (scipy sums
/// each pass in double precision; the two agree to about 1e-7 relative).
pub trait FilterFloat: Element + Add<Output = Self> + Mul<Output = Self> + sealed::Sealed {
    /// Zero.
    const ZERO: Self;

    /// `self · a + b` rounded once (a fused multiply-add).
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl FilterFloat for f32 {
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f32::mul_add(self, a, b)
    }
}

impl FilterFloat for f64 {
    const ZERO: Self = 0.0;

    #[inline(always)]
    fn mul_add(self, a: Self, b: Self) -> Self {
        f64::mul_add(self, a, b)
    }
}
