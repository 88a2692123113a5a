//! Tanh: `out = tanh(x)`.

use super::{Layer, Mode};
use crate::matrix::{Float, Matrix};

/// Hyperbolic tangent; backward uses `d tanh/dx = 1 − tanh²` from the cached output.
#[derive(Debug, Default)]
pub struct Tanh;

impl<T: Float> Layer<T> for Tanh {
    fn name(&self) -> &'static str {
        "Tanh"
    }

    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, _mode: Mode) {
        // x: N × d → out: N × d.
        out.ensure_shape(x.rows(), x.cols());
        for (o, &v) in out.as_mut_slice().iter_mut().zip(x.as_slice()) {
            *o = v.tanh();
        }
    }

    fn backward(
        &mut self,
        _x: &Matrix<T>,
        out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    ) {
        // dx = dout · (1 − out²).
        if let Some(dx) = dx {
            dx.ensure_shape(dout.rows(), dout.cols());
            for ((d, &g), &y) in dx
                .as_mut_slice()
                .iter_mut()
                .zip(dout.as_slice())
                .zip(out.as_slice())
            {
                *d = g * (T::ONE - y * y);
            }
        }
    }
}
