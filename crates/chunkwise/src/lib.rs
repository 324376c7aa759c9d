//! chunkwise: N-dimensional arrays stored as grids of chunks in a storage backend and processed
//! in parallel by an engine.
//!
//! ```
//! use std::sync::Arc;
//! use chunkwise::{Connection, RamStore, SequentialEngine, Selection};
//! use ndarray::ArrayD;
//!
//! let conn = Connection::new(Arc::new(RamStore::new()), Arc::new(SequentialEngine))?;
//! let ds = conn.create::<f32>("data", &[10, 10], &[4, 4], 0.0)?;
//! ds.write_value(&Selection::parse("2:5, :")?, 1.5f32)?;
//! let doubled = ds.map::<f32, _>("doubled", |_chunk, block| Ok(block.mapv(|x| x * 2.0)))?;
//! let row: ArrayD<f32> = doubled.read(&Selection::parse("3")?)?;
//! assert!(row.iter().all(|&x| x == 3.0));
//! # Ok::<(), chunkwise::Error>(())
//! ```
//!
//! Layers: [`layout`] (all index math), [`selection`] (numpy-like selections), [`dtype`],
//! [`store`] (the store traits, [`RamStore`], and [`store::support`] for backends in their own crates, such as `chunkwise-dosna`), [`engine`] (who does which chunk:
//! [`SequentialEngine`], [`ThreadsEngine`]; MPI lives in its own crate), and
//! [`Connection`] → [`Dataset`] → [`Chunk`] on top.

mod array;
#[cfg(feature = "tuning")]
mod block_pool;
pub mod boundary;
pub mod cast;
pub mod chunk;
mod chunk_cache;
pub mod config;
pub mod connection;
pub mod dataset;
mod direct_read;
pub mod dtype;
pub mod engine;
pub mod error;
pub mod exact_sum;
mod execution;
mod gather;
pub mod interrupt;
pub mod layout;
pub mod memory;
mod operations;
pub mod pipeline;
mod plan;
pub mod process;
pub mod progress;
pub mod reduce;
pub mod region;
pub mod selection;
mod slab;
mod stage_threads;
pub mod stats;
pub mod store;
pub mod timers;
pub mod watchdog;

#[cfg(feature = "testing")]
pub mod conformance;
#[cfg(feature = "tuning")]
pub mod tuning;

pub use array::into_c_vec;
pub use boundary::Boundary;
pub use chunk::Chunk;
pub use connection::Connection;
pub use dataset::{Dataset, DatasetInfo};
pub use dtype::{ChunkData, DType, Element, Scalar};
pub use engine::{batched_map, Engine, Partition, SequentialEngine, ThreadsEngine};
pub use error::{CallbackError, Error, Result};
pub use layout::{ChunkPart, Layout};
pub use operations::BlockLayout;
pub use pipeline::{run_pipeline, PipelineOptions};
pub use progress::{Progress, ProgressSnapshot};
pub use reduce::{Block, Reduction};
pub use region::{AxisSlice, Region};
pub use selection::{Selection, SliceItem};
pub use stats::{Histogram, Number, Stats, Summary};
pub use store::ram::RamStore;
pub use store::{
    BufferedChunkWriter, Capabilities, ChunkRead, ChunkStore, ChunkUpdates, ChunkWrite,
    ChunkWriter, Coordination, DatasetHandle, DatasetMeta, Store,
};
pub use timers::{Spread, TimerReport, TimerStat, Timers};
