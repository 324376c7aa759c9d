//! scipy.ndimage-exact Gaussian filters for ndarray arrays, and their exact chunked versions
//! for chunkwise datasets.
//!
//! Semantics are scipy.ndimage's: kernel radius `int(truncate·σ + 0.5)` (truncate 4 by
//! default), `exp(-x²/(2σ²))` sampled at the integers and normalised to sum 1, one 1-D
//! correlation per axis in axis order, boundary modes `reflect` (default), `mirror`, `nearest`,
//! `constant` (with `cval`) and `wrap` ([`chunkwise::Boundary`]).
//!
//! Element types: `f32` and `f64` (the [`FilterFloat`] types). Each 1-D pass stores its result in
//! the array's type, as scipy does for float input. Integer arrays are not accepted: scipy would
//! compute in double precision and round the result back into the integer type; chunkwise asks
//! for an explicit conversion instead of rounding silently ([`NdimageError::UnsupportedDType`]
//! for datasets; the array functions only take `f32`/`f64` views).
//!
//! ```
//! use chunkwise::Boundary;
//! use chunkwise_ndimage::gaussian_filter;
//! use ndarray::ArrayD;
//!
//! let image = ArrayD::from_shape_fn(ndarray::IxDyn(&[32, 32]), |i| (i[0] * i[1]) as f32);
//! let smooth = gaussian_filter(image.view(), 1.5, Boundary::Reflect, 4.0)?;
//! assert_eq!(smooth.shape(), image.shape());
//! # Ok::<(), chunkwise_ndimage::NdimageError>(())
//! ```

mod alloc;
mod blocked;
mod chunked;
mod correlate;
mod element;
mod error;
mod fused;
mod gaussian;
mod kernel;

pub use chunked::{gaussian_filter1d_dataset, gaussian_filter_dataset};
pub use element::FilterFloat;
pub use error::{NdimageError, Result};
pub use gaussian::{correlate1d, gaussian_filter, gaussian_filter1d, gaussian_filter_into, Sigma};
pub use kernel::{gaussian_kernel1d, kernel_radius};

/// scipy's default `truncate`.
pub const DEFAULT_TRUNCATE: f64 = 4.0;
