//! Rungs 4 and 5 — `packed` and `simd`: the BLIS five-loop algorithm around a microkernel.
//!
//! ```text
//!            n                                   B: k×n, A: m×k, C: m×n
//!    ┌───────────────┐
//!    │  jc: nc cols  │  5th loop   B block  kc×nc ──pack──▶ b_pack  (stays in L3)
//!    │ ┌──────┐      │  4th loop   pc: kc of the k dimension
//!  k │ │kc×nc │      │  3rd loop   A block  mc×kc ──pack──▶ a_pack  (stays in L2)
//!    │ └──────┘      │  2nd loop   jr: one nr-wide B micro-panel     (stays in L1)
//!    └───────────────┘  1st loop   ir: one mr-tall A micro-panel → mr×nr tile of C (registers)
//! ```
//!
//! Each loop exists to keep one operand in one level of the memory hierarchy while the loops
//! inside it reuse that operand. The microkernel does all the arithmetic; the only difference
//! between `packed` and `simd` is which microkernel is passed in.
//!
//! Measure: `scratchnet bench gemm --kernels blocked,packed,simd`.

use super::kernel::MicroKernel;
use super::lines::Lines;
use super::pack::{PackBuffers, pack_panels, panels};
use super::params::BlockParams;
use crate::matrix::{Float, MatMut, MatRef};

/// The largest mr·nr of any microkernel (AVX-512 f32, 8×32); sizes the on-stack edge tile
/// (1 KiB of f32, 2 KiB of f64, reused for every edge tile).
const MAX_TILE: usize = 8 * 32;

/// C ← α·A·B + β·C through packed panels and `uk` (β = 0: C is never read).
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
    gemm_from(uk, params, alpha, a, BSource::Pack(b), beta, c, ws);
}

/// [`gemm`] with B already packed by [`pack_b`] for the same `params` and tile: the threaded
/// rung packs B once and every thread reads it, instead of each packing its own copy.
#[allow(clippy::too_many_arguments)]
pub fn gemm_packed_b<T: Float>(
    uk: &MicroKernel<T>,
    params: &BlockParams,
    alpha: T,
    a: MatRef<'_, T>,
    b_packed: &[T],
    n: usize,
    beta: T,
    c: MatMut<'_, T>,
    ws: &mut PackBuffers<T>,
) {
    gemm_from(
        uk,
        params,
        alpha,
        a,
        BSource::Packed(b_packed, n),
        beta,
        c,
        ws,
    );
}

/// [`gemm`] with a B that is never stored ([`Lines`]): each (jc, pc) block is packed from its
/// lines as the loops reach it, into the same panels a stored B would give, so the result has
/// the same bits as [`gemm`] on `b.to_matrix()`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_lines<T: Float>(
    uk: &MicroKernel<T>,
    params: &BlockParams,
    alpha: T,
    a: MatRef<'_, T>,
    b: &Lines<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    ws: &mut PackBuffers<T>,
) {
    gemm_from(uk, params, alpha, a, BSource::Lines(b), beta, c, ws);
}

