//! Times one chunked pass over an hdf5-store dataset of N³ f32 in C³ chunks, threads engine,
//! with the memory handling of the apps (a budget of 20 GiB, freed blocks kept), to see what a
//! single `gaussian_filter1d_dataset` / `gaussian_filter_dataset` / dataset creation costs (for
//! profiling; scripts/bench-sweep.sh is the benchmark).
//!
//! `cargo run --release -p chunkwise-ndimage --example pass_timing -- N C PASS REPS`
//!
//! PASS is `z`, `y` or `x` (one 1-D pass along that axis), `3d` (all axes), `create` (create
//! and delete an empty dataset of the same metadata), or `load` (create a dataset and fill it
//! with `load_blocks_with`, every value 0.5), or `chain` (z, y and x passes each on the last
//! one's output, as gaussian-bench's 3×1D; the time excludes the deletions). Prints min,
//! median and max seconds (for `chain` also each pass's median).
//!
//! Environment: `STORE=ram` for the in-memory store; `SPARE_MIB` (hdf5 spare files, default 0);
//! `MIN_SLAB_BYTES` (the pipeline option; `18446744073709551615` never cuts chunks).

use std::sync::Arc;
use std::time::Instant;

use chunkwise::memory::MemoryBudget;
use chunkwise::tuning::{install as keep_freed_blocks, KeepLargeBlocks};
use chunkwise::{Boundary, Connection, PipelineOptions, RamStore, Store, ThreadsEngine};
use chunkwise_dosna::DosnaStore;
use chunkwise_ndimage::{gaussian_filter1d_dataset, gaussian_filter_dataset};
use ndarray::{ArrayD, IxDyn};

#[global_allocator]
static ALLOCATOR: KeepLargeBlocks = KeepLargeBlocks;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg =
        |k: usize, default: usize| args.get(k).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (n, c) = (arg(1, 128), arg(2, 128));
    let pass = args.get(3).map_or("z", String::as_str).to_string();
    let reps = arg(4, 40).max(1);
    let budget = 20u64 << 30;
    keep_freed_blocks(budget);
    let dir = tempfile::tempdir()?;
    let env = |name: &str| std::env::var(name).ok();
    let store: Arc<dyn Store> = match env("STORE").as_deref() {
        Some("ram") => Arc::new(RamStore::new()),
        _ => Arc::new(
            DosnaStore::new(dir.path().join("store"))
                .with_spare_files(env("SPARE_MIB").and_then(|v| v.parse().ok()).unwrap_or(0) << 20),
        ),
    };
    let pipeline = PipelineOptions {
        min_slab_bytes: env("MIN_SLAB_BYTES")
            .and_then(|v| v.parse().ok())
            .unwrap_or(PipelineOptions::default().min_slab_bytes),
        ..Default::default()
    };
    let conn = Connection::new(store, Arc::new(ThreadsEngine::new(None)?))?
        .with_pipeline(pipeline)
        .with_memory_budget(MemoryBudget::new(budget, std::env::temp_dir(), None));
    let input = conn.create::<f32>("input", &[n, n, n], &[c, c, c], 0.0)?;
    input.load_with::<f32, _>(|_, bounds| {
        Ok(ArrayD::from_shape_fn(IxDyn(&bounds.shape()), |i| {
            (i[0] * 7 + i[1] * 3 + i[2]) as f32
        }))
    })?;
    let mut times = Vec::with_capacity(reps);
    // The chain's z, y and x passes, each repetition.
    let mut passes: Vec<[f64; 3]> = Vec::with_capacity(reps);
    for _ in 0..reps {
        let started = Instant::now();
        let out = match pass.as_str() {
            "3d" => gaussian_filter_dataset(&input, "out", 1.5, Boundary::Reflect, 4.0)?,
            "chain" => {
                let z = gaussian_filter1d_dataset(&input, "cz", 1.5, 0, Boundary::Reflect, 4.0)?;
                let after_z = started.elapsed().as_secs_f64();
                let y = gaussian_filter1d_dataset(&z, "cy", 1.5, 1, Boundary::Reflect, 4.0)?;
                let after_y = started.elapsed().as_secs_f64();
                let x = gaussian_filter1d_dataset(&y, "out", 1.5, 2, Boundary::Reflect, 4.0)?;
                let t = started.elapsed().as_secs_f64();
                passes.push([after_z, after_y - after_z, t - after_y]);
                z.delete()?;
                y.delete()?;
                times.push(t);
                x.delete()?;
                continue;
            }
            "create" => conn.create::<f32>("out", &[n, n, n], &[c, c, c], 0.0)?,
            "load" => {
                let out = conn.create::<f32>("out", &[n, n, n], &[c, c, c], 0.0)?;
                out.load_blocks_with::<f32, _>(|bounds| {
                    Ok(ArrayD::from_elem(IxDyn(&bounds.shape()), 0.5f32))
                })?;
                out
            }
            axis => {
                let axis = ["z", "y", "x"]
                    .iter()
                    .position(|&a| a == axis)
                    .ok_or(format!(
                        "PASS is z, y, x, 3d, create, load or chain, not {axis:?}"
                    ))?;
                gaussian_filter1d_dataset(&input, "out", 1.5, axis, Boundary::Reflect, 4.0)?
            }
        };
        times.push(started.elapsed().as_secs_f64());
        out.delete()?;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{n}³ in {c}³ chunks, pass {pass}, {reps} repetitions: min {:.4} s, median {:.4} s, max {:.4} s",
        times[0],
        times[reps / 2],
        times[reps - 1]
    );
    if !passes.is_empty() {
        let median = |k: usize| {
            let mut of: Vec<f64> = passes.iter().map(|p| p[k]).collect();
            of.sort_by(f64::total_cmp);
            of[of.len() / 2]
        };
        println!(
            "  its passes, medians: z {:.4} s, y {:.4} s, x {:.4} s",
            median(0),
            median(1),
            median(2)
        );
    }
    Ok(())
}
