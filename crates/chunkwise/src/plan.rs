//! How much one collective operation keeps in memory, derived from the memory budget.
//!
//! A pipelined operation holds blocks in four places: one per reader being read, up to
//! `read_ahead` waiting for a worker, one per worker being computed (with whatever the worker
//! allocates for its result), up to `read_ahead` finished ones waiting for a writer, and one per
//! writer being written. There are as many readers and writers as workers. A stencil operation also keeps a cache of whole input chunks. With a memory
//! budget on the connection, the operation reserves all of that up front: read-ahead shrinks
//! first, then the number of workers, then the cache gets what is left (at most its configured
//! size). Only when a single block per stage does not fit is it an error — before any work is
//! done. Without a budget the configured bounds are used as they are.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::memory::{MemoryBudget, Reservation};
use crate::pipeline::PipelineOptions;

/// What the blocks of one operation weigh.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockSizes {
    /// Bytes of one block waiting in a queue (read, or finished and waiting to be written).
    pub queued: u64,
    /// Bytes a worker holds while computing one block (its input, result and scratch).
    pub worker: u64,
    /// Whether the operation uses a chunk cache.
    pub cached: bool,
}

/// The bounds an operation runs with, and the memory it reserved for them.
#[derive(Debug)]
pub(crate) struct Plan {
    pub options: PipelineOptions,
    /// Held until the operation ends.
    _reservation: Option<Reservation>,
}

/// Bytes held with `read_ahead` and `workers` (see the module docs).
fn in_flight(sizes: BlockSizes, pipelined: bool, read_ahead: usize, workers: usize) -> u64 {
    let queued_blocks = if pipelined {
        2 * (read_ahead + workers) as u64
    } else {
        0
    };
    queued_blocks * sizes.queued + workers as u64 * sizes.worker
}

/// The bounds of `configured` fitted to `budget`, for an operation on `threads` workers that is
/// `pipelined` (reads ahead on its own thread) or runs block by block.
///
/// # Errors
/// [`Error::BudgetTooSmall`] when one block per stage does not fit the free budget.
pub(crate) fn plan(
    operation: &str,
    configured: PipelineOptions,
    budget: Option<&Arc<MemoryBudget>>,
    threads: usize,
    pipelined: bool,
    sizes: BlockSizes,
) -> Result<Plan> {
    let threads = configured.max_workers.unwrap_or(threads).max(1);
    let Some(budget) = budget else {
        return Ok(Plan {
            options: PipelineOptions {
                max_workers: Some(threads),
                ..configured
            },
            _reservation: None,
        });
    };
    let free = budget.available();
    let mut read_ahead = configured.read_ahead.max(1);
    let mut workers = if pipelined { threads } else { 1 };
    while read_ahead > 1 && in_flight(sizes, pipelined, read_ahead, workers) > free {
        read_ahead -= 1;
    }
    while workers > 1 && in_flight(sizes, pipelined, read_ahead, workers) > free {
        workers -= 1;
    }
    let needed = in_flight(sizes, pipelined, read_ahead, workers);
    if needed > free {
        return Err(Error::BudgetTooSmall {
            operation: operation.to_string(),
            what: "one block per pipeline stage and worker".to_string(),
            needed,
            available: free,
        });
    }
    let cache_bytes = if sizes.cached {
        (configured.cache_bytes as u64).min(free - needed)
    } else {
        0
    };
    let reservation = budget.reserve(needed + cache_bytes);
    Ok(Plan {
        options: PipelineOptions {
            read_ahead,
            max_workers: Some(if pipelined { workers } else { threads }),
            cache_bytes: cache_bytes as usize,
            ..configured
        },
        _reservation: reservation,
    })
}

