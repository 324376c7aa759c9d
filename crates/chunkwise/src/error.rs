//! The one error type of the core crate.
//!
//! Every message names the offending value and what was expected, so a CLI can print it as is.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error raised by a user callback passed to `map`, `apply` or `load_with`.
pub type CallbackError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in chunkwise.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No dataset of that name exists in the store.
    #[error("dataset \"{0}\" not found")]
    DatasetNotFound(String),
    /// The process received a signal that ends jobs (see [`crate::interrupt`]).
    #[error("interrupted by {signal}")]
    Interrupted { signal: String, number: i32 },
    /// A dataset begun by a job that has not finished it: interrupted, or still running.
    #[error("dataset \"{0}\" is incomplete: the job writing it did not finish (it was interrupted, or is still running); run the job again to replace it, or remove it")]
    DatasetIncomplete(String),
    /// A dataset of that name exists already.
    #[error("dataset \"{0}\" already exists")]
    DatasetExists(String),
    /// A dataset name that cannot be stored.
    #[error("invalid dataset name \"{name}\": {expected}", name = name.escape_debug())]
    InvalidName { name: String, expected: String },
    /// A shape or chunk shape that cannot describe a dataset.
    #[error("invalid layout: {0}")]
    InvalidLayout(String),
    /// A selection that cannot be parsed or does not fit the dataset.
    #[error("selection \"{selection}\" {problem}")]
    Selection { selection: String, problem: String },
    /// A dtype name that chunkwise does not know.
    #[error("unknown dtype \"{0}\": expected one of u8 u16 u32 u64 i8 i16 i32 i64 f32 f64 or a numpy name such as <f4, |u1, <i8")]
    UnknownDType(String),
    /// The element type asked for differs from the dataset's.
    #[error("dtype mismatch: {context} holds {stored}, but {requested} was used")]
    DTypeMismatch {
        context: String,
        stored: String,
        requested: String,
    },
    /// An array whose shape differs from the one required.
    #[error("shape mismatch: {context}: expected {expected}, got {got}")]
    ShapeMismatch {
        context: String,
        expected: String,
        got: String,
    },
    /// A chunk index outside the chunk grid.
    #[error("chunk index {index} is outside the chunk grid {grid}")]
    ChunkOutOfRange { index: String, grid: String },
    /// A value that does not parse as, or fit in, the dataset's element type.
    #[error("invalid value \"{value}\" for dtype {dtype}: {problem}")]
    InvalidValue {
        value: String,
        dtype: String,
        problem: String,
    },
    /// An error of a store's storage library or service (HDF5, a Zarr or object-store client,
    /// librados), at `location` (a path, an object name). Its cause is part of the message,
    /// and not also a `source`, so that printing the error chain says it once; libraries whose
    /// messages run over many lines (HDF5's error stacks) give their first.
    #[error("{backend} error at {location}: {cause}", cause = first_line(&cause.to_string()))]
    Store {
        backend: &'static str,
        location: String,
        cause: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// An operating-system I/O error (its cause part of the message, said once).
    #[error("I/O error at {path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// Stored data that does not follow the on-disk format.
    #[error("corrupt data at {path}: {problem}")]
    Corrupt { path: PathBuf, problem: String },
    /// A user callback returned an error.
    #[error("callback failed on chunk {chunk}: {message}")]
    Callback { chunk: String, message: String },
    /// A user callback panicked.
    #[error("callback panicked on chunk {chunk}: {message}")]
    Panic { chunk: String, message: String },
    /// A task of an engine panicked outside a user callback.
    #[error("a worker panicked: {0}")]
    WorkerPanic(String),
    /// An engine or store cannot do what was asked.
    #[error("{0}")]
    Unsupported(String),
    /// The error every rank of a multi-process engine returns when a collective operation failed
    /// on some rank: the lowest failing rank and its error message.
    #[error("rank {rank}: {message}{others}", others = others_failed(*.failed_ranks))]
    Rank {
        rank: usize,
        message: String,
        failed_ranks: usize,
    },
    /// A communication error between processes.
    #[error("communication error: {0}")]
    Communication(String),
    /// A configuration value that is unknown, out of range or unparsable.
    #[error("invalid configuration {key} = {value} (from {origin}): {expected}")]
    Config {
        key: String,
        value: String,
        origin: String,
        expected: String,
    },
    /// An array that fits neither the memory budget nor the temporary storage.
    #[error("cannot hold an array of {asked} bytes: {memory_free} bytes of the memory budget and {temp_free} bytes of temporary storage in {temp_dir} are free; raise resources.max_memory or resources.max_temp_storage, or work on smaller pieces")]
    OutOfMemory {
        asked: u64,
        memory_free: u64,
        temp_free: u64,
        temp_dir: PathBuf,
    },
    /// An operation whose smallest working set does not fit the free memory budget.
    #[error("{operation} needs at least {needed} bytes of memory for {what}, but {available} bytes of the memory budget are free; raise resources.max_memory or work on smaller pieces")]
    BudgetTooSmall {
        operation: String,
        what: String,
        needed: u64,
        available: u64,
    },
    /// A bad setting (thread count, partition, …).
    #[error("invalid setting {name} = {value}: {expected}")]
    InvalidSetting {
        name: String,
        value: String,
        expected: String,
    },
}

impl Error {
    /// [`Error::Io`] at `path`.
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }

    /// [`Error::Store`]: `backend` names the library or service (`HDF5`, `RADOS`, …).
    pub fn store(
        backend: &'static str,
        location: impl std::fmt::Display,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Error::Store {
            backend,
            location: location.to_string(),
            cause: cause.into(),
        }
    }
}

/// The first line of a library's message (HDF5 error stacks run over many lines), trimmed.
fn first_line(message: &str) -> &str {
    message
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("")
}

fn others_failed(failed_ranks: usize) -> String {
    match failed_ranks {
        0 | 1 => String::new(),
        n => format!(" ({n} ranks failed; the lowest is shown)"),
    }
}

/// The running program's name (its file name), for the messages chunkwise prints itself when
/// it must end the process (the watchdog, a lost MPI rank), in the `PROGRAM: error: …` form
/// the apps use.
pub fn program_name() -> String {
    std::env::args()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "chunkwise".into())
}

/// Formats a shape or index the way numpy prints tuples: `(100, 100, 100)`, `(5,)`.
pub fn fmt_tuple(values: &[usize]) -> String {
    match values {
        [one] => format!("({one},)"),
        _ => {
            let inner: Vec<String> = values.iter().map(|v| v.to_string()).collect();
            format!("({})", inner.join(", "))
        }
    }
}
