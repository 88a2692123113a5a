//! The portable microkernel (rung 4, `packed`): plain Rust that any target compiles.
//!
//! The accumulator is a fixed-size `[[T; NR]; MR]` array; because its size is a compile-time
//! constant and every loop over it has constant bounds, LLVM unrolls them and keeps the whole
//! tile in vector registers. On baseline x86-64 (SSE2, 16 × 128-bit registers) a 4×8 f32 tile is
//! 8 registers of accumulators, 2 of B and 1 broadcast of A — it fits with room to spare. f64
//! uses 4×4 for the same register count. No FMA: baseline x86-64 has none, and `mul_add`
//! without it would call a slow libm routine.

use super::{MicroKernel, check_tile};
use crate::matrix::Float;

const MR: usize = 4;
const NR_F32: usize = 8;
const NR_F64: usize = 4;

/// The portable f32 kernel, 4×8.
pub fn kernel_f32() -> MicroKernel<f32> {
    MicroKernel::new("portable", MR, NR_F32, tile::<f32, MR, NR_F32>)
}

/// The portable f64 kernel, 4×4.
pub fn kernel_f64() -> MicroKernel<f64> {
    MicroKernel::new("portable", MR, NR_F64, tile::<f64, MR, NR_F64>)
}

#[allow(clippy::too_many_arguments)]
fn tile<T: Float, const M: usize, const N: usize>(
    k: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    beta: T,
    c: &mut [T],
    rs_c: usize,
    cs_c: usize,
) {
    check_tile(M, N, N, k, a, b, c, rs_c, cs_c);
    let mut acc = [[T::ZERO; N]; M];
    // One rank-1 update per p: M values of A times N values of B.
    for (ap, bp) in a.chunks_exact(M).zip(b.chunks_exact(N)).take(k) {
        for i in 0..M {
            for j in 0..N {
                acc[i][j] += ap[i] * bp[j];
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let out = &mut c[i * rs_c + j * cs_c];
            *out = if beta == T::ZERO {
                alpha * v
            } else {
                alpha * v + beta * *out
            };
        }
    }
}
