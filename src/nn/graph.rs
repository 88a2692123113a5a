//! The textbook's computational-graph layers on scalars: the smallest examples of
//! forward/backward, where the chain rule is visible by eye.
//!
//! The shopping example (2 apples at 100 each, tax 1.1):
//!
//! ```
//! use scratchnet::nn::graph::MulLayer;
//! let (mut apple, mut tax) = (MulLayer::default(), MulLayer::default());
//! let price = tax.forward(apple.forward(100.0, 2.0), 1.1);
//! assert!((price - 220.0_f64).abs() < 1e-9);
//! let (dapple_price, dtax) = tax.backward(1.0);
//! let (dapple, dnum) = apple.backward(dapple_price);
//! assert!((dapple - 2.2).abs() < 1e-9 && (dnum - 110.0).abs() < 1e-9 && (dtax - 200.0).abs() < 1e-9);
//! ```

use crate::matrix::Float;

/// `out = x · y`; backward swaps the inputs: `dx = dout · y`, `dy = dout · x`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MulLayer<T> {
    x: T,
    y: T,
}

impl<T: Float> MulLayer<T> {
    /// x·y, remembering x and y for backward.
    pub fn forward(&mut self, x: T, y: T) -> T {
        self.x = x;
        self.y = y;
        x * y
    }

    /// (∂L/∂x, ∂L/∂y) = (dout·y, dout·x).
    pub fn backward(&self, dout: T) -> (T, T) {
        (dout * self.y, dout * self.x)
    }
}

/// `out = x + y`; backward passes the gradient through unchanged to both inputs.
#[derive(Clone, Copy, Debug, Default)]
pub struct AddLayer;

impl AddLayer {
    /// x + y.
    pub fn forward<T: Float>(&mut self, x: T, y: T) -> T {
        x + y
    }

    /// (∂L/∂x, ∂L/∂y) = (dout, dout): addition passes the gradient through.
    pub fn backward<T: Float>(&self, dout: T) -> (T, T) {
        (dout, dout)
    }
}
