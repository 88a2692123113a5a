//! Rung 2 — `reordered`: the same arithmetic in i-p-j order.
//!
//! Swapping the two inner loops turns the dot product into an "axpy": row i of C is updated by
//! `a(i, p) · (row p of B)` for each p. Both C's row and B's row are walked with unit stride, so
//! each cache line brought in is used whole and the compiler vectorises the inner loop. What
//! it still lacks is reuse: for large matrices all of B streams through the cache once per row
//! of A, so speed falls off as soon as B outgrows the L2 cache.
//!
//! Measure: `scratchnet bench gemm --kernels naive,reordered,blocked`.

use crate::matrix::{Float, MatMut, MatRef};

/// C ← α·A·B + β·C with the i-p-j loop order (β = 0: C is never read).
pub fn gemm<T: Float>(alpha: T, a: MatRef<'_, T>, b: MatRef<'_, T>, beta: T, mut c: MatMut<'_, T>) {
    c.scale_by_beta(beta);
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    for i in 0..m {
        for p in 0..k {
            axpy(alpha * a.at(i, p), b, p, 0..n, &mut c, i);
        }
    }
}

/// `C[i, cols] += s · B[p, cols]`: the unit-stride inner loop shared with the `blocked` rung.
#[inline(always)]
pub(super) fn axpy<T: Float>(
    s: T,
    b: MatRef<'_, T>,
    p: usize,
    cols: std::ops::Range<usize>,
    c: &mut MatMut<'_, T>,
    i: usize,
) {
    if cols.is_empty() {
        return;
    }
    if b.cs() == 1 && c.cs() == 1 {
        // Row-major operands: plain slices, so the loop has no stride arithmetic and vectorises.
        let (b_rs, c_rs) = (b.rs(), c.rs());
        let b_row = &b.data()[p * b_rs + cols.start..p * b_rs + cols.end];
        let c_row = &mut c.data_mut()[i * c_rs + cols.start..i * c_rs + cols.end];
        for (x, &y) in c_row.iter_mut().zip(b_row) {
            *x += s * y;
        }
    } else {
        for j in cols {
            *c.at_mut(i, j) += s * b.at(p, j);
        }
    }
}
