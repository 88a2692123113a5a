//! The TensorFlow Playground's experiment on our engine: a 2-D set (four classifications, two
//! regressions), the input features made of each point, a small network with one output unit,
//! trained an epoch at a time, and what the Playground draws of it — the output over the plane,
//! every neuron's own picture, the weights.
//!
//! Like the Playground, the network ends in one unit trained on half the squared error: tanh
//! against ±1 for two classes, linear against the target for a regression. So its losses are
//! the Playground's, and a learning rate from one of its links means the same here.
//!
//! `scratchnet playground` and the web app (`scratchnet serve`) both run a [`PlaygroundRun`]
//! through the job API ([`crate::job`]); with the same settings they give the same numbers.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::data::playground::{Feature, PlanePoints, PlaneSet, expand, generate_plane};
use crate::error::{Error, Result};
use crate::job::Stepper;
use crate::matrix::Matrix;
use crate::nn::Mode;
use crate::nn::init::Init;
use crate::nn::network::{Loss, Network};
use crate::nn::shape::Shape;
use crate::nn::softmax_with_loss::Targets;
use crate::nn::spec::{Activation, LayerSpec};
use crate::optim::{Optimizer, OptimizerConfig};

/// Half the side of the square the pictures cover: points live in [-4, 4]², with a margin.
pub const HALF: f32 = 4.5;

/// Most hidden layers and neurons per layer the Playground's page offers (and `serve` allows).
pub const PAGE_MAX_LAYERS: usize = 6;
/// Most neurons per hidden layer on the page.
pub const PAGE_MAX_NEURONS: usize = 8;
/// Most points a set may have: the Playground's 500 (classification) and 1200 (regression)
/// fit many times over, and an epoch stays well under a millisecond.
pub const MAX_POINTS: usize = 20_000;
/// Most neurons in a hidden layer and hidden layers (the command line's bounds).
pub const MAX_WIDTH: usize = 1024;
/// Most hidden layers (the command line's bound).
pub const MAX_HIDDEN: usize = 16;

/// The penalty on the weights: the Playground's "regularization" and its rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Regularization {
    /// No penalty.
    None,
    /// λ Σ|w|.
    L1(f64),
    /// ½λ Σw² (weight decay).
    L2(f64),
}

impl Regularization {
    /// `none`, `l1` or `l2`.
    pub fn name(self) -> &'static str {
        match self {
            Regularization::None => "none",
            Regularization::L1(_) => "l1",
            Regularization::L2(_) => "l2",
        }
    }

    /// The penalty called `name` (`none`, `l1`, `l2`, any case) at `rate`.
    pub fn from_name(name: &str, rate: f64) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Ok(Regularization::None),
            "l1" => Ok(Regularization::L1(rate)),
            "l2" => Ok(Regularization::L2(rate)),
            _ => Err(Error::Config(format!(
                "unknown regularization '{name}': choose none, l1 or l2"
            ))),
        }
    }

    /// λ, 0 for none.
    pub fn rate(self) -> f64 {
        match self {
            Regularization::None => 0.0,
            Regularization::L1(r) | Regularization::L2(r) => r,
        }
    }
}

/// Everything that defines a Playground run.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaygroundSettings {
    /// Which of the six sets.
    pub set: PlaneSet,
    /// Points in all, training and test.
    pub points: usize,
    /// The share of the points used for training, in percent (the Playground's 10 … 90).
    pub train_percent: usize,
    /// σ of the Gaussian jitter on each point.
    pub noise: f64,
    /// The input features the network is fed, in this order.
    pub features: Vec<Feature>,
    /// Neurons per hidden layer (empty: the output unit alone).
    pub hidden: Vec<usize>,
    /// The hidden layers' activation; `None` is the Playground's "linear".
    pub activation: Option<Activation>,
    /// The optimizer and its learning rate (the Playground's is SGD).
    pub optimizer: OptimizerConfig,
    /// Points per mini-batch.
    pub batch: usize,
    /// The penalty on the weights.
    pub regularization: Regularization,
    /// Seed of the points, the weights and the batch order.
    pub seed: u64,
}

