//! The AVX-512F microkernels (rung `avx512`): 8×32 for f32, 8×16 for f64.
//!
//! # Register budget (32 zmm registers of 512 bits)
//!
//! ```text
//!   accumulators  8 rows × 2 vectors = 16 zmm   (f32: 8×32 floats; f64: 8×16 doubles)
//!   B loads       2 zmm                          (one row of the B micro-panel, nr values)
//!   A broadcast   1 zmm                          (a(i, p) copied into every lane)
//!   total         19 of 32
//! ```
//!
//! # Why this tile
//!
//! Each step p issues 16 FMAs for 2 vector loads of B and 8 broadcast loads of A: 10 loads per
//! 16 FMAs (0.63; the AVX2 6×16 tile needs 8 per 12, 0.67). FMA latency is 4 cycles and a core
//! has at most two FMA pipes, so 8 FMAs must be in flight; 16 independent accumulators cover
//! that twice. Two or three loads issue per cycle, so the loads never limit a core that retires
//! at most two 512-bit FMAs per cycle: the tile is bound by FMA throughput (and, on small
//! products, by packing and edge tiles).
//!
//! The height was chosen by measurement on this project's Zen 4 VM (`scratchnet bench gemm
//! --kernels simd,avx512 --sizes 1024 --shapes 100x784x100,100x784x50 --threads 1`), % of the
//! FMA peak for 14, 12 and 8 rows: 1024³ 86.5 / 88.4 / 88.9, 100×784×100 63.8 / 65.5 / 72.5,
//! 100×784×50 49.6 / 50.9 / 58.0. Taller tiles (up to 14×32 fits the register file) lose on
//! the MLP's products, whose 100 rows leave ragged edge tiles and whose short k gives fewer
//! steps to amortise the tile's write-back over; at 1024³ all heights are within noise.
//!
//! What limits it here: Zen 4 executes a 512-bit FMA as two 256-bit halves, so its AVX-512 peak
//! equals its AVX2 peak (117 GFLOP/s f32 per core, both probes) and this kernel cannot beat the
//! AVX2 one there; [`dispatch`](crate::matrix::gemm::dispatch) measures that once and picks the
//! faster for `threaded` and `auto`. On cores with full-width 512-bit units (Zen 5, Intel
//! server cores) the peak doubles and this kernel is the one that reaches it.
//!
//! # Safety design
//!
//! As for AVX2: [`Avx512F`] is a zero-sized proof built only after `is_x86_feature_detected!`
//! has seen `avx512f`; the `#[target_feature]` functions are private and reachable only through
//! a [`MicroKernel`] built from such a token.

use std::arch::x86_64::*;

use super::{MicroKernel, check_tile};

/// Proof that the running CPU supports AVX-512F (which implies FMA on every such CPU, and the
/// fused multiply-add instructions are part of AVX-512F itself). Built by `dispatch`, once.
#[derive(Clone, Copy, Debug)]
pub struct Avx512F(());

impl Avx512F {
    /// Returns the token if, and only if, the CPU has AVX-512F.
    pub fn detect() -> Option<Self> {
        if is_x86_feature_detected!("avx512f") {
            Some(Avx512F(()))
        } else {
            None
        }
    }
}

/// Rows of the register tile (both precisions).
const MR: usize = 8;
/// The k loop is unrolled by this factor.
const K_UNROLL: usize = 4;