/// Pipeline items a rank with few chunks is given by splitting them (see [`slabs_per_chunk`]).
const SLABS_WANTED: usize = 8;
/// Into how many slabs ([`crate::slab`]) an operation that may split chunks splits each of a
/// rank's `local_chunks` chunks of `chunk_bytes`, with `workers` computing: whole chunks when
/// the rank has at least two per worker (the pipeline then overlaps I/O and compute across
/// chunks); otherwise enough slabs to give the pipeline about [`SLABS_WANTED`] items, none
/// smaller than `min_slab_bytes` or thinner than `min_planes` of the chunk's `planes`.
pub(crate) fn slabs_per_chunk(
    local_chunks: usize,
    workers: usize,
    (chunk_bytes, planes): (u64, usize),
    min_slab_bytes: u64,
    min_planes: usize,
) -> usize {
    if local_chunks == 0 || local_chunks >= 2 * workers.max(1) {
        return 1;
    }
    let by_size = usize::try_from(chunk_bytes / min_slab_bytes.max(1)).unwrap_or(usize::MAX);
    let by_planes = planes / min_planes.max(1);
    SLABS_WANTED
        .div_ceil(local_chunks)
        .min(by_size)
        .min(by_planes)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(bytes: u64) -> Arc<MemoryBudget> {
        MemoryBudget::new(bytes, std::env::temp_dir(), Some(0))
    }

    const SIZES: BlockSizes = BlockSizes {
        queued: 100,
        worker: 300,
        cached: true,
    };

    #[test]
    fn without_a_budget_the_configuration_is_kept() {
        let configured = PipelineOptions::default();
        let planned = plan("op", configured, None, 3, true, SIZES).unwrap();
        assert_eq!(planned.options.read_ahead, configured.read_ahead);
        assert_eq!(planned.options.cache_bytes, configured.cache_bytes);
        assert_eq!(planned.options.max_workers, Some(3));
    }

    #[test]
    fn a_large_budget_keeps_the_bounds_and_gives_the_cache_its_size() {
        let b = budget(1 << 30);
        let configured = PipelineOptions {
            cache_bytes: 5000,
            ..Default::default()
        };
        let planned = plan("op", configured, Some(&b), 2, true, SIZES).unwrap();
        assert_eq!(planned.options.read_ahead, 4);
        assert_eq!(planned.options.max_workers, Some(2));
        assert_eq!(planned.options.cache_bytes, 5000);
        // 2·(4 + 2)·100 + 2·300 + 5000 reserved while the plan lives.
        assert_eq!(b.available(), (1 << 30) - 6800);
        drop(planned);
        assert_eq!(b.available(), 1 << 30);
    }

    #[test]
    fn read_ahead_shrinks_first_then_workers_then_the_cache() {
        // read_ahead 1, 2 workers (and 2 readers, 2 writers): 2·(1 + 2)·100 + 600 = 1200 bytes.
        let b = budget(1250);
        let planned = plan("op", PipelineOptions::default(), Some(&b), 2, true, SIZES).unwrap();
        assert_eq!(planned.options.read_ahead, 1);
        assert_eq!(planned.options.max_workers, Some(2));
        assert_eq!(planned.options.cache_bytes, 50);
        assert_eq!(b.available(), 0);
        drop(planned);
        // read_ahead 1, 1 worker: 2·(1 + 1)·100 + 300.
        let b = budget(800);
        let planned = plan("op", PipelineOptions::default(), Some(&b), 2, true, SIZES).unwrap();
        assert_eq!(planned.options.read_ahead, 1);
        assert_eq!(planned.options.max_workers, Some(1));
        assert_eq!(planned.options.cache_bytes, 100);
    }

    #[test]
    fn one_block_per_stage_that_does_not_fit_is_an_error_naming_the_sizes() {
        let b = budget(699);
        let error = plan(
            "map_overlap of \"a\"",
            PipelineOptions::default(),
            Some(&b),
            2,
            true,
            SIZES,
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("map_overlap of \"a\""), "{text}");
        assert!(text.contains("700 bytes"), "{text}");
        assert!(text.contains("699 bytes"), "{text}");
        assert_eq!(b.available(), 699, "nothing stays reserved after a refusal");
    }

    #[test]
    fn chunks_are_split_only_when_a_rank_has_fewer_than_two_per_worker() {
        let mib8 = 8 << 20;
        assert_eq!(slabs_per_chunk(1, 2, (mib8, 128), 256 << 10, 1), 8);
        assert_eq!(slabs_per_chunk(1, 1, (mib8, 128), 256 << 10, 1), 8);
        assert_eq!(slabs_per_chunk(3, 2, (mib8, 128), 256 << 10, 1), 3);
        assert_eq!(slabs_per_chunk(4, 2, (mib8, 128), 256 << 10, 1), 1);
        assert_eq!(slabs_per_chunk(2, 1, (mib8, 128), 256 << 10, 1), 1);
        assert_eq!(slabs_per_chunk(0, 2, (mib8, 128), 256 << 10, 1), 1);
        // Small chunks: no slab under 256 KiB.
        assert_eq!(slabs_per_chunk(1, 2, (1 << 20, 128), 256 << 10, 1), 4);
        assert_eq!(slabs_per_chunk(1, 2, (100 << 10, 128), 256 << 10, 1), 1);
        assert_eq!(slabs_per_chunk(1, 2, (100 << 10, 128), u64::MAX, 1), 1);
        assert_eq!(slabs_per_chunk(1, 2, (100, 128), 1, 1), 8);
        // Slabs of at least 24 planes (a halo of 6 planes each side read twice at most).
        assert_eq!(slabs_per_chunk(1, 2, (mib8, 128), 256 << 10, 24), 5);
        assert_eq!(slabs_per_chunk(1, 2, (mib8, 16), 256 << 10, 24), 1);
    }

    #[test]
    fn block_by_block_operations_hold_one_worker_block() {
        let b = budget(300);
        let planned = plan("op", PipelineOptions::default(), Some(&b), 2, false, SIZES).unwrap();
        assert_eq!(planned.options.cache_bytes, 0);
        assert_eq!(b.available(), 0);
    }
}
