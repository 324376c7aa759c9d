//! Engines decide who processes which work item: this thread, a thread pool, or (in
//! `chunkwise-mpi`) MPI ranks each with a thread pool.
//!
//! An engine supplies a few primitives — rank and size, a partition of work items over ranks,
//! running this rank's items on its pool, agreeing on success across ranks, a barrier, and an
//! explicit scope per operation ([`Operation`]) — and the collective dataset operations (`load`,
//! `map`, `apply`, `clear`, `clone`, stencils, creation and deletion) are written once against
//! them. An engine knows nothing about storage.

mod batched;
mod sequential;
mod threads;

pub use batched::batched_map;
pub use sequential::SequentialEngine;
pub use threads::ThreadsEngine;

use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::timers::Timers;

/// How work items `0..n` are dealt to ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Partition {
    /// Item `i` goes to rank `i % size` (balances edge chunks and spatial hot spots).
    #[default]
    Cyclic,
    /// Rank `r` gets one contiguous block; the first `n % size` ranks get one item more.
    Block,
}

impl Partition {
    /// The items of `0..n` that rank `rank` of `size` processes, ascending.
    pub fn items(self, rank: usize, size: usize, n: usize) -> Vec<usize> {
        let size = size.max(1);
        match self {
            Partition::Cyclic => (rank..n).step_by(size).collect(),
            Partition::Block => {
                let base = n / size;
                let extra = n % size;
                let start = rank * base + rank.min(extra);
                let len = base + usize::from(rank < extra);
                (start..(start + len).min(n)).collect()
            }
        }
    }
}

impl FromStr for Partition {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        match text.trim() {
            "cyclic" => Ok(Partition::Cyclic),
            "block" => Ok(Partition::Block),
            other => Err(Error::InvalidSetting {
                name: "partition".into(),
                value: other.into(),
                expected: "expected cyclic or block".into(),
            }),
        }
    }
}

/// One collective operation over work items `0..items`, as [`Engine::operation`] describes it
/// to this rank: how many workers the rank may run for it. It is handed back to
/// [`Engine::finish`] at the operation's end, so the engine keeps no state between the calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    /// Work items of the whole operation (over all ranks).
    pub items: usize,
    /// Workers this rank may run ([`Engine::run_workers`]): its own threads, or more when
    /// ranks of its node have none of the items.
    pub workers: usize,
}

/// How a rank of a multi-process engine with none of an operation's items (a dataset of fewer
/// chunks than ranks) waits at the operation's end for the ranks that have some
/// (`engine.idle_wait`; engines of one process never wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdleWait {
    /// Asleep: it is woken through a named pipe by a busy rank of its node when that rank is
    /// done, and naps (with a 1 µs timer slack) when none of its node is busy, so its core goes
    /// to the busy ranks' threads. Pays where ranks share a node's cores (a workstation, an
    /// oversubscribed node); the pipes are made at start, in the temporary directory.
    #[default]
    Sleep,
    /// Polling, yielding between polls, as every other wait does: nothing set up, no pipes;
    /// for nodes where every rank has cores of its own.
    Poll,
}

impl FromStr for IdleWait {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        match text.trim() {
            "sleep" => Ok(IdleWait::Sleep),
            "poll" => Ok(IdleWait::Poll),
            other => Err(Error::InvalidSetting {
                name: "idle_wait".into(),
                value: other.into(),
                expected: "expected sleep or poll".into(),
            }),
        }
    }
}

/// A task run by [`Engine::for_each_local`]: gets the position of its item.
pub type Task<'a> = dyn Fn(usize) -> Result<()> + Sync + 'a;

/// This rank's share of an operation, run by [`Engine::report_while`].
pub type Work<'a> = dyn Fn() -> Result<()> + Sync + 'a;

/// Who does which work item.
///
/// Every method is collective in a multi-process engine — all ranks call it, in the same order —
/// except `rank`, `size`, `threads`, `partition`, `local_items` and `for_each_local`.
pub trait Engine: Send + Sync + Debug {
    /// Short name: `sequential`, `threads`, `mpi`.
    fn name(&self) -> &'static str;

