//! The 1-D correlation engine every filter runs on.
//!
//! A C-contiguous array is seen, for the filtered axis, as `(outer, n, inner)`. When the axis is
//! the last one (`inner == 1`) each line is copied once into a buffer extended by the boundary
//! and the taps run along it; otherwise whole rows of `inner` contiguous elements are combined,
//! so the inner loops always run over contiguous memory and the compiler vectorises them
//! (across the contiguous axis for the outer axes). Symmetric kernels are folded: one multiply
//! per pair of taps. Rows are processed in tiles so that the rows a tile needs stay in cache
//! while consecutive output rows reuse them. Work is split over rayon's current pool.
//!
//! Every output element is computed by the same sequence of operations wherever it lies, so a
//! block of a larger array (with enough halo) filters to exactly the same bits as the whole.

use chunkwise::Boundary;
use rayon::prelude::*;

use crate::element::FilterFloat;

/// Elements of a row tile: 2 KiB of f64, small enough that a kernel's rows stay in L1.
const TILE: usize = 256;
/// Elements per parallel task (at least), so that task overhead stays small.
const TASK_ELEMENTS: usize = 1 << 15;

/// The taps of a correlation.
#[derive(Debug, Clone)]
pub(crate) enum Taps<T> {
    /// `w[0]` at the centre, `w[k]` at both `-k` and `+k`.
    Symmetric(Vec<T>),
    /// Any weights; output `i` is `Σ_j w[j] · x[i + j - center]`.
    General { weights: Vec<T>, center: usize },
}

impl<T: FilterFloat> Taps<T> {
    /// Taps for `weights` (as scipy's `correlate1d` with origin 0: centre `len / 2`), folded
    /// when symmetric.
    pub(crate) fn new(weights: &[f64]) -> Self {
        let len = weights.len();
        let center = len / 2;
        let symmetric = len % 2 == 1 && (0..center).all(|k| weights[k] == weights[len - 1 - k]);
        if symmetric {
            Taps::Symmetric(weights[center..].iter().map(|&w| T::from_f64(w)).collect())
        } else {
            Taps::General {
                weights: weights.iter().map(|&w| T::from_f64(w)).collect(),
                center,
            }
        }
    }

    /// Elements needed before and after an output position.
    pub(crate) fn reach(&self) -> (usize, usize) {
        match self {
            Taps::Symmetric(w) => (w.len() - 1, w.len() - 1),
            Taps::General { weights, center } => (*center, weights.len() - 1 - center),
        }
    }
}

/// The filtered axis of a C-contiguous array as `(outer, n, inner)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AxisView {
    pub outer: usize,
    pub n: usize,
    pub inner: usize,
}

impl AxisView {
    pub(crate) fn new(shape: &[usize], axis: usize) -> Self {
        AxisView {
            outer: shape[..axis].iter().product(),
            n: shape[axis],
            inner: shape[axis + 1..].iter().product(),
        }
    }
}

/// Correlates `input` (C order, seen as `view`) along its axis, for output positions
/// `out_start..out_start + out_len` in input coordinates (they may reach outside `0..n`, and so
/// may the taps: `mode` supplies those values). Returns `(outer, out_len, inner)` in C order.
pub(crate) fn correlate_axis<T: FilterFloat>(
    input: &[T],
    view: AxisView,
    taps: &Taps<T>,
    out_start: isize,
    out_len: usize,
    mode: Boundary,
) -> Vec<T> {
    let (left, right) = taps.reach();
    let first = out_start - left as isize;
    // Source index of every position an output needs, from `first` on.
    let sources: Vec<Option<usize>> = (0..out_len + left + right)
        .map(|j| mode.source(first + j as isize, view.n))
        .collect();
    let cval = match mode {
        Boundary::Constant(c) => T::from_f64(c),
        _ => T::ZERO,
    };
    let mut output = vec![T::ZERO; view.outer * out_len * view.inner];
    if output.is_empty() {
        return output;
    }
    if view.inner == 1 {
        lines(
            input,
            view,
            taps,
            &sources,
            first,
            out_len,
            cval,
            &mut output,
        );
    } else {
        rows(input, view, taps, &sources, out_len, cval, &mut output);
    }
    output
}

