//! ReLU: `out = max(0, x)`.

use super::{Layer, Mode};
use crate::matrix::{Float, Matrix};

/// `out = max(0, x)`; backward passes the gradient where the input was positive.
///
/// The textbook caches `mask = (x <= 0)`; here `out > 0` is the same mask, and the network
/// keeps `out`, so the layer stores nothing.
#[derive(Debug, Default)]
pub struct Relu;

impl<T: Float> Layer<T> for Relu {
    fn name(&self) -> &'static str {
        "ReLU"
    }

    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, _mode: Mode) {
        // x: N × d → out: N × d.
        out.ensure_shape(x.rows(), x.cols());
        for (o, &v) in out.as_mut_slice().iter_mut().zip(x.as_slice()) {
            *o = if v > T::ZERO { v } else { T::ZERO };
        }
    }

    fn backward(
        &mut self,
        _x: &Matrix<T>,
        out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    ) {
        // dx = dout where out > 0, else 0.
        if let Some(dx) = dx {
            dx.ensure_shape(dout.rows(), dout.cols());
            for ((d, &g), &o) in dx
                .as_mut_slice()
                .iter_mut()
                .zip(dout.as_slice())
                .zip(out.as_slice())
            {
                *d = if o > T::ZERO { g } else { T::ZERO };
            }
        }
    }
}