impl Default for PlaygroundSettings {
    /// The Playground's opening page: the circle, x₁ and x₂, two hidden layers of 4 and 2 tanh
    /// units, SGD at 0.03, batches of 10, half the 500 points for training.
    fn default() -> Self {
        PlaygroundSettings {
            set: PlaneSet::Classify(crate::data::DatasetName::Circle),
            points: 500,
            train_percent: 50,
            noise: 0.0,
            features: vec![Feature::X1, Feature::X2],
            hidden: vec![4, 2],
            activation: Some(Activation::Tanh),
            optimizer: OptimizerConfig::Sgd { lr: 0.03 },
            batch: 10,
            regularization: Regularization::None,
            seed: 1,
        }
    }
}

impl PlaygroundSettings {
    /// Training points: `points × train_percent / 100`, at least one.
    pub fn train_points(&self) -> usize {
        (self.points * self.train_percent / 100).max(1)
    }

    /// Checks every setting, naming what is wrong and what is allowed.
    pub fn validate(&self) -> Result<()> {
        if !(2..=MAX_POINTS).contains(&self.points) {
            return Err(Error::Config(format!(
                "a playground set has 2 to {MAX_POINTS} points, not {}",
                self.points
            )));
        }
        if !(1..=99).contains(&self.train_percent) {
            return Err(Error::Config(format!(
                "the training share is 1 to 99 percent of the points, not {}",
                self.train_percent
            )));
        }
        if !(self.noise.is_finite() && (0.0..=4.0).contains(&self.noise)) {
            return Err(Error::Config(format!(
                "noise is a σ from 0 to 4 (the square is 8 wide), not {}",
                self.noise
            )));
        }
        if self.features.is_empty() {
            return Err(Error::Config(
                "the network needs at least one input feature".into(),
            ));
        }
        for (i, f) in self.features.iter().enumerate() {
            if self.features[..i].contains(f) {
                return Err(Error::Config(format!(
                    "feature {} is named twice",
                    f.name()
                )));
            }
        }
        if self.hidden.len() > MAX_HIDDEN {
            return Err(Error::Config(format!(
                "at most {MAX_HIDDEN} hidden layers, not {}",
                self.hidden.len()
            )));
        }
        if let Some(&w) = self.hidden.iter().find(|&&w| !(1..=MAX_WIDTH).contains(&w)) {
            return Err(Error::Config(format!(
                "a hidden layer has 1 to {MAX_WIDTH} neurons, not {w}"
            )));
        }
        self.optimizer.validate()?;
        let train = self.train_points();
        if !(1..=train).contains(&self.batch) {
            return Err(Error::invalid(
                crate::error::Setting::Batch,
                format!(
                    "must be 1 to the {train} training points, got {}",
                    self.batch
                ),
            ));
        }
        let rate = self.regularization.rate();
        if !(rate.is_finite() && rate >= 0.0) {
            return Err(Error::Config(format!(
                "the regularization rate must be a finite number ≥ 0, not {rate}"
            )));
        }
        Ok(())
    }

    /// [`PlaygroundSettings::validate`], and the page's own bounds: at most
    /// [`PAGE_MAX_LAYERS`] hidden layers of at most [`PAGE_MAX_NEURONS`] neurons, as the
    /// Playground draws them.
    pub fn validate_for_page(&self) -> Result<()> {
        self.validate()?;
        if self.hidden.len() > PAGE_MAX_LAYERS {
            return Err(Error::Config(format!(
                "the page draws at most {PAGE_MAX_LAYERS} hidden layers, not {}",
                self.hidden.len()
            )));
        }
        if let Some(&w) = self.hidden.iter().find(|&&w| w > PAGE_MAX_NEURONS) {
            return Err(Error::Config(format!(
                "the page draws at most {PAGE_MAX_NEURONS} neurons per layer, not {w}"
            )));
        }
        Ok(())
    }

    /// The layer list: each hidden layer an affine map and its activation, then one output
    /// unit, squashed by tanh for two classes.
    pub fn layer_specs(&self) -> Vec<LayerSpec> {
        let mut specs = Vec::new();
        let mut n_in = self.features.len();
        for &n_out in &self.hidden {
            specs.push(LayerSpec::Affine { n_in, n_out });
            match self.activation {
                Some(Activation::Relu) => specs.push(LayerSpec::Relu),
                Some(Activation::Sigmoid) => specs.push(LayerSpec::Sigmoid),
                Some(Activation::Tanh) => specs.push(LayerSpec::Tanh),
                None => {}
            }
            n_in = n_out;
        }
        specs.push(LayerSpec::Affine { n_in, n_out: 1 });
        if !self.set.is_regression() {
            specs.push(LayerSpec::Tanh);
        }
        specs
    }

