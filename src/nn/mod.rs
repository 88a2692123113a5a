//! The layer stack: the textbook's layers, each with a forward pass that caches what its
//! backward pass needs, plus initialisation and the network that chains them.
//!
//! Buffers are owned by the [`Network`](network::Network), not by the layers: each layer reads
//! its input `x` and writes its output `out` into buffers the network keeps from step to step,
//! and its backward pass gets `x` and `out` back. So a layer caches only what cannot be read
//! from those (batch norm's `xc`/`std`, dropout's `mask`), nothing is copied, and a training
//! step in steady state allocates nothing.

pub mod affine;
pub mod batch_norm;
pub mod cnn;
pub mod conv;
pub mod dropout;
pub mod graph;
pub mod im2col;
pub mod init;
pub mod network;
pub mod pool;
pub mod relu;
pub mod shape;
pub mod shifted;
pub mod sigmoid;
pub mod softmax_with_loss;
pub mod spec;
pub mod split;
pub mod squared_error;
pub mod tanh;
pub mod winograd;

use crate::matrix::{Float, Matrix};

/// Whether a forward pass is for training (batch statistics, dropout active) or evaluation
/// (running statistics, no dropout). Passed explicitly, never inferred from layer names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Training: dropout drops, batch norm uses the batch's statistics and updates its running
    /// ones.
    Train,
    /// Evaluation: dropout scales, batch norm uses its running statistics.
    Eval,
}

/// One learnable tensor as the optimizer and gradient checks see it.
pub struct Param<'a, T> {
    /// PyTorch-style name within the layer: `weight`, `bias`.
    pub name: &'static str,
    /// The parameter's values, row-major.
    pub value: &'a mut [T],
    /// Its gradient from the last backward pass, the same layout.
    pub grad: &'a mut [T],
    /// Whether L2 weight decay applies (weights yes, biases and batch-norm shifts no).
    pub decay: bool,
    /// Shape as (rows, cols), for messages and checkpoints.
    pub shape: (usize, usize),
}

/// Hands `f` the weight (with weight decay) and the bias (without) of a layer that has both
/// — an affine or a conv layer — as `weight` and `bias`, PyTorch's names.
pub(crate) fn visit_weight_and_bias<T: Float>(
    w: &mut Matrix<T>,
    dw: &mut Matrix<T>,
    b: &mut Matrix<T>,
    db: &mut Matrix<T>,
    f: &mut dyn FnMut(Param<'_, T>),
) {
    let shape = w.shape();
    f(Param {
        name: "weight",
        value: w.as_mut_slice(),
        grad: dw.as_mut_slice(),
        decay: true,
        shape,
    });
    let shape = b.shape();
    f(Param {
        name: "bias",
        value: b.as_mut_slice(),
        grad: db.as_mut_slice(),
        decay: false,
        shape,
    });
}

/// A layer of the network.
pub trait Layer<T: Float>: Send {
    /// `out ← f(x)`. `out` is resized as needed; `mode` selects training or evaluation.
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, mode: Mode);

    /// Given `dout = ∂L/∂out`, overwrites the parameter gradients and, when `dx` is given,
    /// writes `∂L/∂x` into it. `x` and `out` are the forward pass's input and output.
    /// `dout` is never modified.
    fn backward(
        &mut self,
        x: &Matrix<T>,
        out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    );

    /// `out ← self(relu(x))` in one pass, for a layer that can absorb the ReLU before it;
    /// returns false, having done nothing, when it cannot (the default). Max pooling can: the
    /// maximum of rectified values is the rectified maximum, so the network skips writing and
    /// re-reading the ReLU's output (a whole activation map per image). See
    /// [`Network::set_fusion`](network::Network::set_fusion).
    fn forward_rectified(&mut self, _x: &Matrix<T>, _out: &mut Matrix<T>, _mode: Mode) -> bool {
        false
    }

    /// The backward pass of [`Layer::forward_rectified`]: `x` is the ReLU's input and `dx`, when
    /// given, receives `∂L/∂x` through both the ReLU and this layer. Returns false when the
    /// layer cannot absorb a ReLU.
    fn backward_rectified(
        &mut self,
        _x: &Matrix<T>,
        _out: &Matrix<T>,
        _dout: &Matrix<T>,
        _dx: Option<&mut Matrix<T>>,
    ) -> bool {
        false
    }

    /// Calls `f` on each learnable tensor, in a fixed order.
    fn visit_params(&mut self, _f: &mut dyn FnMut(Param<'_, T>)) {}

    /// Calls `f` on each non-learned state tensor (batch norm's running statistics).
    fn visit_buffers(&mut self, _f: &mut dyn FnMut(&'static str, &mut [T])) {}

    /// The layer's random state, for layers that draw random numbers (dropout): a counter of
    /// draws, saved in checkpoints so a resumed run continues the same sequence.
    fn rng_calls(&mut self) -> Option<&mut u64> {
        None
    }

    /// Which units the last train-mode forward pass kept (true) and dropped, for layers that
    /// drop units at random (dropout): what a step-by-step trace records, so another framework
    /// can replay the run with the same masks.
    fn dropout_mask(&self) -> Option<&[bool]> {
        None
    }
}
