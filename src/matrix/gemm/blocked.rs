//! Rung 3 — `blocked`: cache blocking around the `reordered` loop, no packing.
//!
//! The `reordered` rung streams all of B once per row of A. Blocking cuts the problem into
//! pieces that stay cached while they are reused, with the same three loops BLIS uses:
//!
//! ```text
//!   jc: columns of C and B in blocks of KC      (B block kc×kc is reused by every row of A)
//!    pc: the k dimension in blocks of KC        (a row of the B block fits in L1)
//!     ic: rows of C and A in blocks of MC       (the A block mc×kc stays in L2)
//!       i, p, j: the reordered axpy on the block
//! ```
//!
//! The column block is KC wide, not the packed rungs' NC: without packing, a square kc×kc block
//! of B stays in L2, where a kc×nc one would spill to L3.
//!
//! The win over `reordered` is reuse: a kc×kc block of B is loaded from memory once and then
//! read from cache by all m rows. The loss against `packed` is that the blocks are still
//! strided windows into the original matrices (TLB misses, no alignment, every C element
//! loaded and stored once per p) — fixing that is the next rung.
//!
//! Measure: `scratchnet bench gemm --kernels reordered,blocked,packed`.

use super::params::BlockParams;
use super::reordered::axpy;
use crate::matrix::{Float, MatMut, MatRef};

/// C ← α·A·B + β·C, blocked for cache (β = 0: C is never read).
pub fn gemm<T: Float>(
    params: &BlockParams,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
) {
    c.scale_by_beta(beta);
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    // MC and KC are the packed rungs'; the column block is KC wide too (see the module doc).
    let (mc, kc) = (params.mc, params.kc);
    for jc in (0..n).step_by(kc) {
        let nb = kc.min(n - jc);
        for pc in (0..k).step_by(kc) {
            let kb = kc.min(k - pc);
            for ic in (0..m).step_by(mc) {
                let mb = mc.min(m - ic);
                for i in ic..ic + mb {
                    for p in pc..pc + kb {
                        axpy(alpha * a.at(i, p), b, p, jc..jc + nb, &mut c, i);
                    }
                }
            }
        }
    }
}
