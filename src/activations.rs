//! What the initial weights' scale does to the activations, layer after layer: the book's
//! `weight_init_activation_histogram.py`. A thousand random inputs (each value N(0, 1)) go
//! through a stack of equal-width layers that has never been trained, and each layer's
//! activations are summarised and binned.
//!
//! With sigmoid and σ = 1 the activations pile up at 0 and 1, where the sigmoid's slope — and
//! so every gradient through it — vanishes; with σ = 0.01 they all sit near 0.5: the units
//! agree, and a hundred units that agree are worth one. Xavier's σ = √(1/n) keeps them spread
//! through the layers, and He's √(2/n) does the same for ReLU, which zeroes half its inputs.
//!
//! The stack is an ordinary [`Network`] (the bias starts at 0, as the book's has none), read
//! layer by layer after one forward pass; f64 throughout, so what is seen is the init, not the
//! rounding.

use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::error::Result;
use crate::matrix::Matrix;
use crate::nn::Mode;
use crate::nn::init::Init;
use crate::nn::network::Network;
use crate::nn::spec::{Activation, MlpSpec};

/// The experiment's shape: `layers` layers of `units` units fed `samples` random rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stack {
    /// The activation after every layer.
    pub activation: Activation,
    /// How many affine + activation layers.
    pub layers: usize,
    /// Units per layer (and inputs of the first).
    pub units: usize,
    /// Random input rows fed through the stack.
    pub samples: usize,
    /// Seed of the inputs and the weights.
    pub seed: u64,
}

/// One layer's activations, summarised.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerActivations {
    /// Mean of the layer's outputs.
    pub mean: f64,
    /// Standard deviation of the layer's outputs: a collapse towards 0 is the vanishing the book's
    /// histograms show.
    pub std: f64,
    /// The share of values where the activation has (almost) no slope left: a sigmoid output
    /// below 0.01 or above 0.99, a tanh output beyond ±0.99, a ReLU output of exactly 0.
    pub flat: f64,
    /// The values, for binning (ReLU's zeros left out: they are [`LayerActivations::flat`]).
    pub values: Vec<f64>,
}

impl Stack {
    /// The activations of every layer for weights drawn with `init`.
    pub fn run(&self, init: Init) -> Result<Vec<LayerActivations>> {
        let spec = MlpSpec {
            input: self.units,
            hidden: vec![self.units; self.layers],
            classes: 2,
            activation: self.activation,
            init,
            batchnorm: false,
            dropout: None,
            weight_decay: 0.0,
        };
        let mut net = Network::<f64>::mlp(&spec, self.seed, 1)?;
        // The inputs from their own stream of the seed, so they are the same for every init.
        let mut rng = StdRng::seed_from_u64(self.seed ^ 0x1a7e_5eed_u64);
        let x = Matrix::<f64>::random_normal(self.samples, self.units, 0.0, 1.0, &mut rng);
        net.predict(&x, Mode::Eval)?;
        (0..self.layers)
            // Layers alternate affine, activation: the activation of hidden layer i is 2i + 1.
            .map(|i| {
                let out = net
                    .layer_output(2 * i + 1)
                    .expect("a hidden layer's output");
                Ok(self.summarise(out.as_slice()))
            })
            .collect()
    }

