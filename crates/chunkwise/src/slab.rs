//! Slabs: runs of a chunk's planes (indices along axis 0) processed as one block.
//!
//! A rank with fewer chunks than its workers ran each chunk's read, compute and write one after
//! the other while the other cores waited: a 1-D Gaussian pass over one chunk of 128³ `f32`
//! spent a third of its time reading and writing with nothing computed meanwhile. Cut into
//! slabs, one chunk feeds the read-ahead pipeline like several, so its I/O overlaps its compute,
//! and each block is small enough to stay in the CPU caches from one stage to the next. The
//! output chunk is written in parts ([`crate::ChunkWrite::chunk_writer`]) and committed by the
//! write that completes its planes, so it stays atomic.
//!
//! Only operations whose callbacks can work on part of a chunk split chunks (stencils with a
//! halo, generators of blocks); callbacks that expect whole chunks always get whole chunks.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use crate::dataset::Dataset;
use crate::dtype::ChunkData;
use crate::error::{fmt_tuple, Error, Result};
use crate::layout::Layout;
use crate::region::Region;
use crate::store::ChunkWriter;

/// Planes `planes` of chunk `chunk`, one of the `of` slabs the chunk is split into.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Slab {
    pub chunk: Vec<usize>,
    pub planes: Range<usize>,
    pub of: usize,
}

impl Slab {
    /// The elements of the slab, in dataset coordinates.
    pub(crate) fn bounds(&self, layout: &Layout) -> Region {
        layout
            .chunk_bounds(&self.chunk)
            .with_axis0_rows(self.planes.start, self.planes.len())
    }

    /// Whether the slab holds the last planes of its chunk (counted as the chunk done).
    pub(crate) fn completes_chunk(&self, layout: &Layout) -> bool {
        let bounds = layout.chunk_bounds(&self.chunk);
        bounds
            .shape()
            .first()
            .is_none_or(|&planes| self.planes.end >= planes)
    }

    /// The shape of the stored elements the slab's write covers: its planes — for the last
    /// slab also the chunk's padding planes — each a whole stored plane.
    pub(crate) fn stored_shape(&self, layout: &Layout) -> Vec<usize> {
        let mut shape = layout.chunk_shape().to_vec();
        if let Some(planes) = shape.first_mut() {
            *planes = layout.stored_planes(&self.chunk, &self.planes).len();
        }
        shape
    }

    /// The slab cut into runs of at most `most_planes` planes (at least one), in order: parts of
    /// the same chunk, for blocks made and written a part at a time.
    pub(crate) fn parts(&self, most_planes: usize) -> impl Iterator<Item = Slab> + '_ {
        let step = most_planes.max(1);
        self.planes.clone().step_by(step).map(move |start| Slab {
            chunk: self.chunk.clone(),
            planes: start..(start + step).min(self.planes.end),
            of: self.of,
        })
    }
}

impl Dataset {
    /// The valid elements of `slab`, padded with the fill value to its stored shape.
    pub(crate) fn padded_slab<T: crate::Element>(
        &self,
        slab: &Slab,
        valid: ndarray::ArrayD<T>,
    ) -> ChunkData {
        crate::array::padded_to(
            &slab.stored_shape(&self.meta().layout),
            valid,
            self.fill::<T>(),
        )
    }
}

/// The most stored planes any of `slabs` writes (what a block of the operation weighs).
pub(crate) fn most_planes(layout: &Layout, slabs: &[Slab]) -> usize {
    slabs
        .iter()
        .map(|s| s.stored_shape(layout).first().copied().unwrap_or(1))
        .max()
        .unwrap_or(0)
}

/// The slabs of the chunks of flat indices `chunks`, each chunk split into `pieces` (see
/// [`Layout::split_planes`]), in order.
pub(crate) fn slabs(layout: &Layout, chunks: &[usize], pieces: usize) -> Vec<Slab> {
    let mut slabs = Vec::with_capacity(chunks.len() * pieces.max(1));
    for &flat in chunks {
        let chunk = layout.chunk_index(flat);
        let runs = layout.split_planes(&chunk, pieces);
        let of = runs.len();
        slabs.extend(runs.into_iter().map(|planes| Slab {
            chunk: chunk.clone(),
            planes,
            of,
        }));
    }
    slabs
}

