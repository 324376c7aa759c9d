//! `correlate1d`, `gaussian_filter1d`, `gaussian_filter` on in-memory arrays, with
//! scipy.ndimage's semantics, and the trimmed variant used on halo-grown chunks.

use chunkwise::Boundary;
use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::blocked::PlanesIn;
use crate::correlate::{AxisView, Pass, Taps};
use crate::element::FilterFloat;
use crate::error::{NdimageError, Result};
use crate::fused::{filter_fused, filter_fused_into};
use crate::kernel::{check_sigma_truncate, gaussian_kernel1d, kernel_radius};

/// scipy skips axes whose sigma is at most this.
const SKIP_SIGMA: f64 = 1e-15;

/// One sigma for every axis, or one per axis.
#[derive(Debug, Clone, PartialEq)]
pub enum Sigma {
    /// The same sigma on every axis.
    Scalar(f64),
    /// One sigma per axis.
    PerAxis(Vec<f64>),
}

impl From<f64> for Sigma {
    fn from(sigma: f64) -> Self {
        Sigma::Scalar(sigma)
    }
}

impl From<Vec<f64>> for Sigma {
    fn from(sigmas: Vec<f64>) -> Self {
        Sigma::PerAxis(sigmas)
    }
}

impl From<&[f64]> for Sigma {
    fn from(sigmas: &[f64]) -> Self {
        Sigma::PerAxis(sigmas.to_vec())
    }
}

impl Sigma {
    /// One sigma per axis of an `ndim`-axis array; each must be finite and ≥ 0 (0 skips the
    /// axis).
    ///
    /// # Errors
    /// [`NdimageError::SigmaCount`], [`NdimageError::InvalidSigma`].
    pub fn per_axis(&self, ndim: usize) -> Result<Vec<f64>> {
        let sigmas = match self {
            Sigma::Scalar(s) => vec![*s; ndim],
            Sigma::PerAxis(v) if v.len() == ndim => v.clone(),
            Sigma::PerAxis(v) => return Err(NdimageError::SigmaCount { got: v.len(), ndim }),
        };
        for &s in &sigmas {
            if !s.is_finite() || s < 0.0 {
                return Err(NdimageError::InvalidSigma {
                    value: s,
                    expected: "expected a finite number ≥ 0",
                });
            }
        }
        Ok(sigmas)
    }
}

/// The Gaussian taps of one axis, or `None` when its sigma skips it.
pub(crate) fn axis_taps<T: FilterFloat>(sigma: f64, truncate: f64) -> Result<Option<Taps<T>>> {
    if sigma <= SKIP_SIGMA {
        return Ok(None);
    }
    check_sigma_truncate(sigma, truncate)?;
    Ok(Some(Taps::new(&gaussian_kernel1d(
        sigma,
        kernel_radius(sigma, truncate),
    )?)))
}

fn check_axis(axis: usize, ndim: usize) -> Result<()> {
    if axis < ndim {
        Ok(())
    } else {
        Err(NdimageError::InvalidAxis { axis, ndim })
    }
}

fn check_truncate(truncate: f64) -> Result<()> {
    if truncate.is_finite() && truncate > 0.0 {
        Ok(())
    } else {
        Err(NdimageError::InvalidTruncate(truncate))
    }
}

/// The output of a pass as an array (it always has `shape`'s element count).
fn shaped<T: FilterFloat>(shape: &[usize], values: Vec<T>) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), values).expect("a pass returns outer·len·inner elements")
}

/// One full-length pass: correlate along `axis`, `mode` beyond the ends.
fn pass<T: FilterFloat>(
    input: ArrayViewD<'_, T>,
    axis: usize,
    taps: &Taps<T>,
    mode: Boundary,
) -> ArrayD<T> {
    let shape = input.shape().to_vec();
    let contiguous = input.as_standard_layout();
    let values = contiguous
        .as_slice()
        .expect("a standard-layout array is one slice");
    let view = AxisView::new(&shape, axis);
    shaped(
        &shape,
        Pass::new(values, view, taps, 0, view.n, mode).run_parallel(),
    )
}