/// Where the loops get their packed B blocks.
enum BSource<'a, T> {
    /// Pack each (jc, pc) block from this view as the loops reach it.
    Pack(MatRef<'a, T>),
    /// Every block already packed, in loop order (jc outer, pc inner), for B with `n` columns.
    Packed(&'a [T], usize),
    /// Pack each block from lines of one buffer.
    Lines(&'a Lines<'a, T>),
}

/// The k slices the loops cut: k spread evenly over the fewest slices of at most kc (k = 784
/// becomes 3 × 262 rather than 256 + 256 + 256 + 16, whose last slice would pay a full C
/// update for 16 steps of work).
pub(super) fn kc_even(k: usize, kc: usize) -> usize {
    k.div_ceil(k.div_ceil(kc)).max(1)
}

/// Packs all of B (k × n) into `out` in the order the loops read it: for each column block
/// (jc) and each k slice (pc), the block's nr-wide panels, as [`gemm`] would pack them one by
/// one. Feed the result to [`gemm_packed_b`] with the same `params`.
pub fn pack_b<T: Float>(b: MatRef<'_, T>, params: &BlockParams, out: &mut Vec<T>) {
    let (k, n) = (b.rows(), b.cols());
    if k == 0 || n == 0 {
        out.clear();
        return;
    }
    let (nc, nr, kc) = size_packed_b(k, n, params, out);
    let mut start = 0;
    for jc in (0..n).step_by(nc) {
        let nb = nc.min(n - jc);
        for pc in (0..k).step_by(kc) {
            let kb = kc.min(k - pc);
            let len = panels(nb, nr) * nr * kb;
            pack_panels(b.sub(pc, jc, kb, nb).t(), nr, &mut out[start..start + len]);
            start += len;
        }
    }
}

/// Gives `out` the length of a packed k × n B and returns the (nc, nr, kc) that lay it out.
/// Every element is written by the packing (padding included), so a buffer of the right length
/// is reused as it is: zeroing it first would cost as much as the packing.
fn size_packed_b<T: Float>(
    k: usize,
    n: usize,
    params: &BlockParams,
    out: &mut Vec<T>,
) -> (usize, usize, usize) {
    let (nc, nr, kc) = (params.nc, params.nr, kc_even(k, params.kc));
    let total: usize = (0..n)
        .step_by(nc)
        .map(|jc| panels(nc.min(n - jc), nr) * nr * k)
        .sum();
    if out.len() != total {
        out.clear();
        out.resize(total, T::ZERO);
    }
    (nc, nr, kc)
}

/// [`pack_b`] shared between `threads` threads: each packs a `1/threads` share of every
/// block's panels, straight into its own disjoint pieces of `out`, so the whole of B is packed
/// once, in parallel, where every band of a big product packing it for itself packed it once
/// per thread. The result is [`pack_b`]'s, value for value (a panel's layout depends on its own
/// columns only). The caller's thread packs the last share; the others run on scoped threads.
pub fn pack_b_shared<T: Float>(
    b: MatRef<'_, T>,
    params: &BlockParams,
    threads: usize,
    out: &mut Vec<T>,
) {
    let (k, n) = (b.rows(), b.cols());
    if threads <= 1 || k == 0 || n == 0 {
        pack_b(b, params, out);
        return;
    }
    let (nc, nr, kc) = size_packed_b(k, n, params, out);
    // Cut the buffer in pack_b's order into pieces and deal each block's run of panels out
    // to the threads in `threads` nearly equal parts.
    let mut shares: Vec<Vec<Piece<'_, T>>> = (0..threads).map(|_| Vec::new()).collect();
    let mut rest = &mut out[..];
    for jc in (0..n).step_by(nc) {
        let nb = nc.min(n - jc);
        let count = panels(nb, nr);
        for pc in (0..k).step_by(kc) {
            let kb = kc.min(k - pc);
            let mut first = 0;
            for (t, share) in shares.iter_mut().enumerate() {
                let these = count / threads + usize::from(t < count % threads);
                if these == 0 {
                    continue;
                }
                let (piece, tail) = rest.split_at_mut(these * nr * kb);
                rest = tail;
                let j0 = jc + first * nr;
                let cols = (these * nr).min(jc + nb - j0);
                share.push(Piece {
                    out: piece,
                    pc,
                    j0,
                    kb,
                    cols,
                });
                first += these;
            }
        }
    }
    let pack = |share: Vec<Piece<'_, T>>| {
        for p in share {
            pack_panels(b.sub(p.pc, p.j0, p.kb, p.cols).t(), nr, p.out);
        }
    };
    let mine = shares.pop().expect("threads > 1");
    std::thread::scope(|scope| {
        for share in shares {
            scope.spawn(move || pack(share));
        }
        pack(mine);
    });
}

