//! Signals that end a job — SIGINT (Ctrl-C), SIGTERM (a scheduler's time limit, `scancel`),
//! SIGHUP (a closed terminal) — turned into an error, so an interrupted collective operation
//! cleans up exactly as a failed one does (its half-made output deleted, every rank told).
//!
//! [`install`] is opt-in (the apps call it at start): after it, the first such signal is
//! recorded and every collective operation fails at its next chunk with
//! [`Error::Interrupted`]; a second one ends the process at once, as if no handler were set.
//! A process killed outright (SIGKILL, a lost node) runs no cleanup: its output stays
//! incomplete (see [`crate::Connection::begin_dataset`]), never readable as complete.

use std::sync::atomic::{AtomicI32, Ordering};

use crate::error::{Error, Result};

/// The first signal received since [`install`], or 0.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signals handled.
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

extern "C" fn on_signal(signal: libc::c_int) {
    if RECEIVED.swap(signal, Ordering::SeqCst) != 0 {
        // SAFETY: `signal` and `raise` are async-signal-safe; the default action ends the
        // process as the signal would have without a handler.
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
}

/// Handles SIGINT, SIGTERM and SIGHUP as described in the module docs.
///
/// # Errors
/// [`Error::Unsupported`] when a handler cannot be set.
pub fn install() -> Result<()> {
    for signal in SIGNALS {
        // SAFETY: `sigaction` is a plain C struct for which all zeroes is valid; the handler
        // only touches an atomic and async-signal-safe calls.
        let result = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if result != 0 {
            return Err(Error::Unsupported(format!(
                "cannot handle signal {}: {}",
                name(signal),
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok(())
}

/// The signal received since [`install`], if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Fails with [`Error::Interrupted`] once a signal was received.
///
/// # Errors
/// [`Error::Interrupted`] naming the signal.
pub fn check() -> Result<()> {
    match received() {
        None => Ok(()),
        Some(signal) => Err(Error::Interrupted {
            signal: name(signal).to_string(),
            number: signal,
        }),
    }
}

/// The usual name of a handled signal.
fn name(signal: libc::c_int) -> &'static str {
    match signal {
        libc::SIGINT => "SIGINT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGHUP => "SIGHUP",
        _ => "a signal",
    }
}
