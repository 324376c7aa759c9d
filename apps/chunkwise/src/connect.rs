//! Opening the connection the global options describe.

use std::sync::Arc;

use anyhow::{bail, Result};
use chunkwise::{Connection, Engine, Hdf5Store, RamStore, SequentialEngine, Store, ThreadsEngine};

use crate::cli::{Backend, EngineKind, Global};

/// The store and engine of the global options.
pub fn connect(global: &Global) -> Result<Connection> {
    let store: Arc<dyn Store> = match global.backend {
        Backend::Hdf5 => Arc::new(Hdf5Store::new(&global.store)),
        Backend::Ram => Arc::new(RamStore::new()),
    };
    let engine: Arc<dyn Engine> = match (global.engine, global.threads) {
        (EngineKind::Sequential, Some(n)) => {
            bail!("--threads {n} applies to the threads engine; the sequential engine uses one thread")
        }
        (EngineKind::Sequential, None) => Arc::new(SequentialEngine),
        (EngineKind::Threads, threads) => Arc::new(ThreadsEngine::new(threads)?),
    };
    Ok(Connection::new(store, engine)?)
}
