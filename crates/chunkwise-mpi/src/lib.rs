//! An MPI engine for chunkwise.
//!
//! Every rank opens the same store; datasets are created, finished and deleted as the store's
//! `Coordination` says (rank 0 alone, the others attaching, or every rank together), then all
//! ranks agree on the outcome, so every rank sees the same state. `load`, `map`, `apply` and `clear`
//! split the chunks over ranks (cyclic over the C-order chunk index by default, contiguous blocks
//! as an option), each rank works through its share on its own rayon pool, and the ranks then
//! agree on the outcome: every collective operation returns `Ok` on every rank, or the same
//! [`chunkwise::Error::Rank`] on every rank, naming the lowest failing rank and its error (which
//! names the chunk and the cause). An error or a panic in a user callback on one rank therefore
//! never leaves the others waiting.
//!
//! A rank killed outright (signal, out-of-memory killer) cannot take part in the agreement:
//! Open MPI's `mpiexec` then ends the whole job and reports the dead rank. A rank that panics
//! outside a callback aborts the job (`MPI_Abort`) for the same reason, instead of finalising
//! while the others wait. Chunk writes are atomic (temporary file + rename), so no chunk is ever
//! left half written either way.
//!
//! MPI is initialised with thread level *Funneled*: the rayon workers never call MPI; every MPI
//! call is made from the thread that created the engine, and is refused from any other.

mod doorbell;
mod engine;
mod error;
mod reports;

pub use chunkwise::engine::IdleWait;
pub use engine::{MpiEngine, MpiOptions};
pub use error::MpiError;
