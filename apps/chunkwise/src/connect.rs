//! Opening the connection the global options describe.

use std::sync::Arc;

use anyhow::{bail, Result};
use chunkwise::{
    Connection, Engine, Hdf5Store, Partition, RamStore, SequentialEngine, Store, ThreadsEngine,
};
use chunkwise_mpi::{MpiEngine, MpiOptions};

use crate::cli::{Backend, EngineKind, Global, PartitionKind};

/// The store of the global options on `engine`.
pub fn connect(global: &Global, engine: Arc<dyn Engine>) -> Result<Connection> {
    let store: Arc<dyn Store> = match global.backend {
        Backend::Hdf5 => Arc::new(Hdf5Store::new(&global.store)),
        Backend::Ram => Arc::new(RamStore::new()),
    };
    Ok(Connection::new(store, engine)?)
}

/// The engine of the global options (under MPI: initialises MPI).
pub fn engine(global: &Global) -> Result<Arc<dyn Engine>> {
    let engine: Arc<dyn Engine> = match (global.engine, global.threads) {
        (EngineKind::Sequential, Some(n)) => {
            bail!("--threads {n} applies to the threads engine; the sequential engine uses one thread")
        }
        (EngineKind::Sequential, None) => Arc::new(SequentialEngine),
        (EngineKind::Threads, threads) => Arc::new(ThreadsEngine::new(threads)?),
        (EngineKind::Mpi, threads) => {
            let partition = match global.partition {
                PartitionKind::Cyclic => Partition::Cyclic,
                PartitionKind::Block => Partition::Block,
            };
            Arc::new(MpiEngine::init(MpiOptions { threads, partition })?)
        }
    };
    Ok(engine)
}
