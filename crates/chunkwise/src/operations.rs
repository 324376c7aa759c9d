//! The dataset operations users call, in one place: collective operations over every chunk
//! (`load`, `load_with`, `load_blocks_with`, `map`, `apply`, `clear`, `clone_as`,
//! `for_each_chunk`, `finish`, `delete`) and stencils over chunks grown by a halo
//! (`read_padded`, `map_overlap`, `map_stencil`, `map_stencil_in`). Each is written once against
//! the engine's primitives; the machinery that runs them (pipeline, plan, slabs, caches,
//! gathers) is in `execution` and `gather`.
//!
//! Collective operations are called by every rank; the chunks are split over ranks and each rank
//! works through its share on its own workers, and all ranks agree on the outcome. User
//! callbacks get the chunk index and the valid (unpadded) part of the chunk; an error or a panic
//! in one becomes an error naming the chunk. Stencil outputs are computed from each chunk grown
//! by a halo of `depth` elements per axis, gathered from as many neighbouring chunks as needed;
//! outside the array the [`Boundary`] supplies the values, exactly as if the stencil ran over the
//! whole array.

use ndarray::{ArrayD, ArrayViewD};

use crate::array::{check_dtype, check_shape};
use crate::boundary::Boundary;
use crate::dataset::Dataset;
use crate::dtype::Element;
use crate::engine::{finish_collective, run_collective};
use crate::error::{fmt_tuple, CallbackError, Result};
use crate::plan::BlockSizes;
use crate::region::Region;
use crate::slab::SlabWrites;

/// Most bytes of a block [`Dataset::load_blocks_with`] makes at a time: a part this small stays
/// in the core's caches from being made to being written (a load of 256³ `f32` in 128³ chunks:
/// about 7.2 ms in whole chunks, 6.0 ms in 1 MiB parts, 6.2–7.9 ms in 256 KiB parts;
/// docs/perf-log/2026-11-benchmark-history.md).
const LOAD_PART_BYTES: u64 = 1 << 20;

/// How the planes (along axis 0) of the grown blocks a stencil gets lie in memory: a hint a
/// filter passes to [`Dataset::map_stencil_in`] for its kernel. The values are the same
/// either way; only the stride along axis 0 differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BlockLayout {
    /// Standard (C-order, contiguous) layout.
    #[default]
    Standard,
    /// For a kernel along axis 0 that loads `planes` consecutive planes together (its taps and
    /// outputs, at most 64): when planes are a multiple of 4 KiB long (or of a large part of
    /// it), rows at the same offset of those planes would share one L1 cache set, so planes
    /// are laid a few cache lines apart. 3-D blocks only; other blocks stay standard.
    SpacedPlanes {
        /// Planes loaded together.
        planes: usize,
    },
}

impl Dataset {
    /// Runs `task` for every chunk (collective): the chunks are split over the ranks and each
    /// rank runs its share on its workers; then every rank agrees on the outcome. For reductions
    /// and checks over a whole dataset, e.g. comparing two datasets chunk by chunk.
    ///
    /// # Errors
    /// The first error of `task` on any rank, on every rank.
    pub fn for_each_chunk(&self, task: impl Fn(&[usize]) -> Result<()> + Sync) -> Result<()> {
        let layout = &self.meta().layout;
        let timers = self.connection.timers();
        if let Err(error) = self.check_item_lists(8) {
            let operation = self.engine().operation(layout.num_chunks());
            return finish_collective(self.engine(), &operation, Err(error), Some(timers));
        }
        run_collective(self.engine(), layout.num_chunks(), Some(timers), &|flat| {
            task(&layout.chunk_index(flat))
        })
    }

    /// Loads a whole in-memory array into the dataset (collective; every rank passes the same
    /// array, each writes its own chunks).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch), [`Error::DTypeMismatch`](crate::Error::DTypeMismatch), or a storage error, on every rank.
    pub fn load<T: Element>(&self, data: ArrayViewD<'_, T>) -> Result<()> {
        self.check_type::<T>()?;
        check_shape(self.shape(), data.shape(), || {
            format!("loading into dataset \"{}\"", self.name())
        })?;
        self.for_each_chunk(|chunk| {
            let bounds = self.layout().chunk_bounds(chunk);
            self.write_stored(
                chunk,
                &self.padded(crate::array::owned(bounds.view_of(&data))),
            )
        })
    }

