//! Gaussian kernels, as scipy.ndimage makes them.

use crate::error::{NdimageError, Result};

/// The kernel radius for `sigma` and `truncate`: `int(truncate * sigma + 0.5)`, as scipy.
pub fn kernel_radius(sigma: f64, truncate: f64) -> usize {
    (truncate * sigma + 0.5) as usize
}

/// The largest kernel radius made: a kernel of `2 * MAX_RADIUS + 1` taps is 1 GiB of `f64`.
/// (Taps further than about 38.6 σ from the centre are 0 in `f64` anyway.)
pub const MAX_RADIUS: usize = 1 << 26;

/// Checks a sigma (> 0 and finite), a truncate (> 0 and finite), and that the kernel they
/// make is at most [`MAX_RADIUS`] wide, so that a mistyped truncate is an error, not an
/// allocation that ends the process.
pub(crate) fn check_sigma_truncate(sigma: f64, truncate: f64) -> Result<()> {
    if !sigma.is_finite() || sigma <= 0.0 {
        return Err(NdimageError::InvalidSigma {
            value: sigma,
            expected: "expected a finite number > 0",
        });
    }
    if !truncate.is_finite() || truncate <= 0.0 {
        return Err(NdimageError::InvalidTruncate(truncate));
    }
    if truncate * sigma + 0.5 > MAX_RADIUS as f64 {
        return Err(NdimageError::KernelTooWide {
            sigma,
            truncate,
            max: MAX_RADIUS,
        });
    }
    Ok(())
}

/// The order-0 Gaussian kernel of `sigma` over `-radius..=radius`: `exp(-x²/(2σ²))` sampled at
/// the integers and normalised to sum 1 (scipy's `_gaussian_kernel1d(sigma, 0, radius)`).
///
/// # Errors
/// [`NdimageError::InvalidSigma`] for a sigma that is not finite and > 0.
pub fn gaussian_kernel1d(sigma: f64, radius: usize) -> Result<Vec<f64>> {
    check_sigma_truncate(sigma, 4.0)?;
    if radius > MAX_RADIUS {
        return Err(NdimageError::KernelTooWide {
            sigma,
            truncate: radius as f64 / sigma,
            max: MAX_RADIUS,
        });
    }
    let factor = -0.5 / (sigma * sigma);
    let r = radius as i64;
    let mut phi: Vec<f64> = (-r..=r).map(|x| (factor * (x * x) as f64).exp()).collect();
    let sum: f64 = phi.iter().sum();
    for value in &mut phi {
        *value /= sum;
    }
    Ok(phi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_wider_than_the_limit_are_refused() {
        let error = check_sigma_truncate(1.5, 1e12).unwrap_err().to_string();
        assert!(
            error.contains("1000000000000") && error.contains("1.5"),
            "{error}"
        );
        assert!(check_sigma_truncate(1.5, 4.0).is_ok());
        assert!(gaussian_kernel1d(1.0, MAX_RADIUS + 1).is_err());
    }

    #[test]
    fn radius_follows_scipy() {
        assert_eq!(kernel_radius(1.5, 4.0), 6);
        assert_eq!(kernel_radius(1.0, 4.0), 4);
        assert_eq!(kernel_radius(0.1, 4.0), 0);
        assert_eq!(kernel_radius(2.0, 3.3), 7);
    }

    #[test]
    fn kernel_is_normalised_and_symmetric() {
        let k = gaussian_kernel1d(1.5, 6).unwrap();
        assert_eq!(k.len(), 13);
        assert!((k.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        for i in 0..6 {
            assert_eq!(k[i], k[12 - i]);
        }
        // Ratio of neighbours is exp((2x+1)/(2σ²)).
        assert!((k[6] / k[7] - (1.0f64 / (2.0 * 2.25)).exp()).abs() < 1e-12);
        assert!(gaussian_kernel1d(0.0, 1).is_err());
        assert!(gaussian_kernel1d(f64::NAN, 1).is_err());
    }
}