    fn summarise(&self, a: &[f64]) -> LayerActivations {
        let n = a.len().max(1) as f64;
        let mean = a.iter().sum::<f64>() / n;
        let std = (a.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
        let is_flat = |v: f64| match self.activation {
            Activation::Sigmoid => !(0.01..=0.99).contains(&v),
            Activation::Tanh => v.abs() > 0.99,
            Activation::Relu => v == 0.0,
        };
        let flat = a.iter().filter(|&&v| is_flat(v)).count() as f64 / n;
        let values = match self.activation {
            Activation::Relu => a.iter().copied().filter(|&v| v != 0.0).collect(),
            _ => a.to_vec(),
        };
        LayerActivations {
            mean,
            std,
            flat,
            values,
        }
    }

    /// The range to bin over: the activation's range for sigmoid and tanh; for ReLU, from 0
    /// to the largest 99th percentile of any layer's non-zero values in `runs`, so the
    /// layers (and inits) share one axis and a shrinking spread shows.
    pub fn range(&self, runs: &[Vec<LayerActivations>]) -> (f64, f64) {
        match self.activation {
            Activation::Sigmoid => (0.0, 1.0),
            Activation::Tanh => (-1.0, 1.0),
            Activation::Relu => {
                let top = runs
                    .iter()
                    .flatten()
                    .filter(|l| !l.values.is_empty())
                    .map(|l| {
                        let mut v = l.values.clone();
                        let k = (v.len() - 1) * 99 / 100;
                        *v.select_nth_unstable_by(k, f64::total_cmp).1
                    })
                    .fold(0.0, f64::max);
                (0.0, if top > 0.0 { top } else { 1.0 })
            }
        }
    }
}

/// `values` counted into `bins` equal bins over `lo..hi` (values outside are left out).
pub fn histogram(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<usize> {
    let mut counts = vec![0; bins];
    let width = (hi - lo) / bins.max(1) as f64;
    for &v in values {
        if (lo..=hi).contains(&v) && width > 0.0 {
            let b = (((v - lo) / width) as usize).min(bins - 1);
            counts[b] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(activation: Activation) -> Stack {
        Stack {
            activation,
            layers: 5,
            units: 100,
            samples: 1000,
            seed: 1,
        }
    }

    #[test]
    fn sigmoid_saturates_at_std_1_agrees_at_0_01_and_spreads_with_xavier() {
        let s = stack(Activation::Sigmoid);
        let big = s.run(Init::Std(1.0)).unwrap();
        let small = s.run(Init::Std(0.01)).unwrap();
        let xavier = s.run(Init::Xavier).unwrap();
        // σ = 1: a large share of the values at the flat ends, in every layer.
        assert!(big.iter().all(|l| l.flat > 0.3), "{:?}", flats(&big));
        // σ = 0.01: everything near 0.5 from the second layer on.
        assert!(
            small[1..]
                .iter()
                .all(|l| l.std < 0.02 && (l.mean - 0.5).abs() < 0.02 && l.flat == 0.0),
            "{:?}",
            small.iter().map(|l| (l.mean, l.std)).collect::<Vec<_>>()
        );
        // Xavier: neither; a spread well above σ = 0.01's and few values at the ends.
        assert!(
            xavier
                .iter()
                .all(|l| l.std > 0.05 && l.std < 0.3 && l.flat < 0.05),
            "{:?}",
            xavier.iter().map(|l| (l.std, l.flat)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn relu_keeps_its_scale_with_he_and_loses_it_with_std_0_01() {
        let s = stack(Activation::Relu);
        let he = s.run(Init::He).unwrap();
        let small = s.run(Init::Std(0.01)).unwrap();
        let ratio = he[4].std / he[0].std;
        assert!((0.5..2.0).contains(&ratio), "He: {ratio}");
        assert!(small[4].std < 1e-3 * small[0].std, "{}", small[4].std);
        // About half of ReLU's outputs are zeros whatever the scale.
        assert!(
            he.iter().all(|l| (0.3..0.7).contains(&l.flat)),
            "{:?}",
            flats(&he)
        );
        let (lo, hi) = s.range(&[he.clone(), small]);
        assert_eq!(lo, 0.0);
        assert!(hi > 1.0 && hi < 10.0, "{hi}");
    }

    fn flats(layers: &[LayerActivations]) -> Vec<f64> {
        layers.iter().map(|l| l.flat).collect()
    }

    #[test]
    fn histograms_count_each_value_once_inside_the_range() {
        let v = [0.0, 0.05, 0.1, 0.5, 0.99, 1.0, 1.5, -0.1];
        let h = histogram(&v, 0.0, 1.0, 10);
        assert_eq!(h.iter().sum::<usize>(), 6);
        assert_eq!(h[0], 2);
        assert_eq!(h[1], 1);
        assert_eq!(h[9], 2);
    }
}
