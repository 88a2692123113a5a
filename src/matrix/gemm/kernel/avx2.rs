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

/// `out[p·W..(p + 1)·W] = data[offsets[p] + j..][..W]` for every p: packing B's panels from
/// rows that are slices of one buffer ([`Lines`](crate::matrix::gemm::Lines)). The same safe
/// copies as anywhere else, compiled for AVX2 so that each W-value copy is a few 256-bit
/// moves instead of 128-bit ones (the crate's baseline is SSE2): DeepConvNet's packing took
/// 12 % of a step with 128-bit moves.
pub fn copy_groups<T: Copy, const W: usize>(
    _proof: Avx2Fma,
    data: &[T],
    offsets: &[usize],
    j: usize,
    out: &mut [T],
) {
    // SAFETY: the token proves AVX2; the function itself is safe code (bounds-checked copies).
    unsafe { copy_groups_avx2::<T, W>(data, offsets, j, out) }
}

#[target_feature(enable = "avx2")]
fn copy_groups_avx2<T: Copy, const W: usize>(
    data: &[T],
    offsets: &[usize],
    j: usize,
    out: &mut [T],
) {
    for (group, &off) in out.chunks_exact_mut(W).zip(offsets) {
        group.copy_from_slice(&data[off + j..off + j + W]);
    }
}

/// [`crate::matrix::lanes::map_lanes`] compiled for AVX2: the Winograd transforms' passes,
/// 256 bits at a time (the crate's baseline is SSE2's 128). `f` is inlined into this function,
/// so its arithmetic is compiled with AVX2 too.
pub fn map_lanes<T: crate::matrix::Float, const I: usize, const O: usize>(
    _proof: Avx2Fma,
    dst: [&mut [T]; O],
    src: [&[T]; I],
    f: impl Fn([T; I]) -> [T; O],
) {
    // SAFETY: the token proves AVX2; the function itself is safe code (bounds-checked loops).
    unsafe { map_lanes_avx2(dst, src, f) }
}

#[target_feature(enable = "avx2")]
fn map_lanes_avx2<T: crate::matrix::Float, const I: usize, const O: usize>(
    dst: [&mut [T]; O],
    src: [&[T]; I],
    f: impl Fn([T; I]) -> [T; O],
) {
    crate::matrix::lanes::portable(dst, src, f)
}

/// `out[p·W + i] = rows[i][p]` for `p < k`, `i < W = rows.len()` (a multiple of 8): the
/// transposition behind packing an operand whose panel rows are contiguous. 8×8 blocks are
/// loaded as eight rows, transposed in registers (unpack, shuffle, lane permute: 24 shuffles for
/// 64 values) and stored as eight groups; the last `k mod 8` columns are copied one by one.
pub fn transpose_rows_f32(_proof: Avx2Fma, rows: &[&[f32]], k: usize, out: &mut [f32]) {
    let w = rows.len();
    assert!(w.is_multiple_of(8), "transpose_rows_f32: {w} rows");
    assert!(
        rows.iter().all(|r| r.len() >= k),
        "transpose_rows_f32: a row is short"
    );
    assert!(out.len() >= k * w, "transpose_rows_f32: output too short");
    let full = k / 8 * 8;
    for r0 in (0..w).step_by(8) {
        let block: [&[f32]; 8] = std::array::from_fn(|i| rows[r0 + i]);
        for p0 in (0..full).step_by(8) {
            // SAFETY: the token proves AVX2; each row holds ≥ k ≥ p0 + 8 values (asserted), and
            // the eight stores write out[(p0 + j)·w + r0 .. + 8] with p0 + j < k and
            // r0 + 8 ≤ w, inside out (out.len() ≥ k·w, asserted).
            unsafe { transpose_block(&block, p0, out.as_mut_ptr().add(p0 * w + r0), w) };
        }
    }
    for p in full..k {
        for (i, row) in rows.iter().enumerate() {
            out[p * w + i] = row[p];
        }
    }
}

/// # Safety
/// The CPU must support AVX2; every `rows[i]` must hold `p0 + 8` values, and `dst` must be
/// valid for writes of 8 values at `dst + j·stride` for `j < 8`.
#[target_feature(enable = "avx2")]
unsafe fn transpose_block(rows: &[&[f32]; 8], p0: usize, dst: *mut f32, stride: usize) {
    let r: [__m256; 8] = std::array::from_fn(|i| {
        // SAFETY: rows[i][p0..p0 + 8] exists (the caller's contract).
        unsafe { _mm256_loadu_ps(rows[i].as_ptr().add(p0)) }
    });
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    let cols = [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ];
    for (j, c) in cols.into_iter().enumerate() {
        // SAFETY: dst + j·stride .. + 8 is writable (the caller's contract).
        unsafe { _mm256_storeu_ps(dst.add(j * stride), c) };
    }
}

#[cfg(test)]
mod transpose_tests {
    use super::*;

    #[test]
    fn transposes_rows_into_groups_for_any_length() {
        let Some(token) = Avx2Fma::detect() else {
            assert!(
                std::env::var("SCRATCHNET_REQUIRE_AVX2").is_err(),
                "SCRATCHNET_REQUIRE_AVX2 is set but the CPU has no AVX2"
            );
            return;
        };
        for (w, k) in [(8, 8), (8, 13), (16, 8), (32, 29), (8, 1), (24, 64)] {
            let data: Vec<Vec<f32>> = (0..w)
                .map(|i| (0..k + 3).map(|p| (i * 1000 + p) as f32).collect())
                .collect();
            let rows: Vec<&[f32]> = data.iter().map(|r| &r[..]).collect();
            let mut out = vec![f32::NAN; k * w];
            transpose_rows_f32(token, &rows, k, &mut out);
            for p in 0..k {
                for i in 0..w {
                    assert_eq!(out[p * w + i], data[i][p], "w {w} k {k} p {p} i {i}");
                }
            }
        }
    }
}
