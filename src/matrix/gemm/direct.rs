//! Rung 5c — `direct`: the AVX-512 (or, without it, the AVX2) microkernel reading A and B
//! where they lie, no packing.
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
//! What it needs: C's rows contiguous. A may have any strides (a transposed A is broadcast
//! from consecutive values of one row). B is read in place where its rows are contiguous and
//! close enough to stay in L1 together; otherwise (a transposed B: a layer's Wᵀ in dX) each kc
//! slice of B alone is packed, which is cheap beside packing A for the small k of those
//! products. The edge tiles of m and n are computed in place with AVX-512's lane masks, or
//! AVX2's `vmaskmov` loads and stores ([`DirectTile`]).
//!
//! Where it loses: tall products. A transposed A is read a 32-byte piece of a line at a time,
//! and a tall row-major A no longer stays in L2 between column panels. [`suits`] says where
//! `threaded` and `auto` use it; AVX2's tile, whose panels are half as wide, on fewer shapes
//! ([`WIDE_PANEL_BYTES`]). On a CPU with neither the rung runs the packed portable loops.
//!
//! Measure: `scratchnet bench gemm --kernels avx512,direct --shapes 100x784x100,784x100x100:ta`.

use super::kernel::{DirectTile, MicroKernel};
use super::pack::{PackBuffers, pack_panels, panels};
use super::packed;
use super::params::BlockParams;
use crate::matrix::{Float, MatMut, MatRef};

/// The rows of C (and of B, n values each) must be shorter than this many bytes. A B panel
/// read in place is kc rows of 128 bytes a row of B apart; from 4 KiB on every row is on a
/// page of its own and in the same L1 set, and the panel no longer stays in L1. And the wider
/// C is, the more column panels share each packed A value, so packing A costs less and less
/// (Emerald Rapids VM, `bench gemm --kernels avx512,direct`, GFLOP/s packed → direct, B in
/// place: 100×768×512 135 → 148, 100×768×1024 121 → 90; B packed: 100×768×1024 121 → 119,
/// 64×576×3000 113 → 108).
pub const ROW_BYTES_BELOW: usize = 4096;

/// Where B must be packed anyway, packing A as well pays from narrower C on: 100×100×784 Bᵀ ran
/// at 132 GFLOP/s packed and 129 direct, while 100×50×100 Bᵀ gains (95 → 107) and a
/// DeepConvNet step was the same either way (53.1–55.9 ms against 53.0–54.9, `train --net
/// deep-cnn --iters 25 --threads 1 --profile`, three alternated runs).
pub const PACKED_B_ROW_BYTES_BELOW: usize = 2048;

/// A transposed A (its columns contiguous) is read a 32-byte piece of a line per step, the
/// line's other half by the next tile. That pays where the product is short or its A few rows:
/// the tile's kc lines of A and its B panel then share the L1. Past that, packing pays again
/// (Emerald Rapids VM, `bench gemm --kernels avx512,direct`, GFLOP/s packed → direct: an MLP
/// layer's dW, 784×100×100 Aᵀ 131 → 137, 784×100×50 Aᵀ 97 → 123, 2000×100×100 Aᵀ 126 → 129,
/// 100×784×100 Aᵀ 115 → 125; but 300×784×100 Aᵀ 126 → 121, 784×400×100 Aᵀ 127 → 115,
/// 784×100×300 Aᵀ 154 → 149).
pub const TRANSPOSED_A_MAX_ROWS: usize = 128;
/// ... or a transposed A of any height where k and n are at most this (a dW at batch ≤ 128),
/// for a kernel whose panels are at least [`WIDE_PANEL_BYTES`] wide.
pub const TRANSPOSED_A_SHORT: usize = 128;

/// The panel width (nr values, in bytes) of AVX-512's tiles, 128, against AVX2's 64. The
/// narrower tile reads A in place on fewer shapes, both measured on the Zen 3 VM (`bench gemm
/// --kernels auto --threads 1` and `train --profile`, packed → in place):
///
/// - not a tall transposed A: each column panel of C reads the tile's pieces of A's lines
///   again, and the slice of a tall A does not stay in L2 between panels; AVX-512's panels read
///   it 4 times for n = 100 and gained, AVX2's 7 times and lost (medians of seven alternated
///   runs, GFLOP/s: 784×100×100 Aᵀ 59 → 54, 784×100×50 Aᵀ 57 → 51, 4320×100×100 Aᵀ 53 → 46),
///   while a short one gains (100×50×100 Aᵀ 49 → 72);
/// - not below [`NARROW_MIN_K`]: SimpleConvNet's forward product (30×25×576) took its conv
///   layer from 2.9–3.1 to 4.0–4.4 ms per step in place, the tile's set-up and write-back
///   spread over only 25 steps.
pub const WIDE_PANEL_BYTES: usize = 128;