/// Along the contiguous axis: each line extended once into a buffer, taps along the buffer.
#[allow(clippy::too_many_arguments)]
fn lines<T: FilterFloat>(
    input: &[T],
    view: AxisView,
    taps: &Taps<T>,
    sources: &[Option<usize>],
    first: isize,
    out_len: usize,
    cval: T,
    output: &mut [T],
) {
    let ext_len = sources.len();
    // The part of the buffer that is a plain copy of the line.
    let copy_lo = ((-first).max(0) as usize).min(ext_len);
    let copy_hi = ((view.n as isize - first).max(0) as usize).clamp(copy_lo, ext_len);
    let lines_per_task = (TASK_ELEMENTS / out_len.max(1)).max(1);
    output
        .par_chunks_mut(out_len * lines_per_task)
        .enumerate()
        .for_each(|(task, block)| {
            let mut ext = vec![T::ZERO; ext_len];
            for (k, out) in block.chunks_mut(out_len).enumerate() {
                let o = task * lines_per_task + k;
                let line = &input[o * view.n..(o + 1) * view.n];
                if copy_hi > copy_lo {
                    let src_lo = (first + copy_lo as isize) as usize;
                    ext[copy_lo..copy_hi]
                        .copy_from_slice(&line[src_lo..src_lo + (copy_hi - copy_lo)]);
                }
                for j in (0..copy_lo).chain(copy_hi..ext_len) {
                    ext[j] = sources[j].map_or(cval, |s| line[s]);
                }
                apply_taps_line(taps, &ext, out);
            }
        });
}

#[inline(always)]
fn apply_taps_line<T: FilterFloat>(taps: &Taps<T>, ext: &[T], out: &mut [T]) {
    let len = out.len();
    match taps {
        Taps::Symmetric(w) => {
            let h = w.len() - 1;
            for (o, &c) in out.iter_mut().zip(&ext[h..h + len]) {
                *o = w[0] * c;
            }
            for (k, &wk) in w.iter().enumerate().skip(1) {
                let a = &ext[h - k..h - k + len];
                let b = &ext[h + k..h + k + len];
                for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                    *o = *o + wk * (x + y);
                }
            }
        }
        Taps::General { weights, .. } => {
            out.fill(T::ZERO);
            for (j, &wj) in weights.iter().enumerate() {
                for (o, &x) in out.iter_mut().zip(&ext[j..j + len]) {
                    *o = *o + wj * x;
                }
            }
        }
    }
}

/// Along an outer axis: output rows are weighted sums of input rows, tile by tile.
fn rows<T: FilterFloat>(
    input: &[T],
    view: AxisView,
    taps: &Taps<T>,
    sources: &[Option<usize>],
    out_len: usize,
    cval: T,
    output: &mut [T],
) {
    let inner = view.inner;
    let cval_row = vec![cval; inner];
    let row = |o: usize, source: Option<usize>| -> &[T] {
        match source {
            Some(s) => &input[(o * view.n + s) * inner..][..inner],
            None => &cval_row,
        }
    };
    let rows_per_task = (TASK_ELEMENTS / inner).clamp(1, out_len.max(1));
    output
        .par_chunks_mut(inner * rows_per_task)
        .enumerate()
        .for_each(|(task, block)| {
            let first_row = task * rows_per_task;
            let rows_here = block.len() / inner;
            for tile in (0..inner).step_by(TILE) {
                let tile_len = TILE.min(inner - tile);
                for r in 0..rows_here {
                    let out_row = first_row + r;
                    let (o, p) = (out_row / out_len, out_row % out_len);
                    let out = &mut block[r * inner + tile..][..tile_len];
                    match taps {
                        Taps::Symmetric(w) => {
                            let h = w.len() - 1;
                            let center = &row(o, sources[p + h])[tile..tile + tile_len];
                            for (x, &c) in out.iter_mut().zip(center) {
                                *x = w[0] * c;
                            }
                            for (k, &wk) in w.iter().enumerate().skip(1) {
                                let a = &row(o, sources[p + h - k])[tile..tile + tile_len];
                                let b = &row(o, sources[p + h + k])[tile..tile + tile_len];
                                for ((x, &u), &v) in out.iter_mut().zip(a).zip(b) {
                                    *x = *x + wk * (u + v);
                                }
                            }
                        }
                        Taps::General { weights, .. } => {
                            out.fill(T::ZERO);
                            for (j, &wj) in weights.iter().enumerate() {
                                let s = &row(o, sources[p + j])[tile..tile + tile_len];
                                for (x, &u) in out.iter_mut().zip(s) {
                                    *x = *x + wj * u;
                                }
                            }
                        }
                    }
                }
            }
        });
}
