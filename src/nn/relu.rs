//! ReLU: `out = max(0, x)`.

use super::{Layer, Mode};
use crate::matrix::{Float, Matrix};

/// `out = max(0, x)`; backward passes the gradient where the input was positive.
///
/// The textbook caches `mask = (x <= 0)`; here `out > 0` is the same mask, and the network
/// keeps `out`, so the layer stores nothing.
#[derive(Debug, Default)]
pub struct Relu;

/// `max(0, v)` as ReLU computes it (NaN and −0 give +0); max pooling uses the same function
/// when it absorbs a ReLU, so a fused pass gives the same bits.
#[inline]
pub(crate) fn rectify<T: Float>(v: T) -> T {
    if v > T::ZERO { v } else { T::ZERO }
}

impl<T: Float> Layer<T> for Relu {
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, _mode: Mode) {
        // x: N × d → out: N × d.
        x.map_into(out, rectify);
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
            dout.zip_map_into(out, dx, |g, o| if o > T::ZERO { g } else { T::ZERO });
        }
    }
}
