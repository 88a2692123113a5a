//! The GEMM ladder from a program of your own: two matrices, multiplied by a named rung and by
//! `auto`, with the GFLOP/s each reached.
//!
//! ```sh
//! cargo run --release --example gemm            # 512 × 512 × 512
//! cargo run --release --example gemm -- 1024    # another size
//! ```
//!
//! It needs only the engine: `scratchnet = { version = "0.1", default-features = false }`.

use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::StdRng;
use scratchnet::{Gemm, Kernel, Matrix};

fn main() -> scratchnet::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(Ok(512), |s| s.parse())
        .unwrap_or_else(|e| panic!("the size must be a whole number: {e}"));
    let mut rng = StdRng::seed_from_u64(1);
    let a = Matrix::<f32>::random_uniform(n, n, -1.0, 1.0, &mut rng);
    let b = Matrix::<f32>::random_uniform(n, n, -1.0, 1.0, &mut rng);
    let flops = 2.0 * (n as f64).powi(3);
    let mut reference = None;
    for kernel in [Kernel::Blocked, Kernel::Simd, Kernel::Auto] {
        let mut gemm = Gemm::<f32>::new(kernel);
        let mut c = Matrix::<f32>::zeros(n, n);
        // The best of three: the first run also pages in the operands.
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let start = Instant::now();
            gemm.run(1.0, a.view(), b.view(), 0.0, c.view_mut())?;
            best = best.min(start.elapsed().as_secs_f64());
        }
        let ran = gemm.resolved_kernel(n, n, n);
        println!(
            "{:>8} (runs {ran}, {} thread(s)): {:6.1} GFLOP/s",
            kernel.name(),
            gemm.threads_used(n, n, n),
            flops / best / 1e9
        );
        // Every rung computes the same product (up to float rounding in the sums' order).
        let r = reference.get_or_insert_with(|| c.clone());
        let worst = r
            .as_slice()
            .iter()
            .zip(c.as_slice())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-2,
            "{kernel} differs from the first rung by {worst}"
        );
    }
    Ok(())
}
