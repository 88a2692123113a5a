//! GEMM throughput: time each rung on each problem, report median GFLOP/s = 2·m·n·k / t.
//!
//! Inputs are random in [-1, 1) (never zeros: some CPUs shortcut them), C starts random and
//! β = 0, as in a layer's forward pass. Every point gets a warm-up run, then repeated runs until
//! its time budget is spent (at least [`MIN_RUNS`]); the median is reported with min and max so
//! a noisy run shows.
//!
//! Slow rungs at large sizes (the naive loop takes about 30 s at n = 2048) are not skipped: when
//! one full product would overrun the point's budget cap, the rung is timed on a band of C's
//! first rows instead. A row of C costs the same whichever row it is, so the rate carries over;
//! such points are marked `sampled`.

use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::error::{Error, Result};
use crate::matrix::gemm::{Gemm, Kernel};
use crate::matrix::{Float, MatRef, Matrix};

/// A point whose interquartile range exceeds this fraction of its median is reported as noisy.
pub const NOISY_IQR: f64 = 0.15;

/// Each point runs at least this many timed repetitions (unless sampled and over budget).
pub const MIN_RUNS: usize = 3;

/// One product to time: `m`×`k` times `k`×`n`, with either operand optionally stored
/// transposed (as backprop's `Xᵀ·dY` and `dY·Wᵀ`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Rows of A and C.
    pub m: usize,
    /// Columns of A, rows of B: the length of each dot product.
    pub k: usize,
    /// Columns of B and C.
    pub n: usize,
    /// A is stored transposed (k × m), as Xᵀ in the weight gradient.
    pub trans_a: bool,
    /// B is stored transposed (n × k), as Wᵀ in the input gradient.
    pub trans_b: bool,
}

impl Problem {
    /// n×n×n, no transposes.
    pub fn square(n: usize) -> Self {
        Problem {
            m: n,
            k: n,
            n,
            trans_a: false,
            trans_b: false,
        }
    }

    /// Whether m = k = n (the ladder's headline sizes).
    pub fn is_square(&self) -> bool {
        self.m == self.k && self.k == self.n && !self.trans_a && !self.trans_b
    }

    /// Floating-point operations of the product: 2·m·k·n (a multiply and an add each).
    pub fn flops(&self) -> f64 {
        2.0 * self.m as f64 * self.n as f64 * self.k as f64
    }

    /// `100x784x100`, with `ᵀA`/`ᵀB` suffixes: the label tables and charts show.
    pub fn label(&self) -> String {
        let mut s = format!("{}x{}x{}", self.m, self.k, self.n);
        if self.trans_a {
            s.push_str(" Aᵀ");
        }
        if self.trans_b {
            s.push_str(" Bᵀ");
        }
        s
    }

    /// The MLP shapes of `bench gemm`'s default: forward passes of 784-100-50-10 at batch 100,
    /// and the two backward products of the first layer (dW = Xᵀ·dY, dX = dY·Wᵀ).
    pub fn mlp_shapes() -> Vec<Problem> {
        let p = |m, k, n, trans_a, trans_b| Problem {
            m,
            k,
            n,
            trans_a,
            trans_b,
        };
        vec![
            p(100, 784, 100, false, false),
            p(100, 784, 50, false, false),
            p(100, 100, 50, false, false),
            p(100, 50, 10, false, false),
            p(784, 100, 100, true, false),
            p(100, 100, 784, false, true),
        ]
    }
}

impl std::str::FromStr for Problem {
    type Err = Error;

    /// Parses `MxKxN` (also with `×`), optionally followed by which operands are stored
    /// transposed: `784x100x100:ta`, `100x100x784:tb`, `64x64x64:tab`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            Error::Config(format!(
                "invalid shape '{s}': expected MxKxN with positive integers, e.g. 100x784x100, \
                 optionally :ta, :tb or :tab for transposed A and/or B"
            ))
        };
        let (dims, flags) = match s.split_once(':') {
            Some((d, f)) => (d, f),
            None => (s, ""),
        };
        let parts: Vec<usize> = dims
            .split(['x', '×', 'X'])
            .map(|p| p.trim().parse::<usize>().map_err(|_| bad()))
            .collect::<Result<_>>()?;
        if parts.len() != 3 || parts.contains(&0) {
            return Err(bad());
        }
        let (trans_a, trans_b) = match flags {
            "" => (false, false),
            "ta" => (true, false),
            "tb" => (false, true),
            "tab" => (true, true),
            _ => return Err(bad()),
        };
        Ok(Problem {
            m: parts[0],
            k: parts[1],
            n: parts[2],
            trans_a,
            trans_b,
        })
    }
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct Config {
    /// The rungs to time, in this order.
    pub kernels: Vec<Kernel>,
    /// The products to time each rung on.
    pub problems: Vec<Problem>,
    /// Threads for the threaded rungs (`threaded`, `auto`); the others always use one.
    pub threads: usize,
    /// Time spent on each point (after the warm-up).
    pub budget: Duration,
    /// A single product longer than this is timed on a band of rows instead (see module doc).
    pub max_run: Duration,
    /// Seed of the operands' random values.
    pub seed: u64,
}

