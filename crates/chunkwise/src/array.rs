//! Conversions between stored chunk buffers (full chunk shape, padded with the fill value) and
//! the arrays users see (the valid part only).

use ndarray::{ArrayD, ArrayViewD, IxDyn};

use crate::dtype::{ChunkData, DType, Element};
use crate::error::{fmt_tuple, Error, Result};
use crate::layout::Layout;
use crate::region::Region;

/// The elements of an array in C order, without copying when it already is one.
pub fn into_c_vec<T: Clone>(array: ArrayD<T>) -> Vec<T> {
    if array.is_standard_layout() {
        let len = array.len();
        let (values, offset) = array.into_raw_vec_and_offset();
        if offset.unwrap_or(0) == 0 && values.len() == len {
            return values;
        }
        // A standard-layout array that does not start at its buffer's beginning: copy.
        let start = offset.unwrap_or(0);
        return values[start..start + len].to_vec();
    }
    array.iter().cloned().collect()
}

/// Checks that `T` is the dtype `stored` of the thing described by `context`.
///
/// # Errors
/// [`Error::DTypeMismatch`].
pub(crate) fn check_dtype<T: Element>(
    stored: DType,
    context: impl FnOnce() -> String,
) -> Result<()> {
    if T::DTYPE == stored {
        Ok(())
    } else {
        Err(Error::DTypeMismatch {
            context: context(),
            stored: stored.to_string(),
            requested: T::DTYPE.to_string(),
        })
    }
}

/// Checks an array's shape.
///
/// # Errors
/// [`Error::ShapeMismatch`] naming `context`.
pub(crate) fn check_shape(
    expected: &[usize],
    got: &[usize],
    context: impl FnOnce() -> String,
) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            context: context(),
            expected: fmt_tuple(expected),
            got: fmt_tuple(got),
        })
    }
}

/// A stored chunk buffer as an array of the full chunk shape.
pub(crate) fn chunk_array<T: Element>(layout: &Layout, data: ChunkData) -> Result<ArrayD<T>> {
    let values = T::from_chunk(data).map_err(|other| Error::DTypeMismatch {
        context: "a stored chunk".into(),
        stored: other.dtype().to_string(),
        requested: T::DTYPE.to_string(),
    })?;
    ArrayD::from_shape_vec(IxDyn(layout.chunk_shape()), values).map_err(|e| Error::ShapeMismatch {
        context: format!("a stored chunk ({e})"),
        expected: fmt_tuple(layout.chunk_shape()),
        got: "another number of elements".into(),
    })
}

/// The valid part of a stored chunk (or the fill value when the chunk is missing).
pub(crate) fn valid_array<T: Element>(
    layout: &Layout,
    chunk: &[usize],
    stored: Option<ChunkData>,
    fill: T,
) -> Result<ArrayD<T>> {
    let valid_shape = layout.chunk_valid_shape(chunk);
    match stored {
        None => Ok(ArrayD::from_elem(IxDyn(&valid_shape), fill)),
        Some(data) => {
            let full = chunk_array::<T>(layout, data)?;
            if valid_shape == layout.chunk_shape() {
                Ok(full)
            } else {
                Ok(owned(Region::full(&valid_shape).view_of(&full)))
            }
        }
    }
}

/// A stored chunk buffer from the valid part of a chunk, padded with `fill`.
pub(crate) fn padded_chunk<T: Element>(layout: &Layout, valid: ArrayD<T>, fill: T) -> ChunkData {
    padded_to(layout.chunk_shape(), valid, fill)
}

/// `valid` at the start of an array of `shape` (at least as long on every axis) filled with
/// `fill` elsewhere, as stored elements in C order.
pub(crate) fn padded_to<T: Element>(shape: &[usize], valid: ArrayD<T>, fill: T) -> ChunkData {
    if valid.shape() == shape {
        return T::into_chunk(into_c_vec(valid));
    }
    let mut full = ArrayD::from_elem(IxDyn(shape), fill);
    copy_into(
        Region::full(valid.shape()).view_mut_of(&mut full),
        valid.view(),
    );
    T::into_chunk(into_c_vec(full))
}

