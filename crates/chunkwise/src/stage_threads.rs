//! Threads for the pipeline's reader and writer stages, kept from one operation to the next.
//!
//! Why: starting and joining reader threads in every operation is on the critical path of every
//! pass, which for small datasets takes only milliseconds; parked threads wake in a few
//! microseconds.
//!
//! A lease is a pool of exactly the threads asked for, used by one pipeline alone until it is
//! dropped, so a stage that blocks (a reader waiting for room in its buffer) never holds up
//! another pipeline's stages: pipelines running at once lease different pools. Returned pools
//! are kept, at most [`KEPT_PER_SIZE`] of each size; the threads of a pool not kept end.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rayon::{ThreadPool, ThreadPoolBuilder};

use crate::error::{Error, Result};

/// Idle pools kept per number of threads.
const KEPT_PER_SIZE: usize = 4;

type Idle = Mutex<HashMap<usize, Vec<ThreadPool>>>;

fn idle() -> &'static Idle {
    static IDLE: OnceLock<Idle> = OnceLock::new();
    IDLE.get_or_init(Idle::default)
}

/// A pool of threads for one pipeline's stages, returned to the idle pools when dropped.
pub(crate) struct StageThreads {
    pool: Option<ThreadPool>,
}

impl StageThreads {
    /// A pool of `threads` threads (at least 1), for the caller alone until dropped.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when no idle pool was kept and the threads could not be started.
    pub(crate) fn lease(threads: usize) -> Result<StageThreads> {
        let threads = threads.max(1);
        let kept = idle()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(&threads)
            .and_then(Vec::pop);
        let pool = match kept {
            Some(pool) => pool,
            None => ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|i| format!("chunkwise-stage-{i}"))
                .build()
                .map_err(|e| {
                    Error::Unsupported(format!(
                        "cannot start {threads} threads for the pipeline's stages: {e}"
                    ))
                })?,
        };
        Ok(StageThreads { pool: Some(pool) })
    }

    /// The leased pool.
    pub(crate) fn pool(&self) -> &ThreadPool {
        self.pool
            .as_ref()
            .expect("a lease holds its pool until dropped")
    }
}

impl Drop for StageThreads {
    fn drop(&mut self) {
        let Some(pool) = self.pool.take() else {
            return;
        };
        let mut idle = idle().lock().unwrap_or_else(|p| p.into_inner());
        let pools = idle.entry(pool.current_num_threads()).or_default();
        if pools.len() < KEPT_PER_SIZE {
            pools.push(pool);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Barrier;

    use super::*;

    /// The names of the threads that run `n` jobs of `pool` at once.
    fn thread_names(pool: &ThreadPool, n: usize) -> HashSet<String> {
        let barrier = Barrier::new(n);
        let names = Mutex::new(HashSet::new());
        pool.in_place_scope(|scope| {
            for _ in 0..n {
                scope.spawn(|_| {
                    // Every job waits for the others: the pool runs `n` at once or never ends.
                    barrier.wait();
                    let name = std::thread::current().name().map(str::to_string);
                    names.lock().unwrap().insert(name.unwrap_or_default());
                });
            }
        });
        names.into_inner().unwrap()
    }

    #[test]
    fn a_lease_runs_as_many_jobs_at_once_as_it_has_threads() {
        let lease = StageThreads::lease(3).unwrap();
        assert_eq!(lease.pool().current_num_threads(), 3);
        let names = thread_names(lease.pool(), 3);
        assert_eq!(names.len(), 3);
        assert!(names.iter().all(|n| n.starts_with("chunkwise-stage-")));
        assert_eq!(
            StageThreads::lease(0).unwrap().pool().current_num_threads(),
            1
        );
    }

    #[test]
    fn leases_held_at_once_are_different_pools_and_returned_ones_are_used_again() {
        // A size no other test leases, so the idle pools of other tests do not interfere.
        let size = 5;
        let threads = |lease: &StageThreads| -> HashSet<std::thread::ThreadId> {
            lease
                .pool()
                .broadcast(|_| std::thread::current().id())
                .into_iter()
                .collect()
        };
        let first = StageThreads::lease(size).unwrap();
        let second = StageThreads::lease(size).unwrap();
        let (of_first, of_second) = (threads(&first), threads(&second));
        assert_eq!(of_first.len(), size);
        assert!(of_first.is_disjoint(&of_second));
        drop(first);
        drop(second);
        // The pool returned last is leased first: the second's, then the first's.
        let again = StageThreads::lease(size).unwrap();
        let again2 = StageThreads::lease(size).unwrap();
        assert_eq!(threads(&again), of_second);
        assert_eq!(threads(&again2), of_first);
        drop((again, again2));
        let kept = idle().lock().unwrap().get(&size).map_or(0, Vec::len);
        assert_eq!(kept, 2);
    }
}
