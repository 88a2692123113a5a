//! Run-time choices: which microkernel this CPU gets, how many threads, and which rung `auto`
//! picks for a shape. CPU feature detection happens here, once per process.

use std::sync::OnceLock;

use super::Kernel;
use super::kernel::MicroKernel;
use crate::error::{Error, Result};
use crate::matrix::Float;

#[cfg(target_arch = "x86_64")]
use super::kernel::avx2::Avx2Fma;
#[cfg(target_arch = "x86_64")]
use super::kernel::avx512::Avx512F;

/// The AVX2+FMA token, if this CPU has both features (detected once, then cached).
#[cfg(target_arch = "x86_64")]
pub fn avx2_fma() -> Option<Avx2Fma> {
    static DETECTED: OnceLock<Option<Avx2Fma>> = OnceLock::new();
    *DETECTED.get_or_init(Avx2Fma::detect)
}

/// Whether the `simd` rung runs the AVX2+FMA kernel here (else it falls back to `packed`'s).
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx2_fma().is_some()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The fastest microkernel for `T` on this CPU: AVX2+FMA where available, portable otherwise.
pub fn simd_kernel<T: Float>() -> MicroKernel<T> {
    #[cfg(target_arch = "x86_64")]
    if let Some(token) = avx2_fma() {
        return T::avx2_kernel(token);
    }
    T::portable_kernel()
}

/// The environment variable that sets the default thread count.
pub const THREADS_ENV: &str = "SCRATCHNET_THREADS";

/// Cores the OS gives this process.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The most threads any command accepts: eight per core (enough to study oversubscription),
/// and never so many that spawning them exhausts the process (`--threads 100000` would).
pub fn max_threads() -> usize {
    (8 * cores()).max(64)
}

/// The AVX-512F token, if this CPU has it (detected once, then cached).
#[cfg(target_arch = "x86_64")]
pub fn avx512f() -> Option<Avx512F> {
    static DETECTED: OnceLock<Option<Avx512F>> = OnceLock::new();
    *DETECTED.get_or_init(Avx512F::detect)
}

/// Whether the `avx512` rung runs the AVX-512F kernel here (else it runs the `simd` one's).
pub fn has_avx512f() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        avx512f().is_some()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The AVX-512F microkernel for `T` where the CPU has it, else [`simd_kernel`]: what the
/// `avx512` rung runs.
pub fn avx512_kernel<T: Float>() -> MicroKernel<T> {
    #[cfg(target_arch = "x86_64")]
    if let Some(token) = avx512f() {
        return T::avx512_kernel(token);
    }
    simd_kernel()
}

/// The environment variable that overrides [`avx512_pays`]: `1` to use the AVX-512 kernel in
/// `threaded` and `auto` wherever the CPU has it, `0` never to.
pub const AVX512_ENV: &str = "SCRATCHNET_AVX512";

/// Whether the AVX-512 kernel is faster than the AVX2 one on this CPU, so `threaded` and
/// `auto` should run it. Having AVX-512F is not enough: Zen 4 executes each 512-bit FMA as two
/// 256-bit halves, so its AVX-512 peak equals its AVX2 peak and the wider tile only loses on
/// edges. Measured once per process: the two FMA-throughput loops, alternated three times for
/// a millisecond or two each (best of three); AVX-512 must do at least 1.3× the AVX2 work. (Both kernels add the
/// same products in the same order, so which one runs never changes a result.)
pub fn avx512_pays() -> bool {
    static PAYS: OnceLock<bool> = OnceLock::new();
    *PAYS.get_or_init(|| match std::env::var(AVX512_ENV).as_deref() {
        Ok("1") => has_avx512f(),
        Ok("0") => false,
        _ => avx512_gain().is_some_and(|gain| gain >= 1.3),
    })
}

/// [`measure_avx512_gain`], measured once per process and kept: the report header and the
/// kernel choice read the same figure.
pub fn avx512_gain() -> Option<f64> {
    static GAIN: OnceLock<Option<f64>> = OnceLock::new();
    *GAIN.get_or_init(measure_avx512_gain)
}

