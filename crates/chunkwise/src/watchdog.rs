//! The watchdog of collective operations: a read, computation or write of one block that has
//! not returned after the stage timeout (`io.stage_timeout`) is reported, and the process ends.
//!
//! A pipeline stage that *waits* too long already fails the operation (see [`crate::pipeline`]).
//! A call that never returns — a callback in an endless loop, a store call stuck on a dead
//! network mount — cannot be cancelled: its thread holds the operation, and under MPI every
//! other rank waits in the next agreement. Rather than hang, the watchdog prints one line
//! naming the operation, the stage, the block and the timeout, and exits with status
//! [`STUCK_EXIT`]; under MPI the launcher then ends the other ranks.
//!
//! One thread per process, started with the first watched call; it sleeps while nothing is
//! watched.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The exit status of a process ended by the watchdog (as `timeout(1)`'s).
pub const STUCK_EXIT: i32 = 124;

/// A watched call.
struct Call {
    started: Instant,
    timeout: Duration,
    what: String,
}

#[derive(Default)]
struct Registry {
    calls: Mutex<BTreeMap<u64, Call>>,
    changed: Condvar,
}

static REGISTRY: OnceLock<Registry> = OnceLock::new();
static NEXT: AtomicU64 = AtomicU64::new(0);

fn registry() -> &'static Registry {
    REGISTRY.get_or_init(|| {
        // The thread cannot be started: calls are then not watched (and can hang, as before).
        let _ = std::thread::Builder::new()
            .name("chunkwise-watchdog".into())
            .spawn(watch_loop);
        Registry::default()
    })
}

/// A call being watched; dropping it ends the watch.
pub(crate) struct Watch {
    id: u64,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let registry = registry();
        let mut calls = registry.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.remove(&self.id);
    }
}

/// Watches a call described by `what` (made only if it is reported) for `timeout`.
pub(crate) fn watch(timeout: Duration, what: impl FnOnce() -> String) -> Watch {
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let registry = registry();
    let mut calls = registry.calls.lock().unwrap_or_else(|p| p.into_inner());
    let was_empty = calls.is_empty();
    calls.insert(
        id,
        Call {
            started: Instant::now(),
            timeout,
            what: what(),
        },
    );
    if was_empty {
        registry.changed.notify_one();
    }
    Watch { id }
}

fn watch_loop() {
    let registry = registry();
    let mut calls = registry.calls.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let now = Instant::now();
        let next = calls
            .values()
            .map(|call| (call.started + call.timeout, call))
            .min_by_key(|(due, _)| *due);
        match next {
            None => {
                calls = registry
                    .changed
                    .wait(calls)
                    .unwrap_or_else(|p| p.into_inner());
            }
            Some((due, call)) if due <= now => {
                let program = crate::error::program_name();
                eprintln!(
                    "{program}: error: {} has not returned after {} s (io.stage_timeout); ending the process",
                    call.what,
                    call.timeout.as_secs_f64()
                );
                std::process::exit(STUCK_EXIT);
            }
            Some((due, _)) => {
                // Checked again at the earliest deadline (calls that end meanwhile are simply
                // gone then), and at least every second, for calls added since.
                let wait = (due - now).min(Duration::from_secs(1));
                calls = registry
                    .changed
                    .wait_timeout(calls, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }
}
