//! `demo`: the short end-to-end run of `scripts/run.sh` — create, load seeded random data chunk
//! by chunk, apply a function, verify, print timings and info. Works on every engine; under MPI
//! every rank loads, applies and verifies its own chunks and rank 0 reports.

use std::time::Instant;

use anyhow::{ensure, Result};
use chunkwise::{Connection, Selection, SliceItem};
use ndarray::{ArrayD, IxDyn};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::parse;
use chunkwise_frontend::{agree, on_root};

/// The values of one chunk: seeded by the run's seed and the chunk's flat number, so every
/// engine, rank count and thread count produces the same dataset.
fn chunk_values(seed: u64, flat: usize, shape: &[usize]) -> ArrayD<f32> {
    let mut rng = StdRng::seed_from_u64(seed ^ (flat as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    ArrayD::from_shape_simple_fn(IxDyn(shape), || rng.random::<f32>())
}

/// Runs the demo.
pub fn demo(
    conn: &Connection,
    location: &chunkwise_frontend::StoreLocation,
    name: &str,
    shape: &str,
    chunks: &str,
    seed: u64,
) -> Result<()> {
    let (shape, chunks) = agree(conn, parse_shapes(shape, chunks))?;
    on_root(conn, || {
        if conn.has_dataset(name)? {
            conn.store().delete_dataset(name)?;
        }
        Ok(())
    })?;
    let dataset = conn.create::<f32>(name, &shape, &chunks, 0.0)?;
    let layout = dataset.layout().clone();
    let engine = conn.engine();

    engine.barrier()?;
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

    // Each rank verifies its own chunks.
    let verified = engine
        .local_items(layout.num_chunks())
        .into_iter()
        .try_for_each(|flat| {
            let chunk = layout.chunk_index(flat);
            let expected =
                chunk_values(seed, flat, &layout.chunk_valid_shape(&chunk)).mapv(|x| x * 2.0 + 1.0);
            ensure!(
                dataset.chunk(&chunk)?.read::<f32>()? == expected,
                "chunk {chunk:?} does not hold x*2+1"
            );
            Ok(())
        });
    agree(conn, verified)?;
    let report = conn.timers().gather(engine.as_ref())?;

    on_root(conn, || {
        // The first few values along the last axis.
        let mut corner_items = vec![SliceItem::Index(0); layout.ndim() - 1];
        corner_items.push(SliceItem::range(
            0,
            4.min(layout.shape()[layout.ndim() - 1] as isize),
        ));
        let corner = dataset.read::<f32>(&Selection::new(corner_items))?;
        let gigabytes = (layout.len() * 4) as f64 / 1e9;
        println!(
            "demo: {} engine, {} rank(s) × {} thread(s), {} backend",
            engine.name(),
            engine.size(),
            engine.threads(),
            conn.store().backend()
        );
        println!(
            "load  {:.1} MB of random f32 in {load_seconds:.3} s: {:.3} GB/s",
            gigabytes * 1e3,
            gigabytes / load_seconds
        );
        println!(
            "apply x*2+1 to {} chunks in {apply_seconds:.3} s: {:.3} GB/s; verified every chunk",
            layout.num_chunks(),
            gigabytes / apply_seconds
        );
        println!("first values: {corner}");
        if let Some(report) = &report {
            println!("\nper-rank timers (seconds, summed over each rank's threads):");
            print!("{}", report.table());
        }
        println!();
        super::info::print_info(&conn.dataset(name)?.info()?, conn, location);
        Ok(())
    })
}

fn parse_shapes(shape: &str, chunks: &str) -> Result<(Vec<usize>, Vec<usize>)> {
    Ok((
        parse::shape("--shape", shape)?,
        parse::shape("--chunks", chunks)?,
    ))
}