/// scipy's `correlate1d(input, weights, axis, mode=mode, cval=…, origin=0)`: output `i` is
/// `Σ_j weights[j] · input[i + j - len/2]` along `axis`.
///
/// # Errors
/// [`NdimageError::EmptyWeights`], [`NdimageError::InvalidAxis`].
pub fn correlate1d<T: FilterFloat>(
    input: ArrayViewD<'_, T>,
    weights: &[f64],
    axis: usize,
    mode: Boundary,
) -> Result<ArrayD<T>> {
    if weights.is_empty() {
        return Err(NdimageError::EmptyWeights);
    }
    check_axis(axis, input.ndim())?;
    Ok(pass(input, axis, &Taps::new(weights), mode))
}

/// scipy's `gaussian_filter1d(input, sigma, axis, order=0, mode=mode, truncate=truncate)`.
///
/// # Errors
/// [`NdimageError::InvalidSigma`] (sigma must be > 0), [`NdimageError::InvalidTruncate`],
/// [`NdimageError::InvalidAxis`].
pub fn gaussian_filter1d<T: FilterFloat>(
    input: ArrayViewD<'_, T>,
    sigma: f64,
    axis: usize,
    mode: Boundary,
    truncate: f64,
) -> Result<ArrayD<T>> {
    check_sigma_truncate(sigma, truncate)?;
    check_axis(axis, input.ndim())?;
    let taps = Taps::new(&gaussian_kernel1d(sigma, kernel_radius(sigma, truncate))?);
    Ok(pass(input, axis, &taps, mode))
}

/// scipy's `gaussian_filter(input, sigma, order=0, mode=mode, truncate=truncate)`: a 1-D
/// Gaussian along each axis in turn (axes whose sigma is ≤ 1e-15 are skipped), each pass
/// stored in `T`.
///
/// # Errors
/// [`NdimageError::SigmaCount`], [`NdimageError::InvalidSigma`],
/// [`NdimageError::InvalidTruncate`].
pub fn gaussian_filter<T: FilterFloat>(
    input: ArrayViewD<'_, T>,
    sigma: impl Into<Sigma>,
    mode: Boundary,
    truncate: f64,
) -> Result<ArrayD<T>> {
    check_truncate(truncate)?;
    let sigmas = sigma.into().per_axis(input.ndim())?;
    let taps = sigmas
        .iter()
        .map(|&s| axis_taps::<T>(s, truncate))
        .collect::<Result<Vec<_>>>()?;
    if taps.iter().all(Option::is_none) {
        return Ok(input.to_owned());
    }
    let shape = input.shape().to_vec();
    let contiguous = input.as_standard_layout();
    let values = contiguous
        .as_slice()
        .expect("a standard-layout array is one slice");
    Ok(shaped(&shape, filter_fused(values, &shape, &taps, mode)))
}

/// Positions of a grown block that lie outside the array under `constant` mode: per axis, `true`
/// where the block holds the constant rather than data.
pub(crate) struct ConstantHalo {
    pub value: f64,
    pub outside: Vec<Vec<bool>>,
}

/// [`gaussian_filter`] into an existing array of the input's shape (no allocation: what
/// scipy's `output=` argument does). `output` must be in standard (C) layout.
///
/// # Errors
/// As [`gaussian_filter`], and [`NdimageError::OutputShape`] when `output` has another shape
/// or is not in standard layout.
pub fn gaussian_filter_into<T: FilterFloat>(
    input: ArrayViewD<'_, T>,
    mut output: ndarray::ArrayViewMutD<'_, T>,
    sigma: impl Into<Sigma>,
    mode: Boundary,
    truncate: f64,
) -> Result<()> {
    check_truncate(truncate)?;
    if output.shape() != input.shape() {
        return Err(NdimageError::OutputShape {
            expected: format!("{:?}", input.shape()),
            got: format!("{:?}", output.shape()),
        });
    }
    let sigmas = sigma.into().per_axis(input.ndim())?;
    let taps = sigmas
        .iter()
        .map(|&s| axis_taps::<T>(s, truncate))
        .collect::<Result<Vec<_>>>()?;
    let Some(out) = output.as_slice_mut() else {
        return Err(NdimageError::OutputShape {
            expected: format!("{:?} in standard layout", input.shape()),
            got: "another memory layout".into(),
        });
    };
    let contiguous = input.as_standard_layout();
    let values = contiguous
        .as_slice()
        .expect("a standard-layout array is one slice");
    if taps.iter().all(Option::is_none) {
        out.copy_from_slice(values);
    } else {
        filter_fused_into(values, input.shape(), &taps, mode, out);
    }
    Ok(())
}