    /// Loads chunk by chunk from a generator (collective): `make(chunk, bounds)` returns the
    /// valid part of `chunk`, whose elements are `bounds` in dataset coordinates. No rank ever
    /// holds more than its in-flight chunks.
    ///
    /// # Errors
    /// [`Error::Callback`](crate::Error::Callback)/[`Error::Panic`](crate::Error::Panic) from `make`, [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) when it
    /// returns the wrong shape, or a storage error, on every rank.
    pub fn load_with<T, F>(&self, make: F) -> Result<()>
    where
        T: Element,
        F: Fn(&[usize], &Region) -> std::result::Result<ArrayD<T>, CallbackError> + Sync,
    {
        self.check_type::<T>()?;
        // A worker holds the array `make` returns and its padded copy.
        self.pipeline_chunks(
            "load",
            self.chunk_blocks(2),
            None,
            |_| Ok(()),
            |chunk, ()| {
                let bounds = self.layout().chunk_bounds(chunk);
                let values = self.call_timed(chunk, || make(chunk, &bounds))?;
                check_shape(&bounds.shape(), values.shape(), || {
                    format!("the array made for chunk {}", fmt_tuple(chunk))
                })?;
                Ok(self.padded(values))
            },
            |chunk, data| self.write_stored(chunk, &data),
        )
    }

