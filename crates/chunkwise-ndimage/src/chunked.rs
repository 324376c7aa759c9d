//! Gaussian filters of whole chunkwise datasets, chunk by chunk with halos, exact.
//!
//! Each output block — a chunk, or a slab of one on a rank with few chunks — is filtered from
//! the block grown by the kernel radius on every filtered axis (gathered by
//! [`chunkwise::Dataset::map_stencil`] from as many neighbours as needed, the boundary mode
//! supplying values beyond the array), and only the block's own elements are computed. The
//! result equals `gaussian_filter` of the whole array, for every chunk shape.
//!
//! Along the last axis, when chunks span the whole array there (as 128³ chunks of a 128³
//! array do), the block is not grown: its halo would only be the boundary mode's mirror of
//! the block itself, which the filter applies anyway as it copies each line (as for a whole
//! array). The block's rows are then read from the chunk in one piece instead of row by row
//! with gaps for the halo. (Axis 0 keeps its halo: blocks may be slabs of a chunk's planes.)

use chunkwise::{BlockLayout, Boundary, DType, Dataset};

use crate::element::FilterFloat;
use crate::error::{NdimageError, Result};
use crate::gaussian::{axis_taps, gaussian_trimmed, ConstantHalo, Edges, Sigma};

/// `gaussian_filter` of dataset `input` into a new dataset `out_name` (collective; same layout,
/// dtype and fill value).
///
/// # Errors
/// [`NdimageError::UnsupportedDType`] for integer datasets, the sigma and truncate errors of
/// [`crate::gaussian_filter`], or a core error (existing `out_name`, storage, another rank's
/// failure).
pub fn gaussian_filter_dataset(
    input: &Dataset,
    out_name: &str,
    sigma: impl Into<Sigma>,
    mode: Boundary,
    truncate: f64,
) -> Result<Dataset> {
    let sigmas = sigma.into().per_axis(input.layout().ndim())?;
    filter_any(input, out_name, &sigmas, mode, truncate)
}

/// `gaussian_filter1d` of dataset `input` along `axis` into a new dataset `out_name`
/// (collective).
///
/// # Errors
/// As [`gaussian_filter_dataset`], and [`NdimageError::InvalidAxis`]; sigma must be > 0.
pub fn gaussian_filter1d_dataset(
    input: &Dataset,
    out_name: &str,
    sigma: f64,
    axis: usize,
    mode: Boundary,
    truncate: f64,
) -> Result<Dataset> {
    let ndim = input.layout().ndim();
    if axis >= ndim {
        return Err(NdimageError::InvalidAxis { axis, ndim });
    }
    crate::kernel::check_sigma_truncate(sigma, truncate)?;
    let mut sigmas = vec![0.0; ndim];
    sigmas[axis] = sigma;
    filter_any(input, out_name, &sigmas, mode, truncate)
}

/// The filter in the dataset's element type (f32 or f64).
fn filter_any(
    input: &Dataset,
    out_name: &str,
    sigmas: &[f64],
    mode: Boundary,
    truncate: f64,
) -> Result<Dataset> {
    match input.dtype() {
        DType::F32 => filter_typed::<f32>(input, out_name, sigmas, mode, truncate),
        DType::F64 => filter_typed::<f64>(input, out_name, sigmas, mode, truncate),
        other => Err(NdimageError::UnsupportedDType(other)),
    }
}

fn filter_typed<T: FilterFloat>(
    input: &Dataset,
    out_name: &str,
    sigmas: &[f64],
    mode: Boundary,
    truncate: f64,
) -> Result<Dataset> {
    if !(truncate.is_finite() && truncate > 0.0) {
        return Err(NdimageError::InvalidTruncate(truncate));
    }
    let taps = sigmas
        .iter()
        .map(|&s| axis_taps::<T>(s, truncate))
        .collect::<Result<Vec<_>>>()?;
    let layout = input.layout();
    // Not grown: the last axis (never axis 0) when chunks span the array along it, unless the
    // constant mode needs its positions beyond the array marked.
    let grown: Vec<bool> = (0..layout.ndim())
        .map(|axis| {
            axis + 1 < layout.ndim()
                || axis == 0
                || matches!(mode, Boundary::Constant(_))
                || layout.chunk_shape()[axis] < layout.shape()[axis]
        })
        .collect();
    let depth: Vec<usize> = taps
        .iter()
        .zip(&grown)
        .map(|(t, &grown)| match (t, grown) {
            (Some(t), true) => t.reach().0,
            _ => 0,
        })
        .collect();
    let edges = Edges {
        grown: &grown,
        mode,
    };
    // The axis-0 pass loads its taps' planes and the output's together: ask for blocks whose
    // planes do not share a cache set then.
    let block_layout = match taps.first() {
        Some(Some(t)) => BlockLayout::SpacedPlanes {
            planes: t.tap_count() + 1,
        },
        _ => BlockLayout::Standard,
    };
    let output =
        input.map_stencil_in::<T, _>(out_name, &depth, mode, block_layout, |bounds, block| {
            let constant = match mode {
                Boundary::Constant(value) => Some(ConstantHalo {
                    value,
                    outside: layout
                        .halo_sources_of(bounds, &depth, mode)
                        .iter()
                        .map(|axis| axis.iter().map(Option::is_none).collect())
                        .collect(),
                }),
                _ => None,
            };
            Ok(gaussian_trimmed(block, &taps, edges, constant.as_ref()))
        })?;
    Ok(output)
}
