//! Optimizers: each algorithm is one plain function over flat slices, with the update rule of
//! the textbook's `common/optimizer.py` in its doc. Configuration ([`OptimizerConfig`]) is kept
//! apart from state ([`OptimizerState`]) so a checkpoint can store and resume the state.

use crate::error::{Error, Result, Setting};
use crate::matrix::Float;
use crate::nn::Param;
use crate::nn::network::Network;
use crate::nn::split::{ColumnCut, join_cols, split_cols};

/// The small constant that keeps the adaptive methods from dividing by zero (the textbook's 1e-7).
pub const EPS: f64 = 1e-7;

/// Which algorithm, with its hyper-parameters. Serialised as `{"name": "adam", "lr": …, …}`.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "train", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "train",
    serde(tag = "name", rename_all = "lowercase", deny_unknown_fields)
)]
pub enum OptimizerConfig {
    /// W ← W − lr·∂L/∂W.
    Sgd {
        /// The learning rate.
        lr: f64,
    },
    /// v ← momentum·v − lr·∂L/∂W; W ← W + v (the book's Momentum).
    Momentum {
        /// The learning rate.
        lr: f64,
        /// How much of the last velocity is kept (the book's 0.9).
        momentum: f64,
    },
    /// Momentum with the gradient taken where the velocity is about to carry the weights.
    Nesterov {
        /// The learning rate.
        lr: f64,
        /// How much of the last velocity is kept.
        momentum: f64,
    },
    /// Each weight's step divided by the root of its summed squared gradients.
    AdaGrad {
        /// The learning rate.
        lr: f64,
    },
    /// AdaGrad with a decaying average of the squared gradients instead of their sum.
    RmsProp {
        /// The learning rate.
        lr: f64,
        /// Weight of the old average in each update (the book's 0.99).
        decay: f64,
    },
    /// Momentum and RMSprop together, both bias-corrected (Kingma and Ba).
    Adam {
        /// The learning rate.
        lr: f64,
        /// Decay of the gradient's running mean (0.9).
        beta1: f64,
        /// Decay of the squared gradient's running mean (0.999).
        beta2: f64,
    },
}

impl OptimizerConfig {
    /// The textbook's defaults for `name` (`sgd`, `momentum`, `nesterov`, `adagrad`, `rmsprop`,
    /// `adam`), with `lr` overriding the default learning rate when given.
    pub fn from_name(name: &str, lr: Option<f64>) -> Result<Self> {
        let mut cfg = match name.to_ascii_lowercase().as_str() {
            "sgd" => OptimizerConfig::Sgd { lr: 0.01 },
            "momentum" => OptimizerConfig::Momentum {
                lr: 0.01,
                momentum: 0.9,
            },
            "nesterov" => OptimizerConfig::Nesterov {
                lr: 0.01,
                momentum: 0.9,
            },
            "adagrad" => OptimizerConfig::AdaGrad { lr: 0.01 },
            "rmsprop" => OptimizerConfig::RmsProp {
                lr: 0.01,
                decay: 0.99,
            },
            "adam" => OptimizerConfig::Adam {
                lr: 0.001,
                beta1: 0.9,
                beta2: 0.999,
            },
            _ => {
                return Err(Error::Config(format!(
                    "unknown optimizer '{name}': choose sgd, momentum, nesterov, adagrad, rmsprop or adam"
                )));
            }
        };
        if let Some(lr) = lr {
            if !(lr > 0.0 && lr.is_finite()) {
                return Err(Error::invalid(
                    Setting::LearningRate,
                    format!("must be a positive finite number, got {lr}"),
                ));
            }
            cfg.set_lr(lr);
        }
        Ok(cfg)
    }