/// A chunk being written in parts, and how many of its valid planes are still to come.
type Pending<'a> = (Arc<Box<dyn ChunkWriter + 'a>>, usize);

/// Writes runs of planes into a dataset: a run of all a chunk's planes as a chunk, the others as
/// parts of their chunk, which the write that completes the chunk's planes commits (runs of a
/// chunk never overlap: each plane is written once). Chunks begun and not committed when this
/// is dropped (an operation that failed) are left as they were.
pub(crate) struct SlabWrites<'a> {
    dataset: &'a Dataset,
    pending: Mutex<HashMap<Vec<usize>, Pending<'a>>>,
}

impl<'a> SlabWrites<'a> {
    pub(crate) fn new(dataset: &'a Dataset) -> Self {
        SlabWrites {
            dataset,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Writes `data`, the stored elements of `slab` ([`Slab::stored_shape`]): a slab of all its
    /// chunk's valid planes as the chunk, the others as a part of it.
    ///
    /// # Errors
    /// A storage error.
    pub(crate) fn write(&self, slab: &Slab, data: &ChunkData) -> Result<()> {
        let (chunk, planes) = (slab.chunk.as_slice(), &slab.planes);
        let dataset = self.dataset;
        let layout = &dataset.meta().layout;
        let valid = layout
            .chunk_valid_shape(chunk)
            .first()
            .copied()
            .unwrap_or(1);
        if planes.start == 0 && planes.end >= valid {
            return dataset.write_stored(chunk, data);
        }
        let mut timer = dataset.connection.timers().start("write");
        let writer = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            match pending.get(chunk) {
                Some((writer, _)) => Arc::clone(writer),
                None => {
                    let writer = Arc::new(dataset.handle.chunk_writer(chunk)?);
                    pending.insert(chunk.to_vec(), (Arc::clone(&writer), valid));
                    writer
                }
            }
        };
        writer.write_part(layout.plane_offset(planes.start), data)?;
        // Every other holder drops its handle before counting its planes, so the one counting
        // the last planes holds the only one.
        drop(writer);
        let finished = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let left = pending.get_mut(chunk).map(|(_, left)| {
                *left = left.saturating_sub(planes.len());
                *left
            });
            match left {
                Some(0) => pending.remove(chunk).map(|(writer, _)| writer),
                _ => None,
            }
        };
        if let Some(writer) = finished {
            let writer = Arc::try_unwrap(writer).map_err(|_| {
                Error::Communication(format!(
                    "chunk {} of dataset \"{}\" was still being written when its last planes were",
                    fmt_tuple(chunk),
                    dataset.name()
                ))
            })?;
            writer.commit()?;
        }
        timer.add_bytes((data.len() * dataset.meta().dtype.size()) as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slabs_cover_each_chunk_and_the_last_one_its_padding() {
        // 10 × 4 in chunks of 4 × 4: the last chunk holds planes 8 and 9 of a stored 4.
        let layout = Layout::new(&[10, 4], &[4, 4]).unwrap();
        let all = slabs(&layout, &[0, 2], 3);
        let planes: Vec<(Vec<usize>, Range<usize>, usize)> = all
            .iter()
            .map(|s| (s.chunk.clone(), s.planes.clone(), s.of))
            .collect();
        assert_eq!(
            planes,
            vec![
                (vec![0, 0], 0..1, 3),
                (vec![0, 0], 1..2, 3),
                (vec![0, 0], 2..4, 3),
                (vec![2, 0], 0..1, 2),
                (vec![2, 0], 1..2, 2),
            ]
        );
        assert_eq!(all[2].stored_shape(&layout), vec![2, 4]);
        assert_eq!(layout.plane_offset(all[2].planes.start), 8);
        assert_eq!(
            all[2].bounds(&layout),
            Region::from_bounds(&[2, 0], &[4, 4])
        );
        // The edge chunk's last slab writes planes 1..4 of the stored chunk.
        assert_eq!(all[4].stored_shape(&layout), vec![3, 4]);
        assert_eq!(
            all[4].bounds(&layout),
            Region::from_bounds(&[9, 0], &[10, 4])
        );
    }
}
