//! Tanh: `out = tanh(x)`.

use super::{Layer, Mode};
use crate::matrix::{Float, Matrix};

/// Hyperbolic tangent; backward uses `d tanh/dx = 1 − tanh²` from the cached output.
#[derive(Debug, Default)]
pub struct Tanh;

impl<T: Float> Layer<T> for Tanh {
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, _mode: Mode) {
        // x: N × d → out: N × d.
        x.map_into(out, |v| v.tanh());
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
            dout.zip_map_into(out, dx, |g, y| g * (T::ONE - y * y));
        }
    }
}
