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

use super::{COLUMNS, DirectTile, MicroKernel, ROW_MAJOR, STRIDED, check_tile};

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

/// The k loop of a direct tile: `$step!(u)` for every step p = done + u < k, unrolled by
/// [`K_UNROLL`], with B's row offset `$row_b` and A's column offset `$off` advanced past each
/// group of steps (the 512-bit and the 256-bit tiles share it).
macro_rules! k_steps {
    ($step:ident, $k:expr, $rs_b:expr, $cs_a:expr, $row_b:ident, $off:ident) => {{
        let mut done = 0;
        while done + K_UNROLL <= $k {
            $step!(0);
            $step!(1);
            $step!(2);
            $step!(3);
            $row_b += K_UNROLL * $rs_b;
            $off += K_UNROLL * $cs_a;
            done += K_UNROLL;
        }
        while done < $k {
            $step!(0);
            $row_b += $rs_b;
            $off += $cs_a;
            done += 1;
        }
    }};
}

/// Generates the unpacked tile function of one precision ([`DirectTile`], the `direct` rung):
/// the same MR × 2·lanes register tile and the same sums as `simd_tiles!`, but A is broadcast
/// from where it lies (any strides) and B's rows are loaded from where they lie. AVX-512's
/// lane masks make an edge tile cheap: the loads and stores of a narrow last panel simply skip
/// the lanes past C's edge, so no temporary tile and no packing are needed.
macro_rules! direct_tiles {
    (
        $tile:ident, $inner:ident, $t:ty, $lanes:expr, $mask:ty,
        $zero:ident, $maskz_load:ident, $mask_store:ident, $fma:ident, $mul:ident, $add:ident,
        $set1:ident;
        $narrow:ident, $n_lanes:expr, $n_mask:ident, $n_zero:ident, $n_load:ident,
        $n_store:ident, $n_fma:ident, $n_mul:ident, $n_add:ident, $n_set1:ident
    ) => {
        /// One tile of C from A and B in place, checked, then run at the width it needs.
        fn $tile(tile: DirectTile<'_, $t>) {
            let layout = tile.check(MR, 2 * $lanes);
            let DirectTile {
                k,
                alpha,
                beta,
                a,
                rs_a,
                cs_a,
                mt,
                b,
                rs_b,
                nt,
                c,
                rs_c,
            } = tile;
            let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
            // SAFETY: this function is private to the module and reachable only through the
            // MicroKernels built by `kernel_f32` / `kernel_f64`, which require the Avx512F
            // token. `DirectTile::check` proved every address the inner function forms is inside
            // its slice: a(i, p) for i < mt, p < k; B row p up to column nt; C row i < mt up to
            // column nt. COLUMNS is chosen only for rs_a = 1 and a whole tile (mt = MR).
            unsafe {
                macro_rules! run {
                    ($v:expr, $layout:expr) => {
                        $inner::<$v, $layout>(
                            k, alpha, beta, a, rs_a, cs_a, mt, b, rs_b, nt, c, rs_c,
                        )
                    };
                }
                macro_rules! narrow {
                    ($layout:expr) => {
                        $narrow::<$layout>(k, alpha, beta, a, rs_a, cs_a, mt, b, rs_b, nt, c, rs_c)
                    };
                }
                if nt <= $n_lanes {
                    match layout {
                        ROW_MAJOR => narrow!(ROW_MAJOR),
                        COLUMNS => narrow!(COLUMNS),
                        _ => narrow!(STRIDED),
                    }
                    return;
                }
                match (nt <= $lanes, layout) {
                    (true, ROW_MAJOR) => run!(1, ROW_MAJOR),
                    (true, COLUMNS) => run!(1, COLUMNS),
                    (true, _) => run!(1, STRIDED),
                    (false, ROW_MAJOR) => run!(2, ROW_MAJOR),
                    (false, COLUMNS) => run!(2, COLUMNS),
                    (false, _) => run!(2, STRIDED),
                }
            }
        }

        /// # Safety
        /// The CPU must support AVX-512F; 1 ≤ mt ≤ MR, 1 ≤ nt ≤ V·lanes, k ≥ 1; `a` valid for
        /// reads of a[i·rs_a + p·cs_a] (i < mt, p < k), `b` of b[p·rs_b + j] (p < k, j < nt),
        /// `c` for reads and writes of c[i·rs_c + j] (i < mt, j < nt).
        #[target_feature(enable = "avx512f")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $inner<const V: usize, const LAYOUT: u8>(
            k: usize,
            alpha: $t,
            beta: $t,
            a: *const $t,
            rs_a: usize,
            cs_a: usize,
            mt: usize,
            b: *const $t,
            rs_b: usize,
            nt: usize,
            c: *mut $t,
            rs_c: usize,
        ) {
            // Lanes past column nt are neither loaded (masked loads do not touch them, so a
            // row's end may be the end of the buffer) nor stored.
            let masks: [$mask; V] = std::array::from_fn(|h| {
                let live = nt.saturating_sub(h * $lanes).min($lanes);
                ((1_u32 << live) - 1) as $mask
            });
            // Rows past mt read row mt − 1 again: computed, never stored.
            let rows: [*const $t; MR] = std::array::from_fn(|i| {
                // SAFETY: min(i, mt − 1)·rs_a is the offset of a row of A inside `a`.
                unsafe { a.add(i.min(mt - 1) * rs_a) }
            });
            let mut acc = [[$zero(); V]; MR];
            // Offsets of step p's B row and A column: p·rs_b and p·cs_a.
            let (mut row_b, mut off) = (0_usize, 0_usize);
            // One rank-1 update: V masked loads of B, MR broadcasts of A, V·MR FMAs.
            macro_rules! step {
                ($u:expr) => {{
                    let mut bv = [$zero(); V];
                    for (h, v) in bv.iter_mut().enumerate() {
                        let at = row_b + $u * rs_b + h * $lanes;
                        // SAFETY: step p = done + u < k; row p of B holds columns h·lanes ..
                        // nt − 1 (h·lanes < nt for every h < V), the mask covers only those.
                        *v = unsafe { $maskz_load(masks[h], b.add(at)) };
                    }
                    for (i, row) in acc.iter_mut().enumerate() {
                        // SAFETY: a(min(i, mt − 1), p) with p < k is inside `a` (COLUMNS only
                        // runs whole tiles with rs_a = 1, where that is a[p·cs_a + i]). Spelled
                        // per layout so LLVM keeps one pointer per row (row-major A: the step
                        // is a displacement) or one per step (a transposed A: the row is one);
                        // with run-time row offsets it ran out of registers and spilled.
                        let ai = $set1(unsafe {
                            match LAYOUT {
                                ROW_MAJOR => *rows[i].add(off + $u),
                                COLUMNS => *a.add(off + $u * cs_a + i),
                                _ => *a.add(off + $u * cs_a + i.min(mt - 1) * rs_a),
                            }
                        });
                        for (x, &bh) in row.iter_mut().zip(&bv) {
                            *x = $fma(ai, bh, *x);
                        }
                    }
                }};
            }
            k_steps!(step, k, rs_b, cs_a, row_b, off);

            // Write back: c = α·acc + β·c, a multiply then an add, as every kernel does.
            let alpha_v = $set1(alpha);
            let beta_v = $set1(beta);
            for (i, row_acc) in acc.iter().enumerate().take(mt) {
                for (h, &v) in row_acc.iter().enumerate() {
                    // SAFETY: row i < mt of C, columns h·lanes .. nt − 1 under the mask.
                    unsafe {
                        let ptr = c.add(i * rs_c + h * $lanes);
                        let t = $mul(alpha_v, v);
                        let out = if beta == 0.0 {
                            t
                        } else {
                            $add(t, $mul(beta_v, $maskz_load(masks[h], ptr)))
                        };
                        $mask_store(ptr, masks[h], out);
                    }
                }
            }
        }

        /// The tile for a last panel at most a 256-bit vector wide (C's last 4 columns when
        /// n = 100, say): the same steps and write-back as `$inner` with V = 1, lane for lane
        /// (so the same bits), on 256-bit vectors masked by AVX's `vmaskmov` (which, like
        /// AVX-512's masked loads, never touches a masked lane). Where 512-bit FMAs run as two
        /// 256-bit halves (Zen 4) this does the panel in half the cycles of a 512-bit row
        /// whose lanes past column nt are wasted; elsewhere it costs the same.
        ///
        /// # Safety
        /// As `$inner`, with 1 ≤ nt ≤ the 256-bit vector's lanes.
        #[target_feature(enable = "avx512f")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $narrow<const LAYOUT: u8>(
            k: usize,
            alpha: $t,
            beta: $t,
            a: *const $t,
            rs_a: usize,
            cs_a: usize,
            mt: usize,
            b: *const $t,
            rs_b: usize,
            nt: usize,
            c: *mut $t,
            rs_c: usize,
        ) {
            let mask = $n_mask(nt);
            // Rows past mt read row mt − 1 again: computed, never stored.
            let rows: [*const $t; MR] = std::array::from_fn(|i| {
                // SAFETY: min(i, mt − 1)·rs_a is the offset of a row of A inside `a`.
                unsafe { a.add(i.min(mt - 1) * rs_a) }
            });
            let mut acc = [$n_zero(); MR];
            let (mut row_b, mut off) = (0_usize, 0_usize);
            macro_rules! step {
                ($u:expr) => {{
                    // SAFETY: step p = done + u < k; row p of B holds columns 0 .. nt − 1, the
                    // mask covers only those.
                    let bv = unsafe { $n_load(b.add(row_b + $u * rs_b), mask) };
                    for (i, x) in acc.iter_mut().enumerate() {
                        // SAFETY: as in `$inner`: a(min(i, mt − 1), p) with p < k.
                        let ai = $n_set1(unsafe {
                            match LAYOUT {
                                ROW_MAJOR => *rows[i].add(off + $u),
                                COLUMNS => *a.add(off + $u * cs_a + i),
                                _ => *a.add(off + $u * cs_a + i.min(mt - 1) * rs_a),
                            }
                        });
                        *x = $n_fma(ai, bv, *x);
                    }
                }};
            }
            k_steps!(step, k, rs_b, cs_a, row_b, off);
            let alpha_v = $n_set1(alpha);
            let beta_v = $n_set1(beta);
            for (i, &v) in acc.iter().enumerate().take(mt) {
                // SAFETY: row i < mt of C, columns 0 .. nt − 1 under the mask.
                unsafe {
                    let ptr = c.add(i * rs_c);
                    let t = $n_mul(alpha_v, v);
                    let out = if beta == 0.0 {
                        t
                    } else {
                        $n_add(t, $n_mul(beta_v, $n_load(ptr, mask)))
                    };
                    $n_store(ptr, mask, out);
                }
            }
        }
    };
}

