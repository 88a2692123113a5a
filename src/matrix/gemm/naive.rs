//! Rung 1 — `naive`: the textbook i-j-p triple loop.
//!
//! Each C element is a dot product of a row of A with a column of B. The inner loop walks B
//! down a column, a stride of `n` elements: every step touches a new cache line, so for large
//! `n` almost every load misses. It is the reference every other rung is tested against, and
//! the baseline the report's `speedup_vs_naive` column divides by.
//!
//! Measure: `scratchnet bench gemm --kernels naive,reordered --sizes 256`.

use crate::matrix::{Float, MatMut, MatRef};

/// C ← α·A·B + β·C, one dot product per element (β = 0: C is never read).
pub fn gemm<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, mut c: MatMut<'_, T>) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    for i in 0..m {
        for j in 0..n {
            let mut sum = T::ZERO;
            for p in 0..k {
                sum += a.at(i, p) * b.at(p, j);
            }
            let out = c.at_mut(i, j);
            *out = if beta == T::ZERO {
                alpha * sum
            } else {
                alpha * sum + beta * *out
            };
        }
    }
}
