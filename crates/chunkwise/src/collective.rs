//! Collective dataset operations, written once against the [`Engine`] primitives: every rank
//! calls them, rank 0 alone creates and deletes, the chunks are split over ranks and each rank
//! works through its share on its own workers, and all ranks agree on the outcome.
//!
//! User callbacks get the chunk index and the valid (unpadded) part of the chunk; an error or a
//! panic in one becomes an [`Error::Callback`]/[`Error::Panic`] naming the chunk.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::{ArrayD, ArrayViewD};

use crate::array::{check_shape, valid_array};
use crate::chunk_cache::ChunkCache;
use crate::dataset::Dataset;
use crate::dtype::ChunkData;
use crate::dtype::Element;
use crate::engine::{finish_collective, guard_panics, panic_message, run_collective, Engine};
use crate::error::{fmt_tuple, CallbackError, Error, Result};
use crate::memory::HeapTrim;
use crate::pipeline::run_pipeline;
use crate::plan::{plan, slabs_per_chunk, BlockSizes};
use crate::region::Region;
use crate::slab::{most_planes, slabs, Slab, SlabWrites};

/// Most bytes of a block [`Dataset::load_blocks_with`] makes at a time: a part this small stays
/// in the core's caches from being made to being written (a load of 256³ `f32` in 128³ chunks:
/// about 7.2 ms in whole chunks, 6.0 ms in 1 MiB parts, 6.2–7.9 ms in 256 KiB parts;
/// docs/perf-log/2026-11-benchmark-history.md).
const LOAD_PART_BYTES: u64 = 1 << 20;

/// Calls a user callback for `chunk`, turning its error or panic into a crate error.
fn call_user<R>(
    chunk: &[usize],
    f: impl FnOnce() -> std::result::Result<R, CallbackError>,
) -> Result<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Error::Callback {
            chunk: fmt_tuple(chunk),
            message: error.to_string(),
        }),
        Err(payload) => Err(Error::Panic {
            chunk: fmt_tuple(chunk),
            message: panic_message(&*payload),
        }),
    }
}

impl Dataset {
    fn engine(&self) -> &dyn Engine {
        self.connection.engine().as_ref()
    }

    /// Runs `task` for every chunk (collective): the chunks are split over the ranks and each
    /// rank runs its share on its workers; then every rank agrees on the outcome. For reductions
    /// and checks over a whole dataset, e.g. comparing two datasets chunk by chunk.
    ///
    /// # Errors
    /// The first error of `task` on any rank, on every rank.
    pub fn for_each_chunk(&self, task: impl Fn(&[usize]) -> Result<()> + Sync) -> Result<()> {
        let layout = &self.meta.layout;
        let timers = self.connection.timers();
        if let Err(error) = self.check_item_lists(8) {
            let operation = self.engine().operation(layout.num_chunks());
            return finish_collective(self.engine(), &operation, Err(error), Some(timers));
        }
        run_collective(self.engine(), layout.num_chunks(), Some(timers), &|flat| {
            task(&layout.chunk_index(flat))
        })
    }

    /// Calls a user callback for `chunk`, timed as `compute`.
    pub(crate) fn call_timed<R>(
        &self,
        chunk: &[usize],
        f: impl FnOnce() -> std::result::Result<R, CallbackError>,
    ) -> Result<R> {
        self.connection
            .timers()
            .time("compute", || call_user(chunk, f))
    }

    /// Runs `read → compute → write` for every chunk, split over ranks: this rank's share goes
    /// through the read-ahead pipeline (in order on engines that do not overlap I/O), then every
    /// rank agrees on the outcome.
    ///
    /// With a memory budget on the connection, the blocks in flight (and `cache`) are fitted to
    /// it first (see [`crate::plan`]); a budget too small for one block per stage fails on
    /// this rank before any chunk is read, and every rank returns that error.
    pub(crate) fn pipeline_chunks<I: Send, C: Send>(
        &self,
        operation: &str,
        sizes: BlockSizes,
        cache: Option<&ChunkCache>,
        read: impl Fn(&[usize]) -> Result<I> + Sync,
        compute: impl Fn(&[usize], I) -> Result<C> + Sync,
        write: impl Fn(&[usize], C) -> Result<()> + Sync,
    ) -> Result<()> {
        self.pipeline_slabs(
            operation,
            |_| sizes,
            cache,
            None,
            |slab| read(&slab.chunk),
            |slab, block| compute(&slab.chunk, block),
            |slab, done| write(&slab.chunk, done),
        )
    }

