//! The 1-D correlation engine every filter runs on.
//!
//! A C-contiguous array is seen, for the filtered axis, as `(outer, n, inner)`. When the axis is
//! the last one (`inner == 1`) each line is copied once into a buffer extended by the boundary
//! and the taps run along it; otherwise whole rows of `inner` contiguous elements are combined,
//! so the inner loops always run over contiguous memory and the compiler vectorises them
//! (across the contiguous axis for the outer axes). Symmetric kernels are folded: one multiply
//! per pair of taps. Rows are processed in tiles so that the rows a tile needs stay in cache
//! while consecutive output rows reuse them.
//!
//! Every output element is computed by the same sequence of operations wherever it lies, so a
//! block of a larger array (with enough halo) filters to exactly the same bits as the whole.

use chunkwise::Boundary;
use rayon::prelude::*;

use crate::element::FilterFloat;

/// Elements of a row tile: small enough that a kernel's rows stay in L1.
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

    /// Number of taps.
    pub(crate) fn tap_count(&self) -> usize {
        let (before, after) = self.reach();
        before + after + 1
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

/// One correlation along one axis: what it reads, which outputs it makes, how it extends.
pub(crate) struct Pass<'a, T> {
    pub input: &'a [T],
    pub view: AxisView,
    pub taps: &'a Taps<T>,
    /// First output position, in input coordinates (may be negative).
    pub out_start: isize,
    /// Output positions along the axis.
    pub out_len: usize,
    /// Source index of every position the outputs need, from `out_start - reach` on.
    sources: Vec<Option<usize>>,
    cval: T,
}

impl<'a, T: FilterFloat> Pass<'a, T> {
    pub(crate) fn new(
        input: &'a [T],
        view: AxisView,
        taps: &'a Taps<T>,
        out_start: isize,
        out_len: usize,
        mode: Boundary,
    ) -> Self {
        let (left, right) = taps.reach();
        let first = out_start - left as isize;
        let sources = (0..out_len + left + right)
            .map(|j| mode.source(first + j as isize, view.n))
            .collect();
        let cval = match mode {
            Boundary::Constant(c) => T::from_f64(c),
            _ => T::ZERO,
        };
        Pass {
            input,
            view,
            taps,
            out_start,
            out_len,
            sources,
            cval,
        }
    }

    /// Output elements: `outer · out_len · inner`.
    pub(crate) fn output_len(&self) -> usize {
        self.view.outer * self.out_len * self.view.inner
    }

    /// Elements of one output row: a whole line along the contiguous axis, else `inner`.
    pub(crate) fn row_len(&self) -> usize {
        if self.view.inner == 1 {
            self.out_len
        } else {
            self.view.inner
        }
    }

    /// Computes output rows `first_row..` into `out`, which holds a whole number of rows
    /// ([`Pass::row_len`] elements each: one line of the contiguous axis, or one
    /// `(outer, position)` pair of `inner` elements). Uses AVX2 and FMA when the CPU has them;
    /// every path performs the same operations (fused multiply-adds included) in the same
    /// order, so results do not depend on the CPU.
    pub(crate) fn run_rows(&self, first_row: usize, out: &mut [T]) {
        #[cfg(target_arch = "x86_64")]
        {
            if vector_fma() {
                // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                return unsafe { self.run_rows_avx2(first_row, out) };
            }
        }
        self.run_rows_portable(first_row, out);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_rows_avx2(&self, first_row: usize, out: &mut [T]) {
        self.run_rows_portable(first_row, out);
    }

    #[inline(always)]
    fn run_rows_portable(&self, first_row: usize, out: &mut [T]) {
        if self.view.inner == 1 {
            self.lines(first_row, out);
        } else {
            self.rows(first_row, out);
        }
    }

    /// All outputs, split over rayon's current pool.
    pub(crate) fn run_parallel(&self) -> Vec<T> {
        let mut output = crate::alloc::zeroed::<T>(self.output_len());
        let row_len = self.row_len();
        if row_len == 0 {
            return output;
        }
        let rows_per_task = (TASK_ELEMENTS / row_len.max(1)).max(1);
        output
            .par_chunks_mut(row_len * rows_per_task)
            .enumerate()
            .for_each(|(task, block)| self.run_rows(task * rows_per_task, block));
        output
    }

    /// Along the contiguous axis: each line extended once into a buffer, taps along it.
    #[inline(always)]
    fn lines(&self, first_row: usize, out: &mut [T]) {
        let (left, _) = self.taps.reach();
        let ext_len = self.sources.len();
        let first = self.out_start - left as isize;
        let n = self.view.n;
        // The part of the buffer that is a plain copy of the line.
        let copy_lo = ((-first).max(0) as usize).min(ext_len);
        let copy_hi = ((n as isize - first).max(0) as usize).clamp(copy_lo, ext_len);
        let mut ext = vec![T::ZERO; ext_len];
        let taps_len = ext_len + 1 - self.out_len;
        let mut ptrs: Vec<*const T> = Vec::with_capacity(taps_len);
        let first_line = first_row;
        for (k, out_line) in out.chunks_mut(self.out_len).enumerate() {
            let o = first_line + k;
            let line = &self.input[o * n..(o + 1) * n];
            if copy_hi > copy_lo {
                let src_lo = (first + copy_lo as isize) as usize;
                ext[copy_lo..copy_hi].copy_from_slice(&line[src_lo..src_lo + (copy_hi - copy_lo)]);
            }
            for j in (0..copy_lo).chain(copy_hi..ext_len) {
                ext[j] = self.sources[j].map_or(self.cval, |s| line[s]);
            }
            ptrs.clear();
            ptrs.extend((0..taps_len).map(|j| ext[j..j + self.out_len].as_ptr()));
            // SAFETY: each window `ext[j..j + out_len]` lies inside `ext` (taps_len + out_len - 1
            // = ext_len elements).
            unsafe { combine(self.taps, &ptrs, out_line) };
        }
    }

    /// Along an outer axis: output rows are weighted sums of input rows, tile by tile.
    #[inline(always)]
    fn rows(&self, first_row: usize, out: &mut [T]) {
        let inner = self.view.inner;
        let cval_row = vec![
            self.cval;
            if self.sources.iter().any(Option::is_none) {
                inner
            } else {
                0
            }
        ];
        let row = |o: usize, source: Option<usize>| -> &[T] {
            match source {
                Some(s) => &self.input[(o * self.view.n + s) * inner..][..inner],
                None => &cval_row,
            }
        };
        let rows_here = out.len() / inner;
        let taps_len = self.sources.len() - self.out_len + 1;
        let mut inputs: Vec<*const T> = Vec::with_capacity(taps_len);
        for tile in (0..inner).step_by(TILE) {
            let tile_len = TILE.min(inner - tile);
            for r in 0..rows_here {
                let out_row = first_row + r;
                let (o, p) = (out_row / self.out_len, out_row % self.out_len);
                let out = &mut out[r * inner + tile..][..tile_len];
                inputs.clear();
                inputs.extend(
                    (0..taps_len)
                        .map(|j| row(o, self.sources[p + j])[tile..tile + tile_len].as_ptr()),
                );
                // SAFETY: each pointer starts a checked `tile_len`-element sub-slice.
                unsafe { combine(self.taps, &inputs, out) };
            }
        }
    }
}

/// [`combine`] with the widest vector instructions the CPU has (as [`Pass::run_rows`]).
///
/// # Safety
/// As [`combine`]: one pointer per tap, each valid for reading `out.len()` elements.
pub(crate) unsafe fn combine_rows<T: FilterFloat>(
    taps: &Taps<T>,
    rows: &[*const T],
    out: &mut [T],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if vector_fma() {
            // SAFETY: the CPU supports AVX2 and FMA; the pointers are the caller's contract.
            return unsafe { combine_avx2(taps, rows, out) };
        }
    }
    // SAFETY: the caller's contract.
    unsafe { combine(taps, rows, out) }
}