    /// Checks every hyper-parameter: a positive finite learning rate, momentum and decay
    /// factors in [0, 1). Settings read from a file must pass it before they are used.
    pub fn validate(&self) -> Result<()> {
        let lr = self.lr();
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(Error::invalid(
                Setting::LearningRate,
                format!("must be a positive finite number, got {lr}"),
            ));
        }
        let factors: &[(&str, f64)] = match *self {
            OptimizerConfig::Momentum { momentum, .. }
            | OptimizerConfig::Nesterov { momentum, .. } => &[("momentum", momentum)],
            OptimizerConfig::RmsProp { decay, .. } => &[("decay", decay)],
            OptimizerConfig::Adam { beta1, beta2, .. } => &[("beta1", beta1), ("beta2", beta2)],
            _ => &[],
        };
        for &(name, v) in factors {
            if !(0.0..1.0).contains(&v) {
                return Err(Error::Config(format!("{name} must be in [0, 1), got {v}")));
            }
        }
        Ok(())
    }

    /// The name the CLI and checkpoints use: `sgd`, `momentum`, `nesterov`, `adagrad`, `rmsprop`,
    /// `adam`.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Sgd { .. } => "sgd",
            OptimizerConfig::Momentum { .. } => "momentum",
            OptimizerConfig::Nesterov { .. } => "nesterov",
            OptimizerConfig::AdaGrad { .. } => "adagrad",
            OptimizerConfig::RmsProp { .. } => "rmsprop",
            OptimizerConfig::Adam { .. } => "adam",
        }
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match *self {
            OptimizerConfig::Sgd { lr }
            | OptimizerConfig::Momentum { lr, .. }
            | OptimizerConfig::Nesterov { lr, .. }
            | OptimizerConfig::AdaGrad { lr }
            | OptimizerConfig::RmsProp { lr, .. }
            | OptimizerConfig::Adam { lr, .. } => lr,
        }
    }

    fn set_lr(&mut self, new: f64) {
        match self {
            OptimizerConfig::Sgd { lr }
            | OptimizerConfig::Momentum { lr, .. }
            | OptimizerConfig::Nesterov { lr, .. }
            | OptimizerConfig::AdaGrad { lr }
            | OptimizerConfig::RmsProp { lr, .. }
            | OptimizerConfig::Adam { lr, .. } => *lr = new,
        }
    }

    /// State slots per parameter tensor: velocity, squared-gradient sums, moments.
    pub fn slots(&self) -> usize {
        match self {
            OptimizerConfig::Sgd { .. } => 0,
            OptimizerConfig::Adam { .. } => 2,
            _ => 1,
        }
    }
}

/// `p ← p − lr·g`
pub fn sgd<T: Float>(lr: T, p: &mut [T], g: &[T]) {
    for (p, &g) in p.iter_mut().zip(g) {
        *p -= lr * g;
    }
}

/// `x`, or 0 where `x` is subnormal.
///
/// Why the optimizers flush their slots: a weight whose gradient stays 0 (a unit that never
/// fires, an input pixel that is always black) sees its velocity or moment decay by β every
/// step, through the subnormal range, for ~150 steps before it reaches 0 — and such weights keep
/// arriving. Every operation on a subnormal takes a microcode assist: in SimpleConvNet's second
/// epoch Adam's update went from 0.46 to 2.9 ms per step (`train --net simple-cnn --profile`,
/// Xeon VM). Values below 1.2e-38 (f32) cannot move a weight anyway.
#[inline(always)]
fn flush<T: Float>(x: T) -> T {
    if x.abs() < T::MIN_POSITIVE {
        T::ZERO
    } else {
        x
    }
}

/// `v ← momentum·v − lr·g;  p ← p + v`
pub fn momentum<T: Float>(lr: T, momentum: T, p: &mut [T], g: &[T], v: &mut [T]) {
    for ((p, &g), v) in p.iter_mut().zip(g).zip(v) {
        *v = flush(momentum * *v - lr * g);
        *p += *v;
    }
}

/// `v ← momentum·v − lr·g;  p ← p + momentum²·v − (1 + momentum)·lr·g`
/// (the textbook's reformulation of Nesterov's accelerated gradient).
pub fn nesterov<T: Float>(lr: T, momentum: T, p: &mut [T], g: &[T], v: &mut [T]) {
    for ((p, &g), v) in p.iter_mut().zip(g).zip(v) {
        *v = flush(momentum * *v - lr * g);
        *p += momentum * momentum * *v - (T::ONE + momentum) * lr * g;
    }
}

/// `h ← h + g²;  p ← p − lr·g / (√h + 1e-7)`
pub fn adagrad<T: Float>(lr: T, p: &mut [T], g: &[T], h: &mut [T]) {
    let eps = T::from_f64(EPS);
    for ((p, &g), h) in p.iter_mut().zip(g).zip(h) {
        *h += g * g;
        *p -= lr * g / (h.sqrt() + eps);
    }
}

/// `h ← decay·h + (1 − decay)·g²;  p ← p − lr·g / (√h + 1e-7)`
pub fn rmsprop<T: Float>(lr: T, decay: T, p: &mut [T], g: &[T], h: &mut [T]) {
    let eps = T::from_f64(EPS);
    for ((p, &g), h) in p.iter_mut().zip(g).zip(h) {
        *h = flush(decay * *h + (T::ONE - decay) * g * g);
        *p -= lr * g / (h.sqrt() + eps);
    }
}

/// Adam (Kingma & Ba, 2015) at step `t` (1-based), with bias correction folded into the rate:
/// `lr_t = lr·√(1 − β2ᵗ)/(1 − β1ᵗ);  m ← m + (1 − β1)(g − m);  v ← v + (1 − β2)(g² − v);
/// p ← p − lr_t·m / (√v + 1e-7)`
#[allow(clippy::too_many_arguments)]
pub fn adam<T: Float>(
    lr: f64,
    beta1: f64,
    beta2: f64,
    t: u64,
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
) {
    let t = t.max(1) as i32;
    let lr_t = T::from_f64(lr * (1.0 - beta2.powi(t)).sqrt() / (1.0 - beta1.powi(t)));
    let (b1, b2, eps) = (
        T::from_f64(1.0 - beta1),
        T::from_f64(1.0 - beta2),
        T::from_f64(EPS),
    );
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m).zip(v) {
        *m = flush(*m + b1 * (g - *m));
        *v = flush(*v + b2 * (g * g - *v));
        *p -= lr_t * *m / (v.sqrt() + eps);
    }
}

