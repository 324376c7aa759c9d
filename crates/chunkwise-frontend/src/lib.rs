//! The front end chunkwise's applications share, built on the libraries' public API like any
//! user's program: a store opened from a location (`dosna:/path`, `ram`, a plain path), an
//! engine from its name and the configuration, a connection with the configuration's pipeline
//! bounds and memory budget, and the rank-aware agreement and error reporting that keep MPI
//! ranks in step and print each failure once.

pub mod agree;
pub mod choices;
pub mod connect;
pub mod location;
pub mod progress;
pub mod report;

pub use agree::{agree, is_agreed, on_root, AgreedFailure};
pub use choices::{BoundaryMode, PartitionKind};
pub use connect::{connect, engine, EngineChoice, EngineKind};
pub use location::{StoreLocation, StoreOptions};
pub use progress::{ProgressDisplay, ProgressMode};
pub use report::{exit_code, parse_args, usage_error_line};
