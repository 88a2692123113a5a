//! Rung 5c — `direct`: the AVX-512 microkernel reading A and B where they lie, no packing.
//!
//! Packing buys unit-stride loads, but it is a pass over A and B before any arithmetic, and on
//! a training-sized product that pass is a large share: a 100×784×100 product packs 78,400
//! values of each operand for 7.8 M multiply-adds, and each packed A value then serves only
//! the product's four 32-wide column panels. Profiled on the Emerald Rapids VM, packing (with
//! its 8×8 transposes) took a quarter of the `avx512` rung's time on that shape.
//!
//! This rung keeps the packed rung's loops and arithmetic and drops the copies:
//!
//! ```text
//!   pc: kc slices of k (the same slices as the packed rungs, so the same bits)
//!     jr: nr-wide column panel of B, read in place: kc rows of nr contiguous values,
//!         which stay in L1 while
//!       ir: every mr-row tile of C is computed from A's rows broadcast in place
//! ```
//!
//! What it needs: B's rows contiguous (unit column stride) and C's too; A may have any
//! strides (a transposed A is broadcast from consecutive values of one row). The edge tiles of
//! m and n are computed in place with AVX-512's lane masks ([`DirectTile`]).
//!
//! Where it loses: wide and tall products. Without packing, a B panel's rows are a whole row
//! of B apart, and from 4 KiB apart they fall into one L1 set; a transposed A is read a piece
//! of a line at a time. [`suits`] says where `threaded` and `auto` use it. Without AVX-512F (no lane masks) the rung
//! runs the packed `avx512` rung, which there is the `simd` one.
//!
//! Measure: `scratchnet bench gemm --kernels avx512,direct --shapes 100x784x100,784x100x100:ta`.

use super::kernel::{DirectFn, DirectTile, MicroKernel};
use super::pack::PackBuffers;
use super::packed;
use super::params::BlockParams;
use crate::matrix::{Float, MatMut, MatRef};

/// B's rows must be less than this many bytes apart. A B panel is kc rows of 128 bytes a row
/// of B apart; from 4 KiB on every row is on a page of its own and in the same L1 set, and
/// the panel no longer stays in L1 (Emerald Rapids VM, `bench gemm --kernels avx512,direct`,
/// GFLOP/s packed → direct: 100×768×512 135 → 148, 100×768×1024 121 → 90, 64×576×3000
/// 114 → 99).
const B_ROW_BYTES_BELOW: usize = 4096;

/// A transposed A (its columns contiguous) is read a 32-byte piece of a line per step, the
/// line's other half by the next tile: past about a hundred rows the block falls out of L1
/// before the second reading, and packing pays again (100×784×100 Aᵀ 115 → 117, 300×784×100
/// Aᵀ 124 → 110, 384×100×100 Aᵀ 126 → 120).
const TRANSPOSED_A_MAX_ROWS: usize = 128;

/// Whether `threaded` and `auto` run an m×k×n product of these views through the direct
/// rung: the kernel has a direct tile (AVX-512F), B and C have contiguous rows, B's rows are
/// close enough to share L1 ([`B_ROW_BYTES_BELOW`]), and A is a row-major block no taller than
/// a packed A block (mc rows, which the L2 holds) or a short transposed one
/// ([`TRANSPOSED_A_MAX_ROWS`]). Where it holds, the direct rung was as fast as the packed one
/// or faster on every shape measured (docs/gemm.md, rung 5c).
pub fn suits<T: Float>(
    uk: &MicroKernel<T>,
    params: &BlockParams,
    a: &MatRef<'_, T>,
    b: &MatRef<'_, T>,
    c: &MatMut<'_, T>,
) -> bool {
    let a_fits = if a.cs() == 1 {
        a.rows() <= params.mc
    } else {
        a.rs() == 1 && a.rows() <= TRANSPOSED_A_MAX_ROWS
    };
    uk.direct().is_some()
        && b.cs() == 1
        && c.cs() == 1
        && b.rs() * std::mem::size_of::<T>() < B_ROW_BYTES_BELOW
        && a_fits
}

/// C ← α·A·B + β·C, A and B read in place where [`DirectTile`] can (B and C with contiguous
/// rows), else through the packed loops with the same kernel (the same bits either way).
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Float>(
    uk: &MicroKernel<T>,
    params: &BlockParams,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    ws: &mut PackBuffers<T>,
) {
    match uk.direct() {
        Some(direct) if b.cs() == 1 && c.cs() == 1 => {
            gemm_in_place(direct, uk, params, alpha, a, b, beta, c)
        }
        _ => packed::gemm(uk, params, alpha, a, b, beta, c, ws),
    }
}

/// The three loops of the module doc. B and C must have unit column stride.
#[allow(clippy::too_many_arguments)]
fn gemm_in_place<T: Float>(
    direct: DirectFn<T>,
    uk: &MicroKernel<T>,
    params: &BlockParams,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == T::ZERO {
        c.scale_by_beta(beta);
        return;
    }
    let (mr, nr) = (uk.mr(), uk.nr());
    let kc = packed::kc_even(k, params.kc);
    let (rs_a, cs_a, rs_b, rs_c) = (a.rs(), a.cs(), b.rs(), c.rs());
    let (a_data, b_data) = (a.data(), b.data());
    for pc in (0..k).step_by(kc) {
        let kb = kc.min(k - pc);
        // Only the first slice applies β; later ones accumulate, as in the packed loops.
        let beta_p = if pc == 0 { beta } else { T::ONE };
        for jr in (0..n).step_by(nr) {
            let nt = nr.min(n - jr);
            let b_panel = &b_data[pc * rs_b + jr..];
            for ir in (0..m).step_by(mr) {
                let mt = mr.min(m - ir);
                direct(DirectTile {
                    k: kb,
                    alpha,
                    beta: beta_p,
                    a: &a_data[ir * rs_a + pc * cs_a..],
                    rs_a,
                    cs_a,
                    mt,
                    b: b_panel,
                    rs_b,
                    nt,
                    c: &mut c.data_mut()[ir * rs_c + jr..],
                    rs_c,
                });
            }
        }
    }
}