/// AVX-512 FMA throughput over AVX2's on this core, or `None` without both.
pub fn measure_avx512_gain() -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        use super::kernel::{avx2, avx512};
        let (wide, narrow) = (avx512f()?, avx2_fma()?);
        let rate = |flops_per_iter: f64, run: &dyn Fn(u64) -> f32| {
            // About a millisecond per loop at these cores' rates: long enough for the timer
            // and for the vector units to reach full speed, short enough to do once per run.
            let iters = 400_000;
            let start = std::time::Instant::now();
            // The count goes through black_box: a constant one lets LLVM fold the whole loop.
            std::hint::black_box(run(std::hint::black_box(iters)));
            flops_per_iter * iters as f64 / start.elapsed().as_secs_f64().max(1e-9)
        };
        let (mut best_wide, mut best_narrow) = (0.0_f64, 0.0_f64);
        for _ in 0..3 {
            best_wide = best_wide.max(rate(12.0 * 16.0 * 2.0, &|n| avx512::fma_peak_f32(wide, n)));
            best_narrow =
                best_narrow.max(rate(10.0 * 8.0 * 2.0, &|n| avx2::fma_peak_f32(narrow, n)));
        }
        Some(best_wide / best_narrow)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// The fastest microkernel for `T` on this CPU for products of any shape (see
/// [`avx512_pays`]); [`kernel_for`] picks for one shape.
pub fn fastest_kernel<T: Float>() -> MicroKernel<T> {
    if avx512_pays() {
        avx512_kernel()
    } else {
        simd_kernel()
    }
}

/// Where [`picks_by_shape`] holds, a one-thread product the direct rung suits runs the AVX-512
/// kernel in place only from this depth on (`Gemm::run`). A SimpleConvNet's forward product,
/// 30 filters × 25 (5×5) × 576 positions, ran 0.8 ms a step slower in place than packed with
/// the AVX2 kernel (2.42–2.48 against 1.58–1.66 ms, `train --net simple-cnn --iters 150
/// --profile`, Zen 4 VM), while every MLP product with k ≥ 50 gained.
pub const DIRECT_WIDE_MIN_K: usize = 32;

/// The microkernel `threaded` and `auto` run for a C of `m`×`n`: [`fastest_kernel`], except
/// where the CPU has AVX-512F at the AVX2 FMA rate (Zen 4; not refused by
/// `SCRATCHNET_AVX512=0`). There the two kernels run equally fast on whole tiles, and the one
/// whose tiles cover m×n with fewer wasted lanes ([`covered`]) wins: a conv layer's 16, 32 or
/// 64 filters are whole 8-row tiles of the AVX-512 kernel but 3, 6 or 11 tiles of 6 rows, and
/// a DeepConvNet step took 85 ms with this choice against 94 with the AVX2 kernel everywhere
/// on the Zen 4 VM, while the MLP's 100×100 products (13 × 3½ tiles of 8×32 against 17 × 6½
/// of 6×16) keep the AVX2 kernel, which ran them 3.5 % faster through the packed loops. A
/// product one thread runs, the direct rung suits and k is at least [`DIRECT_WIDE_MIN_K`]
/// takes the AVX-512 kernel anyway
/// (`Gemm::run`): in place and with masked edges it beat the packed AVX2 kernel on every MLP
/// product but one on the Zen 4 VM of 2026-12-07 (`bench gemm --kernels simd,direct`, three
/// alternated runs, GFLOP/s: 100×784×100 61–76 → 74–82, 100×50×10 26–27 → 54–55,
/// 50×100×10 Aᵀ 23–24 → 50–52, 100×100×784 Bᵀ 83–85 → 81–84). Both kernels add the same
/// products in the same order, so the choice never changes a result.
pub fn kernel_for<T: Float>(m: usize, n: usize) -> MicroKernel<T> {
    if !picks_by_shape() {
        return fastest_kernel();
    }
    let narrow = simd_kernel::<T>();
    let wide = avx512_kernel::<T>();
    if covered(&wide, m, n) < covered(&narrow, m, n) {
        wide
    } else {
        narrow
    }
}

/// Whether [`kernel_for`] chooses between the two kernels per shape here (AVX-512F at the AVX2
/// rate, not refused by `SCRATCHNET_AVX512=0`), decided once per process.
pub fn picks_by_shape() -> bool {
    static BY_SHAPE: OnceLock<bool> = OnceLock::new();
    *BY_SHAPE.get_or_init(|| {
        !avx512_pays() && has_avx512f() && std::env::var(AVX512_ENV).as_deref() != Ok("0")
    })
}

/// The elements a kernel's tiles compute for an m×n C: whole mr-row tiles, whole nr-wide
/// panels but the last, which runs the half-width tile where it is narrow enough.
pub fn covered<T: Float>(uk: &MicroKernel<T>, m: usize, n: usize) -> usize {
    let (mr, nr) = (uk.mr(), uk.nr());
    let rem = n % nr;
    let last = match rem {
        0 => 0,
        r if r <= nr / 2 && uk.half().is_some() => nr / 2,
        _ => nr,
    };
    m.div_ceil(mr) * mr * (n / nr * nr + last)
}

