//! Progress of the operation running on a connection, for a progress bar or a log line.
//!
//! Operations count what they have written (chunks and bytes) into the connection's
//! [`Progress`]; an application reads [`Progress::snapshot`] from another thread and draws it.
//! Under a multi-process engine every rank counts its own share, and when the progress is
//! [watched](Progress::watch) the engine forwards the other ranks' counts to rank 0 while the
//! operation runs ([`crate::Engine::report_while`]), so rank 0's snapshot counts every rank's
//! chunks. Counting costs two relaxed atomic additions per block written.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counters of the operation running on a connection (see the module docs).
#[derive(Debug, Default)]
pub struct Progress {
    /// Whether an application shows this progress; see [`Progress::watch`].
    watched: AtomicBool,
    /// This rank's chunks and bytes done in the current operation.
    chunks: AtomicU64,
    bytes: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default, Clone)]
struct State {
    /// Number of operations begun so far; identifies the current one.
    operation: u64,
    label: String,
    total_chunks: u64,
    total_bytes: u64,
    /// The other ranks' counts in the current operation, by rank (rank 0: itself, unused).
    others: Vec<(u64, u64)>,
    outcome: Option<bool>,
    started: Option<Instant>,
    /// Set by [`Progress::end`].
    took: Option<Duration>,
}

/// What [`Progress::snapshot`] saw.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProgressSnapshot {
    /// Number of operations begun so far: a new value means a new operation.
    pub operation: u64,
    /// What the operation does, e.g. `import of dataset "x"`.
    pub label: String,
    /// Chunks and bytes the operation writes in all (every rank's).
    pub total_chunks: u64,
    pub total_bytes: u64,
    /// Chunks and bytes written so far (on rank 0 of a watched multi-process job: every
    /// rank's; elsewhere this rank's).
    pub done_chunks: u64,
    pub done_bytes: u64,
    /// `Some(true)` once the operation succeeded, `Some(false)` once it failed, `None` while
    /// it runs.
    pub outcome: Option<bool>,
    /// Time since the operation began (until it ended, once it has).
    pub elapsed: Duration,
}

impl ProgressSnapshot {
    /// Bytes per second so far (0 before any time has passed).
    pub fn bytes_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.done_bytes as f64 / seconds
        } else {
            0.0
        }
    }

    /// The time left at the rate so far; `None` before anything is done.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.bytes_per_second();
        (rate > 0.0 && self.done_bytes > 0).then(|| {
            Duration::from_secs_f64(self.total_bytes.saturating_sub(self.done_bytes) as f64 / rate)
        })
    }
}

impl Progress {
    /// Counters for a connection; nobody watches them yet.
    pub fn new() -> Self {
        Progress::default()
    }

    /// Marks the progress as shown by the application. Must be called alike on every rank
    /// (it decides whether the ranks send their counts to rank 0): an application decides it
    /// from its arguments, never from a rank's own terminal.
    pub fn watch(&self, watched: bool) {
        self.watched.store(watched, Ordering::Relaxed);
    }

    /// Whether [`Progress::watch`] was called with `true`.
    pub fn is_watched(&self) -> bool {
        self.watched.load(Ordering::Relaxed)
    }

    /// Starts counting a new operation of `total_chunks` chunks and `total_bytes` bytes.
    pub fn begin(&self, label: impl Into<String>, total_chunks: u64, total_bytes: u64) {
        let mut state = self.lock();
        state.operation += 1;
        state.label = label.into();
        state.total_chunks = total_chunks;
        state.total_bytes = total_bytes;
        state.others.clear();
        state.outcome = None;
        state.started = Some(Instant::now());
        state.took = None;
        self.chunks.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
    }

    /// Counts `chunks` chunks (completed) and `bytes` bytes written by this rank.
    pub fn add(&self, chunks: u64, bytes: u64) {
        self.chunks.fetch_add(chunks, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// This rank's chunks and bytes in the current operation.
    pub fn local(&self) -> (u64, u64) {
        (
            self.chunks.load(Ordering::Relaxed),
            self.bytes.load(Ordering::Relaxed),
        )
    }

    /// Records what rank `rank` reported for the current operation (on rank 0).
    pub fn record(&self, rank: usize, chunks: u64, bytes: u64) {
        let mut state = self.lock();
        if state.others.len() <= rank {
            state.others.resize(rank + 1, (0, 0));
        }
        // Reports of one rank arrive in order; a count never goes back.
        let slot = &mut state.others[rank];
        *slot = (slot.0.max(chunks), slot.1.max(bytes));
    }

    /// Ends the current operation (the counts stay as they are).
    pub fn end(&self, succeeded: bool) {
        let mut state = self.lock();
        state.outcome = Some(succeeded);
        state.took = state.started.map(|started| started.elapsed());
    }

    /// The counts now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let state = self.lock().clone();
        let (chunks, bytes) = self.local();
        let others = state
            .others
            .iter()
            .fold((0u64, 0u64), |(c, b), &(oc, ob)| (c + oc, b + ob));
        let (done_chunks, done_bytes) = (chunks + others.0, bytes + others.1);
        ProgressSnapshot {
            operation: state.operation,
            label: state.label,
            total_chunks: state.total_chunks,
            total_bytes: state.total_bytes,
            done_chunks: done_chunks.min(state.total_chunks),
            done_bytes: done_bytes.min(state.total_bytes),
            outcome: state.outcome,
            elapsed: state
                .took
                .or_else(|| state.started.map(|started| started.elapsed()))
                .unwrap_or_default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_this_rank_and_the_reported_ones() {
        let progress = Progress::new();
        progress.begin("import", 10, 1000);
        progress.add(1, 100);
        progress.add(0, 50);
        progress.record(1, 2, 200);
        progress.record(2, 1, 100);
        // A late report of an earlier count does not lower it.
        progress.record(1, 1, 100);
        let seen = progress.snapshot();
        assert_eq!(seen.operation, 1);
        assert_eq!(seen.label, "import");
        assert_eq!((seen.done_chunks, seen.done_bytes), (4, 450));
        assert_eq!(seen.outcome, None);
        progress.record(1, 8, 800);
        progress.add(1, 50);
        progress.end(true);
        let seen = progress.snapshot();
        // Never beyond the totals.
        assert_eq!((seen.done_chunks, seen.done_bytes), (10, 1000));
        assert_eq!(seen.outcome, Some(true));
        // A new operation starts from nothing.
        progress.begin("filter", 4, 400);
        let seen = progress.snapshot();
        assert_eq!(seen.operation, 2);
        assert_eq!((seen.done_chunks, seen.done_bytes), (0, 0));
    }

    #[test]
    fn a_failed_operation_keeps_its_counts() {
        let progress = Progress::new();
        progress.begin("copy", 4, 400);
        progress.add(1, 100);
        progress.end(false);
        let seen = progress.snapshot();
        assert_eq!((seen.done_chunks, seen.done_bytes), (1, 100));
        assert_eq!(seen.outcome, Some(false));
    }

    #[test]
    fn rate_and_time_left_follow_the_counts() {
        let seen = ProgressSnapshot {
            total_bytes: 1000,
            done_bytes: 250,
            elapsed: Duration::from_secs(2),
            ..ProgressSnapshot::default()
        };
        assert_eq!(seen.bytes_per_second(), 125.0);
        assert_eq!(seen.eta(), Some(Duration::from_secs(6)));
        let nothing = ProgressSnapshot {
            elapsed: Duration::from_secs(2),
            ..seen
        };
        let nothing = ProgressSnapshot {
            done_bytes: 0,
            ..nothing
        };
        assert_eq!(nothing.eta(), None);
    }
}
