//! All axes of a separable filter in one sweep over the array.
//!
//! The array is cut into slabs along axis 0; each worker filters its slab along axis 0 (reading
//! the slab plus the kernel reach from the input), then along every other axis while the slab is
//! still in cache, and writes the finished slab once. So the array is read about once and
//! written once instead of once per axis, and only the output is newly allocated. The
//! operations per element are those of the axis-by-axis passes, so the result is the same to
//! the bit.
//!
//! Arrays of three or more axes go to [`crate::blocked`] instead, which also keeps the input
//! under the axis-0 taps in cache; the slabs remain for 1-D and 2-D arrays and for rows too
//! long to block.

use std::mem::MaybeUninit;

use chunkwise::Boundary;
use rayon::prelude::*;

use crate::correlate::{as_slots, AxisView, Pass, Taps};
use crate::element::FilterFloat;

/// Bytes of a slab: a few planes, so that a slab's passes run in the core's caches.
const SLAB_BYTES: usize = 1 << 19;

/// The separable filter `taps[axis]` (`None`: skip the axis) of a C-order array.
pub(crate) fn filter_fused<T: FilterFloat>(
    input: &[T],
    shape: &[usize],
    taps: &[Option<Taps<T>>],
    mode: Boundary,
) -> Vec<T> {
    let len = input.len();
    let mut output = crate::alloc::with_capacity::<T>(len);
    filter_fused_slots(
        input,
        shape,
        taps,
        mode,
        &mut output.spare_capacity_mut()[..len],
    );
    // SAFETY: `filter_fused_slots` writes every slot.
    unsafe { output.set_len(len) };
    output
}

/// [`filter_fused`] into `output` (the input's length).
pub(crate) fn filter_fused_into<T: FilterFloat>(
    input: &[T],
    shape: &[usize],
    taps: &[Option<Taps<T>>],
    mode: Boundary,
    output: &mut [T],
) {
    // SAFETY: the filter writes only initialised values.
    filter_fused_slots(input, shape, taps, mode, unsafe { as_slots(output) });
}

/// [`filter_fused`] into `output` (the input's length), writing every slot.
fn filter_fused_slots<T: FilterFloat>(
    input: &[T],
    shape: &[usize],
    taps: &[Option<Taps<T>>],
    mode: Boundary,
    output: &mut [MaybeUninit<T>],
) {
    if input.is_empty() {
        return;
    }
    if shape.len() >= 3 {
        let whole: Vec<(usize, usize)> = shape.iter().map(|&n| (0, n)).collect();
        if let Some(blocking) = crate::blocked::blocking(shape, &whole, taps) {
            let planes = crate::blocked::PlanesIn::contiguous(input, shape);
            crate::blocked::filter_blocked_into(
                planes, shape, taps, mode, blocking, &whole, output,
            );
            return;
        }
    }
    let n0 = shape[0];
    let threads = rayon::current_num_threads().max(1);
    let plane: usize = shape[1..].iter().product();
    let by_cache = (SLAB_BYTES / (plane * std::mem::size_of::<T>()).max(1)).max(1);
    let by_balance = n0.div_ceil(4 * threads).max(1);
    let slab = by_cache.min(by_balance);
    // Two scratch slabs per worker, reused from slab to slab (a fresh buffer per slab would
    // cost page faults every time).
    output
        .par_chunks_mut(slab * plane)
        .enumerate()
        .for_each_init(
            || (Vec::new(), Vec::new()),
            |(first, second), (index, out_slab)| {
                let z0 = index * slab;
                let planes = out_slab.len() / plane;
                filter_slab(
                    input, shape, taps, mode, z0, planes, out_slab, first, second,
                );
            },
        );
}

/// Output planes `z0..z0 + planes` of the filter, into `out` (serial), with two scratch buffers.
#[allow(clippy::too_many_arguments)]
fn filter_slab<T: FilterFloat>(
    input: &[T],
    shape: &[usize],
    taps: &[Option<Taps<T>>],
    mode: Boundary,
    z0: usize,
    planes: usize,
    out: &mut [MaybeUninit<T>],
    first: &mut Vec<T>,
    second: &mut Vec<T>,
) {
    let plane: usize = shape[1..].iter().product();
    let len = planes * plane;
    let mut slab_shape = shape.to_vec();
    slab_shape[0] = planes;
    let later: Vec<(usize, &Taps<T>)> = taps
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(axis, t)| t.as_ref().map(|t| (axis, t)))
        .collect();
    first.resize(len, T::ZERO);
    second.resize(len, T::ZERO);

    // Axis 0: from the input (straight into the output when it is the only axis), or the slab
    // as it is.
    match &taps[0] {
        Some(t0) => {
            let pass = Pass::new(
                input,
                AxisView::new(shape, 0),
                t0,
                z0 as isize,
                planes,
                mode,
            );
            if later.is_empty() {
                pass.run_rows(0, out);
                return;
            }
            // SAFETY: a pass writes only initialised values.
            pass.run_rows(0, unsafe { as_slots(&mut first[..len]) });
        }
        None => first[..len].copy_from_slice(&input[z0 * plane..(z0 + planes) * plane]),
    }
    // The other axes, inside the slab, alternating between the scratch buffers; the last one
    // writes the output.
    let (mut current, mut next) = (first, second);
    for (k, (axis, axis_taps)) in later.iter().enumerate() {
        let view = AxisView::new(&slab_shape, *axis);
        let pass = Pass::new(&current[..len], view, axis_taps, 0, view.n, mode);
        if k + 1 == later.len() {
            pass.run_rows(0, out);
            return;
        }
        // SAFETY: a pass writes only initialised values.
        pass.run_rows(0, unsafe { as_slots(&mut next[..len]) });
        std::mem::swap(&mut current, &mut next);
    }
}
