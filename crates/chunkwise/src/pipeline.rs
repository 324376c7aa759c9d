//! The per-rank pipeline: read ahead → compute → write, with bounded buffers and timeouts.
//!
//! Reader threads (kept from one operation to the next, the `stage_threads` module) read this
//! rank's chunks, taken in order, into a buffer of at most `read_ahead` blocks; the engine's
//! workers take blocks from it, compute, and write what they computed.
//! There are as many readers as workers: a store whose reads run in parallel (the DosNa directory store's
//! chunk files, the ram store) then keeps up with the workers, where one reader was the slowest
//! stage of a pass over large chunks. So reading the next chunks overlaps the compute of the
//! current ones, and one worker's write overlaps the others' compute.
//!
//! A worker writes its own block because the stores' writes are memory copies (into the page
//! cache or RAM) and the block is still in that core's caches: handing finished blocks to
//! writer threads made chained 1-D passes and chunked loads measurably slower
//! (docs/perf-log/2026-11-benchmark-history.md). With
//! [`PipelineOptions::write_behind`] (`io.write_behind`), finished blocks wait in a buffer of
//! the same bound for as many writer threads, for stores whose writes wait on a device or a
//! network. Memory stays bounded by about `2 · (read_ahead + workers)` blocks plus those being
//! computed. A stage that waits longer than `stage_timeout` for its input or for room in its
//! output fails with an error naming the stage, instead of hanging; the first error of any
//! stage stops all of them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, SendTimeoutError, Sender};

use crate::engine::{guard_panics, Engine};
use crate::error::{Error, Result};
use crate::stage_threads::StageThreads;

/// Bounds of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PipelineOptions {
    /// Blocks read ahead of the compute (and finished blocks waiting to be written).
    pub read_ahead: usize,
    /// Longest a stage may wait for input or for room before the pipeline fails.
    pub stage_timeout: Duration,
    /// Bytes of whole input chunks a stencil operation (`map_overlap`) keeps for the halos of
    /// the chunks that follow.
    pub cache_bytes: usize,
    /// Most workers computing at once (`None`: the engine's threads).
    pub max_workers: Option<usize>,
    /// Smallest slab (planes along axis 0) that operations able to work on parts of chunks
    /// (`map_stencil`, `load_blocks_with`) cut a chunk into when a rank has fewer than two
    /// chunks per worker; `u64::MAX` never cuts chunks.
    pub min_slab_bytes: u64,
    /// Finished blocks are handed to writer threads (write-behind) instead of being written
    /// by the worker that computed them. Off by default: the stores' writes are memory copies
    /// (into the page cache or RAM), and a block written by its own worker is still in that
    /// core's caches; write-behind is for stores whose writes wait on a device or network.
    /// ([`crate::Dataset::load_blocks_with`] writes the parts it makes from the worker that
    /// made them either way.)
    pub write_behind: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            read_ahead: 4,
            stage_timeout: Duration::from_secs(600),
            cache_bytes: 256 << 20,
            max_workers: None,
            min_slab_bytes: 256 << 10,
            write_behind: false,
        }
    }
}

fn stuck(stage: &str, waiting_for: &str, timeout: Duration) -> Error {
    Error::Communication(format!(
        "pipeline {stage} stage waited more than {} s for {waiting_for}; a stage is stuck",
        timeout.as_secs_f64()
    ))
}

/// Sends, giving up when the pipeline was stopped or the wait exceeds the timeout.
fn send<T>(
    tx: &Sender<T>,
    mut value: T,
    stop: &AtomicBool,
    stage: &str,
    timeout: Duration,
) -> Result<bool> {
    let step = Duration::from_millis(50).min(timeout);
    let mut waited = Duration::ZERO;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        match tx.send_timeout(value, step) {
            Ok(()) => return Ok(true),
            Err(SendTimeoutError::Disconnected(_)) => return Ok(false),
            Err(SendTimeoutError::Timeout(back)) => {
                value = back;
                waited += step;
                if waited >= timeout {
                    return Err(stuck(stage, "room in its output buffer", timeout));
                }
            }
        }
    }
}

/// Receives; `None` when the input is finished or the pipeline was stopped.
fn recv<T>(
    rx: &Receiver<T>,
    stop: &AtomicBool,
    stage: &str,
    timeout: Duration,
) -> Result<Option<T>> {
    let step = Duration::from_millis(50).min(timeout);
    let mut waited = Duration::ZERO;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        match rx.recv_timeout(step) {
            Ok(value) => return Ok(Some(value)),
            Err(RecvTimeoutError::Disconnected) => return Ok(None),
            Err(RecvTimeoutError::Timeout) => {
                waited += step;
                if waited >= timeout {
                    return Err(stuck(stage, "its input", timeout));
                }
            }
        }
    }
}

