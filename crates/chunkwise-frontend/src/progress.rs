//! A progress bar on stderr for the operations of a connection: chunks done of total, bytes/s
//! and the time left, drawn by rank 0 from the connection's [`chunkwise::Progress`].
//!
//! Whether a bar is drawn is decided from the arguments alone, alike on every rank (the ranks
//! then send their counts to rank 0, see [`chunkwise::Engine::report_while`]): `auto` draws on
//! a terminal and never under the MPI engine, whose ranks' output reaches the terminal through
//! the launcher (where a rank cannot tell a terminal from a log); `always` draws under MPI too.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use chunkwise::{Connection, Progress, ProgressSnapshot};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// When to draw a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProgressMode {
    /// On a terminal, with the threads or sequential engine.
    #[default]
    Auto,
    /// Always on stderr (rank 0 under MPI), also when it is a pipe or a log.
    Always,
    /// Never.
    Never,
}

impl ProgressMode {
    /// Whether a bar is drawn with `engine` (the engine's name): the same answer on every rank.
    pub fn draws(self, engine: &str) -> bool {
        match self {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => engine != "mpi" && std::io::stderr().is_terminal(),
        }
    }
}

/// The bar's drawing thread; stops (leaving the last operation's line) when dropped.
#[derive(Debug)]
pub struct ProgressDisplay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ProgressDisplay {
    /// Watches `conn`'s progress as `mode` says (call on every rank); draws on rank 0.
    pub fn start(conn: &Connection, mode: ProgressMode) -> ProgressDisplay {
        let draws = mode.draws(conn.engine().name());
        let progress = conn.progress().clone();
        progress.watch(draws);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = (draws && conn.is_root()).then(|| {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("chunkwise-progress".into())
                .spawn(move || draw(&progress, &stop))
                .ok()
        });
        ProgressDisplay {
            stop,
            thread: thread.flatten(),
        }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(100);

/// Draws one bar per operation until `stop`.
fn draw(progress: &Progress, stop: &AtomicBool) {
    let mut shown: Option<(u64, ProgressBar)> = None;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let now = progress.snapshot();
        if now.operation > 0 {
            let bar = match &shown {
                Some((operation, bar)) if *operation == now.operation => bar.clone(),
                _ => {
                    if let Some((_, old)) = shown.take() {
                        old.finish();
                    }
                    let bar = new_bar(&now);
                    shown = Some((now.operation, bar.clone()));
                    bar
                }
            };
            update(&bar, &now);
            match now.outcome {
                Some(true) => bar.finish(),
                Some(false) => bar.abandon(),
                None => {}
            }
        }
        if stopping {
            if let Some((_, bar)) = shown {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
            return;
        }
        std::thread::sleep(TICK);
    }
}

fn new_bar(now: &ProgressSnapshot) -> ProgressBar {
    let bar = ProgressBar::hidden();
    let style = ProgressStyle::with_template("{prefix} [{wide_bar}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_prefix(now.label.clone());
    update(&bar, now);
    bar.set_draw_target(ProgressDrawTarget::term_like_with_hz(
        Box::new(console::Term::stderr()),
        10,
    ));
    bar
}

fn update(bar: &ProgressBar, now: &ProgressSnapshot) {
    bar.set_length(now.total_bytes);
    bar.set_position(now.done_bytes);
    let eta = match (now.outcome, now.eta()) {
        (Some(_), _) => format!("in {}", duration(now.elapsed)),
        (None, Some(left)) => format!("ETA {}", duration(left)),
        (None, None) => "ETA -".to_string(),
    };
    bar.set_message(format!(
        "{}/{} chunks {}/{} {}/s {eta}",
        now.done_chunks,
        now.total_chunks,
        indicatif::BinaryBytes(now.done_bytes),
        indicatif::BinaryBytes(now.total_bytes),
        indicatif::BinaryBytes(now.bytes_per_second() as u64),
    ));
}

/// `1.2s`, `42s`, `3m05s`, `2h01m`.
fn duration(time: Duration) -> String {
    let seconds = time.as_secs_f64();
    if seconds < 10.0 {
        format!("{seconds:.1}s")
    } else if seconds < 60.0 {
        format!("{seconds:.0}s")
    } else if seconds < 3600.0 {
        let s = seconds as u64;
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        let m = seconds as u64 / 60;
        format!("{}h{:02}m", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_clock() {
        assert_eq!(duration(Duration::from_millis(1234)), "1.2s");
        assert_eq!(duration(Duration::from_secs(42)), "42s");
        assert_eq!(duration(Duration::from_secs(185)), "3m05s");
        assert_eq!(duration(Duration::from_secs(7260)), "2h01m");
    }

    #[test]
    fn never_draws_what_was_not_asked() {
        assert!(!ProgressMode::Never.draws("threads"));
        assert!(ProgressMode::Always.draws("mpi"));
        assert!(!ProgressMode::Auto.draws("mpi"));
    }
}
