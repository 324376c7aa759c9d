//! The error type of the ndimage crate.

use chunkwise::DType;

/// What can go wrong filtering.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NdimageError {
    /// A sigma that is negative, not finite, or zero where a filter needs it positive.
    #[error("invalid sigma {value}: {expected}")]
    InvalidSigma { value: f64, expected: &'static str },
    /// Per-axis sigmas of the wrong count.
    #[error("{got} sigmas given for an array of {ndim} axes; expected one sigma or one per axis")]
    SigmaCount { got: usize, ndim: usize },
    /// A sigma and truncate whose kernel would be wider than the filters make.
    #[error("sigma {sigma} with truncate {truncate} makes a kernel of radius truncate × sigma = {radius:e}; expected a radius of at most {max} (taps beyond about 38.6 sigma are 0 in floating point): lower truncate", radius = truncate * sigma)]
    KernelTooWide {
        sigma: f64,
        truncate: f64,
        max: usize,
    },
    /// A truncate that is not finite and positive.
    #[error("invalid truncate {0}: expected a finite number > 0")]
    InvalidTruncate(f64),
    /// An axis the array does not have.
    #[error("axis {axis} is out of range for an array of {ndim} axes")]
    InvalidAxis { axis: usize, ndim: usize },
    /// An output array that does not fit the input.
    #[error("the output array has shape {got}; expected {expected}")]
    OutputShape { expected: String, got: String },
    /// A correlation with no weights.
    #[error("the weights are empty; expected at least one weight")]
    EmptyWeights,
    /// A dataset whose element type the filters do not handle.
    #[error("the Gaussian filters work on f32 and f64 data; the dataset holds {0} (convert it to a float type first)")]
    UnsupportedDType(DType),
    /// An error of the chunkwise core (storage, collective operation, …).
    #[error(transparent)]
    Core(#[from] chunkwise::Error),
}

/// Result alias of this crate.
pub type Result<T, E = NdimageError> = std::result::Result<T, E>;
