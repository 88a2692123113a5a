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
    /// The instruction set the probe used, the widest this CPU has: `"avx512f"`,
    /// `"avx2+fma"` or `"scalar"`. Every "% of peak" is against it, so a report never
    /// over-states the share of the machine a kernel uses.
    pub isa: &'static str,
    /// On an AVX-512 CPU, the single-core f32 peak with 256-bit AVX2 FMAs too: the roof the
    /// `simd` rung can reach (printed beside the widest in the report header).
    pub avx2_per_core: Option<f64>,
}

impl Peak {
    /// The higher of two readings, figure by figure. A reading taken while something else ran
    /// on a core comes out low, and a low peak makes a kernel's share of it look higher than it
    /// is (over 100 % in a report whose probe fell in a busy moment): the machine can do at
    /// least the best it was measured doing.
    ///
    /// Both must be readings of the same probe (same threads, same instruction set).
    pub fn best(self, other: Peak) -> Peak {
        let max_opt = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Peak {
            f32_per_core: self.f32_per_core.max(other.f32_per_core),
            f32_total: self.f32_total.max(other.f32_total),
            avx2_per_core: max_opt(self.avx2_per_core, other.avx2_per_core),
            ..self
        }
    }

    /// Peak GFLOP/s on `threads` cores for `precision` ("f32" or "f64"): a vector holds half
    /// as many f64 lanes, so the f64 peak is half the f32 one.
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

/// The FMA units a probe can drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Avx512,
    Avx2,
    Scalar,
}

impl Isa {
    /// The widest this CPU has.
    fn widest() -> Isa {
        if crate::matrix::gemm::dispatch::has_avx512f() {
            Isa::Avx512
        } else if crate::matrix::gemm::dispatch::has_avx2_fma() {
            Isa::Avx2
        } else {
            Isa::Scalar
        }
    }

    fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512f",
            Isa::Avx2 => "avx2+fma",
            Isa::Scalar => "scalar",
        }
    }
}

/// Runs the probe on `threads` threads at once, `rounds` times for about `round` each, with
/// the widest FMA unit; on an AVX-512 CPU also the AVX2 single-core peak.
pub fn measure(threads: usize, round: Duration, rounds: usize) -> Peak {
    let threads = threads.max(1);
    let isa = Isa::widest();
    let single = best_of(rounds, || probe_threads(isa, 1, round));
    let total = if threads == 1 {
        single
    } else {
        best_of(rounds, || probe_threads(isa, threads, round))
    };
    let avx2_per_core =
        (isa == Isa::Avx512).then(|| best_of(rounds, || probe_threads(Isa::Avx2, 1, round)));
    Peak {
        f32_per_core: single,
        threads,
        f32_total: total,
        isa: isa.name(),
        avx2_per_core,
    }
}

fn best_of(rounds: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..rounds.max(1)).map(|_| f()).fold(0.0, f64::max)
}

/// GFLOP/s of `threads` probes running together (sum over threads).
fn probe_threads(isa: Isa, threads: usize, round: Duration) -> f64 {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| s.spawn(move || probe_one(isa, round)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0.0)).sum()
    })
}

/// One thread's GFLOP/s: calibrate an iteration count to `round`, then time it.
fn probe_one(isa: Isa, round: Duration) -> f64 {
    let mut iters: u64 = 1 << 16;
    loop {
        let start = Instant::now();
        let (flops, sink) = fma_loop(isa, iters);
        let elapsed = start.elapsed();
        std::hint::black_box(sink);
        if elapsed >= round || iters >= 1 << 40 {
            return flops / elapsed.as_secs_f64() / 1e9;
        }
        let scale = (round.as_secs_f64() / elapsed.as_secs_f64().max(1e-9)).clamp(1.5, 64.0);
        iters = (iters as f64 * scale) as u64;
    }
}

/// `iters` rounds of independent FMA chains on `isa`; returns (flops, a value depending on all
/// of them).
fn fma_loop(isa: Isa, iters: u64) -> (f64, f32) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::matrix::gemm::{dispatch, kernel};
        if let (Isa::Avx512, Some(token)) = (isa, dispatch::avx512f()) {
            let sink = kernel::avx512::fma_peak_f32(token, iters);
            return (iters as f64 * 12.0 * 16.0 * 2.0, sink);
        }
        if let (Isa::Avx2 | Isa::Avx512, Some(token)) = (isa, dispatch::avx2_fma()) {
            let sink = kernel::avx2::fma_peak_f32(token, iters);
            return (iters as f64 * 10.0 * 8.0 * 2.0, sink);
        }
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
    fn the_best_of_two_peak_readings_takes_each_figure_at_its_highest() {
        let reading = |single: f64, total: f64, avx2: Option<f64>| Peak {
            f32_per_core: single,
            threads: 2,
            f32_total: total,
            isa: "avx512f",
            avx2_per_core: avx2,
        };
        let busy = reading(60.0, 150.0, Some(110.0));
        let idle = reading(102.0, 140.0, None);
        let best = busy.best(idle);
        assert_eq!(best, reading(102.0, 150.0, Some(110.0)));
        assert_eq!(idle.best(busy), best);
        assert_eq!(best.gflops("f32", 2), 150.0);
    }

    #[test]
    fn f64_peak_is_half_and_threads_scale() {
        let p = Peak {
            f32_per_core: 100.0,
            threads: 2,
            f32_total: 190.0,
            isa: "avx2+fma",
            avx2_per_core: None,
        };
        assert_eq!(p.gflops("f32", 1), 100.0);
        assert_eq!(p.gflops("f64", 1), 50.0);
        assert!((p.gflops("f32", 2) - 190.0).abs() < 1e-9);
    }

    #[test]
    fn probe_reports_a_positive_rate_with_the_widest_unit() {
        let p = measure(1, Duration::from_millis(5), 1);
        assert!(p.f32_per_core > 0.0 && p.f32_per_core.is_finite());
        assert_eq!(p.isa, Isa::widest().name());
        assert_eq!(p.avx2_per_core.is_some(), p.isa == "avx512f");
    }
}
