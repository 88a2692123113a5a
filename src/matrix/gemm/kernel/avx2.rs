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

// The tile functions: the loop shared with the other SIMD kernel (`simd_tiles!` in
// kernel/mod.rs), instantiated with AVX2 (256-bit ymm, 8 f32 or 4 f64 lanes) intrinsics.
simd_tiles!(
    tile_f32,
    tile_f32_avx2,
    f32,
    8,
    "avx2,fma",
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_fmadd_ps,
    _mm256_mul_ps,
    _mm256_add_ps,
    _mm256_set1_ps
);
simd_tiles!(
    tile_f64,
    tile_f64_avx2,
    f64,
    4,
    "avx2,fma",
    _mm256_setzero_pd,
    _mm256_loadu_pd,
    _mm256_storeu_pd,
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
