//! Affine (fully connected) layer: `out = x·W + b`.

use super::{Layer, Mode, Param, visit_weight_and_bias};
use crate::matrix::gemm::{Gemm, Kernel};
use crate::matrix::{Float, Matrix};

/// `out = x·W + b` with `W`: in × out, `b`: 1 × out.
///
/// Backward, as GEMMs on transposed views (nothing is transposed in memory):
/// `dW = xᵀ·dout`, `db = Σ_rows dout`, `dx = dout·Wᵀ` — and `dx` is skipped for the first
/// layer, whose input is data.
#[derive(Debug)]
pub struct Affine<T> {
    /// Weights, n_in × n_out: the layer computes X·W + b.
    pub w: Matrix<T>,
    /// Bias, 1 × n_out.
    pub b: Matrix<T>,
    /// ∂L/∂W of the last backward pass.
    pub dw: Matrix<T>,
    /// ∂L/∂b of the last backward pass.
    pub db: Matrix<T>,
    gemm: Gemm<T>,
}

impl<T: Float> Affine<T> {
    /// A layer with the given weights and zero bias; GEMM runs on up to `threads` threads.
    pub fn new(w: Matrix<T>, threads: usize) -> Self {
        let (n_in, n_out) = w.shape();
        Affine {
            w,
            b: Matrix::zeros(1, n_out),
            dw: Matrix::zeros(n_in, n_out),
            db: Matrix::zeros(1, n_out),
            gemm: Gemm::with_threads(Kernel::Auto, threads),
        }
    }

    /// The input width.
    pub fn n_in(&self) -> usize {
        self.w.rows()
    }

    /// The output width.
    pub fn n_out(&self) -> usize {
        self.w.cols()
    }

    /// The parameter gradients of backward, without `dx`: `dW = xᵀ·dout`, `db = Σ_rows dout`
    /// (x: N × in, dout: N × out). All a first layer needs, whose input is data.
    pub fn backward_params(&mut self, x: &Matrix<T>, dout: &Matrix<T>) {
        self.gemm
            .run(T::ONE, x.t(), dout.view(), T::ZERO, self.dw.view_mut())
            .expect("Affine: dW shape");
        dout.sum_cols_into(self.db.as_mut_slice());
    }
}

impl<T: Float> Layer<T> for Affine<T> {
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, _mode: Mode) {
        // x: N × in, W: in × out  →  out: N × out. Caches nothing: backward reads x.
        out.ensure_shape(x.rows(), self.n_out());
        self.gemm
            .run(T::ONE, x.view(), self.w.view(), T::ZERO, out.view_mut())
            .expect("Affine: the network checked the input width");
        out.add_row_in_place(self.b.as_slice())
            .expect("bias width matches W");
    }

    fn backward(
        &mut self,
        x: &Matrix<T>,
        _out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    ) {
        // dout: N × out.  dW = xᵀ·dout (in × out), db = Σ_n dout (1 × out), dx = dout·Wᵀ (N × in).
        self.backward_params(x, dout);
        if let Some(dx) = dx {
            dx.ensure_shape(dout.rows(), self.n_in());
            self.gemm
                .run(T::ONE, dout.view(), self.w.t(), T::ZERO, dx.view_mut())
                .expect("Affine: dx shape");
        }
    }

    fn visit_params(&mut self, f: &mut dyn FnMut(Param<'_, T>)) {
        visit_weight_and_bias(&mut self.w, &mut self.dw, &mut self.b, &mut self.db, f);
    }
}
