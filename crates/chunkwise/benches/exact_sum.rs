//! Criterion bench: the exact sum of 256 Mi f32 values in memory (with and without the sum of
//! squares `stats` also keeps) against a plain pairwise f64 sum of the same values, the cost the
//! exactness is measured against.

use chunkwise::exact_sum::ExactSum;
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// numpy's pairwise summation: blocks of 128 summed in 8 lanes, blocks combined by halves.
#[inline(always)]
fn pairwise(values: &[f32]) -> f64 {
    if values.len() <= 128 {
        let mut lanes = [0f64; 8];
        let mut chunks = values.chunks_exact(8);
        for chunk in &mut chunks {
            for (lane, &x) in lanes.iter_mut().zip(chunk) {
                *lane += f64::from(x);
            }
        }
        let rest: f64 = chunks.remainder().iter().map(|&x| f64::from(x)).sum();
        return lanes.iter().sum::<f64>() + rest;
    }
    let half = (values.len() / 2) & !7;
    pairwise(&values[..half]) + pairwise(&values[half..])
}

/// The same, compiled for AVX2 as the exact sum's fast path is, so that neither side has a
/// wider vector unit than the other.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn pairwise_avx2(values: &[f32]) -> f64 {
    pairwise(values)
}

fn bench(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(11);
    let values: Vec<f32> = (0..256usize << 20)
        .map(|_| rng.random::<f32>() * 2.0 - 1.0)
        .collect();
    let mut group = c.benchmark_group("sum of 256 Mi f32");
    group.sample_size(10);
    group.bench_function("pairwise f64 sum", |b| {
        b.iter(|| pairwise(black_box(&values)))
    });
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        group.bench_function("pairwise f64 sum, AVX2", |b| {
            // SAFETY: the CPU has AVX2 (checked just above).
            b.iter(|| unsafe { pairwise_avx2(black_box(&values)) })
        });
    }
    group.bench_function("exact sum", |b| {
        b.iter(|| {
            let mut sum = ExactSum::new();
            sum.add_f32s(black_box(&values), None);
            sum.value()
        })
    });
    group.bench_function("exact sum and sum of squares", |b| {
        b.iter(|| {
            let mut sum = ExactSum::new();
            let mut squares = ExactSum::new();
            sum.add_f32s(black_box(&values), Some(&mut squares));
            (sum.value(), squares.value())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
