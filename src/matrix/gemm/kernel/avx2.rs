//! The AVX2+FMA microkernels (rung 5, `simd`): 6×16 for f32, 6×8 for f64.
//!
//! # Register budget (16 ymm registers of 256 bits)
//!
//! ```text
//!   accumulators  6 rows × 2 vectors = 12 ymm   (f32: 6×16 floats; f64: 6×8 doubles)
//!   B loads       2 ymm                          (one row of the B micro-panel, nr values)
//!   A broadcast   1 ymm                          (a(i, p) copied into every lane)
//!   total         15 of 16
//! ```
//!
//! Each step p issues 12 FMAs against 2 loads of B and 6 broadcast-loads of A. Zen 3 retires two
//! 256-bit FMAs per cycle with a latency of 4 cycles, so at least 8 independent accumulators are
//! needed to keep both pipes busy; 12 leaves slack. The k loop is unrolled by 4 so the loop
//! counter and pointer bumps are amortised over 48 FMAs. A wider tile (8×16) would need 16
//! accumulators and no room for B; 6×16 is the tile BLIS and OpenBLAS use on Haswell/Zen.
//!
//! # Safety design
//!
//! [`Avx2Fma`] is a zero-sized proof that the CPU has AVX2 and FMA: its only constructor checks
//! `is_x86_feature_detected!`. The `#[target_feature]` functions are private and reachable only
//! through a [`MicroKernel`] built from such a token, so they never run on a CPU without them.

use std::arch::x86_64::*;

use super::{MicroKernel, check_tile};

/// Proof that the running CPU supports AVX2 and FMA. Built by `dispatch`, once per process.
#[derive(Clone, Copy, Debug)]
pub struct Avx2Fma(());

impl Avx2Fma {
    /// Returns the token if, and only if, the CPU has both AVX2 and FMA.
    pub fn detect() -> Option<Self> {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            Some(Avx2Fma(()))
        } else {
            None
        }
    }
}

/// Rows of the register tile (both precisions).
const MR: usize = 6;
/// The k loop is unrolled by this factor.
const K_UNROLL: usize = 4;

/// Generates the tile functions of one precision; only the vector type and intrinsics differ.
///
/// The body is generic over `V`, the vectors per row of the tile: `V = 2` is the full
/// MR × 2·lanes tile, `V = 1` the half-width tile for the last, narrow panel of C (n = 50 ends
/// in a 2-column panel: computing 8 columns instead of 16 halves the wasted FMAs). Both read B
/// with the full panel's row stride, so packing does not change, and both sum every element
/// in the same order, so results do not depend on which one ran.
macro_rules! avx2_tiles {
    (
        $tile:ident, $inner:ident, $t:ty, $lanes:expr,
        $zero:ident, $load:ident, $store:ident, $bcast:ident, $fma:ident, $mul:ident,
        $add:ident, $set1:ident
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
            // the constructors below, which require an `Avx2Fma` token, so AVX2 and FMA are
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
        /// The CPU must support AVX2 and FMA; `a` must be valid for MR·k reads, `b` for
        /// 2·lanes·k reads, and `c` for reads and writes of every tile element
        /// `c[i·rs_c + j·cs_c]`, i < MR, j < V·lanes.
        #[target_feature(enable = "avx2,fma")]
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
                        let ai = unsafe { $bcast(&*ap.add($u * MR + i)) };
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

avx2_tiles!(
    tile_f32,
    tile_f32_avx2,
    f32,
    8,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_broadcast_ss,
    _mm256_fmadd_ps,
    _mm256_mul_ps,
    _mm256_add_ps,
    _mm256_set1_ps
);
avx2_tiles!(
    tile_f64,
    tile_f64_avx2,
    f64,
    4,
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
    _mm256_broadcast_sd,
    _mm256_fmadd_pd,
    _mm256_mul_pd,
    _mm256_add_pd,
    _mm256_set1_pd
);

/// The f32 AVX2+FMA kernel, 6×16.
pub fn kernel_f32(_proof: Avx2Fma) -> MicroKernel<f32> {
    MicroKernel::new("avx2+fma", MR, 16, tile_f32::<2>).with_half(tile_f32::<1>)
}

/// The f64 AVX2+FMA kernel, 6×8.
pub fn kernel_f64(_proof: Avx2Fma) -> MicroKernel<f64> {
    MicroKernel::new("avx2+fma", MR, 8, tile_f64::<2>).with_half(tile_f64::<1>)
}

/// Peak FMA throughput probe: `iters` rounds of 10 independent 8-lane f32 FMA chains.
///
/// Ten chains cover Zen 3's 2 pipes × 4-cycle latency with margin, so the loop runs at the
/// core's FMA issue rate. Returns a value that depends on every FMA so none is optimised away.
/// Flops performed: `iters · 10 · 8 · 2`.
pub fn fma_peak_f32(_proof: Avx2Fma, iters: u64) -> f32 {
    // SAFETY: the token proves AVX2 and FMA are available; no memory is accessed.
    unsafe { fma_peak_inner(iters) }
}

/// # Safety
/// The CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_peak_inner(iters: u64) -> f32 {
    let mul = _mm256_set1_ps(0.999_999);
    let add = _mm256_set1_ps(1e-7);
    let mut acc = [_mm256_set1_ps(1.0); 10];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = _mm256_fmadd_ps(*x, mul, add);
        }
    }
    let mut sum = _mm256_setzero_ps();
    for x in acc {
        sum = _mm256_add_ps(sum, x);
    }
    let mut lanes = [0.0_f32; 8];
    // SAFETY: lanes holds exactly 8 f32.
    unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), sum) };
    lanes.iter().sum()
}
