//! The yardstick of `scripts/bench-stats.sh`: a pass over a dataset that only reads its chunks,
//! through the same reduction machinery as `chunkwise stats` (read-ahead pipeline, workers,
//! merge) with a fold that only counts the elements.
//!
//!   cargo run --release --example read_pass -- STORE_DIR DATASET

use std::sync::Arc;

use anyhow::{Context, Result};
use chunkwise::config::Config;
use chunkwise::{Block, Reduction, Selection};
use chunkwise_frontend::{EngineChoice, StoreLocation, StoreOptions};

/// Counts the elements it is given.
struct Count;

impl Reduction for Count {
    type State = u64;

    fn init(&self) -> u64 {
        0
    }

    fn fold(&self, count: &mut u64, block: &Block<'_>) -> chunkwise::Result<()> {
        *count += block.values.len() as u64;
        Ok(())
    }

    fn merge(&self, into: &mut u64, other: u64) {
        *into += other;
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (store, name) = match args.as_slice() {
        [_, store, name] => (store, name),
        _ => anyhow::bail!("usage: read_pass STORE_DIR DATASET"),
    };
    let config = Config::load(None)?;
    let engine = chunkwise_frontend::engine(
        EngineChoice {
            kind: chunkwise_frontend::EngineKind::Threads,
            threads: None,
            partition: None,
        },
        &config,
    )?;
    let location: StoreLocation = store.parse()?;
    let conn = chunkwise_frontend::connect(
        location.open(StoreOptions::default()),
        &config,
        Arc::clone(&engine),
    )?;
    let dataset = conn.dataset(name).context("the dataset to read")?;
    let count = dataset.reduce(&Selection::all(), &Count)?;
    println!("{count} elements read");
    Ok(())
}