/// One measured point.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// The rung that was asked for.
    pub kernel: Kernel,
    /// The product it ran.
    pub problem: Problem,
    /// Threads it ran on.
    pub threads: usize,
    /// `f32` or `f64`.
    pub precision: &'static str,
    /// Median GFLOP/s over the runs: the figure reported.
    pub gflops_median: f64,
    /// Slowest run's GFLOP/s.
    pub gflops_min: f64,
    /// Fastest run's GFLOP/s.
    pub gflops_max: f64,
    /// Runs timed within the budget.
    pub runs: usize,
    /// Interquartile range of the runs over their median: above [`NOISY_IQR`] the point is noisy.
    pub iqr_rel: f64,
    /// `Some(rows)` when only the first `rows` rows of C were timed.
    pub sampled_rows: Option<usize>,
}

/// Times every (problem, kernel) pair of `config` in `T`; `progress(done, total, label)` is
/// called before each point.
pub fn run<T: Float>(
    config: &Config,
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Vec<Point>> {
    if config.kernels.is_empty() || config.problems.is_empty() {
        return Err(Error::Config(
            "nothing to measure: give at least one kernel and one size or shape".into(),
        ));
    }
    let mut rng = StdRng::seed_from_u64(config.seed);
    let total = config.kernels.len() * config.problems.len();
    let mut points = Vec::with_capacity(total);
    for problem in &config.problems {
        let Problem { m, k, n, .. } = *problem;
        // Operands stored as the problem says: a transposed operand is stored the other way
        // round and viewed through `.t()`.
        let a_store = if problem.trans_a {
            Matrix::<T>::random_uniform(k, m, -1.0, 1.0, &mut rng)
        } else {
            Matrix::<T>::random_uniform(m, k, -1.0, 1.0, &mut rng)
        };
        let b_store = if problem.trans_b {
            Matrix::<T>::random_uniform(n, k, -1.0, 1.0, &mut rng)
        } else {
            Matrix::<T>::random_uniform(k, n, -1.0, 1.0, &mut rng)
        };
        let a = if problem.trans_a {
            a_store.t()
        } else {
            a_store.view()
        };
        let b = if problem.trans_b {
            b_store.t()
        } else {
            b_store.view()
        };
        let mut c = Matrix::<T>::random_uniform(m, n, -1.0, 1.0, &mut rng);
        for &kernel in &config.kernels {
            progress(
                points.len(),
                total,
                &format!("{kernel} {}", problem.label()),
            );
            let threads = if kernel.is_threaded() {
                config.threads
            } else {
                1
            };
            points.push(time_point(kernel, problem, threads, a, b, &mut c, config)?);
        }
    }
    progress(total, total, "done");
    Ok(points)
}

fn time_point<T: Float>(
    kernel: Kernel,
    problem: &Problem,
    threads: usize,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    c: &mut Matrix<T>,
    config: &Config,
) -> Result<Point> {
    let mut gemm = Gemm::<T>::with_threads(kernel, threads);
    let (m, k, n) = (problem.m, problem.k, problem.n);
    // Warm-up on a small band: pages in the buffers and estimates the cost of a full product.
    let probe_rows = m.min(16);
    let probe = time_rows(&mut gemm, a, b, c, probe_rows)?;
    let est_full = probe.as_secs_f64() * m as f64 / probe_rows as f64;
    let rows = if est_full <= config.max_run.as_secs_f64() {
        m
    } else {
        let fit = (m as f64 * config.max_run.as_secs_f64() / est_full) as usize;
        fit.clamp(1, m)
    };
    if rows == m {
        time_rows(&mut gemm, a, b, c, m)?; // warm-up at full size
    }
    let flops = problem.flops() * rows as f64 / m as f64;
    // Each run with the threads it ran on, so % of peak is against those cores. Asking first
    // also takes any pool re-check that is due (`threaded::pool_pays`) outside the timing.
    let mut runs: Vec<(usize, f64)> = Vec::new();
    let start = Instant::now();
    while runs.len() < MIN_RUNS || start.elapsed() < config.budget {
        let used = gemm.threads_used(rows, k, n);
        let t = time_rows(&mut gemm, a, b, c, rows)?;
        runs.push((used, flops / t.as_secs_f64().max(1e-12) / 1e9));
        if runs.len() >= 10_000 {
            break;
        }
    }
    // A re-measured pool check can move a mid-sized product between one thread and two during
    // a row: the row reports the runs at the thread count most of them had.
    let threads = most_common(runs.iter().map(|&(used, _)| used));
    let mut rates: Vec<f64> = runs
        .iter()
        .filter(|&&(used, _)| used == threads)
        .map(|&(_, rate)| rate)
        .collect();
    rates.sort_by(f64::total_cmp);
    Ok(Point {
        kernel,
        problem: *problem,
        threads,
        precision: T::NAME,
        gflops_median: median(&rates),
        gflops_min: rates[0],
        gflops_max: rates[rates.len() - 1],
        runs: rates.len(),
        iqr_rel: (quantile(&rates, 0.75) - quantile(&rates, 0.25)) / median(&rates),
        sampled_rows: (rows < m).then_some(rows),
    })
}

/// The value that occurs most often (the smallest of those tied); 1 for none.
fn most_common(values: impl Iterator<Item = usize>) -> usize {
    let mut counts = std::collections::BTreeMap::new();
    for v in values {
        *counts.entry(v).or_insert(0_usize) += 1;
    }
    let top = counts.values().copied().max().unwrap_or(0);
    counts
        .into_iter()
        .find(|&(_, count)| count == top)
        .map_or(1, |(v, _)| v)
}

/// Times C[..rows] ← A[..rows]·B once.
fn time_rows<T: Float>(
    gemm: &mut Gemm<T>,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    c: &mut Matrix<T>,
    rows: usize,
) -> Result<Duration> {
    let (k, n) = (a.cols(), b.cols());
    let a_band = a.sub(0, 0, rows, k);
    let c_band = c.view_mut().sub(0, 0, rows, n);
    let start = Instant::now();
    gemm.run(T::ONE, a_band, b, T::ZERO, c_band)?;
    let t = start.elapsed();
    std::hint::black_box(c.as_slice());
    Ok(t)
}

/// The `q` quantile of sorted values (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The median of sorted values (mean of the middle two for an even count).
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_reports_the_thread_count_most_runs_had() {
        assert_eq!(most_common([2, 1, 2, 2, 1].into_iter()), 2);
        assert_eq!(most_common([1, 2, 1].into_iter()), 1);
        assert_eq!(most_common([2, 1].into_iter()), 1);
        assert_eq!(most_common(std::iter::empty()), 1);
    }

    #[test]
    fn parses_shapes() {
        let p: Problem = "100x784x100".parse().unwrap();
        assert_eq!(
            (p.m, p.k, p.n, p.trans_a, p.trans_b),
            (100, 784, 100, false, false)
        );
        let p: Problem = "784×100×100:ta".parse().unwrap();
        assert!(p.trans_a && !p.trans_b);
        assert!("100x0x3".parse::<Problem>().is_err());
        assert!("100x3".parse::<Problem>().is_err());
        assert!("1x2x3:tz".parse::<Problem>().is_err());
        assert_eq!(p.label(), "784x100x100 Aᵀ");
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[1.0, 2.0, 10.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 3.0, 10.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn samples_slow_rungs_instead_of_skipping() {
        let config = Config {
            kernels: vec![Kernel::Naive, Kernel::Simd],
            problems: vec![Problem::square(96)],
            threads: 1,
            budget: Duration::from_millis(1),
            max_run: Duration::from_nanos(1),
            seed: 1,
        };
        let points = run::<f32>(&config, |_, _, _| {}).unwrap();
        assert_eq!(points.len(), 2);
        for p in &points {
            assert_eq!(p.sampled_rows, Some(1), "{p:?}");
            assert!(p.gflops_median > 0.0 && p.runs >= MIN_RUNS);
        }
    }
}
