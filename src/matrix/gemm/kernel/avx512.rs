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

// The tile functions: the loop shared with the other SIMD kernel (`simd_tiles!` in
// kernel/mod.rs), instantiated with AVX-512F (512-bit zmm, 16 f32 or 8 f64 lanes) intrinsics.
simd_tiles!(
    tile_f32,
    tile_f32_avx512,
    f32,
    16,
    "avx512f",
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_fmadd_ps,
    _mm512_mul_ps,
    _mm512_add_ps,
    _mm512_set1_ps
);
simd_tiles!(
    tile_f64,
    tile_f64_avx512,
    f64,
    8,
    "avx512f",
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