/// The lanes of a 256-bit f32 vector below column `nt`, as `vmaskmovps` wants them.
#[target_feature(enable = "avx512f")]
fn narrow_mask_f32(nt: usize) -> __m256i {
    _mm256_cmpgt_epi32(
        _mm256_set1_epi32(nt as i32),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
    )
}

/// The lanes of a 256-bit f64 vector below column `nt`, as `vmaskmovpd` wants them.
#[target_feature(enable = "avx512f")]
fn narrow_mask_f64(nt: usize) -> __m256i {
    _mm256_cmpgt_epi64(
        _mm256_set1_epi64x(nt as i64),
        _mm256_setr_epi64x(0, 1, 2, 3),
    )
}

direct_tiles!(
    direct_f32,
    direct_f32_avx512,
    f32,
    16,
    __mmask16,
    _mm512_setzero_ps,
    _mm512_maskz_loadu_ps,
    _mm512_mask_storeu_ps,
    _mm512_fmadd_ps,
    _mm512_mul_ps,
    _mm512_add_ps,
    _mm512_set1_ps;
    direct_f32_narrow,
    8,
    narrow_mask_f32,
    _mm256_setzero_ps,
    _mm256_maskload_ps,
    _mm256_maskstore_ps,
    _mm256_fmadd_ps,
    _mm256_mul_ps,
    _mm256_add_ps,
    _mm256_set1_ps
);
direct_tiles!(
    direct_f64,
    direct_f64_avx512,
    f64,
    8,
    __mmask8,
    _mm512_setzero_pd,
    _mm512_maskz_loadu_pd,
    _mm512_mask_storeu_pd,
    _mm512_fmadd_pd,
    _mm512_mul_pd,
    _mm512_add_pd,
    _mm512_set1_pd;
    direct_f64_narrow,
    4,
    narrow_mask_f64,
    _mm256_setzero_pd,
    _mm256_maskload_pd,
    _mm256_maskstore_pd,
    _mm256_fmadd_pd,
    _mm256_mul_pd,
    _mm256_add_pd,
    _mm256_set1_pd
);

/// The f32 AVX-512F kernel, 8×32, with its half-width and unpacked tiles.
pub fn kernel_f32(_proof: Avx512F) -> MicroKernel<f32> {
    MicroKernel::new("avx512f", MR, 32, tile_f32::<2>)
        .with_half(tile_f32::<1>)
        .with_direct(direct_f32)
}

/// The f64 AVX-512F kernel, 8×16, with its half-width and unpacked tiles.
pub fn kernel_f64(_proof: Avx512F) -> MicroKernel<f64> {
    MicroKernel::new("avx512f", MR, 16, tile_f64::<2>)
        .with_half(tile_f64::<1>)
        .with_direct(direct_f64)
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
