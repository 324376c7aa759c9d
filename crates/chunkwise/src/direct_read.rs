//! Grown blocks of slabs read straight into place.
//!
//! The halo gather reads chunk data into a buffer (a copy out of the page cache) and then copies
//! it into the grown block: two passes over memory for every element, which made the copies,
//! not the filter, most of a 1-D pass over one large chunk. When a slab's grown block holds
//! whole planes of chunks — every position along axes 1 and 2 comes from one chunk's full extent
//! or is a boundary mirror of it, as when chunks span the data across those axes — the planes
//! are read from storage straight into the block's rows ([`crate::ChunkRead::read_chunk_run_into`])
//! and the mirrored rows and planes are copied from the block itself. Other blocks go through
//! the gather.
//!
//! For a stencil along axis 0, such a block's planes are laid out a few bytes apart when their
//! length is a multiple of 4 KiB or of a large part of it ([`spaced_plane_len`]): a filter
//! along axis 0 loads the rows of about 16 consecutive planes at once, and rows exactly 64 KiB
//! apart (planes of 128² `f32`) all fall into the same sets of the L1 cache and evict each
//! other — it made the kernel of the axis-0 Gaussian pass over such blocks three times slower.
//! The block is then an array with a larger stride along axis 0; the gap between planes holds
//! the fill value.

use std::mem::MaybeUninit;

use ndarray::{ArrayD, IxDyn, ShapeBuilder};

use crate::boundary::Boundary;
use crate::dataset::Dataset;
use crate::dtype::Element;
use crate::error::Result;
use crate::operations::BlockLayout;

/// Bytes after which cache set indices repeat (4 KiB on x86 and most ARM cores).
const SET_PERIOD: usize = 4096;
/// Where a spaced plane's start lies within the set period: 17 cache lines, an odd number, so
/// that up to 64 consecutive planes start in different sets.
const SPACED_OFFSET: usize = 17 * 64;

/// Elements from the start of one plane of `plane` elements of `element` bytes to the next
/// in blocks laid out as `layout` asks: `plane` in standard layout, or when the planes a kernel
/// loads together ([`BlockLayout::SpacedPlanes`]) start in different cache sets (or a plane is
/// shorter than [`SET_PERIOD`]); otherwise a few more, so that they do.
pub(crate) fn plane_stride(layout: BlockLayout, plane: usize, element: usize) -> usize {
    let BlockLayout::SpacedPlanes { planes: together } = layout else {
        return plane;
    };
    // Up to 64 planes can start in different 64-byte sets of a period.
    let together = together.clamp(1, 64);
    let bytes = plane * element;
    // The 64-byte sets (of the 64 in a period) the planes start in, as bits.
    let sets = (0..together).fold(0u64, |sets, k| sets | 1 << ((k * bytes) % SET_PERIOD / 64));
    // Planes shorter than the period lie close together: nothing to gain for the memory.
    if bytes < SET_PERIOD
        || sets.count_ones() as usize == together
        || !SPACED_OFFSET.is_multiple_of(element)
    {
        return plane;
    }
    let pad = (SPACED_OFFSET + SET_PERIOD - bytes % SET_PERIOD) % SET_PERIOD;
    plane + pad / element
}

/// Positions `start..start + len` of an axis of the grown block, holding offsets
/// `offset..offset + len` of chunk coordinate `chunk` along that axis.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    chunk: usize,
    offset: usize,
    len: usize,
}

/// The maximal runs of consecutive offsets of one chunk among `places` (`None`: outside).
fn runs_of(places: &[Option<(usize, usize)>]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (position, place) in places.iter().enumerate() {
        let Some((chunk, offset)) = *place else {
            continue;
        };
        match runs.last_mut() {
            Some(run)
                if run.chunk == chunk
                    && run.start + run.len == position
                    && run.offset + run.len == offset =>
            {
                run.len += 1
            }
            _ => runs.push(Run {
                start: position,
                chunk,
                offset,
                len: 1,
            }),
        }
    }
    runs
}

/// Where the value of position `place` is found among positions `run`, if it is there.
fn within(run: &Run, (chunk, offset): (usize, usize)) -> Option<usize> {
    (chunk == run.chunk && offset >= run.offset && offset < run.offset + run.len)
        .then(|| run.start + offset - run.offset)
}

