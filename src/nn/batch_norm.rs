//! Batch normalisation (Ioffe & Szegedy, 2015), as in the textbook's `BatchNormalization`.

use super::{Layer, Mode, Param};
use crate::matrix::{Float, Matrix};

/// Normalises each feature over the batch, then scales by γ and shifts by β.
///
/// Train mode uses the batch's mean and variance and updates the running statistics
/// (`running = momentum · running + (1 − momentum) · batch`, momentum 0.9); eval mode uses the
/// running statistics. ε = 1e-6 (the textbook's `10e-7`).
#[derive(Debug)]
pub struct BatchNorm<T> {
    /// Scale γ, 1 × dim (starts at 1).
    pub gamma: Matrix<T>,
    /// Shift β, 1 × dim (starts at 0).
    pub beta: Matrix<T>,
    /// ∂L/∂γ of the last backward pass.
    pub dgamma: Matrix<T>,
    /// ∂L/∂β of the last backward pass.
    pub dbeta: Matrix<T>,
    /// Running mean of each feature, used in evaluation.
    pub running_mean: Vec<T>,
    /// Running variance of each feature, used in evaluation.
    pub running_var: Vec<T>,
    /// Weight of the old running statistics in each update (the book's 0.9).
    pub momentum: T,
    /// Added to the variance before its square root, so a constant feature does not divide by 0.
    pub eps: T,
    /// Cache of the last train-mode forward: x − μ (N × d) and √(σ² + ε) (d).
    xc: Matrix<T>,
    std: Vec<T>,
}

impl<T: Float> BatchNorm<T> {
    /// γ = 1, β = 0, running mean 0 and variance 1, for `dim` features.
    pub fn new(dim: usize) -> Self {
        BatchNorm {
            gamma: Matrix::filled(1, dim, T::ONE),
            beta: Matrix::zeros(1, dim),
            dgamma: Matrix::zeros(1, dim),
            dbeta: Matrix::zeros(1, dim),
            running_mean: vec![T::ZERO; dim],
            running_var: vec![T::ONE; dim],
            momentum: T::from_f64(0.9),
            eps: T::from_f64(1e-6),
            xc: Matrix::zeros(0, dim),
            std: vec![T::ONE; dim],
        }
    }

    /// Features normalised.
    pub fn dim(&self) -> usize {
        self.gamma.cols()
    }
}

// Per-feature index loops mirror the formulas (γⱼ, μⱼ, σⱼ) more plainly than zipped iterators.
#[allow(clippy::needless_range_loop)]
impl<T: Float> Layer<T> for BatchNorm<T> {
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, mode: Mode) {
        // x: N × d → out: N × d. Train mode caches xc = x − μ (N × d) and std (d).
        let (n, d) = x.shape();
        out.ensure_shape(n, d);
        match mode {
            Mode::Train => {
                let inv_n = T::ONE / T::from_f64(n.max(1) as f64);
                let mu: Vec<T> = x.sum_cols().into_iter().map(|s| s * inv_n).collect();
                self.xc.ensure_shape(n, d);
                for i in 0..n {
                    for ((c, &v), &m) in self.xc.row_mut(i).iter_mut().zip(x.row(i)).zip(&mu) {
                        *c = v - m;
                    }
                }
                let mut var = vec![T::ZERO; d];
                for i in 0..n {
                    for (s, &c) in var.iter_mut().zip(self.xc.row(i)) {
                        *s += c * c;
                    }
                }
                var.iter_mut().for_each(|v| *v *= inv_n);
                for j in 0..d {
                    self.std[j] = (var[j] + self.eps).sqrt();
                    let m = self.momentum;
                    self.running_mean[j] = m * self.running_mean[j] + (T::ONE - m) * mu[j];
                    self.running_var[j] = m * self.running_var[j] + (T::ONE - m) * var[j];
                }
                for i in 0..n {
                    let row = out.row_mut(i);
                    for j in 0..d {
                        let xn = self.xc.get(i, j) / self.std[j];
                        row[j] = self.gamma.as_slice()[j] * xn + self.beta.as_slice()[j];
                    }
                }
            }
            Mode::Eval => {
                let (g, b) = (self.gamma.as_slice(), self.beta.as_slice());
                for i in 0..n {
                    let (row, xr) = (out.row_mut(i), x.row(i));
                    for j in 0..d {
                        let xn = (xr[j] - self.running_mean[j])
                            / (self.running_var[j] + self.eps).sqrt();
                        row[j] = g[j] * xn + b[j];
                    }
                }
            }
        }
    }

    fn backward(
        &mut self,
        _x: &Matrix<T>,
        _out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    ) {
        // dout: N × d.  With xn = xc / std:
        //   dβ = Σₙ dout,  dγ = Σₙ xn·dout,  dxn = γ·dout
        //   dstd = −Σₙ dxn·xc / std²,  dvar = ½·dstd / std
        //   dxc = dxn / std + (2/N)·xc·dvar,  dμ = Σₙ dxc,  dx = dxc − dμ / N
        let (n, d) = dout.shape();
        let inv_n = T::ONE / T::from_f64(n.max(1) as f64);
        let gamma = self.gamma.as_slice();
        let mut dgamma = vec![T::ZERO; d];
        let mut dstd = vec![T::ZERO; d];
        for i in 0..n {
            let (g_row, c_row) = (dout.row(i), self.xc.row(i));
            for j in 0..d {
                dgamma[j] += c_row[j] / self.std[j] * g_row[j];
                dstd[j] -= gamma[j] * g_row[j] * c_row[j] / (self.std[j] * self.std[j]);
            }
        }
        dout.sum_cols_into(self.dbeta.as_mut_slice());
        self.dgamma.as_mut_slice().copy_from_slice(&dgamma);
        let Some(dx) = dx else { return };
        let dvar: Vec<T> = (0..d)
            .map(|j| T::from_f64(0.5) * dstd[j] / self.std[j])
            .collect();
        dx.ensure_shape(n, d);
        let two_n = T::from_f64(2.0) * inv_n;
        let mut dmu = vec![T::ZERO; d];
        for i in 0..n {
            let (g_row, c_row) = (dout.row(i), self.xc.row(i));
            let dx_row = dx.row_mut(i);
            for j in 0..d {
                let dxc = gamma[j] * g_row[j] / self.std[j] + two_n * c_row[j] * dvar[j];
                dx_row[j] = dxc;
                dmu[j] += dxc;
            }
        }
        for i in 0..n {
            for (v, &m) in dx.row_mut(i).iter_mut().zip(&dmu) {
                *v -= m * inv_n;
            }
        }
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        let shape = (1, self.dim());
        f(Param {
            name: "weight",
            value: self.gamma.as_mut_slice(),
            grad: self.dgamma.as_mut_slice(),
            decay: false,
            shape,
        });
        f(Param {
            name: "bias",
            value: self.beta.as_mut_slice(),
            grad: self.dbeta.as_mut_slice(),
            decay: false,
            shape,
        });
    }

    fn visit_buffers(&mut self, f: &mut dyn FnMut(&'static str, &mut [T])) {
        f("running_mean", &mut self.running_mean);
        f("running_var", &mut self.running_var);
    }
}