    /// Loads block by block from a generator (collective): `make(bounds)` returns the elements
    /// of `bounds` (dataset coordinates). The blocks tile the dataset and each lies within one
    /// chunk: runs of a chunk's planes along axis 0 of at most about 1 MiB (one plane when a
    /// plane is larger), each written as a part of its chunk by the worker that made it while
    /// it is still in that core's caches. Each chunk is still replaced atomically, when its last
    /// part is written; a failure leaves the chunks not finished as they were. A rank with
    /// fewer than two chunks per worker deals the parts of a chunk to all its workers. No rank
    /// ever holds more than one part per worker. Use [`Dataset::load_with`] when the generator
    /// needs whole chunks.
    ///
    /// # Errors
    /// As [`Dataset::load_with`].
    pub fn load_blocks_with<T, F>(&self, make: F) -> Result<()>
    where
        T: Element,
        F: Fn(&Region) -> std::result::Result<ArrayD<T>, CallbackError> + Sync,
    {
        self.check_type::<T>()?;
        let layout = self.layout();
        let plane_bytes = self.plane_bytes();
        let writes = SlabWrites::new(self);
        let part_planes = usize::try_from(LOAD_PART_BYTES / plane_bytes.max(1))
            .unwrap_or(usize::MAX)
            .max(1);
        // A worker holds the array `make` returns for one part and its padded copy; nothing
        // waits between stages.
        self.pipeline_slabs(
            "load",
            |planes| BlockSizes {
                queued: 0,
                worker: 2 * planes.min(part_planes) as u64 * plane_bytes,
                cached: false,
            },
            None,
            Some(1),
            |_| Ok(()),
            |slab, ()| {
                for part in slab.parts(part_planes) {
                    let bounds = part.bounds(layout);
                    let values = self.call_timed(&part.chunk, || make(&bounds))?;
                    check_shape(&bounds.shape(), values.shape(), || {
                        format!("the array made for the elements {bounds}")
                    })?;
                    writes.write(&part, &self.padded_slab(&part, values))?;
                }
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }

    /// Applies `f` to every chunk into a new dataset `out_name` of the same layout, dtype and
    /// fill value (collective). Chunks never written are passed in as the fill value. On failure
    /// the new dataset is deleted again, so nothing half-made is left behind.
    ///
    /// # Errors
    /// [`Error::DatasetExists`](crate::Error::DatasetExists) for `out_name`, [`Error::Callback`](crate::Error::Callback)/[`Error::Panic`](crate::Error::Panic) from `f`,
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) when `f` changes the shape, or a storage error, on every rank.
    pub fn map<T, F>(&self, out_name: &str, f: F) -> Result<Dataset>
    where
        T: Element,
        F: Fn(&[usize], ArrayViewD<'_, T>) -> std::result::Result<ArrayD<T>, CallbackError> + Sync,
    {
        self.check_type::<T>()?;
        let out = self.begin_output(out_name)?;
        // A worker holds the chunk read, the callback's result and its padded copy.
        let result = self.pipeline_chunks(
            "map",
            self.chunk_blocks(3),
            None,
            |chunk| self.read_stored(chunk),
            |chunk, stored| Ok(out.padded(self.transform_stored(chunk, stored, &f)?)),
            |chunk, data| out.write_stored(chunk, &data),
        );
        self.keep_output_if_ok(out, result)
    }

    /// Applies `f` to every chunk in place (collective). Chunks never written are passed in as
    /// the fill value and written. On failure, chunks already processed keep their new values.
    ///
    /// # Errors
    /// As [`Dataset::map`], except for `out_name`.
    pub fn apply<T, F>(&self, f: F) -> Result<()>
    where
        T: Element,
        F: Fn(&[usize], ArrayViewD<'_, T>) -> std::result::Result<ArrayD<T>, CallbackError> + Sync,
    {
        self.check_type::<T>()?;
        self.pipeline_chunks(
            "apply",
            self.chunk_blocks(3),
            None,
            |chunk| self.read_stored(chunk),
            |chunk, stored| Ok(self.padded(self.transform_stored(chunk, stored, &f)?)),
            |chunk, data| self.write_stored(chunk, &data),
        )
    }

    /// Deletes every chunk, so the whole dataset reads as the fill value (collective).
    ///
    /// # Errors
    /// A storage error, on every rank.
    pub fn clear(&self) -> Result<()> {
        self.for_each_chunk(|chunk| self.handle.delete_chunk(chunk).map(|_| ()))
    }

    /// A new dataset `out_name` with this one's layout, dtype and fill value; with `with_data`,
    /// every written chunk is copied too (collective).
    ///
    /// # Errors
    /// [`Error::DatasetExists`](crate::Error::DatasetExists), [`Error::InvalidName`](crate::Error::InvalidName), or a storage error, on every rank.
    pub fn clone_as(&self, out_name: &str, with_data: bool) -> Result<Dataset> {
        if !with_data {
            return self
                .connection
                .create_dataset(out_name, self.meta().clone());
        }
        let out = self.begin_output(out_name)?;
        let copied = self.for_each_chunk(|chunk| match self.read_stored(chunk)? {
            Some(data) => out.write_stored(chunk, &data),
            None => Ok(()),
        });
        self.keep_output_if_ok(out, copied)
    }

    /// Makes a dataset begun with [`Connection::begin_dataset`](crate::Connection::begin_dataset) complete (collective: rank 0
    /// finishes it once every rank got here without error). Finishing a complete dataset does
    /// nothing.
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`](crate::Error::DatasetNotFound), or a storage error, on every rank.
    pub fn finish(&self) -> Result<()> {
        self.connection
            .coordinated(|| self.connection.store().finish_dataset(self.name()))
    }

    /// Deletes the dataset and its chunks (collective: rank 0 deletes).
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`](crate::Error::DatasetNotFound), or a storage error, on every rank.
    pub fn delete(self) -> Result<()> {
        self.connection
            .coordinated(|| self.connection.store().delete_dataset(self.name()))
    }

    /// Chunk `chunk` grown by `depth[axis]` elements on both sides of every axis, with the
    /// elements outside the array supplied by `boundary`. Reads only the elements needed.
    ///
    /// # Errors
    /// [`Error::ChunkOutOfRange`](crate::Error::ChunkOutOfRange), [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) for a `depth` of the wrong length,
    /// [`Error::DTypeMismatch`](crate::Error::DTypeMismatch), or a storage error.
    pub fn read_padded<T: Element>(
        &self,
        chunk: &[usize],
        depth: &[usize],
        boundary: Boundary,
    ) -> Result<ArrayD<T>> {
        check_dtype::<T>(self.dtype(), || format!("dataset \"{}\"", self.name()))?;
        self.layout().check_chunk(chunk)?;
        self.check_depth(depth)?;
        let bounds = self.layout().chunk_bounds(chunk);
        self.read_grown(&bounds, depth, boundary, None, true, BlockLayout::Standard)
    }

    /// Applies a stencil to every chunk into a new dataset `out_name` (collective): `f` gets the
    /// chunk index and the chunk grown by `depth` per axis (see [`Dataset::read_padded`]), and
    /// returns either the chunk's valid part or an array of the grown shape, which is trimmed.
    /// On failure the new dataset is deleted again. The grown chunk is in standard layout.
    ///
    /// # Errors
    /// [`Error::DatasetExists`](crate::Error::DatasetExists) for `out_name`, [`Error::Callback`](crate::Error::Callback)/[`Error::Panic`](crate::Error::Panic) from `f`,
    /// [`Error::ShapeMismatch`](crate::Error::ShapeMismatch) when `f` returns another shape, or a storage error, on every
    /// rank.
    pub fn map_overlap<T, F>(
        &self,
        out_name: &str,
        depth: &[usize],
        boundary: Boundary,
        f: F,
    ) -> Result<Dataset>
    where
        T: Element,
        F: Fn(&[usize], ArrayViewD<'_, T>) -> std::result::Result<ArrayD<T>, CallbackError> + Sync,
    {
        let layout = BlockLayout::Standard;
        self.map_grown(
            out_name,
            depth,
            boundary,
            false,
            layout,
            |chunk, _, block| f(chunk, block),
        )
    }

    /// [`Dataset::map_overlap`] for a stencil: `f` gets the bounds of a block (its elements in
    /// dataset coordinates) and the block grown by `depth` per axis, and returns the block's
    /// valid part or an array of the grown shape; every output element
    /// must depend only on the inputs within `depth` of it (as for a convolution). Then the
    /// blocks need not be whole chunks: on a rank with fewer than two chunks per worker they are
    /// slabs of a chunk's planes along axis 0, so that one chunk's reads, compute and writes
    /// overlap (each output chunk is still replaced atomically). The result is the same either
    /// way. As with `map_overlap`, a block for a stencil along axis 0 may have its planes a
    /// little apart in memory.
    ///
    /// # Errors
    /// As [`Dataset::map_overlap`].
    pub fn map_stencil<T, F>(
        &self,
        out_name: &str,
        depth: &[usize],
        boundary: Boundary,
        f: F,
    ) -> Result<Dataset>
    where
        T: Element,
        F: Fn(&Region, ArrayViewD<'_, T>) -> std::result::Result<ArrayD<T>, CallbackError> + Sync,
    {
        self.map_stencil_in(out_name, depth, boundary, BlockLayout::Standard, f)
    }

    /// [`Dataset::map_stencil`] with the grown blocks laid out in memory as `block_layout` asks
    /// (for a kernel that gains from it, see [`BlockLayout::SpacedPlanes`]); `f` then gets views
    /// that need not be in standard layout.
    ///
    /// # Errors
    /// As [`Dataset::map_stencil`].
    pub fn map_stencil_in<T, F>(
        &self,
        out_name: &str,
        depth: &[usize],
        boundary: Boundary,
        block_layout: BlockLayout,
        f: F,
    ) -> Result<Dataset>
    where
        T: Element,
        F: Fn(&Region, ArrayViewD<'_, T>) -> std::result::Result<ArrayD<T>, CallbackError> + Sync,
    {
        self.map_grown(
            out_name,
            depth,
            boundary,
            true,
            block_layout,
            |_, bounds, block| f(bounds, block),
        )
    }
}