/// One thread's piece of [`pack_b_shared`]'s work: the panels of B's `kb` rows from `pc` and
/// `cols` columns from `j0`, packed into `out`.
struct Piece<'a, T> {
    out: &'a mut [T],
    pc: usize,
    j0: usize,
    kb: usize,
    cols: usize,
}

#[allow(clippy::too_many_arguments)]
fn gemm_from<T: Float>(
    uk: &MicroKernel<T>,
    params: &BlockParams,
    alpha: T,
    a: MatRef<'_, T>,
    b: BSource<'_, T>,
    beta: T,
    mut c: MatMut<'_, T>,
    ws: &mut PackBuffers<T>,
) {
    let (m, k) = (a.rows(), a.cols());
    let n = match &b {
        BSource::Pack(b) => b.cols(),
        BSource::Packed(_, n) => *n,
        BSource::Lines(b) => b.cols_count(),
    };
    let (mr, nr) = (uk.mr(), uk.nr());
    assert!(mr * nr <= MAX_TILE && params.mr == mr && params.nr == nr);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 || alpha == T::ZERO {
        // Nothing to accumulate: the product contributes zero.
        c.scale_by_beta(beta);
        return;
    }
    let BlockParams { mc, nc, .. } = *params;
    let kc = kc_even(k, params.kc);
    let (rs_c, cs_c) = (c.rs(), c.cs());
    let PackBuffers { a: a_buf, b: b_buf } = ws;
    // Where the next pre-packed block starts (for `BSource::Packed`).
    let mut packed_at = 0;

    // 5th loop (jc): a column block of nc columns of C and B. Its packed B block (kc × nc)
    // is the operand reused most: by every A block of the 3rd loop.
    for jc in (0..n).step_by(nc) {
        let nb = nc.min(n - jc);

        // 4th loop (pc): the k dimension in slices of kc. Each slice adds a rank-kc update to
        // the C block; only the first one applies β, later ones accumulate (β = 1).
        for pc in (0..k).step_by(kc) {
            let kb = kc.min(k - pc);
            let beta_p = if pc == 0 { beta } else { T::ONE };
            let len = panels(nb, nr) * nr * kb;
            let b_pack: &[T] = match &b {
                BSource::Pack(b) => {
                    let buf = b_buf.slice_mut(len);
                    pack_panels(b.sub(pc, jc, kb, nb).t(), nr, buf);
                    buf
                }
                BSource::Lines(b) => {
                    let buf = b_buf.slice_mut(len);
                    b.pack_block(pc, kb, jc, nb, nr, buf);
                    buf
                }
                BSource::Packed(all, _) => {
                    let block = &all[packed_at..packed_at + len];
                    packed_at += len;
                    block
                }
            };

            // 3rd loop (ic): a row block of mc rows of A and C. The packed A block (mc × kc)
            // stays in L2 while every B micro-panel of the jc block passes by it.
            for ic in (0..m).step_by(mc) {
                let mb = mc.min(m - ic);
                let a_pack = a_buf.slice_mut(panels(mb, mr) * mr * kb);
                pack_panels(a.sub(ic, pc, mb, kb), mr, a_pack);

                // 2nd loop (jr): one nr-wide micro-panel of B, kept in L1 while the 1st loop
                // runs every A micro-panel of the block past it.
                for (jp, b_panel) in b_pack.chunks_exact(nr * kb).enumerate() {
                    let jr = jp * nr;
                    let nt = nr.min(nb - jr);

                    // 1st loop (ir): one mr-tall micro-panel of A; the microkernel computes
                    // the mr × nr tile of C in registers.
                    for (ip, a_panel) in a_pack.chunks_exact(mr * kb).enumerate() {
                        let ir = ip * mr;
                        let mt = mr.min(mb - ir);
                        let (i0, j0) = (ic + ir, jc + jr);
                        if mt == mr && nt == nr {
                            let off = i0 * rs_c + j0 * cs_c;
                            let tile = &mut c.data_mut()[off..];
                            uk.call(kb, alpha, a_panel, b_panel, beta_p, tile, rs_c, cs_c);
                        } else {
                            edge_tile(
                                uk, kb, alpha, a_panel, b_panel, beta_p, &mut c, i0, j0, mt, nt,
                            );
                        }
                    }
                }
            }
        }
    }
}