    /// [`Dataset::pipeline_chunks`] over slabs of chunks ([`crate::slab`]): with
    /// `split: Some(min_planes)`, a rank with few chunks cuts them into slabs of at least
    /// `min_planes` planes (as many as [`crate::plan::slabs_per_chunk`] says), and chunks whose
    /// blocks do not fit the memory budget into slabs thin enough to fit; with `None` every
    /// slab is a whole chunk. `sizes` gets the most stored planes a slab writes
    /// ([`crate::slab::Slab::stored_shape`]).
    // The three stages, and what the operation is called, weighs, caches and may cut.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pipeline_slabs<I: Send, C: Send>(
        &self,
        operation: &str,
        sizes: impl Fn(usize) -> BlockSizes,
        cache: Option<&ChunkCache>,
        split: Option<usize>,
        read: impl Fn(&Slab) -> Result<I> + Sync,
        compute: impl Fn(&Slab, I) -> Result<C> + Sync,
        write: impl Fn(&Slab, C) -> Result<()> + Sync,
    ) -> Result<()> {
        let layout = &self.meta.layout;
        let engine = self.engine();
        // The lists of this rank's chunks and slabs (the index of each) must fit first.
        let per_item = (std::mem::size_of::<Slab>() + 16 * layout.ndim()) as u64;
        let scope = engine.operation(layout.num_chunks());
        if let Err(error) = self.check_item_lists(per_item) {
            return finish_collective(engine, &scope, Err(error), Some(self.connection.timers()));
        }
        let mine = engine.local_items(layout.num_chunks());
        let options = self.connection.pipeline_options();
        let threads = scope.workers;
        let planes = layout.chunk_shape().first().copied().unwrap_or(1);
        let pieces = match split {
            Some(min_planes) => slabs_per_chunk(
                mine.len(),
                options.max_workers.unwrap_or(threads),
                (self.meta.chunk_bytes() as u64, planes),
                options.min_slab_bytes,
                min_planes,
            ),
            None => 1,
        };
        let pipelined = engine.overlaps_io();
        let name = format!("{operation} of dataset \"{}\"", self.name);
        let fit = |pieces: usize| {
            let slabs = slabs(layout, &mine, pieces);
            let sizes = sizes(most_planes(layout, &slabs));
            let plan = plan(
                &name,
                options,
                self.connection.memory_budget(),
                threads,
                pipelined,
                sizes,
            );
            (slabs, sizes, plan)
        };
        let (mut slabs, mut sizes, mut planned) = fit(pieces);
        // Chunks too large for the memory budget are cut into thinner slabs until one block per
        // stage fits (down to single planes), unless cutting is switched off.
        let mut pieces = pieces;
        while split.is_some()
            && options.min_slab_bytes != u64::MAX
            && pieces < planes
            && matches!(planned, Err(Error::BudgetTooSmall { .. }))
        {
            pieces = (pieces * 2).min(planes);
            (slabs, sizes, planned) = fit(pieces);
        }
        let items: Vec<usize> = (0..slabs.len()).collect();
        let local = planned.and_then(|plan| {
            if let Some(cache) = cache {
                cache.set_budget(plan.options.cache_bytes);
            }
            let trim = HeapTrim::new(self.connection.memory_budget(), sizes.worker);
            // Every call is watched: one that never returns ends the process with an error
            // naming it (see `crate::watchdog`).
            let timeout = plan.options.stage_timeout;
            let watch = |stage: &str, slab: &Slab| {
                crate::watchdog::watch(timeout, || {
                    format!(
                        "the {stage} of chunk {} in the {name}",
                        fmt_tuple(&slab.chunk)
                    )
                })
            };
            // A signal (see `crate::interrupt`) fails the operation before its next block.
            let read = |slab: &Slab| {
                crate::interrupt::check()?;
                let _watch = watch("read", slab);
                read(slab)
            };
            let compute = |slab: &Slab, block| {
                let _watch = watch("computation", slab);
                compute(slab, block)
            };
            let write = |slab: &Slab, done| {
                let _watch = watch("write", slab);
                write(slab, done)
            };
            if pipelined {
                run_pipeline(
                    engine,
                    &items,
                    plan.options,
                    |k| read(&slabs[k]),
                    |k, block| compute(&slabs[k], block),
                    |k, done| {
                        write(&slabs[k], done)?;
                        trim.block_done();
                        Ok(())
                    },
                )
            } else {
                guard_panics(|| {
                    slabs.iter().try_for_each(|slab| {
                        let block = read(slab)?;
                        let done = compute(slab, block)?;
                        write(slab, done)?;
                        trim.block_done();
                        Ok(())
                    })
                })
            }
        });
        if let Some(budget) = self.connection.memory_budget() {
            crate::memory::release_free_heap_beyond(crate::memory::free_heap_kept(budget));
        }
        finish_collective(engine, &scope, local, Some(self.connection.timers()))
    }

    /// Checks that lists of this rank's share of the chunks, `per_item` bytes a chunk, fit the
    /// memory budget (without one: that the allocator has room), so a dataset of billions of
    /// chunks is an error instead of an allocation abort.
    ///
    /// # Errors
    /// [`Error::BudgetTooSmall`] naming the bytes.
    pub(crate) fn check_item_lists(&self, per_item: u64) -> Result<()> {
        let engine = self.engine();
        let share = self.meta.layout.num_chunks().div_ceil(engine.size().max(1)) as u64;
        let needed = share.saturating_mul(per_item);
        let budget = self.connection.memory_budget().map(|b| b.as_ref());
        crate::memory::room_for(budget, needed).map_err(|available| Error::BudgetTooSmall {
            operation: format!("an operation on dataset \"{}\"", self.name),
            what: format!("the list of this rank's {share} chunks"),
            needed,
            available,
        })
    }

    /// Bytes of chunk-sized blocks, with `per_worker` of them held by each computing worker.
    pub(crate) fn chunk_blocks(&self, per_worker: u64) -> BlockSizes {
        let bytes = self.meta.chunk_bytes() as u64;
        BlockSizes {
            queued: bytes,
            worker: per_worker * bytes,
            cached: false,
        }
    }

    /// The valid part of a stored chunk (the fill value when missing) passed to the user's `f`;
    /// checks that the result keeps the shape.
    fn transform_stored<T, F>(
        &self,
        chunk: &[usize],
        stored: Option<ChunkData>,
        f: &F,
    ) -> Result<ArrayD<T>>
    where
        T: Element,
        F: Fn(&[usize], ArrayViewD<'_, T>) -> std::result::Result<ArrayD<T>, CallbackError>,
    {
        let input = valid_array(self.layout(), chunk, stored, self.fill::<T>())?;
        let output = self.call_timed(chunk, || f(chunk, input.view()))?;
        check_shape(input.shape(), output.shape(), || {
            format!("the result of the callback on chunk {}", fmt_tuple(chunk))
        })?;
        Ok(output)
    }

    /// Loads a whole in-memory array into the dataset (collective; every rank passes the same
    /// array, each writes its own chunks).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`], [`Error::DTypeMismatch`], or a storage error, on every rank.
    pub fn load<T: Element>(&self, data: ArrayViewD<'_, T>) -> Result<()> {
        self.check_type::<T>()?;
        check_shape(self.shape(), data.shape(), || {
            format!("loading into dataset \"{}\"", self.name)
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
    /// [`Error::Callback`]/[`Error::Panic`] from `make`, [`Error::ShapeMismatch`] when it
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

    /// Bytes of one stored plane (a chunk's elements with one index along axis 0).
    pub(crate) fn plane_bytes(&self) -> u64 {
        let planes = self
            .layout()
            .chunk_shape()
            .first()
            .copied()
            .unwrap_or(1)
            .max(1);
        (self.meta.chunk_bytes() / planes) as u64
    }

    /// Applies `f` to every chunk into a new dataset `out_name` of the same layout, dtype and
    /// fill value (collective). Chunks never written are passed in as the fill value. On failure
    /// the new dataset is deleted again, so nothing half-made is left behind.
    ///
    /// # Errors
    /// [`Error::DatasetExists`] for `out_name`, [`Error::Callback`]/[`Error::Panic`] from `f`,
    /// [`Error::ShapeMismatch`] when `f` changes the shape, or a storage error, on every rank.
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

    /// A new incomplete dataset `out_name` with this one's layout, dtype and fill value, for
    /// an operation's output (collective; see [`Connection::begin_dataset`]).
    pub(crate) fn begin_output(&self, out_name: &str) -> Result<Dataset> {
        self.connection.begin_dataset(out_name, self.meta.clone())
    }

    /// `out`, finished, when the operation that filled it succeeded; otherwise `out` is deleted
    /// again (collective), so nothing half-made is left behind, and the operation's error
    /// returned. (A process killed before either leaves `out` incomplete: never read as
    /// complete, replaced by the next run.)
    pub(crate) fn keep_output_if_ok(&self, out: Dataset, result: Result<()>) -> Result<Dataset> {
        match result.and_then(|()| out.finish()) {
            Ok(()) => Ok(out),
            Err(error) => {
                // Best effort: the error that made the operation fail is the one to report.
                let _ = self.connection.delete_dataset(out.name());
                Err(error)
            }
        }
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
    /// [`Error::DatasetExists`], [`Error::InvalidName`], or a storage error, on every rank.
    pub fn clone_as(&self, out_name: &str, with_data: bool) -> Result<Dataset> {
        if !with_data {
            return self.connection.create_dataset(out_name, self.meta.clone());
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
    /// [`Error::DatasetNotFound`], or a storage error, on every rank.
    pub fn finish(&self) -> Result<()> {
        self.connection
            .coordinated(|| self.connection.store().finish_dataset(&self.name))
    }

    /// Deletes the dataset and its chunks (collective: rank 0 deletes).
    ///
    /// # Errors
    /// [`Error::DatasetNotFound`], or a storage error, on every rank.
    pub fn delete(self) -> Result<()> {
        self.connection
            .coordinated(|| self.connection.store().delete_dataset(&self.name))
    }
}
