//! The 1-D correlation engine every filter runs on.
//!
//! A C-contiguous array is seen, for the filtered axis, as `(outer, n, inner)`. When the axis is
//! the last one (`inner == 1`) each line is copied once into a buffer extended by the boundary
//! and the taps run along it; otherwise whole rows of `inner` contiguous elements are combined,
//! so the inner loops always run over contiguous memory and the compiler vectorises them
//! (across the contiguous axis for the outer axes). Rows are processed in tiles so that the rows
//! a tile needs stay in cache while consecutive output rows reuse them. [`combine_planes`] makes
//! several outputs from one load of their rows, for passes limited by reading rows from L2.
//!
//! Every output element is computed by the same sequence of operations wherever it lies, so a
//! block of a larger array (with enough halo) filters to exactly the same bits as the whole.
//!
//! Outputs are slots (`[MaybeUninit<T>]`) that every pass writes whole: new output arrays are
//! not zeroed first, since every element is written anyway.

use std::mem::MaybeUninit;

use chunkwise::Boundary;
use rayon::prelude::*;

use crate::element::FilterFloat;

/// `values` as output slots.
///
/// # Safety
/// Only initialised values may be written through the result (as every pass here does), since
/// `values` is read as initialised again afterwards.
pub(crate) unsafe fn as_slots<T>(values: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: `MaybeUninit<T>` has the layout of `T`; the caller writes only initialised values.
    unsafe { &mut *(std::ptr::from_mut(values) as *mut [MaybeUninit<T>]) }
}

/// Elements of a row tile: small enough that a kernel's rows stay in L1.
const TILE: usize = 256;
/// Elements per parallel task (at least), so that task overhead stays small.
const TASK_ELEMENTS: usize = 1 << 15;

/// The taps of a correlation: output `i` is `Σ_j weights[j] · x[i + j - center]`.
#[derive(Debug, Clone)]
pub(crate) struct Taps<T> {
    weights: Vec<T>,
    center: usize,
}

impl<T: FilterFloat> Taps<T> {
    /// Taps for `weights` (as scipy's `correlate1d` with origin 0: centre `len / 2`).
    pub(crate) fn new(weights: &[f64]) -> Self {
        Taps {
            weights: weights.iter().map(|&w| T::from_f64(w)).collect(),
            center: weights.len() / 2,
        }
    }

    /// Number of taps.
    pub(crate) fn tap_count(&self) -> usize {
        self.weights.len()
    }

    /// Elements needed before and after an output position.
    pub(crate) fn reach(&self) -> (usize, usize) {
        (self.center, self.weights.len() - 1 - self.center)
    }