    /// This process's rank (0 for single-process engines).
    fn rank(&self) -> usize {
        0
    }

    /// Number of processes (1 for single-process engines).
    fn size(&self) -> usize {
        1
    }

    /// True on rank 0, which alone creates and deletes.
    fn is_root(&self) -> bool {
        self.rank() == 0
    }

    /// Worker threads of this rank.
    fn threads(&self) -> usize;

    /// Ranks of this job on this node, which share its memory and cores (1 for single-process
    /// engines).
    fn ranks_on_node(&self) -> usize {
        1
    }

    /// How items are dealt to ranks.
    fn partition(&self) -> Partition {
        Partition::Cyclic
    }

    /// The items of `0..n` this rank processes.
    fn local_items(&self, n: usize) -> Vec<usize> {
        self.partition().items(self.rank(), self.size(), n)
    }

    /// Starts a collective operation over items `0..items` dealt by [`Engine::local_items`]:
    /// the workers this rank may use are [`Engine::threads`], or more when ranks on the same
    /// node have none of the items and their cores would idle until the operation ends. Run
    /// them with [`Engine::run_workers`]; end the operation with [`Engine::finish`]. Not
    /// collective: it only computes.
    fn operation(&self, items: usize) -> Operation {
        Operation {
            items,
            workers: self.threads(),
        }
    }

    /// Ends `operation`: [`Engine::agree`] on the outcome of this rank's share. An engine may
    /// let a rank with none of the operation's items wait here without taking a core.
    ///
    /// # Errors
    /// The agreed error.
    fn finish(&self, operation: &Operation, local: Result<()>) -> Result<()> {
        let _ = operation;
        self.agree(local)
    }

    /// Runs `workers` long-lived worker loops `task(0..workers)` at once, up to the
    /// [`Operation::workers`] of the operation (where [`Engine::for_each_local`] runs tasks on
    /// this rank's own [`Engine::threads`]). Errors as [`Engine::for_each_local`].
    ///
    /// # Errors
    /// The first error a worker returned, or [`Error::WorkerPanic`].
    fn run_workers(&self, workers: usize, task: &Task<'_>) -> Result<()> {
        self.for_each_local(workers, task)
    }

