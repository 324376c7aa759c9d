//! All axes of a separable filter of a 3-D (or higher) array in one sweep, blocked for the
//! caches.
//!
//! Why: a sweep in slabs of whole planes ([`crate::fused`]) needs, for every slab, the slab's
//! planes plus the axis-0 kernel reach on both sides. With a 13-tap kernel and slabs of the few
//! planes that fit in cache, every input plane is fetched from memory about seven times, and
//! the filter is bound by memory traffic rather than arithmetic.
//!
//! Here the array is cut into blocks of rows along axis 1, and each worker walks its block
//! along axis 0 plane by plane. The input rows the axis-0 taps need for a plane are those the
//! previous planes used, still in the core's cache, so the input is fetched about once. The
//! price is the axis-1 reach: the rows just beyond a block are filtered along axis 0 by both
//! neighbouring blocks. Planes are taken four at a time: the axis-0 pass makes the four planes
//! from one load of the rows under their taps (reading those rows from L2 once per output, not
//! once per tap, was what limited it). Each plane is then filtered along axis 1 and the other
//! axes in scratch buffers of a block's rows, and written to the output once.
//!
//! Every output element goes through the same operations, in the same order, as in the
//! axis-by-axis passes, so the result is the same to the bit.
//!
//! The input's planes may lie further apart than their length ([`PlanesIn`]): the axis-0 pass
//! loads the rows under its taps, one plane apart, at the same time, and when that distance is
//! a multiple of 4 KiB (planes of 128² or 64² `f32`) all of them fall into the same sets of
//! the L1 cache and evict each other; that made it three times slower. Blocks read for it are
//! therefore laid out with a few bytes between planes (`chunkwise`'s reads for stencils along
//! axis 0 do).

use std::mem::MaybeUninit;
use std::ops::Range;

use chunkwise::Boundary;
use rayon::prelude::*;

use crate::correlate::{as_slots, combine_planes, combine_rows, AxisView, Pass, Taps, PLANES};
use crate::element::FilterFloat;

/// Bytes of input rows under the axis-0 taps that a block keeps in cache: about half a core's
/// L2 on current x86 servers.
const WINDOW_BYTES: usize = 1 << 20;

/// Blocks per worker thread (at least), for load balance.
const BLOCKS_PER_THREAD: usize = 3;

/// A C-order input of at least 3 axes whose planes (positions along axis 0) start `stride`
/// elements apart (at least one plane's length; the elements between planes are not used).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanesIn<'a, T> {
    pub values: &'a [T],
    pub stride: usize,
}

impl<'a, T> PlanesIn<'a, T> {
    /// An input whose planes follow each other (standard layout) of `shape`.
    pub(crate) fn contiguous(values: &'a [T], shape: &[usize]) -> Self {
        PlanesIn {
            values,
            stride: shape[1..].iter().product(),
        }
    }
}

/// How the array is cut: blocks of `rows` rows along axis 1 by `planes` planes along axis 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Blocking {
    pub rows: usize,
    pub planes: usize,
}

/// The blocking for an input of `shape` (at least 3 axes) and output `windows` (as in
/// [`filter_blocked_into`]) on rayon's current pool, or `None` when rows are so long that a
/// block would hold fewer rows than the axis-1 reach around it (the recomputed rows would then
/// cost more than blocking saves).
pub(crate) fn blocking<T: FilterFloat>(
    shape: &[usize],
    windows: &[(usize, usize)],
    taps: &[Option<Taps<T>>],
) -> Option<Blocking> {
    let threads = rayon::current_num_threads().max(1);
    blocking_for(shape, (windows[0].1, windows[1].1), taps, threads)
}

/// [`blocking`] for `threads` workers and an output of `n0` planes of `n1` rows.
fn blocking_for<T: FilterFloat>(
    shape: &[usize],
    (n0, n1): (usize, usize),
    taps: &[Option<Taps<T>>],
    threads: usize,
) -> Option<Blocking> {
    let rest: usize = shape[2..].iter().product();
    let row_bytes = (rest * std::mem::size_of::<T>()).max(1);
    let taps0 = taps[0].as_ref().map_or(1, |t| t.tap_count());
    let reach1 = taps[1].as_ref().map_or(0, |t| t.tap_count() - 1);
    let fitting = WINDOW_BYTES / (row_bytes * (taps0 + 1));
    let rows = fitting.saturating_sub(reach1);
    if rows == 0 || rows < reach1 {
        return None;
    }
    let row_blocks = n1.div_ceil(rows.min(n1).max(1)).max(1);
    let rows = n1.div_ceil(row_blocks).max(1);
    let plane_blocks = (BLOCKS_PER_THREAD * threads)
        .div_ceil(row_blocks)
        .clamp(1, n0.max(1));
    let planes = n0.div_ceil(plane_blocks).max(1);
    Some(Blocking { rows, planes })
}

