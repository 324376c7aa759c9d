//! Times the in-memory gaussian_filter of an N³ f32 array against memory-bandwidth yardsticks,
//! for scripts/bench-gaussian.sh. Prints one line of `key=value` per repetition.
//!
//! `cargo run --release -p chunkwise-ndimage --example gaussian_speed -- N SIGMA REPS`

use std::time::Instant;

use chunkwise::Boundary;
use chunkwise_ndimage::{gaussian_filter, gaussian_filter_into};
use ndarray::{ArrayD, IxDyn};
use rand::{rngs::StdRng, Rng, SeedableRng};
use rayon::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(256);
    let sigma: f64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1.5);
    let reps: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(5);
    // `filter` as the 4th argument times the filter alone (for profiling).
    let filter_only = args.get(4).is_some_and(|a| a == "filter");
    let mut rng = StdRng::seed_from_u64(7);
    let input = ArrayD::from_shape_simple_fn(IxDyn(&[n, n, n]), || rng.random::<f32>());
    let source = input.as_slice().expect("standard layout");
    let mut target = vec![0f32; source.len()];
    for _ in 0..reps {
        if filter_only {
            let started = Instant::now();
            let out =
                gaussian_filter(input.view(), sigma, Boundary::Reflect, 4.0).expect("valid sigma");
            println!("filter_s={:.6}", started.elapsed().as_secs_f64());
            std::hint::black_box(&out);
            continue;
        }
        // Bandwidth: read + write the array once, into memory already mapped.
        let started = Instant::now();
        target
            .par_chunks_mut(1 << 16)
            .zip(source.par_chunks(1 << 16))
            .for_each(|(t, s)| t.copy_from_slice(s));
        let copy = started.elapsed().as_secs_f64();
        // The same into a new array (what any filter returning a new array pays).
        let started = Instant::now();
        let mut fresh = vec![0f32; source.len()];
        fresh
            .par_chunks_mut(1 << 16)
            .zip(source.par_chunks(1 << 16))
            .for_each(|(t, s)| t.copy_from_slice(s));
        let fresh_copy = started.elapsed().as_secs_f64();
        std::hint::black_box(&fresh);
        drop(fresh);
        let started = Instant::now();
        let out =
            gaussian_filter(input.view(), sigma, Boundary::Reflect, 4.0).expect("valid sigma");
        let filter = started.elapsed().as_secs_f64();
        std::hint::black_box(&out);
        // Into an array that exists already (scipy's output= argument).
        let mut reused = out;
        let started = Instant::now();
        gaussian_filter_into(
            input.view(),
            reused.view_mut(),
            sigma,
            Boundary::Reflect,
            4.0,
        )
        .expect("valid sigma");
        let filter_into = started.elapsed().as_secs_f64();
        std::hint::black_box(&reused);
        println!(
            "n={n} sigma={sigma} threads={} filter_s={filter:.6} filter_into_s={filter_into:.6} copy_s={copy:.6} fresh_copy_s={fresh_copy:.6}",
            rayon::current_num_threads()
        );
    }
}
