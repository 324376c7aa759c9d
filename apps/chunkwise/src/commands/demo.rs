//! `demo`: the short end-to-end run of `scripts/run.sh` — create, load seeded random data chunk
//! by chunk, apply a function, verify, print info.

use std::time::Instant;

use anyhow::{ensure, Result};
use chunkwise::{Connection, Selection, SliceItem};
use ndarray::{ArrayD, IxDyn};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::parse;

/// The values of one chunk: seeded by the run's seed and the chunk's flat number, so every
/// engine and thread count produces the same dataset.
fn chunk_values(seed: u64, flat: usize, shape: &[usize]) -> ArrayD<f32> {
    let mut rng = StdRng::seed_from_u64(seed ^ (flat as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random::<f32>())
}

/// Runs the demo.
pub fn demo(conn: &Connection, name: &str, shape: &str, chunks: &str, seed: u64) -> Result<()> {
    let shape = parse::shape("--shape", shape)?;
    let chunks = parse::shape("--chunks", chunks)?;
    if conn.has_dataset(name)? {
        conn.delete_dataset(name)?;
    }
    let dataset = conn.create::<f32>(name, &shape, &chunks, 0.0)?;
    let layout = dataset.layout().clone();

    let started = Instant::now();
    dataset.load_with::<f32, _>(|chunk, bounds| {
        Ok(chunk_values(
            seed,
            layout.chunk_flat(chunk),
            &bounds.shape(),
        ))
    })?;
    let load_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    dataset.apply::<f32, _>(|_, block| Ok(block.mapv(|x| x * 2.0 + 1.0)))?;
    let apply_seconds = started.elapsed().as_secs_f64();

    for (flat, chunk) in layout.chunk_indices().enumerate() {
        let expected =
            chunk_values(seed, flat, &layout.chunk_valid_shape(&chunk)).mapv(|x| x * 2.0 + 1.0);
        ensure!(
            dataset.chunk(&chunk)?.read::<f32>()? == expected,
            "chunk {chunk:?} does not hold x*2+1"
        );
    }
    // The first few values along the last axis.
    let mut corner_items = vec![SliceItem::Index(0); layout.ndim() - 1];
    corner_items.push(SliceItem::range(0, 4));
    let corner = dataset.read::<f32>(&Selection::new(corner_items))?;

    let megabytes = (layout.len() * 4) as f64 / 1e6;
    println!(
        "demo: {} engine, {} thread(s), {} backend",
        conn.engine().name(),
        conn.engine().threads(),
        conn.store().backend()
    );
    println!("load  {megabytes:.1} MB of random f32 in {load_seconds:.3} s");
    println!(
        "apply x*2+1 to {} chunks in {apply_seconds:.3} s; verified every chunk",
        layout.num_chunks()
    );
    println!("first values: {corner}");
    println!();
    super::info::info(conn, name)
}