/// The separable filter `taps[axis]` (`None`: skip the axis) of a C-order array of at least 3
/// axes into `output`, cut as `blocking` says. `windows[axis]` is `(start, len)`: the output
/// covers input positions `start..start + len` along each axis (`(0, n)` for the whole array;
/// a block grown by the kernel reach is trimmed back with `(reach, n - 2·reach)`), and
/// `output` holds the product of the `len`s. Every slot of `output` is written.
pub(crate) fn filter_blocked_into<T: FilterFloat>(
    input: PlanesIn<'_, T>,
    shape: &[usize],
    taps: &[Option<Taps<T>>],
    mode: Boundary,
    blocking: Blocking,
    windows: &[(usize, usize)],
    output: &mut [MaybeUninit<T>],
) {
    assert!(shape.len() >= 3, "blocked filtering needs at least 3 axes");
    let plane: usize = shape[1..].iter().product();
    assert!(
        input.stride >= plane
            && (shape[0] == 0 || input.values.len() >= (shape[0] - 1) * input.stride + plane),
        "planes of {plane} elements {} apart in {} elements",
        input.stride,
        input.values.len()
    );
    assert_eq!(windows.len(), shape.len(), "one window per axis");
    for (axis, &(start, len)) in windows.iter().enumerate() {
        let none = taps[axis].is_none();
        assert!(
            start + len <= shape[axis] && (!none || (start, len) == (0, shape[axis])),
            "window {start}+{len} on axis {axis} of {shape:?}"
        );
    }
    let out_len: usize = windows.iter().map(|w| w.1).product();
    assert_eq!(output.len(), out_len, "output length");
    if out_len == 0 {
        return;
    }
    let sweep = Sweep::new(input, shape, taps, mode, blocking.rows, windows);
    let (n0, n1) = (windows[0].1, windows[1].1);
    let units: Vec<(Range<usize>, Range<usize>)> = (0..n1)
        .step_by(blocking.rows)
        .flat_map(|y0| {
            (0..n0).step_by(blocking.planes).map(move |z0| {
                (
                    y0..(y0 + blocking.rows).min(n1),
                    z0..(z0 + blocking.planes).min(n0),
                )
            })
        })
        .collect();
    let out = OutPtr(output.as_mut_ptr());
    units.par_iter().for_each_init(
        || (vec![Vec::new(); PLANES], Vec::new()),
        |(firsts, second), (rows, planes)| {
            let mut z = planes.start;
            while z < planes.end {
                let count = PLANES.min(planes.end - z);
                let len = rows.len() * sweep.rest_out;
                let mut targets: Vec<&mut [MaybeUninit<T>]> = (z..z + count)
                    .map(|plane| {
                        let start = (plane * n1 + rows.start) * sweep.rest_out;
                        // SAFETY: the units cover disjoint (plane, row range) parts of
                        // `output`, so no two workers write the same elements, and
                        // `start + len` is at most `output.len()`; `output` is borrowed
                        // mutably for the whole call.
                        unsafe { out.slice(start, len) }
                    })
                    .collect();
                sweep.planes(z, rows.clone(), &mut targets, firsts, second);
                z += count;
            }
        },
    );
}

