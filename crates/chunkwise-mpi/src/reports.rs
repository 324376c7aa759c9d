//! Progress reports from every rank to rank 0 while an operation runs, so that rank 0's
//! progress bar counts every rank's chunks (see [`chunkwise::progress`]).
//!
//! Only the owner thread may call MPI, and it is blocked while this rank's workers run; so the
//! work runs on a helper thread and the owner thread, freed, reports: every other rank sends
//! its counts to rank 0 every [`REPORT_EVERY`] and once more when its work is over (a *final*
//! report); rank 0 receives them as they come and returns only once every rank's final report
//! is in. Reports travel on a communicator of their own, so they never match other messages,
//! and no report of an operation is left in flight after it: each rank's reports arrive in
//! order, its final one last.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use chunkwise::engine::Work;
use chunkwise::{Error, Progress, Result};
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

/// How often a rank other than 0 sends its counts.
const REPORT_EVERY: Duration = Duration::from_millis(200);

/// How often rank 0 looks for reports while its own work runs.
const RECEIVE_EVERY: Duration = Duration::from_millis(20);

/// How long rank 0 sleeps between looks once its own work is over.
const WAIT_FOR_FINALS: Duration = Duration::from_millis(1);

/// The message tag of reports.
const TAG: i32 = 17;

/// Runs `work` on a helper thread while the calling (owner) thread exchanges reports on
/// `reports`; returns `work`'s outcome. `Err(waited)` when the other ranks' final reports
/// did not all come within `peer_timeout` (rank 0 only).
pub(crate) fn run_reporting(
    reports: &SimpleCommunicator,
    progress: &Progress,
    peer_timeout: Option<Duration>,
    work: &Work<'_>,
) -> std::result::Result<Result<()>, Duration> {
    let rank = reports.rank();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let outcome = std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
                .unwrap_or_else(|payload| {
                    Err(Error::WorkerPanic(chunkwise::engine::panic_message(
                        &*payload,
                    )))
                });
            // The owner thread may have stopped listening only if it is unwinding itself.
            let _ = done_tx.send(());
            outcome
        });
        let tick = if rank == 0 {
            RECEIVE_EVERY
        } else {
            REPORT_EVERY
        };
        let mut finals = 0;
        // Until the work is over (or its thread is gone), every tick:
        while let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(tick) {
            if rank == 0 {
                finals += receive(reports, progress);
            } else {
                send(reports, progress, false);
            }
        }
        let outcome = worker.join().unwrap_or_else(|payload| {
            Err(Error::WorkerPanic(chunkwise::engine::panic_message(
                &*payload,
            )))
        });
        if rank != 0 {
            send(reports, progress, true);
        }
        (outcome, finals)
    });
    let (outcome, mut finals) = outcome;
    if rank == 0 {
        let others = usize::try_from(reports.size())
            .unwrap_or(1)
            .saturating_sub(1);
        let started = Instant::now();
        while finals < others {
            finals += receive(reports, progress);
            if finals >= others {
                break;
            }
            if let Some(timeout) = peer_timeout {
                if started.elapsed() >= timeout {
                    return Err(timeout);
                }
            }
            std::thread::sleep(WAIT_FOR_FINALS);
        }
    }
    Ok(outcome)
}

/// Sends this rank's counts to rank 0.
fn send(reports: &SimpleCommunicator, progress: &Progress, last: bool) {
    let (chunks, bytes) = progress.local();
    let message = [chunks, bytes, u64::from(last)];
    // Three numbers go eagerly: the send returns without waiting for rank 0.
    reports.process_at_rank(0).send_with_tag(&message[..], TAG);
}

/// Records every report that has arrived; returns how many were final.
fn receive(reports: &SimpleCommunicator, progress: &Progress) -> usize {
    let mut finals = 0;
    while let Some((message, status)) = reports.any_process().immediate_matched_probe_with_tag(TAG)
    {
        let mut counts = [0u64; 3];
        message.matched_receive_into(&mut counts[..]);
        let from = usize::try_from(status.source_rank()).unwrap_or(0);
        progress.record(from, counts[0], counts[1]);
        finals += usize::from(counts[2] == 1);
    }
    finals
}
