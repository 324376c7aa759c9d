//! Grown blocks of slabs read straight into place.
//!
//! The halo gather reads chunk data into a buffer (a copy out of the page cache) and then copies
//! it into the grown block: two passes over memory for every element, which made the copies,
//! not the filter, most of a 1-D pass over one large chunk. When a slab's grown block holds
//! whole planes of chunks — every position along axes 1 and 2 comes from one chunk's full extent
//! or is a boundary mirror of it, as when chunks span the data across those axes — the planes
//! are read from storage straight into the block's rows ([`crate::StoreRead::read_chunk_run_into`])
//! and the mirrored rows and planes are copied from the block itself. Other blocks go through
//! the gather.

use std::mem::MaybeUninit;

use ndarray::{ArrayD, IxDyn};

use crate::boundary::Boundary;
use crate::dataset::Dataset;
use crate::dtype::Element;
use crate::error::Result;

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
    /// not one chunk's full extent and mirrors of it.
    pub(crate) fn read_grown_direct<T: Element>(
        &self,
        sources: &[Vec<Option<usize>>],
        boundary: Boundary,
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
        let total: usize = grown.iter().product();
        let fill = self.fill::<T>();
        let constant = match boundary {
            Boundary::Constant(value) => T::from_f64(value),
            _ => fill,
        };
        let mut out: Vec<T> = Vec::with_capacity(total);
        let slots = &mut out.spare_capacity_mut()[..total];
        let chunk_plane = chunk_shape[1] * chunk_shape[2];
        let size = std::mem::size_of::<T>();
        for run in &planes {
            // One piece per row of the block, merged where the block's rows follow each other.
            let mut pieces: Vec<(usize, usize)> = Vec::new();
            for z in run.start..run.start + run.len {
                for y in rows.start..rows.start + rows.len {
                    let at = (z * g1 + y) * g2 + cols.start;
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
            let read = self.connection.store().read_chunk_run_into(
                &self.name,
                &self.meta,
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
                    let row = (z * g1 + y) * g2;
                    for &(x, from) in &halo_cols {
                        slots[row + x] = match from {
                            Some(from) => slots[row + from],
                            None => MaybeUninit::new(constant),
                        };
                    }
                }
                for &(y, from) in &halo_rows {
                    let row = (z * g1 + y) * g2;
                    match from {
                        Some(from) => {
                            let source = (z * g1 + from) * g2;
                            slots.copy_within(source..source + g2, row);
                        }
                        None => slots[row..row + g2].fill(MaybeUninit::new(constant)),
                    }
                }
            }
        }
        // The other planes: copies of planes read, or the constant.
        let plane = g1 * g2;
        for (z, &place) in places[0].iter().enumerate() {
            if planes.iter().any(|r| z >= r.start && z < r.start + r.len) {
                continue;
            }
            match plane_source(place).flatten() {
                Some(from) => slots.copy_within(from * plane..(from + 1) * plane, z * plane),
                None => slots[z * plane..(z + 1) * plane].fill(MaybeUninit::new(constant)),
            }
        }
        // SAFETY: every position was written: the core of each plane read (by the store, or
        // the fill value for a missing chunk), the rest of those planes from their core or the
        // constant (every position along axes 1 and 2 is in the core, a mirror of it, or
        // outside), and every other plane from a plane read or the constant (checked above).
        unsafe { out.set_len(total) };
        Ok(Some(
            ArrayD::from_shape_vec(IxDyn(&grown), out).expect("one element per grown position"),
        ))
    }
}