/// The output's base pointer, shared by the workers, who write disjoint parts.
#[derive(Clone, Copy)]
struct OutPtr<T>(*mut MaybeUninit<T>);
impl<T> OutPtr<T> {
    /// # Safety
    /// `start + len` must lie within the output, and no one else may use those elements.
    unsafe fn slice<'a>(self, start: usize, len: usize) -> &'a mut [MaybeUninit<T>] {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

// SAFETY: used only to write disjoint parts of one mutably borrowed slice of `Send` elements.
unsafe impl<T: Send> Send for OutPtr<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for OutPtr<T> {}

/// What every block needs: the input, the taps, the boundary.
struct Sweep<'a, T> {
    input: &'a [T],
    /// Elements from one input plane to the next.
    plane: usize,
    n0: usize,
    n1: usize,
    /// Elements of one input row (the product of axes 2 and on).
    rest: usize,
    /// Elements of one output row.
    rest_out: usize,
    /// The output window `(start, len)` of every axis.
    windows: Vec<(usize, usize)>,
    /// The input shape from axis 2 on: a block of `m` rows has the shape `[m, block_tail..]`.
    block_tail: Vec<usize>,
    taps0: Option<&'a Taps<T>>,
    taps1: Option<&'a Taps<T>>,
    later: Vec<(usize, &'a Taps<T>)>,
    mode: Boundary,
    cval: T,
    /// A run of `cval` as long as the longest run of rows read at once (constant mode only).
    cval_rows: Vec<T>,
}

impl<'a, T: FilterFloat> Sweep<'a, T> {
    fn new(
        input: PlanesIn<'a, T>,
        shape: &[usize],
        taps: &'a [Option<Taps<T>>],
        mode: Boundary,
        rows: usize,
        windows: &[(usize, usize)],
    ) -> Self {
        let rest: usize = shape[2..].iter().product();
        let taps1 = taps[1].as_ref();
        let reach1 = taps1.map_or(0, |t| t.tap_count() - 1);
        let cval = match mode {
            Boundary::Constant(c) => T::from_f64(c),
            _ => T::ZERO,
        };
        let cval_rows = match mode {
            Boundary::Constant(_) => vec![cval; (rows + reach1) * rest],
            _ => Vec::new(),
        };
        Sweep {
            input: input.values,
            plane: input.stride,
            n0: shape[0],
            n1: shape[1],
            rest,
            rest_out: windows[2..].iter().map(|w| w.1).product(),
            windows: windows.to_vec(),
            block_tail: shape[2..].to_vec(),
            taps0: taps[0].as_ref(),
            taps1,
            later: taps
                .iter()
                .enumerate()
                .skip(2)
                .filter_map(|(axis, t)| t.as_ref().map(|t| (axis, t)))
                .collect(),
            mode,
            cval,
            cval_rows,
        }
    }

    /// Output planes `z..z + targets.len()` (at most [`PLANES`]), rows `rows` (output
    /// coordinates), into `targets`, with scratch buffers.
    fn planes(
        &self,
        z: usize,
        rows: Range<usize>,
        targets: &mut [&mut [MaybeUninit<T>]],
        firsts: &mut [Vec<T>],
        second: &mut Vec<T>,
    ) {
        let rest = self.rest;
        let m = rows.len();
        let count = targets.len();
        let (start0, start1) = (self.windows[0].0, self.windows[1].0);
        let z = z + start0;
        let rows = rows.start + start1..rows.end + start1;
        let (before, after) = self.taps1.map_or((0, 0), Taps::reach);
        let grown = rows.start as isize - before as isize..(rows.end + after) as isize;
        let grown_len = m + before + after;
        // Axis 0, for the rows and the axis-1 reach around them.
        if self.taps1.is_none() && self.later.is_empty() {
            self.axis0(z, grown, targets);
            return;
        }
        // Axis 0 not filtered and the rows inside the input: one axis filtered straight from
        // the input rows, without first copying them (the 1-D passes along axes 1 and 2).
        let one_later_axis = self.taps1.is_none() && self.later.len() == 1;
        let one_axis = (self.taps1.is_some() && self.later.is_empty()) || one_later_axis;
        if self.taps0.is_none() && one_axis && grown.start >= 0 && grown.end <= self.n1 as isize {
            for (plane, target) in targets.iter_mut().enumerate() {
                let start = (z + plane) * self.plane + grown.start as usize * rest;
                let rows = &self.input[start..start + grown_len * rest];
                self.one_axis(rows, m, target);
            }
            return;
        }
        let mut outs: Vec<&mut [MaybeUninit<T>]> = firsts[..count]
            .iter_mut()
            .map(|first| {
                first.resize(grown_len * rest, T::ZERO);
                // SAFETY: the axis-0 pass writes only initialised values.
                unsafe { as_slots(&mut first[..grown_len * rest]) }
            })
            .collect();
        self.axis0(z, grown, &mut outs);
        second.resize(m * rest, T::ZERO);
        for (first, target) in firsts.iter_mut().zip(targets.iter_mut()) {
            self.after_axis0(first, second, m, target);
        }
    }

    /// Axis 1 alone, or the one later axis alone, of one plane's `rows` (grown by the axis-1
    /// reach) into `target`.
    fn one_axis(&self, rows: &[T], m: usize, target: &mut [MaybeUninit<T>]) {
        let rest = self.rest;
        if let Some(taps1) = self.taps1 {
            let pointers: Vec<*const T> = (0..taps1.tap_count())
                .map(|j| rows[j * rest..].as_ptr())
                .collect();
            // SAFETY: pointer `j` is followed by `(m + tap_count - 1 - j) * rest ≥ m * rest`
            // elements of `rows` (the rows grown by the reach), which `target` does not overlap.
            unsafe { combine_rows(taps1, &pointers, target) };
            return;
        }
        if let Some(&(axis, taps)) = self.later.first() {
            let mut block_shape = vec![m];
            block_shape.extend_from_slice(&self.block_tail);
            let view = AxisView::new(&block_shape, axis - 1);
            let (start, out_len) = self.windows[axis];
            Pass::new(rows, view, taps, start as isize, out_len, self.mode).run_rows(0, target);
        }
    }

    /// Axis 1 and the later axes of one plane, from its axis-0 result `first` (the grown rows)
    /// into `target`; `first` and `second` are scratch afterwards.
    fn after_axis0(
        &self,
        first: &mut Vec<T>,
        second: &mut Vec<T>,
        m: usize,
        target: &mut [MaybeUninit<T>],
    ) {
        let rest = self.rest;
        let (mut current, mut next) = (first, second);
        // Axis 1: the grown rows are already extended, so output row `y` reads rows `y..`.
        if let Some(taps1) = self.taps1 {
            let base = current.as_ptr();
            let pointers: Vec<*const T> = (0..taps1.tap_count())
                // SAFETY: tap `j` starts at row `j` of the grown rows in `current`.
                .map(|j| unsafe { base.add(j * rest) })
                .collect();
            let out = if self.later.is_empty() {
                &mut target[..]
            } else {
                // SAFETY: the axis-1 pass writes only initialised values.
                unsafe { as_slots(&mut next[..m * rest]) }
            };
            // SAFETY: each pointer is followed by `(m + tap_count - 1 - j) * rest ≥ m * rest`
            // elements of `current`, which `out` does not overlap.
            unsafe { combine_rows(taps1, &pointers, out) };
            if self.later.is_empty() {
                return;
            }
            std::mem::swap(&mut current, &mut next);
        }
        // The other axes, inside the block of `m` rows.
        let mut block_shape = vec![m];
        block_shape.extend_from_slice(&self.block_tail);
        let mut len = m * rest;
        for (k, (axis, taps)) in self.later.iter().enumerate() {
            let view = AxisView::new(&block_shape, axis - 1);
            let (start, out_len) = self.windows[*axis];
            let pass = Pass::new(
                &current[..len],
                view,
                taps,
                start as isize,
                out_len,
                self.mode,
            );
            block_shape[axis - 1] = out_len;
            len = pass.output_len();
            if k + 1 == self.later.len() {
                pass.run_rows(0, target);
                return;
            }
            // SAFETY: a pass writes only initialised values.
            pass.run_rows(0, unsafe { as_slots(&mut next[..len]) });
            std::mem::swap(&mut current, &mut next);
        }
    }

    /// Planes `z..z + outs.len()` of the axis-0 pass (or of the input, when axis 0 is not
    /// filtered) at axis-1 positions `grown` (extended by the boundary mode), into `outs`.
    /// A full group of [`PLANES`] planes is computed in one go ([`combine_planes`]).
    fn axis0(&self, z: usize, grown: Range<isize>, outs: &mut [&mut [MaybeUninit<T>]]) {
        let rest = self.rest;
        let count = outs.len();
        // The input plane under every tap of every output plane: output `p`, tap `j` is
        // `planes[p + j]`.
        let planes: Vec<Option<usize>> = match self.taps0 {
            Some(taps0) => {
                let (before, _) = taps0.reach();
                (0..taps0.tap_count() + count - 1)
                    .map(|r| {
                        self.mode
                            .source(z as isize + r as isize - before as isize, self.n0)
                    })
                    .collect()
            }
            None => (z..z + count).map(Some).collect(),
        };
        let mut pointers: Vec<*const T> = Vec::with_capacity(planes.len());
        let mut position = grown.start;
        while position < grown.end {
            let done = (position - grown.start) as usize;
            let source = self.mode.source(position, self.n1);
            // The longest run of positions whose sources are consecutive rows (or all outside).
            let mut run = 1;
            while position + (run as isize) < grown.end {
                let next = self.mode.source(position + run as isize, self.n1);
                let consecutive = match (source, next) {
                    (Some(s), Some(t)) => t == s + run,
                    (None, None) => true,
                    _ => false,
                };
                if !consecutive {
                    break;
                }
                run += 1;
            }
            let span = done * rest..(done + run) * rest;
            match (source, self.taps0) {
                // Beyond the array along axis 1, the intermediate array holds the constant.
                (None, _) => outs
                    .iter_mut()
                    .for_each(|o| o[span.clone()].fill(MaybeUninit::new(self.cval))),
                (Some(y), None) => {
                    for (out, plane) in outs.iter_mut().zip(planes.iter().flatten()) {
                        let start = plane * self.plane + y * rest;
                        let source = &self.input[start..start + run * rest];
                        for (slot, &value) in out[span.clone()].iter_mut().zip(source) {
                            slot.write(value);
                        }
                    }
                }
                (Some(y), Some(taps0)) => {
                    pointers.clear();
                    pointers.extend(planes.iter().map(|plane| match plane {
                        Some(p) => self.input[p * self.plane + y * rest..][..run * rest].as_ptr(),
                        None => self.cval_rows[..run * rest].as_ptr(),
                    }));
                    let taps = taps0.tap_count();
                    let mut spans: Vec<&mut [MaybeUninit<T>]> =
                        outs.iter_mut().map(|o| &mut o[span.clone()]).collect();
                    if count == PLANES {
                        // SAFETY: every pointer starts a checked slice of `run * rest`
                        // elements of the input (or the constant), none inside `spans`.
                        unsafe { combine_planes(taps0, &pointers, &mut spans) };
                    } else {
                        for (p, out) in spans.iter_mut().enumerate() {
                            // SAFETY: as above.
                            unsafe { combine_rows(taps0, &pointers[p..p + taps], out) };
                        }
                    }
                }
            }
            position += run as isize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gaussian::axis_taps;

    const MODES: [Boundary; 5] = [
        Boundary::Reflect,
        Boundary::Mirror,
        Boundary::Nearest,
        Boundary::Wrap,
        Boundary::Constant(0.25),
    ];

    fn values<T: FilterFloat>(len: usize) -> Vec<T> {
        (0..len)
            .map(|i| T::from_f64(((i * 7919) % 1013) as f64 / 1013.0 - 0.3))
            .collect()
    }

    /// The axis-by-axis passes, each over the whole array.
    fn axis_by_axis<T: FilterFloat>(
        input: &[T],
        shape: &[usize],
        taps: &[Option<Taps<T>>],
        mode: Boundary,
    ) -> Vec<T> {
        let mut current = input.to_vec();
        for (axis, t) in taps.iter().enumerate() {
            if let Some(t) = t {
                let view = AxisView::new(shape, axis);
                current = Pass::new(&current, view, t, 0, view.n, mode).run_parallel();
            }
        }
        current
    }

    /// `input` of `shape` with `gap` NaNs after every plane (none after the last), and the
    /// distance from one plane to the next.
    fn spaced<T: FilterFloat>(input: &[T], shape: &[usize], gap: usize) -> (Vec<T>, usize) {
        let plane: usize = shape[1..].iter().product();
        let mut spaced = Vec::new();
        for (k, values) in input.chunks(plane).enumerate() {
            if k > 0 {
                spaced.extend(std::iter::repeat_n(T::from_f64(f64::NAN), gap));
            }
            spaced.extend_from_slice(values);
        }
        (spaced, plane + gap)
    }

    fn check<T: FilterFloat>(shape: &[usize], sigmas: &[f64], blockings: &[Blocking]) {
        let input = values::<T>(shape.iter().product());
        let taps: Vec<Option<Taps<T>>> = sigmas
            .iter()
            .map(|&s| axis_taps::<T>(s, 4.0).unwrap())
            .collect();
        for mode in MODES {
            let expected = axis_by_axis(&input, shape, &taps, mode);
            for &b in blockings {
                // NaN where nothing was written: every slot must be.
                let mut out = vec![T::from_f64(f64::NAN); input.len()];
                let whole: Vec<(usize, usize)> = shape.iter().map(|&n| (0, n)).collect();
                // SAFETY: the filter writes only initialised values.
                let slots = unsafe { as_slots(&mut out) };
                filter_blocked_into(
                    PlanesIn::contiguous(&input, shape),
                    shape,
                    &taps,
                    mode,
                    b,
                    &whole,
                    slots,
                );
                assert!(
                    out == expected,
                    "shape {shape:?} sigma {sigmas:?} {mode} {b:?}"
                );
                // Planes further apart, NaN between them: the same bits, nothing of the gaps
                // read.
                let (padded, stride) = spaced(&input, shape, 5);
                let mut out = vec![T::from_f64(f64::NAN); input.len()];
                // SAFETY: the filter writes only initialised values.
                let slots = unsafe { as_slots(&mut out) };
                let planes = PlanesIn {
                    values: &padded,
                    stride,
                };
                filter_blocked_into(planes, shape, &taps, mode, b, &whole, slots);
                assert!(
                    out == expected,
                    "spaced planes: shape {shape:?} sigma {sigmas:?} {mode} {b:?}"
                );
            }
        }
    }

    #[test]
    fn blocked_sweep_equals_the_axis_by_axis_passes_to_the_bit() {
        // Blocks thinner than the reach, uneven, and one block; axes skipped; 4 axes.
        let blockings = [
            Blocking { rows: 1, planes: 1 },
            Blocking { rows: 2, planes: 3 },
            Blocking { rows: 5, planes: 4 },
            Blocking {
                rows: 64,
                planes: 64,
            },
        ];
        for sigmas in [
            vec![1.5, 1.5, 1.5],
            vec![0.0, 2.0, 0.7],
            vec![1.1, 0.0, 0.9],
            vec![1.2, 1.3, 0.0],
            vec![0.9, 0.0, 0.0],
        ] {
            check::<f32>(&[11, 13, 7], &sigmas, &blockings);
            check::<f64>(&[6, 9, 5], &sigmas, &blockings);
        }
        check::<f32>(&[5, 7, 4, 6], &[1.0, 1.5, 0.8, 1.2], &blockings);
        check::<f64>(&[5, 7, 4, 6], &[1.0, 0.0, 0.8, 0.0], &blockings);
    }

    #[test]
    fn a_trimmed_window_equals_the_inside_of_the_whole_result() {
        let shape = [19, 23, 17];
        let input = values::<f32>(shape.iter().product());
        for sigmas in [[1.5, 1.0, 0.8], [0.0, 1.2, 1.5], [1.1, 0.0, 0.0]] {
            let taps: Vec<Option<Taps<f32>>> = sigmas
                .iter()
                .map(|&s| axis_taps::<f32>(s, 4.0).unwrap())
                .collect();
            let whole = axis_by_axis(&input, &shape, &taps, Boundary::Reflect);
            let windows: Vec<(usize, usize)> = taps
                .iter()
                .zip(shape)
                .map(|(t, n)| {
                    t.as_ref()
                        .map_or((0, n), |t| (t.reach().0, n - t.tap_count() + 1))
                })
                .collect();
            let len: usize = windows.iter().map(|w| w.1).product();
            for b in [
                Blocking { rows: 2, planes: 3 },
                Blocking {
                    rows: 64,
                    planes: 64,
                },
            ] {
                let mut out = vec![f32::NAN; len];
                filter_blocked_into(
                    PlanesIn::contiguous(&input, &shape),
                    &shape,
                    &taps,
                    Boundary::Reflect,
                    b,
                    &windows,
                    // SAFETY: the filter writes only initialised values.
                    unsafe { as_slots(&mut out) },
                );
                let mut k = 0;
                for z in 0..windows[0].1 {
                    for y in 0..windows[1].1 {
                        for x in 0..windows[2].1 {
                            let (zz, yy, xx) =
                                (z + windows[0].0, y + windows[1].0, x + windows[2].0);
                            let expected = whole[(zz * shape[1] + yy) * shape[2] + xx];
                            assert!(out[k] == expected, "{sigmas:?} {b:?} at {z},{y},{x}");
                            k += 1;
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn long_rows_are_not_blocked() {
        let taps: Vec<Option<Taps<f32>>> = (0..3).map(|_| axis_taps(1.5, 4.0).unwrap()).collect();
        let b = blocking_for(&[256, 256, 256], (256, 256), &taps, 2).unwrap();
        assert!(b.rows >= 12 && b.rows <= 256, "{b:?}");
        assert!(
            256usize.div_ceil(b.rows) * 256usize.div_ceil(b.planes) >= 6,
            "{b:?}"
        );
        assert_eq!(blocking_for(&[64, 64, 1 << 16], (64, 64), &taps, 2), None);
    }
}
