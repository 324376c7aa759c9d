//! Keeping ranks in step in an application under `mpiexec`.
//!
//! Every step of a command is either a collective call of the chunkwise API (whose errors the
//! ranks already agree on), a step every rank computes alike and then agrees on ([`agree`]), or
//! a step rank 0 alone performs ([`on_root`]). Agreed failures are printed by rank 0 only
//! ([`crate::report`]); any other failure is printed by its rank, which then exits at once so
//! the launcher ends the job instead of leaving the other ranks waiting.

use anyhow::Result;
use chunkwise::Connection;

/// An error every rank holds after agreeing; only rank 0 prints it.
#[derive(Debug)]
pub struct AgreedFailure(pub anyhow::Error);

impl std::fmt::Display for AgreedFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for AgreedFailure {}

/// True when every rank holds this error (an [`AgreedFailure`], or the core's agreed
/// `Error::Rank`, also inside a filter's error), so only rank 0 should print it.
pub fn is_agreed(error: &anyhow::Error) -> bool {
    error.downcast_ref::<AgreedFailure>().is_some()
        || error.chain().any(|cause| {
            cause.downcast_ref::<AgreedFailure>().is_some() || {
                let core = cause.downcast_ref::<chunkwise::Error>().or_else(|| {
                    // The filters' error wraps the core's transparently.
                    match cause.downcast_ref::<chunkwise_ndimage::NdimageError>() {
                        Some(chunkwise_ndimage::NdimageError::Core(core)) => Some(core),
                        _ => None,
                    }
                });
                matches!(core, Some(chunkwise::Error::Rank { .. }))
            }
        })
}

/// All ranks pass the outcome of a step each computed; all get `Ok` or an [`AgreedFailure`]
/// (this rank's own error when it failed, else the lowest failing rank's).
pub fn agree<T>(conn: &Connection, local: Result<T>) -> Result<T> {
    let status = match &local {
        Ok(_) => Ok(()),
        Err(error) => Err(chunkwise::Error::Unsupported(format!("{error:#}"))),
    };
    match (conn.engine().agree(status), local) {
        (Ok(()), Ok(value)) => Ok(value),
        (_, Err(error)) => Err(AgreedFailure(error).into()),
        (Err(remote), Ok(_)) => Err(AgreedFailure(remote.into()).into()),
    }
}

/// Runs `f` on rank 0 only; every rank then agrees on its outcome (which is a barrier too).
pub fn on_root(conn: &Connection, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let local = if conn.is_root() { f() } else { Ok(()) };
    agree(conn, local)
}
