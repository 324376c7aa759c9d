//! Criterion bench: in-memory gaussian_filter of 256³ f32 (σ = 1.5) against a plain copy of the
//! same array, the memory-bandwidth yardstick (the filter is three passes, each reading and
//! writing the array once).

use chunkwise::Boundary;
use chunkwise_ndimage::gaussian_filter;
use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::{ArrayD, IxDyn};
use rand::{rngs::StdRng, Rng, SeedableRng};

fn bench(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(7);
    let input = ArrayD::from_shape_simple_fn(IxDyn(&[256, 256, 256]), || rng.random::<f32>());
    let mut group = c.benchmark_group("256^3 f32");
    group.sample_size(20);
    group.bench_function("gaussian_filter sigma=1.5", |b| {
        b.iter(|| gaussian_filter(input.view(), 1.5, Boundary::Reflect, 4.0).unwrap())
    });
    group.bench_function("copy (read + write once)", |b| b.iter(|| input.to_owned()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