/// Generates the tile functions of one precision, as `avx2_tiles!` does for AVX2: `V = 2` is
/// the full MR × 2·lanes tile, `V = 1` the half-width tile for the last, narrow panel of C.
/// Both read B with the full panel's row stride and sum every element in the same order (one
/// FMA per step p, p ascending), so results do not depend on which ran — nor on whether this
/// kernel or the AVX2 one did: the same FMAs in the same order give the same bits.
macro_rules! avx512_tiles {
    (
        $tile:ident, $inner:ident, $t:ty, $lanes:expr,
        $zero:ident, $load:ident, $store:ident, $fma:ident, $mul:ident, $add:ident, $set1:ident
    ) => {
        /// The MR × V·lanes tile (`V = 2` full, `V = 1` half width), checked, then run.
        #[allow(clippy::too_many_arguments)]
        fn $tile<const V: usize>(
            k: usize,
            alpha: $t,
            a: &[$t],
            b: &[$t],
            beta: $t,
            c: &mut [$t],
            rs_c: usize,
            cs_c: usize,
        ) {
            check_tile(MR, V * $lanes, 2 * $lanes, k, a, b, c, rs_c, cs_c);
            // SAFETY: this function is private and its only uses are the MicroKernels built by
            // the constructors below, which require an `Avx512F` token, so AVX-512F is
            // present. `check_tile` proved a holds MR·k values, b holds 2·lanes·k values (B rows
            // are 2·lanes apart for either width), and every tile element (i·rs_c + j·cs_c,
            // i < MR, j < V·lanes) is inside c.
            unsafe {
                $inner::<V>(
                    k,
                    alpha,
                    a.as_ptr(),
                    b.as_ptr(),
                    beta,
                    c.as_mut_ptr(),
                    rs_c,
                    cs_c,
                )
            }
        }

        /// # Safety
        /// The CPU must support AVX-512F; `a` must be valid for MR·k reads, `b` for 2·lanes·k
        /// reads, and `c` for reads and writes of every tile element `c[i·rs_c + j·cs_c]`,
        /// i < MR, j < V·lanes.
        #[target_feature(enable = "avx512f")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $inner<const V: usize>(
            k: usize,
            alpha: $t,
            a: *const $t,
            b: *const $t,
            beta: $t,
            c: *mut $t,
            rs_c: usize,
            cs_c: usize,
        ) {
            // B's row stride: the packed panel is always full width.
            const NR: usize = 2 * $lanes;
            if cs_c == 1 {
                // Ask for C's tile now so it is in L1 when the k loop ends.
                for i in 0..MR {
                    // SAFETY: a prefetch is only a hint; both addresses are tile elements.
                    unsafe {
                        _mm_prefetch::<_MM_HINT_T0>(c.add(i * rs_c) as *const i8);
                        _mm_prefetch::<_MM_HINT_T0>(c.add(i * rs_c + V * $lanes - 1) as *const i8);
                    }
                }
            }
            let mut acc = [[$zero(); V]; MR];
            let (mut ap, mut bp) = (a, b);
            // One rank-1 update: V loads of B, MR broadcasts of A, V·MR FMAs.
            macro_rules! step {
                ($u:expr) => {{
                    let mut bv = [$zero(); V];
                    for (h, v) in bv.iter_mut().enumerate() {
                        // SAFETY: step p = done + u < k, so B row p (NR values from
                        // bp + u·NR) is inside the packed B panel; h·lanes + lanes ≤ NR.
                        *v = unsafe { $load(bp.add($u * NR + h * $lanes)) };
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        // SAFETY: A column p (MR values) is inside the packed A panel; i < MR.
                        let ai = $set1(unsafe { *ap.add($u * MR + i) });
                        for (x, &bh) in row.iter_mut().zip(&bv) {
                            *x = $fma(ai, bh, *x);
                        }
                    }
                }};
            }
            let mut done = 0;
            while done + K_UNROLL <= k {
                step!(0);
                step!(1);
                step!(2);
                step!(3);
                // SAFETY: advances by K_UNROLL steps that were all in bounds.
                unsafe {
                    ap = ap.add(K_UNROLL * MR);
                    bp = bp.add(K_UNROLL * NR);
                }
                done += K_UNROLL;
            }
            while done < k {
                step!(0);
                // SAFETY: advances past one in-bounds step.
                unsafe {
                    ap = ap.add(MR);
                    bp = bp.add(NR);
                }
                done += 1;
            }

            // Write back: c = α·acc + β·c, a multiply then an add (see the contract).
            let alpha_v = $set1(alpha);
            let beta_v = $set1(beta);
            if cs_c == 1 {
                for (i, row_acc) in acc.iter().enumerate() {
                    for (h, &v) in row_acc.iter().enumerate() {
                        // SAFETY: with cs_c = 1 the lanes h·lanes .. (h+1)·lanes of row i are
                        // consecutive tile elements, all inside c.
                        unsafe {
                            let ptr = c.add(i * rs_c + h * $lanes);
                            let t = $mul(alpha_v, v);
                            let out = if beta == 0.0 {
                                t
                            } else {
                                $add(t, $mul(beta_v, $load(ptr)))
                            };
                            $store(ptr, out);
                        }
                    }
                }
            } else {
                let mut tile = [0.0 as $t; MR * NR];
                for (i, row_acc) in acc.iter().enumerate() {
                    for (h, &v) in row_acc.iter().enumerate() {
                        // SAFETY: tile has MR·NR elements; i·NR + h·lanes + lanes ≤ MR·NR.
                        unsafe {
                            $store(tile.as_mut_ptr().add(i * NR + h * $lanes), $mul(alpha_v, v))
                        };
                    }
                }
                for i in 0..MR {
                    for j in 0..V * $lanes {
                        // SAFETY: (i, j) is a tile element, inside c by the caller's contract.
                        unsafe {
                            let ptr = c.add(i * rs_c + j * cs_c);
                            let t = tile[i * NR + j];
                            *ptr = if beta == 0.0 { t } else { t + beta * *ptr };
                        }
                    }
                }
            }
        }
    };
}

avx512_tiles!(
    tile_f32,
    tile_f32_avx512,
    f32,
    16,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_fmadd_ps,
    _mm512_mul_ps,
    _mm512_add_ps,
    _mm512_set1_ps
);
avx512_tiles!(
    tile_f64,
    tile_f64_avx512,
    f64,
    8,
    _mm512_setzero_pd,
    _mm512_loadu_pd,
    _mm512_storeu_pd,
    _mm512_fmadd_pd,
    _mm512_mul_pd,
    _mm512_add_pd,
    _mm512_set1_pd
);

/// The f32 AVX-512F kernel, 8×32.
pub fn kernel_f32(_proof: Avx512F) -> MicroKernel<f32> {
    MicroKernel::new("avx512f", MR, 32, tile_f32::<2>).with_half(tile_f32::<1>)
}

/// The f64 AVX-512F kernel, 8×16.
pub fn kernel_f64(_proof: Avx512F) -> MicroKernel<f64> {
    MicroKernel::new("avx512f", MR, 16, tile_f64::<2>).with_half(tile_f64::<1>)
}

/// Peak FMA throughput probe with 512-bit vectors: `iters` rounds of 12 independent 16-lane
/// f32 FMA chains (12 covers 2 pipes × 4-cycle latency with margin). Returns a value that
/// depends on every FMA so none is optimised away. Flops performed: `iters · 12 · 16 · 2`.
pub fn fma_peak_f32(_proof: Avx512F, iters: u64) -> f32 {
    // SAFETY: the token proves AVX-512F is available; no memory is accessed.
    unsafe { fma_peak_inner(iters) }
}

/// # Safety
/// The CPU must support AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn fma_peak_inner(iters: u64) -> f32 {
    let mul = _mm512_set1_ps(0.999_999);
    let add = _mm512_set1_ps(1e-7);
    let mut acc = [_mm512_set1_ps(1.0); 12];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm512_fmadd_ps(*x, mul, add);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for x in acc {
        sum = _mm512_add_ps(sum, x);
    }
    _mm512_reduce_add_ps(sum)
}