/// Runs `read → compute → write` over `items` on this rank (not collective). Items are taken for
/// reading in order; computed and written as readers and workers finish them. Without items it
/// returns at once, starting no thread: a rank with nothing to do in an operation (an MPI rank
/// of a dataset of fewer chunks than ranks) then takes no CPU time from the ranks that have.
///
/// # Errors
/// The first error of any stage (a panic counts as an error), or a stuck-stage error.
pub fn run_pipeline<I, C>(
    engine: &dyn Engine,
    items: &[usize],
    options: PipelineOptions,
    read: impl Fn(usize) -> Result<I> + Sync,
    compute: impl Fn(usize, I) -> Result<C> + Sync,
    write: impl Fn(usize, C) -> Result<()> + Sync,
) -> Result<()>
where
    I: Send,
    C: Send,
{
    if items.is_empty() {
        return Ok(());
    }
    let bound = options.read_ahead.max(1);
    let timeout = options.stage_timeout;
    let (read_tx, read_rx) = bounded::<(usize, I)>(bound);
    let (done_tx, done_rx) = bounded::<(usize, C)>(bound);
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |error: Error| {
        stop.store(true, Ordering::Relaxed);
        let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(error);
    };

    let workers = options
        .max_workers
        .unwrap_or_else(|| engine.threads())
        .max(1)
        .min(items.len().max(1));
    let next = AtomicUsize::new(0);
    let writers = if options.write_behind { workers } else { 0 };
    let stages = StageThreads::lease(workers + writers)?;
    stages.pool().in_place_scope(|scope| {
        for _ in 0..workers {
            let read_tx = read_tx.clone();
            scope.spawn(|_| {
                let read_tx = read_tx;
                let outcome = guard_panics(|| {
                    while let Some(&item) = items.get(next.fetch_add(1, Ordering::Relaxed)) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let block = read(item)?;
                        if !send(&read_tx, (item, block), &stop, "read", timeout)? {
                            break;
                        }
                    }
                    Ok(())
                });
                if let Err(error) = outcome {
                    fail(error);
                }
            });
        }
        drop(read_tx);
        for _ in 0..writers {
            let done_rx = done_rx.clone();
            scope.spawn(|_| {
                let done_rx = done_rx;
                let outcome = guard_panics(|| {
                    while let Some((item, block)) = recv(&done_rx, &stop, "write", timeout)? {
                        write(item, block)?;
                    }
                    Ok(())
                });
                if let Err(error) = outcome {
                    fail(error);
                }
                // Dropping the receiver unblocks workers waiting to hand over results once
                // every writer has stopped.
            });
        }
        drop(done_rx);
        let computed = engine.run_workers(workers, &|_| {
            while let Some((item, block)) = recv(&read_rx, &stop, "compute", timeout)? {
                let result = compute(item, block)?;
                if !options.write_behind {
                    write(item, result)?;
                } else if !send(&done_tx, (item, result), &stop, "compute", timeout)? {
                    break;
                }
            }
            Ok(())
        });
        drop(done_tx);
        if let Err(error) = computed {
            fail(error);
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;
    use crate::engine::ThreadsEngine;

    #[test]
    fn every_item_flows_through_once() {
        for write_behind in [false, true] {
            every_item_flows_through_once_with(write_behind);
        }
    }

    fn every_item_flows_through_once_with(write_behind: bool) {
        let engine = ThreadsEngine::new(Some(3)).unwrap();
        let items: Vec<usize> = (0..200).collect();
        let written = Mutex::new(Vec::new());
        run_pipeline(
            &engine,
            &items,
            PipelineOptions {
                read_ahead: 2,
                write_behind,
                ..Default::default()
            },
            |i| Ok(i * 10),
            |i, x| Ok((i, x + 1)),
            |i, (j, y)| {
                assert_eq!(i, j);
                written.lock().unwrap().push(y);
                Ok(())
            },
        )
        .unwrap();
        let mut written = written.into_inner().unwrap();
        written.sort_unstable();
        assert_eq!(written, (0..200).map(|i| i * 10 + 1).collect::<Vec<_>>());
    }

    /// A threads engine that counts the times it runs workers.
    #[derive(Debug)]
    struct CountingEngine(ThreadsEngine, AtomicUsize);

    impl Engine for CountingEngine {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn threads(&self) -> usize {
            self.0.threads()
        }
        fn for_each_local(&self, n: usize, task: &crate::engine::Task<'_>) -> Result<()> {
            self.1.fetch_add(1, Ordering::SeqCst);
            self.0.for_each_local(n, task)
        }
    }

    #[test]
    fn without_items_nothing_runs() {
        let engine = CountingEngine(ThreadsEngine::new(Some(2)).unwrap(), AtomicUsize::new(0));
        let called = AtomicUsize::new(0);
        for items in [&[][..], &[0, 1, 2][..]] {
            run_pipeline(
                &engine,
                items,
                PipelineOptions::default(),
                |i| {
                    called.fetch_add(1, Ordering::SeqCst);
                    Ok(i)
                },
                |_, x| Ok(x),
                |_, _| Ok(()),
            )
            .unwrap();
            let expected = usize::from(!items.is_empty());
            assert_eq!(engine.1.swap(0, Ordering::SeqCst), expected, "{items:?}");
        }
        assert_eq!(called.into_inner(), 3);
    }

    #[test]
    fn readers_are_kept_threads_from_one_run_to_the_next() {
        // 11 workers: no other test leases that many stage threads.
        let engine = ThreadsEngine::new(Some(11)).unwrap();
        let items: Vec<usize> = (0..110).collect();
        let readers = Mutex::new(std::collections::HashSet::new());
        for _ in 0..4 {
            run_pipeline(
                &engine,
                &items,
                PipelineOptions::default(),
                |i| {
                    let me = std::thread::current();
                    let name = me.name().unwrap_or_default().to_string();
                    assert!(name.starts_with("chunkwise-stage-"), "read on {name:?}");
                    readers.lock().unwrap().insert(me.id());
                    // Slow reads: every reader takes part.
                    std::thread::sleep(Duration::from_micros(200));
                    Ok(i)
                },
                |_, x| Ok(x),
                |_, _| Ok(()),
            )
            .unwrap();
        }
        // New threads in every run would be up to 44.
        let readers = readers.into_inner().unwrap();
        assert!(readers.len() <= 11, "{} reader threads", readers.len());
    }

    #[test]
    fn workers_write_what_they_computed_unless_writing_behind() {
        let engine = ThreadsEngine::new(Some(2)).unwrap();
        let items: Vec<usize> = (0..50).collect();
        for write_behind in [false, true] {
            let computed_on = Mutex::new(std::collections::HashMap::new());
            let same_thread = AtomicUsize::new(0);
            run_pipeline(
                &engine,
                &items,
                PipelineOptions {
                    write_behind,
                    ..Default::default()
                },
                Ok,
                |i, x| {
                    let mut map = computed_on.lock().unwrap();
                    map.insert(i, std::thread::current().id());
                    Ok(x)
                },
                |i, _| {
                    let computed = computed_on.lock().unwrap()[&i];
                    if computed == std::thread::current().id() {
                        same_thread.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(())
                },
            )
            .unwrap();
            let expected = if write_behind { 0 } else { items.len() };
            assert_eq!(
                same_thread.into_inner(),
                expected,
                "write_behind {write_behind}"
            );
        }
    }

    #[test]
    fn reading_stays_a_bounded_distance_ahead() {
        let engine = ThreadsEngine::new(Some(2)).unwrap();
        let items: Vec<usize> = (0..100).collect();
        let (read, written) = (AtomicUsize::new(0), AtomicUsize::new(0));
        run_pipeline(
            &engine,
            &items,
            PipelineOptions {
                read_ahead: 3,
                ..Default::default()
            },
            |i| {
                let ahead = read.fetch_add(1, Ordering::SeqCst) - written.load(Ordering::SeqCst);
                // read buffer + write buffer + one block in each worker + one in the writer.
                assert!(ahead <= 3 + 3 + 2 + 1, "{ahead} blocks in flight");
                Ok(i)
            },
            |_, x| {
                std::thread::sleep(Duration::from_millis(1));
                Ok(x)
            },
            |_, _| {
                written.fetch_add(1, Ordering::SeqCst);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(written.into_inner(), 100);
    }

    #[test]
    fn errors_and_panics_of_any_stage_stop_the_pipeline() {
        for write_behind in [false, true] {
            errors_and_panics_stop_the_pipeline_with(write_behind);
        }
    }

    fn errors_and_panics_stop_the_pipeline_with(write_behind: bool) {
        let engine = ThreadsEngine::new(Some(2)).unwrap();
        let items: Vec<usize> = (0..1000).collect();
        let options = PipelineOptions {
            write_behind,
            ..Default::default()
        };
        let fail_at = |stage: usize| {
            run_pipeline(
                &engine,
                &items,
                options,
                |i| {
                    if stage == 0 && i == 50 {
                        Err(Error::Unsupported("read failed".into()))
                    } else {
                        Ok(i)
                    }
                },
                |i, x| {
                    if stage == 1 && i == 50 {
                        panic!("compute panicked");
                    }
                    Ok(x)
                },
                |i, _| {
                    if stage == 2 && i == 50 {
                        Err(Error::Unsupported("write failed".into()))
                    } else {
                        Ok(())
                    }
                },
            )
        };
        assert_eq!(fail_at(0).unwrap_err().to_string(), "read failed");
        assert!(fail_at(1)
            .unwrap_err()
            .to_string()
            .contains("compute panicked"));
        assert_eq!(fail_at(2).unwrap_err().to_string(), "write failed");
    }

    #[test]
    fn a_stuck_stage_times_out_with_a_clear_error() {
        let engine = ThreadsEngine::new(Some(1)).unwrap();
        let started = std::time::Instant::now();
        let error = run_pipeline(
            &engine,
            &[0, 1, 2],
            PipelineOptions {
                read_ahead: 1,
                stage_timeout: Duration::from_millis(200),
                ..Default::default()
            },
            |i| {
                if i == 1 {
                    std::thread::sleep(Duration::from_secs(2)); // a reader that hangs
                }
                Ok(i)
            },
            |_, x| Ok(x),
            |_, _| Ok(()),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("stage waited more than 0.2 s"),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}
