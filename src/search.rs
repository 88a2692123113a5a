//! Hyper-parameter search, as the book's `hyperparameter_optimization.py` does it: hold part of
//! the training set out as validation data ([`Dataset::hold_out`]), draw the learning rate and
//! the weight decay at random on log scales, train each draw briefly, and rank the draws by
//! validation accuracy.
//!
//! Random draws rather than a grid, because (Bergstra & Bengio, 2012) when only one or two of
//! the parameters matter a grid spends most of its trials repeating the same few values of
//! them; log scales because a learning rate of 1e-5 differs from 1e-4 as much as 1e-3 from 1e-2.
//! The test set is never looked at: a hyper-parameter chosen by its test accuracy would make
//! that accuracy a tuned number instead of a measurement.
//!
//! Every trial starts from the same seed (the same initial weights and batch order), so two
//! trials differ only in their draw; the draws themselves come from their own stream of that
//! seed. Trials run side by side on `workers` threads, each on one; the results do not depend
//! on how many.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::matrix::Float;
use crate::optim::OptimizerConfig;
use crate::session::{Session, Settings};
use crate::train::History;

/// A range `lo..=hi` (both > 0) drawn from uniformly in log₁₀ — the book's `10 **
/// np.random.uniform(-6, -2)`. `lo == hi` is one fixed value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LogRange {
    /// The lowest value.
    pub lo: f64,
    /// The highest value.
    pub hi: f64,
}

impl LogRange {
    /// Parses `LO..HI` (`1e-6..1e-2`) or a single value; `flag` names it in errors.
    pub fn parse(flag: &str, s: &str) -> Result<Self> {
        let number = |v: &str| {
            v.trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "{flag} '{s}': '{}' is not a number > 0 (a log scale has no 0)",
                        v.trim()
                    ))
                })
        };
        let (lo, hi) = match s.split_once("..") {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let v = number(s)?;
                (v, v)
            }
        };
        if lo > hi {
            return Err(Error::Config(format!(
                "{flag} '{s}': the low end is above the high end"
            )));
        }
        Ok(LogRange { lo, hi })
    }

    fn draw(&self, rng: &mut StdRng) -> f64 {
        let (a, b) = (self.lo.log10(), self.hi.log10());
        if a == b {
            return self.lo;
        }
        10f64.powf(rng.random_range(a..b))
    }
}

/// Which end of a range a value sits at, if it is within its outer tenth (on the log scale).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// Near the low end.
    Low,
    /// Near the high end.
    High,
}

impl LogRange {
    /// [`Edge::High`] when `v` lies in the top tenth of the range (in log₁₀), [`Edge::Low`] in
    /// the bottom tenth: a best trial there says the good values may lie outside the range,
    /// which narrowing around it would never find. `None` for a fixed value.
    pub fn edge(&self, v: f64) -> Option<Edge> {
        let (a, b) = (self.lo.log10(), self.hi.log10());
        if a == b {
            return None;
        }
        let t = (v.log10() - a) / (b - a);
        if t > 0.9 {
            Some(Edge::High)
        } else if t < 0.1 {
            Some(Edge::Low)
        } else {
            None
        }
    }
}

impl std::fmt::Display for LogRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.lo == self.hi {
            write!(f, "{:e}", self.lo)
        } else {
            // Exponents to three decimals without trailing zeros: 10^U(-6, -2), 10^U(-2.5, -1).
            let exponent = |v: f64| {
                let t = format!("{:.3}", v.log10());
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            };
            write!(f, "10^U({}, {})", exponent(self.lo), exponent(self.hi))
        }
    }
}

/// What is searched: the learning rate, and the weight decay unless it is held at 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Space {
    /// The learning rates drawn from.
    pub lr: LogRange,
    /// The weight decays drawn from; `None` holds it at 0.
    pub weight_decay: Option<LogRange>,
}

/// One trial's hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Draw {
    /// The learning rate.
    pub lr: f64,
    /// The L2 weight decay λ.
    pub weight_decay: f64,
}

/// `trials` draws from `space`, a function of `seed` alone (the weight decay first, then the
/// learning rate, as the book draws them).
pub fn draws(space: &Space, trials: usize, seed: u64) -> Vec<Draw> {
    // Mixed into the seed so the draws never share a stream with init, batches or the split.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5ea2_c4ed_u64);
    (0..trials)
        .map(|_| {
            let weight_decay = space.weight_decay.map_or(0.0, |r| r.draw(&mut rng));
            let lr = space.lr.draw(&mut rng);
            Draw { lr, weight_decay }
        })
        .collect()
}

/// How one trial ended.
#[derive(Clone, Debug)]
pub struct Trial {
    /// Its place in the order drawn (0-based).
    pub index: usize,
    /// Its hyper-parameters.
    pub draw: Draw,
    /// The run's history, whose test accuracies are on the validation part; or why it stopped
    /// (a divergence, which does not stop the search).
    pub outcome: std::result::Result<History, String>,
}

impl Trial {
    /// The last epoch's validation accuracy (`None` for a diverged trial).
    pub fn val_acc(&self) -> Option<f64> {
        let h = self.outcome.as_ref().ok()?;
        h.epochs.last().map(|r| r.test_acc)
    }
}

