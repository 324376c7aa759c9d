//! The machinery that runs the collective operations of `operations` against the [`Engine`]
//! primitives: a rank's share of the chunks (or of their slabs) through the read-ahead
//! pipeline within the memory budget's plan, user callbacks timed and guarded, outputs kept
//! only when every rank succeeded.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ndarray::{ArrayD, ArrayViewD};

use crate::array::{check_shape, valid_array};
use crate::chunk_cache::ChunkCache;
use crate::dataset::Dataset;
use crate::dtype::ChunkData;
use crate::dtype::Element;
use crate::engine::{finish_collective, guard_panics, panic_message, Engine};
use crate::error::{fmt_tuple, CallbackError, Error, Result};
use crate::memory::HeapTrim;
use crate::pipeline::run_pipeline;
use crate::plan::{plan, slabs_per_chunk, BlockSizes};
use crate::slab::{most_planes, slabs, Slab};

/// Calls a user callback for `chunk`, turning its error or panic into a crate error.
pub(crate) fn call_user<R>(
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
    pub(crate) fn engine(&self) -> &dyn Engine {
        self.connection.engine().as_ref()
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
        sizes: impl Fn(usize) -> BlockSizes + Sync,
        cache: Option<&ChunkCache>,
        split: Option<usize>,
        read: impl Fn(&Slab) -> Result<I> + Sync,
        compute: impl Fn(&Slab, I) -> Result<C> + Sync,
        write: impl Fn(&Slab, C) -> Result<()> + Sync,
    ) -> Result<()> {
        let layout = &self.meta().layout;
        let engine = self.engine();
        // The lists of this rank's chunks and slabs (the index of each) must fit first.
        let per_item = (std::mem::size_of::<Slab>() + 16 * layout.ndim()) as u64;
        let scope = engine.operation(layout.num_chunks());
        let name = format!("{operation} of dataset \"{}\"", self.name());
        let progress = self.connection.progress();
        progress.begin(
            format!("{operation} \"{}\"", self.name()),
            layout.num_chunks() as u64,
            (layout.len() * self.meta().dtype.size()) as u64,
        );
        let local = engine.report_while(progress, &|| {
            self.check_item_lists(per_item)?;
            self.run_slabs(&scope, &name, &sizes, cache, split, &read, &compute, &write)
        });
        if let Some(budget) = self.connection.memory_budget() {
            crate::memory::release_free_heap_beyond(crate::memory::free_heap_kept(budget));
        }
        let agreed = finish_collective(engine, &scope, local, Some(self.connection.timers()));
        progress.end(agreed.is_ok());
        agreed
    }

    /// This rank's share of [`Dataset::pipeline_slabs`]: its slabs through the pipeline (or one
    /// after another), each written block counted in the connection's progress.
    #[allow(clippy::too_many_arguments)]
    fn run_slabs<I: Send, C: Send>(
        &self,
        scope: &crate::engine::Operation,
        name: &str,
        sizes: &(impl Fn(usize) -> BlockSizes + Sync),
        cache: Option<&ChunkCache>,
        split: Option<usize>,
        read: &(impl Fn(&Slab) -> Result<I> + Sync),
        compute: &(impl Fn(&Slab, I) -> Result<C> + Sync),
        write: &(impl Fn(&Slab, C) -> Result<()> + Sync),
    ) -> Result<()> {
        let layout = &self.meta().layout;
        let engine = self.engine();
        let mine = engine.local_items(layout.num_chunks());
        let options = self.connection.pipeline_options();
        let threads = scope.workers;
        let planes = layout.chunk_shape().first().copied().unwrap_or(1);
        let pieces = match split {
            Some(min_planes) => slabs_per_chunk(
                mine.len(),
                options.max_workers.unwrap_or(threads),
                (self.meta().chunk_bytes() as u64, planes),
                options.min_slab_bytes,
                min_planes,
            ),
            None => 1,
        };
        let pipelined = engine.overlaps_io();
        let fit = |pieces: usize| {
            let slabs = slabs(layout, &mine, pieces);
            let sizes = sizes(most_planes(layout, &slabs));
            let plan = plan(
                name,
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
        planned.and_then(|plan| {
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
            let progress = self.connection.progress();
            let element = self.meta().dtype.size() as u64;
            let write = |slab: &Slab, done| {
                let _watch = watch("write", slab);
                write(slab, done)?;
                progress.add(
                    u64::from(slab.completes_chunk(layout)),
                    slab.bounds(layout).len() as u64 * element,
                );
                Ok(())
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
        })
    }

    /// Checks that lists of this rank's share of the chunks, `per_item` bytes a chunk, fit the
    /// memory budget (without one: that the allocator has room), so a dataset of billions of
    /// chunks is an error instead of an allocation abort.
    ///
    /// # Errors
    /// [`Error::BudgetTooSmall`] naming the bytes.
    pub(crate) fn check_item_lists(&self, per_item: u64) -> Result<()> {
        let engine = self.engine();
        let share = self
            .meta()
            .layout
            .num_chunks()
            .div_ceil(engine.size().max(1)) as u64;
        let needed = share.saturating_mul(per_item);
        let budget = self.connection.memory_budget().map(|b| b.as_ref());
        crate::memory::room_for(budget, needed).map_err(|available| Error::BudgetTooSmall {
            operation: format!("an operation on dataset \"{}\"", self.name()),
            what: format!("the list of this rank's {share} chunks"),
            needed,
            available,
        })
    }

    /// Bytes of chunk-sized blocks, with `per_worker` of them held by each computing worker.
    pub(crate) fn chunk_blocks(&self, per_worker: u64) -> BlockSizes {
        let bytes = self.meta().chunk_bytes() as u64;
        BlockSizes {
            queued: bytes,
            worker: per_worker * bytes,
            cached: false,
        }
    }

    /// The valid part of a stored chunk (the fill value when missing) passed to the user's `f`;
    /// checks that the result keeps the shape.
    pub(crate) fn transform_stored<T, F>(
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

    /// Bytes of one stored plane (a chunk's elements with one index along axis 0).
    pub(crate) fn plane_bytes(&self) -> u64 {
        let planes = self
            .layout()
            .chunk_shape()
            .first()
            .copied()
            .unwrap_or(1)
            .max(1);
        (self.meta().chunk_bytes() / planes) as u64
    }

    /// A new incomplete dataset `out_name` with this one's layout, dtype and fill value, for
    /// an operation's output (collective; see [`Connection::begin_dataset`]).
    pub(crate) fn begin_output(&self, out_name: &str) -> Result<Dataset> {
        self.connection.begin_dataset(out_name, self.meta().clone())
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
}
