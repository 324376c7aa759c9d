//! The threads engine: one process, a rayon pool of its own with a settable thread count.

use rayon::prelude::*;

use super::{guard_panics, Engine, Task};
use crate::error::{Error, Result};

/// Runs items on a private rayon thread pool.
#[derive(Debug)]
pub struct ThreadsEngine {
    pool: rayon::ThreadPool,
}

impl ThreadsEngine {
    /// A pool of `threads` workers; `None` uses one per available core.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] for 0 threads or when the pool cannot be started.
    pub fn new(threads: Option<usize>) -> Result<Self> {
        let threads = match threads {
            Some(0) => {
                return Err(Error::InvalidSetting {
                    name: "threads".into(),
                    value: "0".into(),
                    expected: "expected at least 1".into(),
                })
            }
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("chunkwise-{i}"))
            .build()
            .map_err(|e| Error::InvalidSetting {
                name: "threads".into(),
                value: threads.to_string(),
                expected: format!("the thread pool could not start: {e}"),
            })?;
        Ok(ThreadsEngine { pool })
    }
}

impl Engine for ThreadsEngine {
    fn name(&self) -> &'static str {
        "threads"
    }

    fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    fn for_each_local(&self, n: usize, task: &Task<'_>) -> Result<()> {
        self.pool.install(|| {
            (0..n)
                .into_par_iter()
                .with_max_len(1)
                .try_for_each(|position| guard_panics(|| task(position)))
        })
    }
}