/// Trains `base` once per draw on `split` (a [`Dataset::hold_out`], whose test set is the
/// validation part), `workers` trials at a time, each on one thread. `on_done` hears about each
/// trial as it ends (from the thread that ran it). Returns the trials in the order drawn; a
/// diverged trial is recorded, any other error ends the search.
pub fn run<T: Float>(
    base: &Settings,
    split: &Dataset,
    draws: &[Draw],
    workers: usize,
    on_done: impl Fn(&Trial) + Sync,
) -> Result<Vec<Trial>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let done: Mutex<Vec<Trial>> = Mutex::new(Vec::with_capacity(draws.len()));
    let error: Mutex<Option<Error>> = Mutex::new(None);
    let threads = if workers > 1 { 1 } else { base.threads };
    let work = || {
        loop {
            let index = next.fetch_add(1, Ordering::Relaxed);
            if index >= draws.len() || failed.load(Ordering::Relaxed) {
                return;
            }
            let draw = draws[index];
            match trial::<T>(base, split, draw, threads) {
                Ok(outcome) => {
                    let t = Trial {
                        index,
                        draw,
                        outcome,
                    };
                    on_done(&t);
                    done.lock().unwrap_or_else(|p| p.into_inner()).push(t);
                }
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    error
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                    return;
                }
            }
        }
    };
    std::thread::scope(|s| {
        for _ in 1..workers.clamp(1, draws.len().max(1)) {
            s.spawn(work);
        }
        work();
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut trials = done.into_inner().unwrap_or_else(|p| p.into_inner());
    trials.sort_by_key(|t| t.index);
    Ok(trials)
}

/// One trial: `base` with the draw's learning rate and weight decay, start to end.
fn trial<T: Float>(
    base: &Settings,
    split: &Dataset,
    draw: Draw,
    threads: usize,
) -> Result<std::result::Result<History, String>> {
    let settings = Settings {
        optimizer: OptimizerConfig::from_name(base.optimizer.name(), Some(draw.lr))?,
        weight_decay: draw.weight_decay,
        threads,
        ..base.clone()
    };
    let never = AtomicBool::new(false);
    let mut session = Session::<T>::start(&settings, split)?;
    match session.run(None, &never, |_| {}, |_| Ok(())) {
        Ok(_) => Ok(Ok(session.state.history)),
        Err(Error::Diverged { step, .. }) => Ok(Err(format!("diverged at iteration {step}"))),
        Err(e) => Err(e),
    }
}

/// The trials ranked best first by validation accuracy (diverged ones last, in the order
/// drawn); ties keep the order drawn.
pub fn ranked(trials: &[Trial]) -> Vec<&Trial> {
    let mut order: Vec<&Trial> = trials.iter().collect();
    order.sort_by(|a, b| {
        let key = |t: &Trial| t.val_acc().unwrap_or(f64::NEG_INFINITY);
        key(b).total_cmp(&key(a)).then(a.index.cmp(&b.index))
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_draw_inside_on_a_log_scale() {
        let r = LogRange::parse("--lr-range", "1e-6..1e-2").unwrap();
        assert_eq!((r.lo, r.hi), (1e-6, 1e-2));
        let fixed = LogRange::parse("--lr-range", "0.01").unwrap();
        assert_eq!((fixed.lo, fixed.hi), (0.01, 0.01));
        for bad in ["0..1", "-1..1", "1e-2..1e-6", "x", "1e-3..", "inf"] {
            let e = LogRange::parse("--lr-range", bad).unwrap_err().to_string();
            assert!(e.contains("--lr-range"), "{bad}: {e}");
        }
        let space = Space {
            lr: r,
            weight_decay: None,
        };
        let d = draws(&space, 400, 1);
        assert!(d.iter().all(|d| (1e-6..1e-2).contains(&d.lr)));
        assert!(d.iter().all(|d| d.weight_decay == 0.0));
        // Uniform in log10: each decade gets about a quarter of the draws (100 ± 30 of 400).
        for decade in -6..-2 {
            let lo = 10f64.powi(decade);
            let count = d.iter().filter(|d| d.lr >= lo && d.lr < lo * 10.0).count();
            assert!((70..=130).contains(&count), "decade {decade}: {count}");
        }
        // A function of the seed.
        assert_eq!(draws(&space, 400, 1), d);
        assert_ne!(draws(&space, 400, 2), d);
        let fixed_space = Space {
            lr: fixed,
            weight_decay: Some(LogRange::parse("--weight-decay-range", "1e-8..1e-4").unwrap()),
        };
        assert_eq!(r.to_string(), "10^U(-6, -2)");
        assert_eq!(
            LogRange::parse("x", "0.003..0.1").unwrap().to_string(),
            "10^U(-2.523, -1)"
        );
        assert_eq!(fixed.to_string(), "1e-2");
        // 9.2e-3 is in the top tenth of 1e-6..1e-2 (above 10^-2.4 ≈ 4.0e-3); 1e-4 is not.
        assert_eq!(r.edge(9.2e-3), Some(Edge::High));
        assert_eq!(r.edge(3.0e-3), None);
        assert_eq!(r.edge(1e-4), None);
        assert_eq!(r.edge(2e-6), Some(Edge::Low));
        assert_eq!(fixed.edge(0.01), None);
        let f = draws(&fixed_space, 50, 3);
        assert!(f.iter().all(|d| d.lr == 0.01));
        assert!(f.iter().all(|d| (1e-8..1e-4).contains(&d.weight_decay)));
    }
}