    /// The weights, in tap order.
    pub(crate) fn weights(&self) -> &[T] {
        &self.weights
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
    pub(crate) fn run_rows(&self, first_row: usize, out: &mut [MaybeUninit<T>]) {
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
    unsafe fn run_rows_avx2(&self, first_row: usize, out: &mut [MaybeUninit<T>]) {
        self.run_rows_portable(first_row, out);
    }

    #[inline(always)]
    fn run_rows_portable(&self, first_row: usize, out: &mut [MaybeUninit<T>]) {
        if self.view.inner == 1 {
            self.lines(first_row, out);
        } else {
            self.rows(first_row, out);
        }
    }

    /// All outputs, split over rayon's current pool.
    pub(crate) fn run_parallel(&self) -> Vec<T> {
        let len = self.output_len();
        let mut output = crate::alloc::with_capacity::<T>(len);
        let row_len = self.row_len();
        if row_len == 0 || len == 0 {
            return output;
        }
        let rows_per_task = (TASK_ELEMENTS / row_len.max(1)).max(1);
        output.spare_capacity_mut()[..len]
            .par_chunks_mut(row_len * rows_per_task)
            .enumerate()
            .for_each(|(task, block)| self.run_rows(task * rows_per_task, block));
        // SAFETY: the tasks cover all `len` slots, and `run_rows` writes every slot it is given.
        unsafe { output.set_len(len) };
        output
    }

    /// Along the contiguous axis: each line extended once into a buffer, taps along it.
    #[inline(always)]
    fn lines(&self, first_row: usize, out: &mut [MaybeUninit<T>]) {
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
    fn rows(&self, first_row: usize, out: &mut [MaybeUninit<T>]) {
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
    out: &mut [MaybeUninit<T>],
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
/// Xeons measured (docs/perf-log/2026-11-benchmark-history.md) the 512-bit loop is 20–25 % slower than the 256-bit one.
#[cfg(target_arch = "x86_64")]
#[inline]
fn vector_fma() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Output planes [`combine_planes`] computes at once.
pub(crate) const PLANES: usize = 4;

/// [`PLANES`] outputs of consecutive positions at once: `outs[p][x] = Σ_j w_j · rows[p + j][x]`,
/// with exactly the operations of [`combine`] for each output, so the results are the same to
/// the bit. Each input row is loaded once for all the outputs that use it, so the rows are read
/// from the caches about `PLANES` times less often (what the axis-0 pass, whose rows lie a
/// plane apart, is limited by).
///
/// # Safety
/// `rows` holds `tap_count + PLANES - 1` pointers, each valid for reading `outs[0].len()`
/// elements; all `outs` have that length and none overlaps a row.
pub(crate) unsafe fn combine_planes<T: FilterFloat>(
    taps: &Taps<T>,
    rows: &[*const T],
    outs: &mut [&mut [MaybeUninit<T>]],
) {
    assert_eq!(outs.len(), PLANES, "one output per plane");
    assert_eq!(
        rows.len(),
        taps.tap_count() + PLANES - 1,
        "rows under the taps"
    );
    let len = outs[0].len();
    assert!(outs.iter().all(|o| o.len() == len), "outputs of one length");
    let outs: [*mut T; PLANES] = std::array::from_fn(|p| outs[p].as_mut_ptr().cast::<T>());
    #[cfg(target_arch = "x86_64")]
    {
        if vector_fma() {
            // SAFETY: the CPU supports AVX2 and FMA; the pointers are the caller's contract and
            // were checked for count and length above.
            return unsafe { combine_planes_avx2(taps, rows, outs, len) };
        }
    }
    // SAFETY: as above.
    unsafe { combine_planes_any(taps, rows, outs, len) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn combine_planes_avx2<T: FilterFloat>(
    taps: &Taps<T>,
    rows: &[*const T],
    outs: [*mut T; PLANES],
    len: usize,
) {
    // SAFETY: the caller's contract.
    unsafe { combine_planes_any(taps, rows, outs, len) }
}

/// [`combine_planes`] with 64 bytes of lanes per output (one cache line of each row).
#[inline(always)]
unsafe fn combine_planes_any<T: FilterFloat>(
    taps: &Taps<T>,
    rows: &[*const T],
    outs: [*mut T; PLANES],
    len: usize,
) {
    // SAFETY: the caller's contract.
    unsafe {
        if std::mem::size_of::<T>() == 4 {
            combine_planes_lanes::<T, 16>(taps, rows, outs, len);
        } else {
            combine_planes_lanes::<T, 8>(taps, rows, outs, len);
        }
    }
}

#[inline(always)]
#[allow(clippy::needless_range_loop)] // lanes of the accumulators and the rows in lockstep
unsafe fn combine_planes_lanes<T: FilterFloat, const L: usize>(
    taps: &Taps<T>,
    rows: &[*const T],
    outs: [*mut T; PLANES],
    len: usize,
) {
    let w = taps.weights();
    let n = w.len();
    let blocks = len / L * L;
    // SAFETY (all accesses below): indices stay below `len`; the rows and outputs are valid for
    // `len` elements (the caller's contract).
    unsafe {
        let mut x0 = 0;
        while x0 < blocks {
            let mut acc = [[T::ZERO; L]; PLANES];
            for p in 0..PLANES {
                let first = rows.get_unchecked(p).add(x0);
                for l in 0..L {
                    acc[p][l] = w[0] * *first.add(l);
                }
            }
            // Row `r` is tap `r - p` of output `p`; taps are added in increasing order.
            for r in 1..n + PLANES - 1 {
                let source = rows.get_unchecked(r).add(x0);
                let mut v = [T::ZERO; L];
                for l in 0..L {
                    v[l] = *source.add(l);
                }
                for p in 0..PLANES {
                    if r > p && r - p < n {
                        let wj = *w.get_unchecked(r - p);
                        for l in 0..L {
                            acc[p][l] = wj.mul_add(v[l], acc[p][l]);
                        }
                    }
                }
            }
            for p in 0..PLANES {
                std::ptr::copy_nonoverlapping(acc[p].as_ptr(), outs[p].add(x0), L);
            }
            x0 += L;
        }
        for p in 0..PLANES {
            for x in blocks..len {
                let mut acc = w[0] * *rows[p].add(x);
                for j in 1..n {
                    acc = w[j].mul_add(*rows[p + j].add(x), acc);
                }
                outs[p].add(x).write(acc);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn combine_avx2<T: FilterFloat>(
    taps: &Taps<T>,
    rows: &[*const T],
    out: &mut [MaybeUninit<T>],
) {
    // SAFETY: the caller's contract.
    unsafe { combine(taps, rows, out) }
}

/// Lanes combined at once: accumulators stay in registers across all taps.
const LANES: usize = 32;

/// `out[x] = Σ_j w_j · rows[j][x]`, where `rows` point at the rows (or shifted line windows)
/// under each tap, in tap order: `w_0 · r_0` first, then each further tap added with one fused
/// multiply-add, in tap order. [`combine_planes`] performs the same operations. Without
/// hardware FMA (x86 CPUs older than 2013) `mul_add` is computed in software: the same bits,
/// much slower.
///
/// # Safety
/// `rows` holds one pointer per tap, each valid for reading `out.len()` elements.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lanes of the accumulators and the rows in lockstep
unsafe fn combine<T: FilterFloat>(taps: &Taps<T>, rows: &[*const T], out: &mut [MaybeUninit<T>]) {
    let len = out.len();
    let o = out.as_mut_ptr().cast::<T>();
    let blocks = len / LANES * LANES;
    let w = taps.weights();
    // SAFETY (all reads below): every index is below `len`, and every row pointer is valid for
    // `len` elements (the caller's contract); `out` is written only below `len`.
    unsafe {
        let mut x0 = 0;
        while x0 < blocks {
            let mut acc = [T::ZERO; LANES];
            let first = rows[0].add(x0);
            for l in 0..LANES {
                acc[l] = w[0] * *first.add(l);
            }
            for j in 1..w.len() {
                let s = rows.get_unchecked(j).add(x0);
                let wj = *w.get_unchecked(j);
                for l in 0..LANES {
                    acc[l] = wj.mul_add(*s.add(l), acc[l]);
                }
            }
            std::ptr::copy_nonoverlapping(acc.as_ptr(), o.add(x0), LANES);
            x0 += LANES;
        }
        for x in blocks..len {
            let mut acc = w[0] * *rows[0].add(x);
            for j in 1..w.len() {
                acc = w[j].mul_add(*rows[j].add(x), acc);
            }
            o.add(x).write(acc);
        }
    }
}