impl Dataset {
    /// The 3-D grown block of `sources` (as [`crate::Layout::halo_sources_of`] gives), read
    /// straight into place, or `None` (nothing read) when its positions along axes 1 and 2 are
    /// not one chunk's full extent and mirrors of it. Its planes lie [`plane_stride`] apart.
    pub(crate) fn read_grown_direct<T: Element>(
        &self,
        sources: &[Vec<Option<usize>>],
        boundary: Boundary,
        block_layout: BlockLayout,
    ) -> Result<Option<ArrayD<T>>> {
        let layout = self.layout();
        let places: Vec<Vec<Option<(usize, usize)>>> = sources
            .iter()
            .enumerate()
            .map(|(axis, axis_sources)| {
                axis_sources
                    .iter()
                    .map(|s| s.map(|i| layout.locate(axis, i)))
                    .collect()
            })
            .collect();
        let chunk_shape = layout.chunk_shape();
        // Axes 1 and 2: a run over a chunk's whole extent; every other position a mirror of it.
        let mut cores = Vec::with_capacity(2);
        for axis in 1..3 {
            let runs = runs_of(&places[axis]);
            let Some(core) = runs
                .iter()
                .find(|r| r.offset == 0 && r.len == chunk_shape[axis])
                .copied()
            else {
                return Ok(None);
            };
            if !places[axis]
                .iter()
                .all(|place| place.is_none_or(|p| within(&core, p).is_some()))
            {
                return Ok(None);
            }
            cores.push(core);
        }
        let (rows, cols) = (cores[0], cores[1]);
        // Axis 0: runs of planes read, those not inside a longer run (mirrored planes are runs
        // of their own); every other position a copy of one of them.
        let all = runs_of(&places[0]);
        let inside = |(k, run): (usize, &Run), (j, other): (usize, &Run)| {
            j != k
                && other.chunk == run.chunk
                && other.offset <= run.offset
                && run.offset + run.len <= other.offset + other.len
                && (other.len > run.len || j < k)
        };
        let planes: Vec<Run> = all
            .iter()
            .enumerate()
            .filter(|&(k, run)| !all.iter().enumerate().any(|other| inside((k, run), other)))
            .map(|(_, run)| *run)
            .collect();
        let plane_source = |place: Option<(usize, usize)>| {
            place.map(|p| planes.iter().find_map(|run| within(run, p)))
        };
        if places[0].iter().any(|&p| plane_source(p) == Some(None)) {
            return Ok(None);
        }

        let grown = [places[0].len(), places[1].len(), places[2].len()];
        let (g1, g2) = (grown[1], grown[2]);
        let plane = g1 * g2;
        // Elements from one plane of the block to the next.
        let stride = plane_stride(block_layout, plane, std::mem::size_of::<T>());
        let total = grown[0] * stride;
        let fill = self.fill::<T>();
        let constant = match boundary {
            Boundary::Constant(value) => T::from_f64(value),
            _ => fill,
        };
        let mut out: Vec<T> = Vec::with_capacity(total);
        let slots = &mut out.spare_capacity_mut()[..total];
        let chunk_plane = chunk_shape[1] * chunk_shape[2];
        let size = std::mem::size_of::<T>();
        // The gaps between planes, never read by a filter, hold the fill value.
        for z in 0..grown[0] {
            slots[z * stride + plane..(z + 1) * stride].fill(MaybeUninit::new(fill));
        }
        for run in &planes {
            // One piece per row of the block, merged where the block's rows follow each other.
            let mut pieces: Vec<(usize, usize)> = Vec::new();
            for z in run.start..run.start + run.len {
                for y in rows.start..rows.start + rows.len {
                    let at = z * stride + y * g2 + cols.start;
                    match pieces.last_mut() {
                        Some((start, count)) if *start + *count == at => *count += cols.len,
                        _ => pieces.push((at, cols.len)),
                    }
                }
            }
            let chunk = [run.chunk, rows.chunk, cols.chunk];
            let mut timer = self.connection.timers().start("read");
            // SAFETY: `MaybeUninit<u8>` may hold any byte, and the slice covers exactly the
            // memory of `slots`, which it borrows mutably while it lives.
            let bytes = unsafe {
                std::slice::from_raw_parts_mut(
                    slots.as_mut_ptr().cast::<MaybeUninit<u8>>(),
                    std::mem::size_of_val(slots),
                )
            };
            let read = self.handle.read_chunk_run_into(
                &chunk,
                run.offset * chunk_plane,
                &pieces,
                bytes,
            )?;
            if read {
                timer.add_bytes((run.len * chunk_plane * size) as u64);
            } else {
                for &(at, count) in &pieces {
                    slots[at..at + count].fill(MaybeUninit::new(fill));
                }
            }
        }
        // The planes read: the columns outside the core of their rows, then the rows outside it
        // (each position outside with where its value is: `None` for the constant).
        let outside =
            |places: &[Option<(usize, usize)>], core: &Run| -> Vec<(usize, Option<usize>)> {
                places
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i < core.start || i >= core.start + core.len)
                    .map(|(i, place)| (i, place.and_then(|p| within(core, p))))
                    .collect()
            };
        let (halo_cols, halo_rows) = (outside(&places[2], &cols), outside(&places[1], &rows));
        for run in &planes {
            for z in run.start..run.start + run.len {
                for y in rows.start..rows.start + rows.len {
                    let row = z * stride + y * g2;
                    for &(x, from) in &halo_cols {
                        slots[row + x] = match from {
                            Some(from) => slots[row + from],
                            None => MaybeUninit::new(constant),
                        };
                    }
                }
                for &(y, from) in &halo_rows {
                    let row = z * stride + y * g2;
                    match from {
                        Some(from) => {
                            let source = z * stride + from * g2;
                            slots.copy_within(source..source + g2, row);
                        }
                        None => slots[row..row + g2].fill(MaybeUninit::new(constant)),
                    }
                }
            }
        }
        // The other planes: copies of planes read, or the constant.
        for (z, &place) in places[0].iter().enumerate() {
            if planes.iter().any(|r| z >= r.start && z < r.start + r.len) {
                continue;
            }
            match plane_source(place).flatten() {
                Some(from) => slots.copy_within(from * stride..from * stride + plane, z * stride),
                None => slots[z * stride..z * stride + plane].fill(MaybeUninit::new(constant)),
            }
        }
        // SAFETY: every position was written: the gaps between planes (the fill value), the
        // core of each plane read (by the store, or the fill value for a missing chunk), the
        // rest of those planes from their core or the constant (every position along axes 1
        // and 2 is in the core, a mirror of it, or outside), and every other plane from a plane
        // read or the constant (checked above).
        unsafe { out.set_len(total) };
        let shape = IxDyn(&grown).strides(IxDyn(&[stride, g2, 1]));
        Ok(Some(
            ArrayD::from_shape_vec(shape, out).expect("one element per grown position"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 64-byte sets of a 4 KiB period the starts of `count` planes `stride` bytes apart
    /// fall into.
    fn sets(stride: usize, count: usize) -> usize {
        (0..count)
            .map(|k| k * stride % SET_PERIOD / 64)
            .collect::<std::collections::HashSet<_>>()
            .len()
    }

    #[test]
    fn planes_of_a_multiple_of_4_kib_are_spaced_others_kept() {
        let spaced =
            |plane, element| plane_stride(BlockLayout::SpacedPlanes { planes: 16 }, plane, element);
        // 128² and 64² f32, 32² f64: 17 cache lines past the period.
        assert_eq!(spaced(128 * 128, 4), 128 * 128 + 272);
        assert_eq!(spaced(64 * 64, 4), 64 * 64 + 272);
        assert_eq!(spaced(32 * 32, 8), 32 * 32 + 136);
        // Planes of 140² f32 (576 bytes past a multiple of 4 KiB) already spread.
        assert_eq!(spaced(140 * 140, 4), 140 * 140);
        // Planes under 4 KiB lie close together: no gap.
        assert_eq!(spaced(16 * 16, 4), 16 * 16);
        assert_eq!(spaced(0, 4), 0);
        assert_eq!(spaced(5, 0), 5);
        for element in [1, 2, 4, 8] {
            for plane in (1..3000).map(|k| k * 7) {
                let stride = spaced(plane, element);
                assert!(stride >= plane && stride < plane + SET_PERIOD / element);
                if plane * element >= SET_PERIOD {
                    assert_eq!(sets(stride * element, 16), 16);
                }
            }
        }
        // Without the gap, 16 planes of 64 KiB share one set.
        assert_eq!(sets(128 * 128 * 4, 16), 1);
    }

    #[test]
    fn standard_blocks_have_no_gaps_and_the_spacing_follows_the_planes_asked_for() {
        for plane in [5, 16 * 16, 64 * 64, 128 * 128] {
            assert_eq!(plane_stride(BlockLayout::Standard, plane, 4), plane);
        }
        // 8 planes of 64 KiB spread over 8 sets; 64 (the most) over 64.
        for planes in [2, 8, 64, 1000] {
            let stride = plane_stride(BlockLayout::SpacedPlanes { planes }, 128 * 128, 4);
            let together = planes.min(64);
            assert_eq!(sets(stride * 4, together), together, "{planes} planes");
        }
    }
}
