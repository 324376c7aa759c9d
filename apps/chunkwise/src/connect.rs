//! Opening the connection the global options describe.

use std::sync::Arc;

use anyhow::{bail, Result};
use chunkwise::config::Config;
use chunkwise::memory::MemoryBudget;
use chunkwise::{Connection, Engine, Partition, RamStore, SequentialEngine, Store, ThreadsEngine};
use chunkwise_dosna::DosnaStore;
use chunkwise_mpi::{MpiEngine, MpiOptions};

use crate::cli::{Backend, EngineKind, Global, PartitionKind};

/// The store of the global options on `engine`, with the configuration's read-ahead and memory
/// budget.
pub fn connect(global: &Global, config: &Config, engine: Arc<dyn Engine>) -> Result<Connection> {
    let store: Arc<dyn Store> = match global.backend {
        Backend::Hdf5 => Arc::new(DosnaStore::new(&global.store).with_checksums(global.checksums)),
        Backend::Ram => Arc::new(RamStore::new()),
    };
    let pipeline = config.pipeline_options();
    let budget = MemoryBudget::from_config_per_rank(config, engine.ranks_on_node())?;
    // Chunk buffers are reused instead of mapped and zeroed anew for every chunk.
    chunkwise::tuning::install(budget.limit());
    Ok(Connection::new(store, engine)?
        .with_pipeline(pipeline)
        .with_memory_budget(budget))
}

/// The configuration of `--config` (or `CHUNKWISE_CONFIG`) and the environment.
pub fn config(global: &Global) -> Result<Config> {
    Ok(Config::load(global.config.as_deref())?)
}

/// The engine of the global options (under MPI: initialises MPI).
pub fn engine(global: &Global, config: &Config) -> Result<Arc<dyn Engine>> {
    let threads = global.threads.or(config.threads);
    let engine: Arc<dyn Engine> = match (global.engine, threads) {
        (EngineKind::Sequential, Some(n)) if global.threads.is_some() => {
            bail!("--threads {n} applies to the threads engine; the sequential engine uses one thread")
        }
        (EngineKind::Sequential, _) => Arc::new(SequentialEngine),
        (EngineKind::Threads, threads) => Arc::new(ThreadsEngine::new(threads)?),
        (EngineKind::Mpi, threads) => {
            let partition = match global.partition {
                Some(PartitionKind::Cyclic) => Partition::Cyclic,
                Some(PartitionKind::Block) => Partition::Block,
                None => config.partition,
            };
            Arc::new(MpiEngine::init(MpiOptions {
                threads,
                partition,
                peer_timeout: config.peer_timeout,
                idle_wait: config.idle_wait,
            })?)
        }
    };
    Ok(engine)
}