/// How a block given to [`gaussian_trimmed`] meets the array's boundary: along the axes where
/// `grown` is `true` the block is grown by the kernel reach on both sides (the halo is in the
/// block, and only the inner part is computed); along the others it spans the whole array,
/// from one boundary to the other, and `mode` supplies what lies beyond, as in the filter of
/// the whole array.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edges<'a> {
    pub grown: &'a [bool],
    pub mode: Boundary,
}

impl Edges<'_> {
    /// The output window `(start, len)` along `axis` of `n` positions, for `taps`.
    fn window<T: FilterFloat>(
        &self,
        axis: usize,
        n: usize,
        taps: Option<&Taps<T>>,
    ) -> (usize, usize) {
        match taps {
            Some(t) if self.grown[axis] => {
                let (before, after) = t.reach();
                (before, n - before - after)
            }
            _ => (0, n),
        }
    }
}

/// The Gaussian of a block grown by the kernel reach on both sides along the axes `edges`
/// says, computed only for the inner part (the block minus its halo). Every element equals the
/// whole-array `gaussian_filter` there, bit for bit. With `constant` mode the intermediate result
/// beyond the array must stay the constant (scipy extends each pass's input with it), so
/// `constant` resets those positions after every pass (every axis must then be grown).
pub(crate) fn gaussian_trimmed<T: FilterFloat>(
    block: ArrayViewD<'_, T>,
    taps: &[Option<Taps<T>>],
    edges: Edges<'_>,
    constant: Option<&ConstantHalo>,
) -> ArrayD<T> {
    if constant.is_none() && block.ndim() >= 3 {
        if let Some(trimmed) = trimmed_blocked(block.view(), taps, edges) {
            return trimmed;
        }
    }
    let mut shape = block.shape().to_vec();
    let mut current = block.as_standard_layout().into_owned();
    for (axis, axis_taps) in taps.iter().enumerate() {
        let Some(axis_taps) = axis_taps else { continue };
        let view = AxisView::new(&shape, axis);
        let (start, out_len) = edges.window(axis, view.n, Some(axis_taps));
        let values = current
            .as_slice()
            .expect("arrays made here are in standard layout");
        // Inside a grown axis's window no position reaches past the block, so the mode only
        // applies to the axes the block spans whole.
        let out =
            Pass::new(values, view, axis_taps, start as isize, out_len, edges.mode).run_parallel();
        shape[axis] = out_len;
        current = shaped(&shape, out);
        if let Some(halo) = constant {
            let value = T::from_f64(halo.value);
            for (later, outside) in halo.outside.iter().enumerate().skip(axis + 1) {
                for (position, _) in outside.iter().enumerate().filter(|(_, &out)| out) {
                    current
                        .index_axis_mut(ndarray::Axis(later), position)
                        .fill(value);
                }
            }
        }
    }
    current
}