    /// The weights' scale: the textbook's pairing for the activation (He for ReLU, Xavier
    /// otherwise).
    pub fn init(&self) -> Init {
        self.activation
            .map_or(Init::Xavier, Activation::default_init)
    }

    /// The `scratchnet playground` command line that runs these settings.
    pub fn command(&self) -> String {
        let mut c = format!("scratchnet playground --dataset {}", self.set.name());
        let d = PlaygroundSettings::default();
        if self.points != d.points {
            c += &format!(" --points {}", self.points);
        }
        if self.train_percent != d.train_percent {
            c += &format!(" --train-percent {}", self.train_percent);
        }
        if self.noise != d.noise {
            c += &format!(" --noise {}", self.noise);
        }
        if self.features != d.features {
            let names: Vec<&str> = self.features.iter().map(|f| f.name()).collect();
            c += &format!(" --features {}", names.join(","));
        }
        let hidden = if self.hidden.is_empty() {
            "none".to_string()
        } else {
            let w: Vec<String> = self.hidden.iter().map(usize::to_string).collect();
            w.join(",")
        };
        c += &format!(
            " --hidden {hidden} --activation {} --optimizer {} --lr {} --batch {}",
            self.activation.map_or("linear", Activation::name),
            self.optimizer.name(),
            self.optimizer.lr(),
            self.batch
        );
        if self.regularization != Regularization::None {
            c += &format!(
                " --regularization {} --reg-rate {}",
                self.regularization.name(),
                self.regularization.rate()
            );
        }
        c + &format!(" --seed {}", self.seed)
    }
}

/// Where a run stands, and what to draw of it.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// Epochs trained.
    pub epoch: usize,
    /// Mean ½(output − target)² over the training and the test points (no penalty term).
    pub loss_train: f64,
    /// The same over the test points.
    pub loss_test: f64,
    /// The output's side: `output` and each neuron's picture have `grid × grid` values, row
    /// by row from the top (x₂ = +HALF) down, each row from x₁ = −HALF rightwards.
    pub grid: usize,
    /// The network's output over the grid, in [-1, 1] for classification.
    pub output: Vec<f32>,
    /// `neurons[layer][unit]`: each hidden unit's output over the same grid.
    pub neurons: Vec<Vec<Vec<f32>>>,
    /// `weights[l]` is layer l's n_in × n_out matrix, input rows to output columns (`l` runs
    /// over the hidden layers and then the output); `biases[l]` its n_out biases.
    pub weights: Vec<Matrix<f32>>,
    /// `biases[l]`: layer l's biases, one per output unit.
    pub biases: Vec<Vec<f32>>,
}

/// A Playground run: the data, the network and its optimizer, trained an epoch at a time.
pub struct PlaygroundRun {
    settings: PlaygroundSettings,
    /// The training and test points.
    pub data: PlanePoints,
    x_train: Matrix<f32>,
    t_train: Matrix<f32>,
    x_test: Matrix<f32>,
    t_test: Matrix<f32>,
    /// The network, our layers and GEMM.
    pub net: Network<f32>,
    opt: Optimizer<f32>,
    epoch: usize,
    /// Stop after this many epochs (`None`: never; the page's runs go on until paused).
    pub epochs: Option<usize>,
    /// Draw the pictures only into snapshots of epochs that are multiples of this (`None`:
    /// into every one, as the page needs). A command line that prints losses skips them.
    pub pictures_every: Option<usize>,
    order: Vec<usize>,
    rng: StdRng,
    batch_t: Matrix<f32>,
    /// The grid's points as features, for the pictures.
    grid_x: Matrix<f32>,
    grid: usize,
}

