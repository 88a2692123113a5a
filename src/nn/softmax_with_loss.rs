//! Softmax followed by cross-entropy, fused: the output layer of every classifier here.

use crate::error::{Error, Result};
use crate::matrix::{Float, Matrix, softmax_in_place};

/// What the loss compares against: class indices, or one-hot rows as the textbook also uses
/// (softmax with loss); or real target values, one row per sample (squared error).
#[derive(Clone, Copy, Debug)]
pub enum Targets<'a, T> {
    /// A class index per row.
    Labels(&'a [usize]),
    /// A probability row per sample (one-hot or soft labels).
    OneHot(&'a Matrix<T>),
    /// A target value per output (regression, the squared-error head).
    Values(&'a Matrix<T>),
}

impl<T: Float> Targets<'_, T> {
    /// Number of samples.
    pub fn len(&self) -> usize {
        match self {
            Targets::Labels(l) => l.len(),
            Targets::OneHot(m) | Targets::Values(m) => m.rows(),
        }
    }

    /// Whether there are no targets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the targets against scores of shape n × classes.
    fn check(&self, n: usize, classes: usize) -> Result<()> {
        match self {
            Targets::Labels(l) => {
                if l.len() != n {
                    return Err(Error::shape(
                        "SoftmaxWithLoss",
                        format!("{n} labels"),
                        format!("{}", l.len()),
                    ));
                }
                if let Some(&bad) = l.iter().find(|&&c| c >= classes) {
                    return Err(Error::Config(format!(
                        "label {bad} is out of range for {classes} classes"
                    )));
                }
            }
            Targets::Values(_) => {
                return Err(Error::Config(
                    "softmax with loss needs class labels, not target values: a regression \
                     needs a squared-error output"
                        .into(),
                ));
            }
            Targets::OneHot(m) => {
                if m.shape() != (n, classes) {
                    return Err(Error::shape(
                        "SoftmaxWithLoss (one-hot targets)",
                        format!("{n}×{classes}"),
                        format!("{}×{}", m.rows(), m.cols()),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `loss = −(1/N) Σₙ Σ_c t[n, c] · log softmax(x)[n, c]`.
///
/// The log-softmax is computed as `x − max − log Σ exp(x − max)` (log-sum-exp), exact for any
/// score magnitude; the textbook's `log(y + 1e-7)` would bias both loss and gradient slightly.
/// Backward is the famous `(y − t) / N`: softmax's Jacobian and the log's derivative cancel.
#[derive(Debug, Default)]
pub struct SoftmaxWithLoss<T> {
    /// softmax(x) of the last forward pass: N × classes.
    pub y: Matrix<T>,
}

impl<T: Float> SoftmaxWithLoss<T> {
    /// A layer with nothing remembered yet.
    pub fn new() -> Self {
        SoftmaxWithLoss {
            y: Matrix::zeros(0, 0),
        }
    }

    /// Computes and caches `y = softmax(x)`; returns the mean cross-entropy against `t`.
    pub fn forward(&mut self, x: &Matrix<T>, t: Targets<'_, T>) -> Result<T> {
        // x: N × C scores.  Caches y: N × C probabilities.
        let (n, classes) = x.shape();
        t.check(n, classes)?;
        self.y.copy_from(x);
        let mut total = 0.0_f64;
        for i in 0..n {
            let (max, sum) = softmax_in_place(self.y.row_mut(i));
            let log_sum = sum.ln();
            let xi = x.row(i);
            // −log softmax(x)_c = log Σ exp(x − max) − (x_c − max)
            let nll = |c: usize| (log_sum - (xi[c] - max)).to_f64();
            total += match t {
                Targets::Labels(l) => nll(l[i]),
                Targets::OneHot(m) => (0..classes).map(|c| m.get(i, c).to_f64() * nll(c)).sum(),
                Targets::Values(_) => unreachable!("refused by check"),
            };
        }
        Ok(T::from_f64(total / n.max(1) as f64))
    }

    /// `dx = (y − t) / N` into `dx`.
    pub fn backward(&self, t: Targets<'_, T>, dx: &mut Matrix<T>) {
        let n = self.y.rows();
        dx.copy_from(&self.y);
        let inv_n = T::ONE / T::from_f64(n.max(1) as f64);
        match t {
            Targets::Labels(l) => {
                for (i, &c) in l.iter().enumerate() {
                    let v = dx.get(i, c);
                    dx.set(i, c, v - T::ONE);
                }
            }
            Targets::OneHot(m) | Targets::Values(m) => {
                for (d, &tv) in dx.as_mut_slice().iter_mut().zip(m.as_slice()) {
                    *d -= tv;
                }
            }
        }
        dx.scale_in_place(inv_n);
    }
}
