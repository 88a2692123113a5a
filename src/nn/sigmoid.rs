//! Sigmoid: `out = 1 / (1 + e^(−x))`.

use super::{Layer, Mode};
use crate::matrix::{Float, Matrix};

/// σ(x), computed without overflow for large |x|: for x ≥ 0 as `1 / (1 + e^(−x))`, for x < 0
/// as `e^x / (1 + e^x)`, so `exp` never sees a large positive argument.
pub fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

/// The logistic sigmoid; backward uses `dσ/dx = σ(1 − σ)` from the cached output.
#[derive(Debug, Default)]
pub struct Sigmoid;

impl<T: Float> Layer<T> for Sigmoid {
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, _mode: Mode) {
        // x: N × d → out: N × d.
        x.map_into(out, sigmoid);
    }

    fn backward(
        &mut self,
        _x: &Matrix<T>,
        out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    ) {
        // dx = dout · out · (1 − out).
        if let Some(dx) = dx {
            dout.zip_map_into(out, dx, |g, y| g * y * (T::ONE - y));
        }
    }
}