impl PlaygroundRun {
    /// A fresh run of `settings`; pictures are `grid × grid`.
    pub fn new(settings: &PlaygroundSettings, grid: usize) -> Result<Self> {
        settings.validate()?;
        if !(2..=200).contains(&grid) {
            return Err(Error::Config(format!(
                "a picture is 2 to 200 cells wide, not {grid}"
            )));
        }
        let n_train = settings.train_points();
        let n_test = settings.points - n_train;
        let data = generate_plane(settings.set, n_train, n_test, settings.noise, settings.seed);
        let column = |t: &[f32]| Matrix::from_vec(t.len(), 1, t.to_vec()).expect("one per row");
        let mut net = Network::<f32>::with_input(
            settings.layer_specs(),
            Shape::Flat(settings.features.len()),
            settings.init(),
            match settings.regularization {
                Regularization::L2(r) => r,
                _ => 0.0,
            },
            settings.seed,
            1,
        )?
        .with_loss(Loss::SquaredError);
        if let Regularization::L1(r) = settings.regularization {
            net.set_l1(r);
        }
        let cell = 2.0 * HALF / grid as f32;
        let grid_points = Matrix::from_fn(grid * grid, 2, |r, c| {
            let (row, col) = (r / grid, r % grid);
            if c == 0 {
                -HALF + (col as f32 + 0.5) * cell
            } else {
                HALF - (row as f32 + 0.5) * cell
            }
        });
        Ok(PlaygroundRun {
            x_train: expand(&data.x_train, &settings.features),
            x_test: expand(&data.x_test, &settings.features),
            t_train: column(&data.y_train),
            t_test: column(&data.y_test),
            grid_x: expand(&grid_points, &settings.features),
            data,
            net,
            opt: Optimizer::new(settings.optimizer),
            epoch: 0,
            epochs: None,
            pictures_every: None,
            order: (0..n_train).collect(),
            // Its own stream: the batches never share draws with the data or the weights.
            rng: StdRng::seed_from_u64(settings.seed ^ 0xba7c_4e50_dde5),
            batch_t: Matrix::zeros(0, 0),
            settings: settings.clone(),
            grid,
        })
    }

    /// The settings the run was made from.
    pub fn settings(&self) -> &PlaygroundSettings {
        &self.settings
    }

    /// Epochs trained so far.
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// One pass over the training points in a fresh random order, a step per batch (the last
    /// batch may be smaller). Fails, having changed nothing of the batch, on a loss that is
    /// not finite.
    pub fn train_epoch(&mut self) -> Result<()> {
        self.order.shuffle(&mut self.rng);
        let b = self.settings.batch;
        for (i, rows) in self.order.chunks(b).enumerate() {
            self.net.input_mut().gather_rows_from(&self.x_train, rows);
            self.batch_t.gather_rows_from(&self.t_train, rows);
            let loss = f64::from(self.net.loss_on_input(Targets::Values(&self.batch_t))?);
            if !loss.is_finite() || loss > 1e6 {
                return Err(Error::Diverged {
                    epoch: self.epoch + 1,
                    step: self.epoch * self.order.len().div_ceil(b) + i + 1,
                    loss,
                    advice: "try a smaller learning rate".into(),
                });
            }
            self.net.backward(Targets::Values(&self.batch_t));
            self.opt.step(&mut self.net);
        }
        self.epoch += 1;
        Ok(())
    }

    /// Mean ½(output − target)² over the training and the test points.
    pub fn losses(&mut self) -> Result<(f64, f64)> {
        Ok((
            squared_loss(&mut self.net, &self.x_train, &self.t_train)?,
            squared_loss(&mut self.net, &self.x_test, &self.t_test)?,
        ))
    }

    /// The share of points on the right side of 0 (classification only: `None` otherwise),
    /// training and test.
    pub fn accuracies(&mut self) -> Result<Option<(f64, f64)>> {
        if self.settings.set.is_regression() {
            return Ok(None);
        }
        Ok(Some((
            sign_accuracy(&mut self.net, &self.x_train, &self.t_train)?,
            sign_accuracy(&mut self.net, &self.x_test, &self.t_test)?,
        )))
    }

    /// The output over a `grid × grid` lattice, as [`Snapshot::output`] orders it.
    pub fn output_field(&mut self) -> Result<Vec<f32>> {
        Ok(self
            .net
            .predict(&self.grid_x, Mode::Eval)?
            .as_slice()
            .to_vec())
    }