/// What an optimizer remembers between steps: the step count and, per parameter tensor, its
/// slots (velocity / squared-gradient sum / Adam's two moments), in the network's visit order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState<T> {
    /// Updates made so far (Adam's bias correction needs it).
    pub step: u64,
    /// Per parameter tensor, its slots, each as long as the tensor.
    pub slots: Vec<Vec<Vec<T>>>,
}

/// An optimizer: configuration plus state.
#[derive(Clone, Debug)]
pub struct Optimizer<T> {
    /// The algorithm and its hyper-parameters.
    pub config: OptimizerConfig,
    /// What it remembers between steps.
    pub state: OptimizerState<T>,
}

impl<T: Float> Optimizer<T> {
    /// An optimizer that has made no step yet.
    pub fn new(config: OptimizerConfig) -> Self {
        Optimizer {
            config,
            state: OptimizerState {
                step: 0,
                slots: Vec::new(),
            },
        }
    }

    /// One update of every parameter of `net` from the gradients it holds.
    pub fn step(&mut self, net: &mut Network<T>) {
        self.step_with(|f| net.visit_params(&mut |_, p| f(p)));
    }

    /// One update of the parameters `visit` hands over, in the same order every step.
    pub fn step_params(&mut self, visit: impl FnOnce(&mut dyn FnMut(Param<'_, T>))) {
        self.step_with(visit);
    }

    /// Hands the state of the first layer's right-hand columns (`cut`: parameter 0 is its
    /// weight, 1 its bias) to a new optimizer for the partner thread of a split
    /// ([`Network::split_first_layer`]); this one keeps the left columns and every other
    /// parameter. Both go on counting steps in step, so each update is the one-thread update.
    pub fn split_first_layer(&mut self, cut: &ColumnCut) -> Optimizer<T> {
        let mut right = Vec::new();
        for slots in self.state.slots.iter_mut().take(2) {
            let mut mine = Vec::new();
            for slot in slots.iter_mut() {
                let (l, r) = split_cols(slot, cut.cols, cut.left);
                *slot = l;
                mine.push(r);
            }
            right.push(mine);
        }
        Optimizer {
            config: self.config,
            state: OptimizerState {
                step: self.state.step,
                slots: right,
            },
        }
    }

    /// The inverse of [`Optimizer::split_first_layer`], once the partner has stopped.
    pub fn rejoin_first_layer(&mut self, right: Optimizer<T>, cut: &ColumnCut) {
        assert_eq!(
            self.state.step, right.state.step,
            "both halves step together"
        );
        for (slots, theirs) in self.state.slots.iter_mut().zip(right.state.slots) {
            for (slot, r) in slots.iter_mut().zip(theirs) {
                *slot = join_cols(slot, &r, cut.left, cut.right());
            }
        }
    }

    fn step_with(&mut self, visit: impl FnOnce(&mut dyn FnMut(Param<'_, T>))) {
        self.state.step += 1;
        let (config, state) = (self.config, &mut self.state);
        let n_slots = config.slots();
        let step = state.step;
        let mut idx = 0;
        visit(&mut |p| {
            if state.slots.len() <= idx {
                state
                    .slots
                    .push(vec![vec![T::ZERO; p.value.len()]; n_slots]);
            }
            let slots = &mut state.slots[idx];
            let (value, grad) = (p.value, &*p.grad);
            match config {
                OptimizerConfig::Sgd { lr } => sgd(T::from_f64(lr), value, grad),
                OptimizerConfig::Momentum { lr, momentum: mu } => {
                    momentum(T::from_f64(lr), T::from_f64(mu), value, grad, &mut slots[0])
                }
                OptimizerConfig::Nesterov { lr, momentum } => nesterov(
                    T::from_f64(lr),
                    T::from_f64(momentum),
                    value,
                    grad,
                    &mut slots[0],
                ),
                OptimizerConfig::AdaGrad { lr } => {
                    adagrad(T::from_f64(lr), value, grad, &mut slots[0])
                }
                OptimizerConfig::RmsProp { lr, decay } => rmsprop(
                    T::from_f64(lr),
                    T::from_f64(decay),
                    value,
                    grad,
                    &mut slots[0],
                ),
                OptimizerConfig::Adam { lr, beta1, beta2 } => {
                    let (m, v) = slots.split_at_mut(1);
                    adam(lr, beta1, beta2, step, value, grad, &mut m[0], &mut v[0])
                }
            }
            idx += 1;
        });
    }
}
