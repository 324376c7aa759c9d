//! Slabs: runs of a chunk's planes (indices along axis 0) processed as one block.
//!
//! A rank with fewer chunks than its workers ran each chunk's read, compute and write one after
//! the other while the other cores waited: a 1-D Gaussian pass over one chunk of 128³ `f32`
//! spent a third of its time reading and writing with nothing computed meanwhile. Cut into
//! slabs, one chunk feeds the read-ahead pipeline like several, so its I/O overlaps its compute,
//! and each block is small enough to stay in the CPU caches from one stage to the next. The
//! output chunk is written in parts ([`crate::StoreWrite::chunk_writer`]) and committed by the
//! write of its last slab, so it stays atomic.
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

    /// The shape of the stored elements the slab's write covers: its planes — for the last
    /// slab also the chunk's padding planes — each a whole stored plane.
    pub(crate) fn stored_shape(&self, layout: &Layout) -> Vec<usize> {
        let mut shape = layout.chunk_shape().to_vec();
        if let Some(planes) = shape.first_mut() {
            *planes = layout.stored_planes(&self.chunk, &self.planes).len();
        }
        shape
    }

    /// The C-order position of the slab's first element among the stored chunk's.
    pub(crate) fn first_element(&self, layout: &Layout) -> usize {
        let mut offset = vec![0; layout.ndim()];
        if let Some(first) = offset.first_mut() {
            *first = self.planes.start;
        }
        layout.offset_in_chunk(&offset)
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
            &slab.stored_shape(&self.meta.layout),
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

/// A chunk being written in parts, and how many of its slabs are still to come.
type Pending<'a> = (Arc<Box<dyn ChunkWriter + 'a>>, usize);

/// Writes slabs into a dataset: a whole-chunk slab as a chunk, the others as parts of their
/// chunk, which the write of its last slab commits. Chunks begun and not committed when this is
/// dropped (an operation that failed) are left as they were.
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

    /// Writes `data`, the stored elements of `slab` ([`Slab::stored_shape`]).
    ///
    /// # Errors
    /// A storage error.
    pub(crate) fn write(&self, slab: &Slab, data: &ChunkData) -> Result<()> {
        if slab.of <= 1 {
            return self.dataset.write_stored(&slab.chunk, data);
        }
        let dataset = self.dataset;
        let mut timer = dataset.connection.timers().start("write");
        let writer = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            match pending.get(&slab.chunk) {
                Some((writer, _)) => Arc::clone(writer),
                None => {
                    let writer = Arc::new(dataset.connection.store().chunk_writer(
                        &dataset.name,
                        &dataset.meta,
                        &slab.chunk,
                    )?);
                    pending.insert(slab.chunk.clone(), (Arc::clone(&writer), slab.of));
                    writer
                }
            }
        };
        writer.write_part(slab.first_element(&dataset.meta.layout), data)?;
        // Every other holder drops its handle before counting its slab, so the one counting
        // the last slab holds the only one.
        drop(writer);
        let finished = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let left = pending.get_mut(&slab.chunk).map(|(_, left)| {
                *left -= 1;
                *left
            });
            match left {
                Some(0) => pending.remove(&slab.chunk).map(|(writer, _)| writer),
                _ => None,
            }
        };
        if let Some(writer) = finished {
            let writer = Arc::try_unwrap(writer).map_err(|_| {
                Error::Communication(format!(
                    "chunk {} of dataset \"{}\" was still being written when its last slab was",
                    fmt_tuple(&slab.chunk),
                    dataset.name
                ))
            })?;
            writer.commit()?;
        }
        timer.add_bytes((data.len() * dataset.meta.dtype.size()) as u64);
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
        assert_eq!(all[2].first_element(&layout), 8);
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