    /// Runs `task(0..n)` on this rank's workers. Stops handing out tasks after the first error
    /// and returns it; a panicking task becomes an error instead of unwinding.
    ///
    /// # Errors
    /// The first error a task returned, or [`Error::WorkerPanic`].
    fn for_each_local(&self, n: usize, task: &Task<'_>) -> Result<()>;

    /// Every rank passes its own outcome and gets back the same one: `Ok` only if all ranks
    /// succeeded, else the same error on every rank. Single-process engines return `local`.
    ///
    /// The agreement is also a barrier: the outcome depends on every rank's, so no rank
    /// returns before every rank has called it. Collective operations end with it alone.
    ///
    /// # Errors
    /// The agreed error.
    fn agree(&self, local: Result<()>) -> Result<()> {
        local
    }

    /// Waits until every rank arrives.
    ///
    /// # Errors
    /// A communication error.
    fn barrier(&self) -> Result<()> {
        Ok(())
    }

    /// Runs `work`, this rank's share of a collective operation, while its counts in
    /// `progress` reach rank 0's when the progress is watched ([`Progress::watch`]), so that
    /// rank 0 can show every rank's chunks. Single-process engines just run `work`. In a
    /// multi-process engine every rank calls it for the same operations, and rank 0 returns
    /// only once every rank's `work` has returned.
    ///
    /// # Errors
    /// What `work` returned.
    fn report_while(&self, progress: &Progress, work: &Work<'_>) -> Result<()> {
        let _ = progress;
        work()
    }

    /// Whether collective operations run this rank's chunks through the read-ahead pipeline
    /// ([`crate::pipeline`]); the sequential engine processes them strictly one after another.
    fn overlaps_io(&self) -> bool {
        true
    }

    /// Gathers one byte string from every rank to rank 0: `Some(strings by rank)` on rank 0,
    /// `None` elsewhere.
    ///
    /// # Errors
    /// A communication error.
    fn gather_bytes(&self, local: Vec<u8>) -> Result<Option<Vec<Vec<u8>>>> {
        Ok(Some(vec![local]))
    }

    /// Gathers one byte string from every rank to every rank, in rank order (the transport
    /// of [`crate::reduce::all_merge`], which gives reductions typed states).
    ///
    /// # Errors
    /// A communication error.
    fn all_gather_bytes(&self, local: Vec<u8>) -> Result<Vec<Vec<u8>>> {
        Ok(vec![local])
    }
}

/// Runs `f` on rank 0 only, then makes every rank agree on its outcome (a barrier), so
/// that all ranks see the same state afterwards (creation, deletion).
///
/// # Errors
/// The agreed error (rank 0's, on every rank).
pub fn on_root(engine: &dyn Engine, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let local = if engine.is_root() {
        guard_panics(f)
    } else {
        Ok(())
    };
    // The agreement is a barrier too ([`Engine::agree`]): no rank goes on before rank 0 has
    // finished `f`.
    engine.agree(local)
}

/// Runs this rank's share of `0..n` (per the engine's partition) on its workers, then agrees on
/// the outcome with every rank and meets at a barrier.
///
/// # Errors
/// The agreed error.
pub fn run_collective(
    engine: &dyn Engine,
    n: usize,
    timers: Option<&Timers>,
    task: &Task<'_>,
) -> Result<()> {
    let mine = engine.local_items(n);
    let local = engine.for_each_local(mine.len(), &|position| {
        crate::interrupt::check()?;
        task(mine[position])
    });
    finish_collective(engine, &engine.operation(n), local, timers)
}

/// Ends a collective operation: every rank agrees on the outcome of its share
/// ([`Engine::finish`]), which is a barrier too (the wait recorded as `barrier`).
///
/// # Errors
/// The agreed error.
pub fn finish_collective(
    engine: &dyn Engine,
    operation: &Operation,
    local: Result<()>,
    timers: Option<&Timers>,
) -> Result<()> {
    let waiting = timers.map(|t| t.start("barrier"));
    // The agreement is a barrier too ([`Engine::agree`]): a second one only added a wait for
    // the slowest rank to notice the first had ended.
    let agreed = engine.finish(operation, local);
    drop(waiting);
    agreed
}

/// Calls `f`, turning a panic into [`Error::WorkerPanic`].
pub(crate) fn guard_panics<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|payload| Err(Error::WorkerPanic(panic_message(&*payload))))
}

/// The text of a panic payload (`&str` or `String`), for reporting a caught panic.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_cover_everything_once() {
        for partition in [Partition::Cyclic, Partition::Block] {
            for size in 1..5 {
                for n in 0..11 {
                    let mut all: Vec<usize> = (0..size)
                        .flat_map(|rank| partition.items(rank, size, n))
                        .collect();
                    all.sort_unstable();
                    assert_eq!(all, (0..n).collect::<Vec<_>>(), "{partition:?} {size} {n}");
                }
            }
        }
        assert_eq!(Partition::Cyclic.items(1, 3, 8), vec![1, 4, 7]);
        assert_eq!(Partition::Block.items(0, 3, 8), vec![0, 1, 2]);
        assert_eq!(Partition::Block.items(2, 3, 8), vec![6, 7]);
    }

    #[test]
    fn partition_parse_names_value() {
        assert_eq!("block".parse::<Partition>().unwrap(), Partition::Block);
        let err = "round".parse::<Partition>().unwrap_err().to_string();
        assert!(
            err.contains("round") && err.contains("cyclic or block"),
            "{err}"
        );
    }
}
