//! Building the engine and the connection from flags and configuration, the same way in every
//! application.

use std::sync::Arc;

use anyhow::{bail, Result};
use chunkwise::config::Config;
use chunkwise::memory::MemoryBudget;
use chunkwise::{Connection, Engine, Partition, SequentialEngine, Store, ThreadsEngine};
use chunkwise_mpi::{MpiEngine, MpiOptions};

/// Who processes the chunks of collective operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// One thread, chunks in order.
    Sequential,
    /// A thread pool (--threads).
    Threads,
    /// MPI ranks, each with a thread pool: run as `mpiexec -n N PROGRAM --engine mpi …`.
    /// Datasets are created and deleted as the store coordinates it (rank 0 for the DosNa
    /// store); collective work is split over ranks; only rank 0 prints.
    Mpi,
}

/// The engine flags of a command line; `None` leaves the value to the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineChoice {
    pub kind: EngineKind,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--partition`.
    pub partition: Option<Partition>,
}

/// The engine `choice` names, with the configuration's settings where the flags leave them
/// (under MPI this initialises MPI: call once, first).
///
/// # Errors
/// `--threads` with the sequential engine, or why the engine could not start.
pub fn engine(choice: EngineChoice, config: &Config) -> Result<Arc<dyn Engine>> {
    let threads = choice.threads.or(config.threads);
    Ok(match choice.kind {
        EngineKind::Sequential => {
            if let Some(n) = choice.threads {
                bail!("--threads {n} applies to the threads and mpi engines; the sequential engine uses one thread")
            }
            Arc::new(SequentialEngine)
        }
        EngineKind::Threads => Arc::new(ThreadsEngine::new(threads)?),
        EngineKind::Mpi => Arc::new(MpiEngine::init(MpiOptions {
            threads,
            partition: choice.partition.unwrap_or(config.partition),
            peer_timeout: config.peer_timeout,
            idle_wait: config.idle_wait,
        })?),
    })
}

/// `store` on `engine`, with the configuration's pipeline bounds and this rank's memory budget
/// (the node's memory shared among its ranks unless `max_memory` is set). Also makes the
/// application's one tuning call ([`chunkwise::tuning::install`]) with that budget.
///
/// # Errors
/// The engine cannot use the store (a store not shared between processes under several
/// ranks), or the budget cannot be worked out.
pub fn connect(
    store: Arc<dyn Store>,
    config: &Config,
    engine: Arc<dyn Engine>,
) -> Result<Connection> {
    let budget = MemoryBudget::from_config_per_rank(config, engine.ranks_on_node())?;
    // Chunk buffers are reused instead of mapped and zeroed anew for every chunk.
    chunkwise::tuning::install(budget.limit());
    Ok(Connection::new(store, engine)?
        .with_pipeline(config.pipeline_options())
        .with_memory_budget(budget))
}