/// Threads to use when the caller does not say: `SCRATCHNET_THREADS` if it is valid, else
/// every core. Library callers get a working default whatever the environment holds; the
/// command line checks the variable with [`resolve_threads`] and refuses a bad one.
pub fn default_threads() -> usize {
    resolve_threads(None).unwrap_or_else(|_| cores())
}

/// The thread count for a `--threads` flag: the flag if given, else `SCRATCHNET_THREADS`, else
/// every core. Zero, more than [`max_threads`], or a variable that is not a whole number is an
/// error naming where the bad value came from.
pub fn resolve_threads(flag: Option<usize>) -> Result<usize> {
    let (value, source) = match flag {
        Some(t) => (t, "--threads".to_string()),
        None => match std::env::var(THREADS_ENV) {
            Err(_) => return Ok(cores()),
            Ok(s) if s.trim().is_empty() => return Ok(cores()),
            Ok(s) => match s.trim().parse::<usize>() {
                Ok(t) => (t, THREADS_ENV.to_string()),
                Err(_) => {
                    return Err(Error::Config(format!(
                        "{THREADS_ENV}='{s}' is not a thread count: set a whole number ≥ 1, or \
                         unset it to use every core"
                    )));
                }
            },
        },
    };
    let max = max_threads();
    if value == 0 {
        return Err(Error::Config(format!(
            "{source} must be at least 1 (omit it to use every core)"
        )));
    }
    if value > max {
        return Err(Error::Config(format!(
            "{source} {value} is more threads than this machine can use: at most {max} ({} cores)",
            cores()
        )));
    }
    Ok(value)
}

/// At or below this many multiply-adds `auto` skips packing and runs the `reordered` loop.
///
/// Packing copies m·k + k·n elements and fills whole register tiles before any arithmetic;
/// for a tiny product that costs more than the microkernel saves. Measured here
/// (`scratchnet bench gemm --kernels reordered,simd --sizes 4,8,12,16 --shapes 100x2x10`):
/// `reordered` wins at 4³ and 8³ (0.75 vs 0.41, 2.5 vs 2.1 GFLOP/s), `simd` from 12³ on
/// (4.8 vs 2.9) and on every MLP layer shape (100×50×10: 13.4 vs 3.5).
pub const AUTO_UNPACKED_MAX_MACS: usize = 1024;

/// Below this inner dimension packing cannot pay either: each packed element is used fewer
/// than this many times per tile (100×2×10: `reordered` 2.1, `simd` 1.8 GFLOP/s).
pub const AUTO_UNPACKED_MAX_K: usize = 2;

/// The rung `auto` runs for an m×k×n product. It depends on the shape only — never on the
/// thread count — so results stay bit-identical whatever `--threads` is.
pub fn auto_kernel(m: usize, k: usize, n: usize) -> Kernel {
    if m.saturating_mul(n).saturating_mul(k) <= AUTO_UNPACKED_MAX_MACS || k <= AUTO_UNPACKED_MAX_K {
        Kernel::Reordered
    } else {
        Kernel::Threaded
    }
}

#[cfg(test)]
mod covered_tests {
    use super::*;
    use crate::matrix::gemm::kernel::portable;

    #[test]
    fn covered_counts_whole_tiles_and_a_half_width_last_panel() {
        // The portable f32 kernel is 4×8 with no half-width tile: 10×10 computes 12×16.
        let uk = portable::kernel_f32();
        assert_eq!(covered(&uk, 10, 10), 12 * 16);
        assert_eq!(covered(&uk, 8, 16), 8 * 16);
        assert_eq!(covered(&uk, 1, 1), 4 * 8);
        assert_eq!(covered(&uk, 0, 5), 0);
        // The AVX2 kernel (6×16, with a half-width tile): a last panel of ≤ 8 columns costs 8.
        let simd = simd_kernel::<f32>();
        if simd.name() == "avx2+fma" {
            assert_eq!(covered(&simd, 100, 100), 102 * (96 + 8));
            assert_eq!(covered(&simd, 16, 810), 18 * (800 + 16));
        } else {
            assert!(
                std::env::var("SCRATCHNET_REQUIRE_AVX2").is_err(),
                "no AVX2 kernel"
            );
        }
    }
}