/// Same as [`padded_chunk`] for a borrowed view.
pub(crate) fn padded_chunk_from_view<T: Element>(
    layout: &Layout,
    valid: ArrayViewD<'_, T>,
    fill: T,
) -> ChunkData {
    let mut full = ArrayD::from_elem(IxDyn(layout.chunk_shape()), fill);
    copy_into(
        Region::full(valid.shape()).view_mut_of(&mut full),
        valid.view(),
    );
    T::into_chunk(into_c_vec(full))
}

/// Runs `f` on `dst` and `src` with a fixed number of axes when it is 1 to 4: ndarray's
/// element loops over dynamic-dimension arrays index element by element, the fixed ones run
/// over the contiguous axis.
macro_rules! with_fixed_dims {
    ($dst:expr, $src:expr, |$d:ident, $s:ident| $body:expr) => {{
        let dst = $dst;
        let src = $src;
        match dst.ndim() {
            1 => match (
                dst.into_dimensionality::<ndarray::Ix1>(),
                src.into_dimensionality::<ndarray::Ix1>(),
            ) {
                (Ok($d), Ok($s)) => $body,
                _ => unreachable!("dimensions checked"),
            },
            2 => match (
                dst.into_dimensionality::<ndarray::Ix2>(),
                src.into_dimensionality::<ndarray::Ix2>(),
            ) {
                (Ok($d), Ok($s)) => $body,
                _ => unreachable!("dimensions checked"),
            },
            3 => match (
                dst.into_dimensionality::<ndarray::Ix3>(),
                src.into_dimensionality::<ndarray::Ix3>(),
            ) {
                (Ok($d), Ok($s)) => $body,
                _ => unreachable!("dimensions checked"),
            },
            4 => match (
                dst.into_dimensionality::<ndarray::Ix4>(),
                src.into_dimensionality::<ndarray::Ix4>(),
            ) {
                (Ok($d), Ok($s)) => $body,
                _ => unreachable!("dimensions checked"),
            },
            _ => {
                let ($d, $s) = (dst, src);
                $body
            }
        }
    }};
}

/// `dst.assign(&src)` (same shapes), fast for 1 to 4 axes.
pub(crate) fn copy_into<T: Clone>(dst: ndarray::ArrayViewMutD<'_, T>, src: ArrayViewD<'_, T>) {
    debug_assert_eq!(dst.shape(), src.shape());
    if dst.ndim() != src.ndim() {
        return;
    }
    with_fixed_dims!(dst, src, |d, s| copy_rows(d, s))
}

/// `dst.assign(&src)`, row by row as slice copies when both have contiguous rows (the last
/// axis): a halo-grown block is assembled from parts of chunks, whose rows are contiguous but
/// whose other axes are not, and `assign` then copies element by element.
fn copy_rows<T: Clone, D: ndarray::Dimension>(
    mut dst: ndarray::ArrayViewMut<'_, T, D>,
    src: ndarray::ArrayView<'_, T, D>,
) {
    let Some(last) = dst.ndim().checked_sub(1).map(ndarray::Axis) else {
        dst.assign(&src);
        return;
    };
    let contiguous = |stride: isize, len: usize| stride == 1 || len <= 1;
    let len = dst.len_of(last);
    if !(contiguous(dst.stride_of(last), len) && contiguous(src.stride_of(last), len)) {
        dst.assign(&src);
        return;
    }
    ndarray::Zip::from(dst.lanes_mut(last))
        .and(src.lanes(last))
        .for_each(|mut to, from| match (to.as_slice_mut(), from.as_slice()) {
            (Some(to), Some(from)) => to.clone_from_slice(from),
            _ => to.assign(&from),
        });
}

/// `view.to_owned()` in standard layout, fast for 1 to 4 axes.
pub(crate) fn owned<T: Clone + Default>(view: ArrayViewD<'_, T>) -> ArrayD<T> {
    let mut out = ArrayD::from_elem(IxDyn(view.shape()), T::default());
    copy_into(out.view_mut(), view);
    out
}
