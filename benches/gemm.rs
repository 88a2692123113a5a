//! `cargo bench --bench gemm`: the GEMM ladder under criterion, rung by rung.
//!
//! Throughput is reported in "elements" = floating-point operations (2·m·n·k per product), so
//! criterion's "Gelem/s" reads as GFLOP/s. The naive rung is only run at sizes where one product
//! takes milliseconds; `scratchnet bench gemm` covers large sizes with row sampling.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use scratchnet::matrix::gemm::{Gemm, Kernel};
use scratchnet::{MatRef, Matrix};
use std::hint::black_box;
use std::time::Duration;

/// (label, m, k, n, A transposed, B transposed)
const PROBLEMS: [(&str, usize, usize, usize, bool, bool); 6] = [
    ("n=128", 128, 128, 128, false, false),
    ("n=512", 512, 512, 512, false, false),
    ("100x784x100", 100, 784, 100, false, false),
    ("100x100x50", 100, 100, 50, false, false),
    ("784x100x100 At", 784, 100, 100, true, false),
    ("100x100x784 Bt", 100, 100, 784, false, true),
];

fn ladder(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(7);
    let mut group = c.benchmark_group("gemm_f32");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for (label, m, k, n, ta, tb) in PROBLEMS {
        let a_store = if ta {
            Matrix::<f32>::random_uniform(k, m, -1.0, 1.0, &mut rng)
        } else {
            Matrix::<f32>::random_uniform(m, k, -1.0, 1.0, &mut rng)
        };
        let b_store = if tb {
            Matrix::<f32>::random_uniform(n, k, -1.0, 1.0, &mut rng)
        } else {
            Matrix::<f32>::random_uniform(k, n, -1.0, 1.0, &mut rng)
        };
        let a: MatRef<'_, f32> = if ta { a_store.t() } else { a_store.view() };
        let b: MatRef<'_, f32> = if tb { b_store.t() } else { b_store.view() };
        let mut out = Matrix::<f32>::zeros(m, n);
        group.throughput(Throughput::Elements((2 * m * n * k) as u64));
        for kernel in Kernel::ALL {
            if kernel == Kernel::Naive && m * n * k > 16 << 20 {
                continue; // seconds per product: see `scratchnet bench gemm`, which samples rows
            }
            let mut gemm = Gemm::<f32>::new(kernel);
            group.bench_with_input(BenchmarkId::new(kernel.name(), label), &(), |bench, _| {
                bench.iter(|| {
                    gemm.run(1.0, black_box(a), black_box(b), 0.0, out.view_mut())
                        .expect("shapes fit")
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, ladder);
criterion_main!(benches);
