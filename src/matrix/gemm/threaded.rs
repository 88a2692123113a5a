//! Rung 6 — `threaded`: the `simd` rung split across `std::thread` workers.
//!
//! The rows of C are cut into one contiguous band per thread (at multiples of mr, so every band
//! but the last is made of whole tiles); each worker runs the complete packed algorithm on its
//! band — A's rows for that band against all of B — with its own packing buffers. Nothing is
//! shared but read-only A and B, so there are no locks and no barriers.
//!
//! **Determinism.** An element of C is the sum over k in the same kc slices, in the same order,
//! by the same microkernel, whichever band it falls in; edge tiles merge with the same arithmetic
//! as full ones. So the result is bit-identical for 1, 2 or 16 threads.
//!
//! **Small products stay on one thread.** Spawning and joining a scoped thread costs about
//! 50 µs here (more when the other vCPU has to be woken), so a band is only worth a thread if it
//! carries at least [`MIN_MACS_PER_THREAD`] multiply-adds — about 0.25 ms of single-core work.
//! Measured with `scratchnet bench gemm --kernels simd,threaded --threads 2 --sizes 200,256
//! --shapes 784x100x100:ta`: at 200³ (8 M MACs) and 784×100×100 two threads were no faster
//! than one (31–52 vs 33 GFLOP/s, swinging from run to run); from 256³ on they were (62–65 vs
//! 36).
//!
//! Measure: `scratchnet bench gemm --kernels simd,threaded --threads 2`.

use super::kernel::MicroKernel;
use super::pack::PackBuffers;
use super::packed;
use super::params::BlockParams;
use crate::matrix::{Float, MatMut, MatRef};

/// The least work (m·n·k multiply-adds) a thread must get before it is worth spawning.
pub const MIN_MACS_PER_THREAD: usize = 4 << 20;

/// How many threads a product of `m`×`k`×`n` uses, given at most `max_threads` and a tile of
/// `mr` rows: limited by the work per thread and by the number of row tiles.
pub fn threads_for(m: usize, k: usize, n: usize, mr: usize, max_threads: usize) -> usize {
    let work = m.saturating_mul(n).saturating_mul(k);
    let by_work = (work / MIN_MACS_PER_THREAD).max(1);
    let by_rows = m.div_ceil(mr).max(1);
    max_threads.min(by_work).min(by_rows).max(1)
}

/// C ← α·A·B + β·C on up to `max_threads` threads (β = 0: C is never read).
///
/// `bufs` must hold at least `max_threads` packing buffers (the [`Workspace`](super::Workspace)
/// sees to that).
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Float>(
    uk: &MicroKernel<T>,
    params: &BlockParams,
    max_threads: usize,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    bufs: &mut [PackBuffers<T>],
) {
    if !c.rows_are_disjoint() {
        // A column-major C: solve Cᵀ = Bᵀ·Aᵀ, whose rows are C's columns.
        return gemm(
            uk,
            params,
            max_threads,
            alpha,
            b.t(),
            a.t(),
            beta,
            c.t(),
            bufs,
        );
    }
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    let threads = threads_for(m, k, n, uk.mr(), max_threads.min(bufs.len()));
    if threads == 1 {
        packed::gemm(uk, params, alpha, a, b, beta, c, &mut bufs[0]);
        return;
    }
    // Bands of whole mr-row tiles, as even as possible; the first bands take the extra tiles.
    let tiles = m.div_ceil(uk.mr());
    let band_rows = |t: usize| {
        let tiles_t = tiles / threads + usize::from(t < tiles % threads);
        tiles_t * uk.mr()
    };
    std::thread::scope(|scope| {
        let mut rest = c;
        let mut row = 0;
        let mut bufs = bufs.iter_mut();
        for t in 0..threads {
            let rows = band_rows(t).min(m - row);
            let (band, below) = rest
                .split_rows_at(rows)
                .expect("rows are disjoint: checked above");
            rest = below;
            let a_band = a.sub(row, 0, rows, k);
            let buf = bufs.next().expect("one buffer per thread");
            if t + 1 == threads {
                // The calling thread takes the last band instead of idling in join.
                packed::gemm(uk, params, alpha, a_band, b, beta, band, buf);
            } else {
                scope.spawn(move || packed::gemm(uk, params, alpha, a_band, b, beta, band, buf));
            }
            row += rows;
        }
    });
}