/// Whether the CPU has 256-bit vectors and fused multiply-add. AVX-512 is not used: on the
/// Xeons measured (BENCHMARKS.md) the 512-bit loop is 20–25 % slower than the 256-bit one.
#[cfg(target_arch = "x86_64")]
#[inline]
fn vector_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn combine_avx2<T: FilterFloat>(taps: &Taps<T>, rows: &[*const T], out: &mut [T]) {
    // SAFETY: the caller's contract.
    unsafe { combine(taps, rows, out) }
}

/// Lanes combined at once: accumulators stay in registers across all taps.
const LANES: usize = 32;

/// `out[x] = Σ_j taps_j · rows[j][x]`, where `rows` point at the rows (or shifted line windows)
/// under each tap, in tap order. Symmetric taps: `w0·c + Σ_k w_k·(a_k + b_k)` in order of `k`,
/// each term added with one fused multiply-add (one rounding instead of two, and a third fewer
/// instructions). Without hardware FMA (x86 CPUs older than 2013) `mul_add` is computed in
/// software: the same bits, much slower.
///
/// # Safety
/// `rows` holds one pointer per tap, each valid for reading `out.len()` elements.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lanes of the accumulators and the rows in lockstep
unsafe fn combine<T: FilterFloat>(taps: &Taps<T>, rows: &[*const T], out: &mut [T]) {
    let len = out.len();
    let o = out.as_mut_ptr();
    let blocks = len / LANES * LANES;
    // SAFETY (all reads below): every index is below `len`, and every row pointer is valid for
    // `len` elements (the caller's contract); `out` is written only below `len`.
    unsafe {
        match taps {
            Taps::Symmetric(w) => {
                let h = w.len() - 1;
                let c = rows[h];
                let w0 = w[0];
                let mut x0 = 0;
                while x0 < blocks {
                    let mut acc = [T::ZERO; LANES];
                    for l in 0..LANES {
                        acc[l] = w0 * *c.add(x0 + l);
                    }
                    for k in 1..=h {
                        let a = rows.get_unchecked(h - k).add(x0);
                        let b = rows.get_unchecked(h + k).add(x0);
                        let wk = *w.get_unchecked(k);
                        for l in 0..LANES {
                            acc[l] = wk.mul_add(*a.add(l) + *b.add(l), acc[l]);
                        }
                    }
                    std::ptr::copy_nonoverlapping(acc.as_ptr(), o.add(x0), LANES);
                    x0 += LANES;
                }
                for x in blocks..len {
                    let mut acc = w0 * *c.add(x);
                    for k in 1..=h {
                        acc = w[k].mul_add(*rows[h - k].add(x) + *rows[h + k].add(x), acc);
                    }
                    *o.add(x) = acc;
                }
            }
            Taps::General { weights, .. } => {
                let mut x0 = 0;
                while x0 < blocks {
                    let mut acc = [T::ZERO; LANES];
                    for (j, &wj) in weights.iter().enumerate() {
                        let s = rows.get_unchecked(j).add(x0);
                        for l in 0..LANES {
                            acc[l] = wj.mul_add(*s.add(l), acc[l]);
                        }
                    }
                    std::ptr::copy_nonoverlapping(acc.as_ptr(), o.add(x0), LANES);
                    x0 += LANES;
                }
                for x in blocks..len {
                    let mut acc = T::ZERO;
                    for (j, &wj) in weights.iter().enumerate() {
                        acc = wj.mul_add(*rows[j].add(x), acc);
                    }
                    *o.add(x) = acc;
                }
            }
        }
    }
}