/// A tile that sticks out past C's edge: compute the whole mr × nr tile into a temporary, then
/// merge only the `mt` × `nt` valid part, with the same multiply-then-add as the kernels.
#[allow(clippy::too_many_arguments)]
fn edge_tile<T: Float>(
    uk: &MicroKernel<T>,
    kb: usize,
    alpha: T,
    a_panel: &[T],
    b_panel: &[T],
    beta: T,
    c: &mut MatMut<'_, T>,
    i0: usize,
    j0: usize,
    mt: usize,
    nt: usize,
) {
    let nr = uk.nr();
    let mut tmp = [T::ZERO; MAX_TILE];
    match uk.half() {
        // Few columns left: the half-width kernel does half the work, into the same layout.
        Some(half) if nt <= nr / 2 => half(kb, alpha, a_panel, b_panel, T::ZERO, &mut tmp, nr, 1),
        _ => uk.call(kb, alpha, a_panel, b_panel, T::ZERO, &mut tmp, nr, 1),
    }
    for i in 0..mt {
        for j in 0..nt {
            let t = tmp[i * nr + j];
            let out = c.at_mut(i0 + i, j0 + j);
            *out = if beta == T::ZERO { t } else { t + beta * *out };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matrix::Matrix;

    #[test]
    fn pack_b_reuses_its_buffer_without_leaving_stale_values() {
        // The buffer is reused as it is when its length fits: every element, padding
        // included, must be rewritten.
        let params = BlockParams::derive(8, 32, 4, &super::super::params::Caches::DEFAULT);
        let (k, n) = (300, 37);
        let first = Matrix::from_vec(k, n, vec![f32::NAN; k * n]).unwrap();
        let second = Matrix::from_vec(k, n, (0..k * n).map(|v| v as f32).collect()).unwrap();
        let mut reused = Vec::new();
        pack_b(first.view(), &params, &mut reused);
        pack_b(second.view(), &params, &mut reused);
        let mut fresh = Vec::new();
        pack_b(second.view(), &params, &mut fresh);
        assert_eq!(reused, fresh);
        assert!(reused.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn b_packed_by_several_threads_is_b_packed_by_one() {
        // Small blocks (kc 16, nc 64) so B spans several column blocks and k slices, with
        // ragged last panels, slices and blocks; more threads than a block has panels too.
        let params = BlockParams {
            mr: 8,
            nr: 32,
            mc: 64,
            kc: 16,
            nc: 64,
        };
        for (k, n) in [(1, 1), (37, 5), (40, 100), (33, 130), (100, 257)] {
            let b = Matrix::from_vec(k, n, (0..k * n).map(|v| v as f32 - 7.0).collect()).unwrap();
            let mut one = Vec::new();
            pack_b(b.view(), &params, &mut one);
            for threads in [2, 3, 5] {
                let mut shared = vec![f32::NAN; 3];
                pack_b_shared(b.view(), &params, threads, &mut shared);
                assert_eq!(shared, one, "{k}×{n} on {threads} threads");
                // And on the transposed view, whose packing reads B down its columns.
                let bt = b.transpose();
                pack_b_shared(bt.t(), &params, threads, &mut shared);
                pack_b(bt.t(), &params, &mut one);
                assert_eq!(shared, one, "{k}×{n} transposed on {threads} threads");
                pack_b(b.view(), &params, &mut one);
            }
        }
    }
}