    /// Where the run stands and every picture of it (no pictures, only the losses, at epochs
    /// [`PlaygroundRun::pictures_every`] leaves out).
    pub fn snapshot(&mut self) -> Result<Snapshot> {
        let (loss_train, loss_test) = self.losses()?;
        if self
            .pictures_every
            .is_some_and(|n| n == 0 || !self.epoch.is_multiple_of(n))
        {
            return Ok(Snapshot {
                epoch: self.epoch,
                loss_train,
                loss_test,
                grid: self.grid,
                output: Vec::new(),
                neurons: Vec::new(),
                weights: Vec::new(),
                biases: Vec::new(),
            });
        }
        let output = self.output_field()?;
        let specs = self.net.specs().to_vec();
        // The layer whose output is each hidden layer's: its activation's, or for "linear"
        // the affine map's own.
        let mut neurons = Vec::new();
        let mut affine = 0;
        for (i, spec) in specs.iter().enumerate() {
            let LayerSpec::Affine { n_out, .. } = *spec else {
                continue;
            };
            if affine == self.settings.hidden.len() {
                break;
            }
            affine += 1;
            let shown = if self.settings.activation.is_some() {
                i + 1
            } else {
                i
            };
            let out = self
                .net
                .layer_output(shown)
                .expect("a layer of the network");
            neurons.push(
                (0..n_out)
                    .map(|u| (0..out.rows()).map(|r| out.get(r, u)).collect())
                    .collect(),
            );
        }
        let (mut weights, mut biases) = (Vec::new(), Vec::new());
        self.net.visit_params(&mut |_, p| {
            if p.name == "weight" {
                let (rows, cols) = p.shape;
                weights.push(Matrix::from_vec(rows, cols, p.value.to_vec()).expect("its shape"));
            } else {
                biases.push(p.value.to_vec());
            }
        });
        Ok(Snapshot {
            epoch: self.epoch,
            loss_train,
            loss_test,
            grid: self.grid,
            output,
            neurons,
            weights,
            biases,
        })
    }

