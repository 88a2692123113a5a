//! Run-time choices: which microkernel this CPU gets, how many threads, and which rung `auto`
//! picks for a shape. CPU feature detection happens here, once per process.

use std::sync::OnceLock;

use super::Kernel;
use super::kernel::MicroKernel;
use crate::matrix::Float;

#[cfg(target_arch = "x86_64")]
use super::kernel::avx2::Avx2Fma;

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

/// Threads to use when the caller does not say: `SCRATCHNET_THREADS` if set to a positive
/// integer, else every core the OS gives this process.
pub fn default_threads() -> usize {
    std::env::var("SCRATCHNET_THREADS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&t| t > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Below this many multiply-adds `auto` skips packing and runs the `reordered` loop.
///
/// Packing copies m·k + k·n elements before any arithmetic; for a product this small that
/// copy and the ragged edge tiles cost more than the microkernel saves. Measured on the MLP
/// shapes (docs/gemm.md, "Where packing stops paying"): `simd` already wins at 100×50×10
/// (50k multiply-adds), so the cut-off sits well below every layer shape.
pub const AUTO_UNPACKED_MAX_MACS: usize = 4096;

/// The rung `auto` runs for an m×k×n product. It depends on the shape only — never on the
/// thread count — so results stay bit-identical whatever `--threads` is.
pub fn auto_kernel(m: usize, k: usize, n: usize) -> Kernel {
    if m.saturating_mul(n).saturating_mul(k) <= AUTO_UNPACKED_MAX_MACS {
        Kernel::Reordered
    } else {
        Kernel::Threaded
    }
}
