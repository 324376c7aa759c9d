//! Times `gaussian_filter_into` of an N³ f32 array with σ = 1.5 on some axes and 0 on the
//! others, to see what each pass costs (for profiling; scripts/bench-gaussian.sh is the
//! benchmark).
//!
//! `cargo run --release -p chunkwise-ndimage --example axis_speed -- N REPS [single|pairs|full]`
//!
//! `single` (the default) filters one axis at a time, `pairs` two at a time, `full` all three.

use std::time::Instant;

use chunkwise::Boundary;
use chunkwise_ndimage::gaussian_filter_into;
use ndarray::{ArrayD, IxDyn};
use rand::{rngs::StdRng, Rng, SeedableRng};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(256);
    let reps: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(5).max(1);
    let s = 1.5;
    let sigmas: Vec<[f64; 3]> = match args.get(3).map(String::as_str) {
        Some("full") => vec![[s, s, s]],
        Some("pairs") => vec![[s, s, 0.0], [s, 0.0, s], [0.0, s, s], [s, s, s]],
        _ => vec![[s, 0.0, 0.0], [0.0, s, 0.0], [0.0, 0.0, s], [s, s, s]],
    };
    let mut rng = StdRng::seed_from_u64(7);
    let input = ArrayD::from_shape_simple_fn(IxDyn(&[n, n, n]), || rng.random::<f32>());
    let mut out = ArrayD::<f32>::zeros(IxDyn(&[n, n, n]));
    let threads = rayon::current_num_threads();
    for sigma in sigmas {
        let mut times: Vec<f64> = (0..reps)
            .map(|_| {
                let started = Instant::now();
                gaussian_filter_into(
                    input.view(),
                    out.view_mut(),
                    sigma.to_vec(),
                    Boundary::Reflect,
                    4.0,
                )
                .expect("valid sigma");
                started.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let median = times[reps / 2];
        println!(
            "sigma {sigma:?}: {:.2} ms, {:.3} ns per element and thread ({threads} threads)",
            median * 1e3,
            median * 1e9 * threads as f64 / (n * n * n) as f64
        );
    }
}