    /// The trained model as `train --save` writes one (safetensors, PyTorch's layout), with
    /// the Playground's settings in its metadata.
    pub fn model_bytes(&mut self) -> Result<Vec<u8>> {
        let s = &self.settings;
        let features: Vec<&str> = s.features.iter().map(|f| f.name()).collect();
        let meta: BTreeMap<String, String> = [
            ("dataset", s.set.name().to_string()),
            ("features", features.join(",")),
            (
                "activation",
                s.activation.map_or("linear", Activation::name).into(),
            ),
            ("optimizer", s.optimizer.name().into()),
            ("lr", s.optimizer.lr().to_string()),
            ("epochs", self.epoch.to_string()),
            ("command", s.command()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        crate::checkpoint::encode(&mut self.net, &meta)
    }
}

/// A job step is an epoch; a run with `epochs` set ends there.
impl Stepper for PlaygroundRun {
    type Snapshot = Snapshot;

    fn step(&mut self) -> Result<bool> {
        if self.epochs.is_some_and(|e| self.epoch >= e) {
            return Ok(false);
        }
        self.train_epoch()?;
        Ok(true)
    }

    fn snapshot(&mut self) -> Result<Snapshot> {
        PlaygroundRun::snapshot(self)
    }
}

fn squared_loss(net: &mut Network<f32>, x: &Matrix<f32>, t: &Matrix<f32>) -> Result<f64> {
    if x.rows() == 0 {
        return Ok(0.0);
    }
    let y = net.predict(x, Mode::Eval)?;
    let sum: f64 = y
        .as_slice()
        .iter()
        .zip(t.as_slice())
        .map(|(&y, &t)| 0.5 * f64::from(y - t).powi(2))
        .sum();
    Ok(sum / x.rows() as f64)
}

fn sign_accuracy(net: &mut Network<f32>, x: &Matrix<f32>, t: &Matrix<f32>) -> Result<f64> {
    if x.rows() == 0 {
        return Ok(0.0);
    }
    let y = net.predict(x, Mode::Eval)?;
    let right = y
        .as_slice()
        .iter()
        .zip(t.as_slice())
        .filter(|&(&y, &t)| (y >= 0.0) == (t > 0.0))
        .count();
    Ok(right as f64 / x.rows() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::DatasetName;

    #[test]
    fn the_default_circle_learns_and_the_same_seed_gives_the_same_bits() {
        let s = PlaygroundSettings::default();
        let mut a = PlaygroundRun::new(&s, 10).unwrap();
        let (before, _) = a.losses().unwrap();
        for _ in 0..150 {
            a.train_epoch().unwrap();
        }
        let (train, test) = a.losses().unwrap();
        assert!(train < before / 4.0, "loss {before} → {train}");
        assert!(test < 0.1, "test loss {test}");
        let mut b = PlaygroundRun::new(&s, 10).unwrap();
        for _ in 0..150 {
            b.train_epoch().unwrap();
        }
        assert_eq!(a.snapshot().unwrap(), b.snapshot().unwrap());
    }

    #[test]
    fn snapshots_hold_every_neuron_and_weight() {
        let s = PlaygroundSettings {
            hidden: vec![3, 2],
            activation: None,
            features: vec![Feature::X1, Feature::SinX2, Feature::X1X2],
            set: PlaneSet::MultiGauss,
            regularization: Regularization::L1(0.001),
            ..PlaygroundSettings::default()
        };
        let mut run = PlaygroundRun::new(&s, 7).unwrap();
        run.train_epoch().unwrap();
        let snap = run.snapshot().unwrap();
        assert_eq!(snap.output.len(), 49);
        assert_eq!(snap.neurons.len(), 2);
        assert_eq!((snap.neurons[0].len(), snap.neurons[1].len()), (3, 2));
        assert!(snap.neurons.iter().flatten().all(|n| n.len() == 49));
        let shapes: Vec<_> = snap.weights.iter().map(Matrix::shape).collect();
        assert_eq!(shapes, [(3, 3), (3, 2), (2, 1)]);
        assert_eq!(
            snap.biases.iter().map(Vec::len).collect::<Vec<_>>(),
            [3, 2, 1]
        );
        // A linear network's first neuron is its affine map: w·features + b at each cell.
        let w = &snap.weights[0];
        let (x1, x2) = (-HALF + 0.5 * 9.0 / 7.0, HALF - 0.5 * 9.0 / 7.0);
        let f = [x1, x2.sin(), x1 * x2];
        let expect: f32 = (0..3).map(|j| f[j] * w.get(j, 0)).sum::<f32>() + snap.biases[0][0];
        assert!((snap.neurons[0][0][0] - expect).abs() < 1e-4);
        assert_eq!(run.accuracies().unwrap(), None);
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        let d = PlaygroundSettings::default();
        let cases = [
            (
                PlaygroundSettings {
                    features: vec![],
                    ..d.clone()
                },
                "feature",
            ),
            (
                PlaygroundSettings {
                    hidden: vec![4, 0],
                    ..d.clone()
                },
                "neurons",
            ),
            (
                PlaygroundSettings {
                    optimizer: OptimizerConfig::Sgd { lr: f64::NAN },
                    ..d.clone()
                },
                "positive finite",
            ),
            (
                PlaygroundSettings {
                    batch: 251,
                    ..d.clone()
                },
                "250 training points",
            ),
            (
                PlaygroundSettings {
                    regularization: Regularization::L2(-1.0),
                    ..d.clone()
                },
                "rate",
            ),
            (
                PlaygroundSettings {
                    points: 1,
                    ..d.clone()
                },
                "points",
            ),
        ];
        for (s, needle) in cases {
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
        let wide = PlaygroundSettings {
            hidden: vec![9],
            ..d.clone()
        };
        assert!(wide.validate().is_ok());
        assert!(
            wide.validate_for_page()
                .unwrap_err()
                .to_string()
                .contains("8")
        );
    }

    #[test]
    fn the_command_names_what_differs_from_the_defaults() {
        let s = PlaygroundSettings {
            set: PlaneSet::Classify(DatasetName::Spiral),
            features: vec![Feature::X1, Feature::SinX1],
            regularization: Regularization::L2(0.003),
            ..PlaygroundSettings::default()
        };
        assert_eq!(
            s.command(),
            "scratchnet playground --dataset spiral --features x1,sinx1 --hidden 4,2 \
             --activation tanh --optimizer sgd --lr 0.03 --batch 10 --regularization l2 \
             --reg-rate 0.003 --seed 1"
        );
    }
}
