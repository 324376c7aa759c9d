//! The error type of the MPI engine crate.

/// What can go wrong starting the MPI engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MpiError {
    /// MPI was initialised already in this process.
    #[error("MPI is already initialised in this process; create one MpiEngine per process")]
    AlreadyInitialized,
    /// The MPI library does not give the thread level the engine needs.
    #[error("the MPI library provides thread level {provided}; expected at least Funneled")]
    ThreadLevel { provided: String },
    /// An error of the core crate (bad thread count, …).
    #[error(transparent)]
    Core(#[from] chunkwise::Error),
}
