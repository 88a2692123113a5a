//! The CPU's measured floating-point peak, the denominator of every "% of peak" figure.
//!
//! The probe runs independent FMA chains (no memory traffic) for a fixed time on each of the
//! requested threads at once, and keeps the best of several rounds. Measuring instead of
//! computing from a spec sheet catches what a spec sheet cannot: a VM's clock, turbo limits,
//! a core shared with another tenant.

use std::time::{Duration, Instant};

/// Measured peak throughput.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peak {
    /// f32 GFLOP/s of one core (an FMA counts as 2 flops).
    pub f32_per_core: f64,
    /// Threads the probe ran on at once.
    pub threads: usize,
    /// f32 GFLOP/s of all `threads` together.
    pub f32_total: f64,
    /// The instruction set the probe used: `"avx2+fma"` or `"scalar"`.
    pub isa: &'static str,
}

impl Peak {
    /// Peak GFLOP/s on `threads` cores for `precision` ("f32" or "f64"): a 256-bit FMA holds
    /// half as many f64 lanes, so the f64 peak is half the f32 one.
    pub fn gflops(&self, precision: &str, threads: usize) -> f64 {
        let per_core = if precision == "f64" {
            self.f32_per_core / 2.0
        } else {
            self.f32_per_core
        };
        let scale = if threads >= self.threads && self.threads > 0 {
            self.f32_total / self.f32_per_core / self.threads as f64
        } else {
            1.0
        };
        per_core * threads as f64 * scale
    }
}

/// Runs the probe on `threads` threads at once, `rounds` times for about `round` each.
pub fn measure(threads: usize, round: Duration, rounds: usize) -> Peak {
    let threads = threads.max(1);
    let single = best_of(rounds, || probe_threads(1, round));
    let total = if threads == 1 {
        single
    } else {
        best_of(rounds, || probe_threads(threads, round))
    };
    Peak {
        f32_per_core: single,
        threads,
        f32_total: total,
        isa: if crate::matrix::gemm::dispatch::has_avx2_fma() {
            "avx2+fma"
        } else {
            "scalar"
        },
    }
}

fn best_of(rounds: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..rounds.max(1)).map(|_| f()).fold(0.0, f64::max)
}

/// GFLOP/s of `threads` probes running together (sum over threads).
fn probe_threads(threads: usize, round: Duration) -> f64 {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(|| probe_one(round))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    })
}

/// One thread's GFLOP/s: calibrate an iteration count to `round`, then time it.
fn probe_one(round: Duration) -> f64 {
    let mut iters: u64 = 1 << 16;
    loop {
        let start = Instant::now();
        let (flops, sink) = fma_loop(iters);
        let elapsed = start.elapsed();
        std::hint::black_box(sink);
        if elapsed >= round || iters >= 1 << 40 {
            return flops / elapsed.as_secs_f64() / 1e9;
        }
        let scale = (round.as_secs_f64() / elapsed.as_secs_f64().max(1e-9)).clamp(1.5, 64.0);
        iters = (iters as f64 * scale) as u64;
    }
}

/// `iters` rounds of independent FMA chains; returns (flops, a value depending on all of them).
fn fma_loop(iters: u64) -> (f64, f32) {
    #[cfg(target_arch = "x86_64")]
    if let Some(token) = crate::matrix::gemm::dispatch::avx2_fma() {
        let sink = crate::matrix::gemm::kernel::avx2::fma_peak_f32(token, iters);
        return (iters as f64 * 10.0 * 8.0 * 2.0, sink);
    }
    // Portable fallback: 8 independent scalar chains the compiler may vectorise.
    let mut acc = [1.0_f32; 8];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = *x * 0.999_999 + 1e-7;
        }
    }
    (iters as f64 * 8.0 * 2.0, acc.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f64_peak_is_half_and_threads_scale() {
        let p = Peak {
            f32_per_core: 100.0,
            threads: 2,
            f32_total: 190.0,
            isa: "avx2+fma",
        };
        assert_eq!(p.gflops("f32", 1), 100.0);
        assert_eq!(p.gflops("f64", 1), 50.0);
        assert!((p.gflops("f32", 2) - 190.0).abs() < 1e-9);
    }

    #[test]
    fn probe_reports_a_positive_rate() {
        let p = measure(1, Duration::from_millis(5), 1);
        assert!(p.f32_per_core > 0.0 && p.f32_per_core.is_finite());
    }
}