/// The planes of `block` as they lie in memory, when each plane is in standard layout and the
/// planes follow each other at least a plane apart (as the slab reads of `chunkwise` lay them
/// out, a few bytes apart, see [`crate::blocked`]); `None` otherwise (and for empty blocks).
fn spaced_planes<'a, T>(block: &ArrayViewD<'a, T>) -> Option<PlanesIn<'a, T>> {
    let shape = block.shape();
    let strides = block.strides();
    if shape.len() < 3 || shape.contains(&0) {
        return None;
    }
    let plane: usize = shape[1..].iter().product();
    let mut expected = 1usize;
    for axis in (1..shape.len()).rev() {
        if shape[axis] > 1 && strides[axis] != expected as isize {
            return None;
        }
        expected *= shape[axis];
    }
    let stride = usize::try_from(strides[0]).ok().filter(|&s| s >= plane)?;
    let span = (shape[0] - 1) * stride + plane;
    // SAFETY: the view's elements lie at offsets `z·stride + i` (i < plane) from its first
    // element, the last at `span - 1`; a view made by safe code borrows them from one slice or
    // array of `T`, which holds everything between them. The elements between planes are part
    // of the slice but never read (`filter_blocked_into` reads planes only).
    let values = unsafe { std::slice::from_raw_parts(block.as_ptr(), span) };
    Some(PlanesIn { values, stride })
}

/// [`gaussian_trimmed`] as one blocked sweep ([`crate::blocked`]), or `None` when the block's
/// rows are too long to block.
fn trimmed_blocked<T: FilterFloat>(
    block: ArrayViewD<'_, T>,
    taps: &[Option<Taps<T>>],
    edges: Edges<'_>,
) -> Option<ArrayD<T>> {
    let shape = block.shape().to_vec();
    let windows: Vec<(usize, usize)> = shape
        .iter()
        .zip(taps)
        .enumerate()
        .map(|(axis, (&n, t))| edges.window(axis, n, t.as_ref()))
        .collect();
    let blocking = crate::blocked::blocking(&shape, &windows, taps)?;
    let spaced = spaced_planes(&block);
    let contiguous;
    let planes = match spaced {
        Some(planes) => planes,
        None => {
            contiguous = block.as_standard_layout();
            let values = contiguous
                .as_slice()
                .expect("a standard-layout array is one slice");
            PlanesIn::contiguous(values, &shape)
        }
    };
    let out_shape: Vec<usize> = windows.iter().map(|w| w.1).collect();
    let len: usize = out_shape.iter().product();
    let mut out = crate::alloc::with_capacity::<T>(len);
    crate::blocked::filter_blocked_into(
        planes,
        &shape,
        taps,
        edges.mode,
        blocking,
        &windows,
        &mut out.spare_capacity_mut()[..len],
    );
    // SAFETY: `filter_blocked_into` writes every slot of its output.
    unsafe { out.set_len(len) };
    Some(shaped(&out_shape, out))
}

#[cfg(test)]
mod tests {
    use ndarray::ShapeBuilder;

    use super::*;

    #[test]
    fn blocks_with_planes_apart_are_filtered_in_place_to_the_same_bits() {
        let shape = [20, 9, 11];
        let plane = 9 * 11;
        let stride = plane + 13;
        // NaN between the planes: a value read from a gap would show in the result.
        let values: Vec<f32> = (0..shape[0] * stride)
            .map(|i| match i % stride < plane {
                true => ((i * 7919) % 1013) as f32 / 1013.0,
                false => f32::NAN,
            })
            .collect();
        let spaced =
            ArrayD::from_shape_vec(IxDyn(&shape).strides(IxDyn(&[stride, 11, 1])), values).unwrap();
        let planes = spaced_planes(&spaced.view()).expect("planes apart are used in place");
        assert_eq!(planes.stride, stride);
        let standard = spaced.as_standard_layout().into_owned();
        assert!(spaced_planes(&standard.view()).is_some_and(|p| p.stride == plane));
        // Rows out of order are not used in place.
        assert!(spaced_planes(&standard.view().reversed_axes()).is_none());
        let taps: Vec<Option<Taps<f32>>> = [1.5, 0.0, 1.0]
            .iter()
            .map(|&s| axis_taps::<f32>(s, 4.0).unwrap())
            .collect();
        let edges = Edges {
            grown: &[true; 3],
            mode: Boundary::Reflect,
        };
        let expected = gaussian_trimmed(standard.view(), &taps, edges, None);
        let got = gaussian_trimmed(spaced.view(), &taps, edges, None);
        assert!(got.iter().all(|v| v.is_finite()));
        assert_eq!(got, expected);
    }
}