/// The least depth at which a kernel with narrower panels than [`WIDE_PANEL_BYTES`] reads in
/// place (the same depth as `dispatch::DIRECT_WIDE_MIN_K`, measured on the same product). 16
/// instead, which lets the Winograd products of DeepConvNet's 16-channel layers run in place,
/// gave DeepConvNet 0.98 of this build's training time and SimpleConvNet 1.09 (Zen 3 VM, the
/// two builds at once one per core, five rounds).
pub const NARROW_MIN_K: usize = 32;

/// Whether B is read where it lies: its rows contiguous and less than [`ROW_BYTES_BELOW`]
/// apart. Otherwise each kc slice of B is packed into nr-wide panels first (kc·n values, the
/// smaller operand of a layer's backward product), and A is still read in place.
pub fn b_in_place<T: Float>(b: &MatRef<'_, T>) -> bool {
    b.cs() == 1 && b.rs() * std::mem::size_of::<T>() < ROW_BYTES_BELOW
}

/// Whether `threaded` and `auto` run an m×k×n product of these views through the direct
/// rung: the kernel has a direct tile (AVX-512F, or AVX2's with `vmaskmov` edges), C's rows are contiguous and shorter than
/// [`ROW_BYTES_BELOW`] ([`PACKED_B_ROW_BYTES_BELOW`] where B must be packed), and A is a row-major block no taller than a packed A block (mc rows,
/// which the L2 holds) or a transposed one that is short ([`TRANSPOSED_A_MAX_ROWS`]) or that
/// multiplies into a short, narrow product with wide panels ([`TRANSPOSED_A_SHORT`]), and,
/// for AVX2's narrower panels, k is at least [`NARROW_MIN_K`]. B is read in place or packed
/// ([`b_in_place`]). Where it holds, the direct rung was as fast as the packed one or
/// faster on every shape measured (docs/gemm.md, rung 5c).
pub fn suits<T: Float>(
    uk: &MicroKernel<T>,
    params: &BlockParams,
    a: &MatRef<'_, T>,
    b: &MatRef<'_, T>,
    c: &MatMut<'_, T>,
) -> bool {
    let wide = uk.nr() * std::mem::size_of::<T>() >= WIDE_PANEL_BYTES;
    if !wide && a.cols() < NARROW_MIN_K {
        return false;
    }
    let a_fits = if a.cs() == 1 {
        a.rows() <= params.mc
    } else {
        let short = a.cols() <= TRANSPOSED_A_SHORT && c.cols() <= TRANSPOSED_A_SHORT && wide;
        a.rs() == 1 && (a.rows() <= TRANSPOSED_A_MAX_ROWS || short)
    };
    let limit = if b_in_place(b) {
        ROW_BYTES_BELOW
    } else {
        PACKED_B_ROW_BYTES_BELOW
    };
    uk.direct().is_some() && c.cs() == 1 && c.cols() * std::mem::size_of::<T>() < limit && a_fits
}

/// C ← α·A·B + β·C with A read in place (and B too where [`b_in_place`]), C with contiguous
/// rows; elsewhere, without a direct tile, or with nothing to multiply, through the packed
/// loops with the same kernel.
/// The bits are the same either way.
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Float>(
    uk: &MicroKernel<T>,
    params: &BlockParams,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
    ws: &mut PackBuffers<T>,
) {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    // An empty product, or one that only scales C by β, packs nothing in the packed loops
    // either: they handle it.
    let work = m > 0 && n > 0 && k > 0 && alpha != T::ZERO;
    let Some(direct) = uk.direct().filter(|_| work && c.cs() == 1) else {
        packed::gemm(uk, params, alpha, a, b, beta, c, ws);
        return;
    };
    let (mr, nr) = (uk.mr(), uk.nr());
    let kc = packed::kc_even(k, params.kc);
    let (rs_a, cs_a, rs_c) = (a.rs(), a.cs(), c.rs());
    let a_data = a.data();
    let in_place = b_in_place(&b);
    for pc in (0..k).step_by(kc) {
        let kb = kc.min(k - pc);
        // Only the first slice applies β; later ones accumulate, as in the packed loops.
        let beta_p = if pc == 0 { beta } else { T::ONE };
        // Where the slice's B panels are: in B itself (panel jr starts at column jr, rows a
        // row of B apart), or packed (panel jr starts at jr·kb, rows nr apart).
        let (b_data, rs_b, panel_scale) = if in_place {
            (&b.data()[pc * b.rs()..], b.rs(), 1)
        } else {
            let buf = ws.b.slice_mut(panels(n, nr) * nr * kb);
            pack_panels(b.sub(pc, 0, kb, n).t(), nr, buf);
            (&buf[..], nr, kb)
        };
        for jr in (0..n).step_by(nr) {
            let nt = nr.min(n - jr);
            let b_panel = &b_data[jr * panel_scale..];
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
