//! A training session: what a run is ([`Settings`]), starting it or resuming it from a
//! checkpoint, training it with pauses (a checkpoint every N epochs, a snapshot of the decision
//! field), stopping when asked, and saving it so that it can be resumed bit for bit.
//!
//! `train`, `compare` and `playground` all run through [`Session::run`]; the command line only
//! turns flags into [`Settings`] and prints what comes back.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::checkpoint;
use crate::data::{Dataset, DatasetName, LoadOptions};
use crate::error::{Error, Result};
use crate::matrix::Float;
use crate::nn::cnn::Architecture;
use crate::nn::init::Init;
use crate::nn::network::Network;
use crate::nn::shape::Shape;
use crate::nn::spec::{Activation, LayerSpec, MlpSpec, activation_of};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::train::{self, BatchOrder, Event, Length, Outcome, TrainConfig, TrainData, TrainState};

/// Everything that defines a run: the data, the network, the optimizer and the trainer.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The dataset trained on.
    pub dataset: DatasetName,
    /// How it is loaded (folder, grayscale, seed and noise of generated sets).
    pub load: LoadOptions,
    /// The MLP of `hidden`, `activation`, `batchnorm` and `dropout`, or a convolutional one.
    pub arch: Architecture,
    /// Hidden widths of the MLP.
    pub hidden: Vec<usize>,
    /// The MLP's activation.
    pub activation: Activation,
    /// How the weights start.
    pub init: Init,
    /// Batch normalisation after each hidden affine layer of the MLP.
    pub batchnorm: bool,
    /// Dropout after each hidden activation of the MLP.
    pub dropout: Option<f64>,
    /// L2 weight decay λ.
    pub weight_decay: f64,
    /// The optimizer and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Batches, length, sampling, seed, evaluation.
    pub train: TrainConfig,
    /// Threads for the GEMMs and the split first layer.
    pub threads: usize,
}

impl Settings {
    /// The network description for `input` features and `classes` classes.
    pub fn mlp(&self, input: usize, classes: usize) -> MlpSpec {
        MlpSpec {
            input,
            hidden: self.hidden.clone(),
            classes,
            activation: self.activation,
            init: self.init,
            batchnorm: self.batchnorm,
            dropout: self.dropout,
            weight_decay: self.weight_decay,
        }
    }

    /// The layer list and input shape for `ds`: the MLP of the flags on its rows as vectors,
    /// or a convolutional network on its images.
    pub fn network_for(&self, ds: &Dataset) -> Result<(Vec<LayerSpec>, Shape)> {
        self.network(ds.input_dim(), ds.image_shape, ds.classes, ds.name)
    }

    /// [`Settings::network_for`] from the data's facts: `features` per row, its image shape
    /// if any, `classes`.
    pub fn network(
        &self,
        features: usize,
        image: Option<(usize, usize, usize)>,
        classes: usize,
        dataset: DatasetName,
    ) -> Result<(Vec<LayerSpec>, Shape)> {
        if self.arch == Architecture::Mlp {
            return Ok((
                self.mlp(features, classes).layer_specs(),
                Shape::Flat(features),
            ));
        }
        let input = Shape::of_input(features, image);
        if !matches!(input, Shape::Image { .. }) {
            return Err(Error::Config(format!(
                "--{} needs images; {dataset} has rows of {features} values",
                if matches!(self.arch, Architecture::Layers(_)) {
                    "layers"
                } else {
                    "net"
                }
            )));
        }
        Ok((self.arch.layer_specs(input, classes)?, input))
    }

    /// Takes the run's settings from the checkpoint at `path` being resumed (its `run`
    /// metadata), so the run continues exactly: the data as it was loaded (and how many
    /// training samples it uses), the batch order, the seed, the init. Only the length and the
    /// thread count stay the caller's. Refuses a precision other than the checkpoint's.
    pub fn resume_from(
        &mut self,
        meta: &BTreeMap<String, String>,
        path: &Path,
        precision: &str,
    ) -> Result<()> {
        let record = RunRecord::from_metadata(meta, path)?;
        if record.precision != precision {
            return Err(Error::Config(format!(
                "{} was trained in {p}: resume it with --precision {p}",
                path.display(),
                p = record.precision
            )));
        }
        self.dataset = record.dataset;
        self.load.grayscale = record.grayscale;
        self.load.noise = record.noise;
        self.load.seed = record.train.seed;
        self.init = record.init;
        self.train = TrainConfig {
            length: self.train.length,
            eval_samples: self.train.eval_samples,
            ..record.train
        };
        Ok(())
    }
}

/// How a run was set up, as a checkpoint records it (metadata entry `run`, JSON): what a
/// resumed run or an evaluation needs to see the data and the batches as training did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The dataset trained on.
    pub dataset: DatasetName,
    /// CIFAR-10 as 1024 gray values.
    pub grayscale: bool,
    /// σ of the noise on playground points.
    pub noise: f64,
    /// How the weights started.
    pub init: Init,
    /// Batch size, sampling, seed; `length` is the length the run was last asked for.
    pub train: TrainConfig,
    /// `f32` or `f64`.
    pub precision: String,
}

impl RunRecord {
    /// The metadata entry's name.
    pub const KEY: &'static str = "run";

    /// The record in a checkpoint's metadata; missing or invalid is an error naming the
    /// field, never a default.
    pub fn from_metadata(meta: &BTreeMap<String, String>, path: &Path) -> Result<Self> {
        let fmt = |what: String| Error::format(path, what);
        let raw = meta.get(Self::KEY).ok_or_else(|| {
            fmt(format!(
                "no '{}' entry in its metadata: not a training checkpoint of this version",
                Self::KEY
            ))
        })?;
        let record: RunRecord = serde_json::from_str(raw)
            .map_err(|e| fmt(format!("its run settings are invalid: {e}")))?;
        if !(record.noise >= 0.0 && record.noise.is_finite()) {
            return Err(fmt(format!(
                "its run settings' 'noise' must be a finite number ≥ 0, not {}",
                record.noise
            )));
        }
        if record.train.batch == 0 {
            return Err(fmt("its run settings' 'batch' is 0".into()));
        }
        if !matches!(record.precision.as_str(), "f32" | "f64") {
            return Err(fmt(format!(
                "its run settings' 'precision' is '{}', not f32 or f64",
                record.precision
            )));
        }
        Ok(record)
    }
}

/// What a caller says of a checkpoint's data (`eval`'s and `predict`'s flags); `None` and
/// `false` leave it to the checkpoint.
#[derive(Clone, Debug, Default)]
pub struct DataChoice {
    /// The dataset to use instead of the checkpoint's.
    pub dataset: Option<DatasetName>,
    /// Where to look for it first.
    pub data_dir: Option<std::path::PathBuf>,
    /// CIFAR-10 as gray values.
    pub grayscale: bool,
    /// The seed of a generated set's points.
    pub seed: Option<u64>,
}

/// Which dataset the model in the checkpoint at `path` (its `meta`data) runs on and how that
/// set is to be loaded: from `wanted`, else from what the checkpoint records of its training.
/// A model saved without a record needs `wanted.dataset`; an invalid record is an error naming
/// the field, never a quiet default.
pub fn data_of_checkpoint(
    meta: &BTreeMap<String, String>,
    path: &Path,
    wanted: &DataChoice,
) -> Result<(DatasetName, LoadOptions)> {
    let record = match meta.contains_key(RunRecord::KEY) {
        true => Some(RunRecord::from_metadata(meta, path)?),
        false => None,
    };
    let name: DatasetName = match (wanted.dataset, &record) {
        (Some(d), _) => d,
        (None, Some(r)) => r.dataset,
        (None, None) => {
            return Err(Error::Config(format!(
                "{}: the checkpoint does not name its dataset: pass --dataset",
                path.display()
            )));
        }
    };
    if wanted.grayscale && name != DatasetName::Cifar10 {
        return Err(Error::Config(format!(
            "--grayscale applies to --dataset cifar10 only, not {name}"
        )));
    }
    if wanted.seed.is_some() && !name.is_generated() {
        return Err(Error::Config(format!(
            "--seed chooses the points of a generated set; {name} is read from files"
        )));
    }
    // What training saw applies to the same dataset only.
    let same = record.as_ref().filter(|r| r.dataset == name);
    let grayscale =
        name == DatasetName::Cifar10 && (wanted.grayscale || same.is_some_and(|r| r.grayscale));
    let seed = wanted.seed.or(same.map(|r| r.train.seed)).unwrap_or(42);
    let noise = same
        .filter(|_| name.is_generated())
        .map_or(0.0, |r| r.noise);
    let options = LoadOptions {
        data_dir: wanted.data_dir.clone(),
        grayscale,
        seed,
        noise,
    };
    Ok((name, options))
}

/// A run in progress: the network, its optimizer, where training stands, and the data.
pub struct Session<T: Float> {
    /// The network being trained.
    pub net: Network<T>,
    /// Its optimizer and the optimizer's state.
    pub opt: Optimizer<T>,
    /// Where training stands: iterations, the unfinished epoch's sums, the history.
    pub state: TrainState,
    data: TrainData<T>,
    /// The batch order where the last stretch of training left it.
    order: BatchOrder,
    settings: Settings,
    dataset: DatasetName,
    total: usize,
    iters_per_epoch: usize,
}

impl<T: Float> Session<T> {
    /// A fresh run of `settings` on `ds`.
    pub fn start(settings: &Settings, ds: &Dataset) -> Result<Self> {
        if settings.arch == Architecture::Mlp {
            settings.mlp(ds.input_dim(), ds.classes).validate()?;
        }
        let (specs, input) = settings.network_for(ds)?;
        let net = Network::<T>::with_input(
            specs,
            input,
            settings.init,
            settings.weight_decay,
            settings.train.seed,
            settings.threads,
        )?;
        let opt = Optimizer::<T>::new(settings.optimizer);
        Self::with(settings, ds, net, opt, TrainState::default())
    }

    /// The run saved in the checkpoint at `path`, continued on `ds` (which must be the data it
    /// was trained on) until `settings`' length. `settings` should have been through
    /// [`Settings::resume_from`].
    pub fn resume(settings: &Settings, ds: &Dataset, path: &Path) -> Result<Self> {
        let mut ckpt = checkpoint::load::<T>(path, settings.threads)?;
        if ckpt.net.input_dim() != ds.input_dim() || ckpt.net.classes() != ds.classes {
            return Err(Error::Shape {
                op: "resume",
                expected: format!(
                    "{} features and {} classes, as the checkpoint's model has",
                    ckpt.net.input_dim(),
                    ckpt.net.classes()
                ),
                got: format!("{} with {} and {}", ds.name, ds.input_dim(), ds.classes),
            });
        }
        let (opt, state) = checkpoint::load_training(path, &mut ckpt)?;
        let session = Self::with(settings, ds, ckpt.net, opt, state)?;
        if session.state.iteration >= session.total {
            return Err(Error::Config(format!(
                "the checkpoint has already done {} of the {} iterations asked for; ask for \
                 more with --epochs or --iters",
                session.state.iteration, session.total
            )));
        }
        Ok(session)
    }

    fn with(
        settings: &Settings,
        ds: &Dataset,
        net: Network<T>,
        opt: Optimizer<T>,
        state: TrainState,
    ) -> Result<Self> {
        settings.train.validate(ds.x_train.rows())?;
        let n = settings.train.training_rows(ds.x_train.rows());
        // Decide now, not inside the first step's first product, whether the AVX-512 kernel
        // pays (a few milliseconds of probing): the step times and `--profile` stay honest.
        crate::matrix::gemm::dispatch::avx512_pays();
        Ok(Session {
            net,
            opt,
            state,
            data: TrainData::from_dataset_head(ds, settings.train.train_samples),
            order: BatchOrder::default(),
            total: settings.train.total_iters(n)?,
            iters_per_epoch: settings.train.iters_per_epoch(n),
            settings: settings.clone(),
            dataset: ds.name,
        })
    }

    /// Iterations the run lasts in all.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The optimizer the run trains with (the checkpoint's, when resumed).
    pub fn optimizer(&self) -> OptimizerConfig {
        self.opt.config
    }

    /// Iterations per epoch.
    pub fn iters_per_epoch(&self) -> usize {
        self.iters_per_epoch
    }

    /// Whether every iteration of the run is done.
    pub fn is_done(&self) -> bool {
        self.state.iteration >= self.total
    }

    /// The settings the run was started (or resumed) with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Trains until the end or until `stop` is raised. Every `every` epochs (if given) it
    /// pauses and calls `at_pause` — to save a checkpoint, to draw a snapshot — then goes on.
    /// Returns how training ended; the state is always that of a whole number of steps.
    pub fn run(
        &mut self,
        every: Option<usize>,
        stop: &AtomicBool,
        mut on_event: impl FnMut(Event<'_>),
        mut at_pause: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<Outcome> {
        loop {
            let pause = self.next_pause(every);
            let outcome = self.train_epoch(every, stop, &mut on_event)?;
            if outcome == Outcome::Interrupted || self.is_done() {
                return Ok(outcome);
            }
            if self.state.iteration == pause {
                at_pause(self)?;
            }
        }
    }

    /// The iteration of the next pause for something done every `every` epochs (the end when
    /// `None`).
    pub fn next_pause(&self, every: Option<usize>) -> usize {
        self.state
            .next_pause(every, self.iters_per_epoch, self.total)
    }

    /// Trains one epoch: to its end, or to the end of the run or the next pause of `every`
    /// (see [`Session::run`]) if that comes first. The epochs are evaluated as one call of
    /// `run` evaluates them: whole at each pause and at the end, on `eval_samples` between.
    /// [`Outcome::Interrupted`] when `stop` was raised, [`Outcome::Finished`] otherwise.
    pub fn train_epoch(
        &mut self,
        every: Option<usize>,
        stop: &AtomicBool,
        mut on_event: impl FnMut(Event<'_>),
    ) -> Result<Outcome> {
        let cfg = TrainConfig {
            length: Length::Iters(self.next_pause(every)),
            ..self.settings.train.clone()
        };
        // The trainer stops after a whole step when its flag is up: raised here once the
        // epoch's record is made, or as soon as a step sees the caller's `stop`.
        let halt = AtomicBool::new(stop.load(Ordering::Relaxed));
        train::train_on(
            &mut self.net,
            &mut self.opt,
            &self.data,
            &cfg,
            &mut self.state,
            &mut self.order,
            &halt,
            |event| {
                match &event {
                    Event::Epoch(_) => halt.store(true, Ordering::Relaxed),
                    _ if stop.load(Ordering::Relaxed) => halt.store(true, Ordering::Relaxed),
                    _ => {}
                }
                on_event(event)
            },
        )?;
        Ok(if stop.load(Ordering::Relaxed) && !self.is_done() {
            Outcome::Interrupted
        } else {
            Outcome::Finished
        })
    }

    /// Saves the run to `path`: the model in PyTorch's layout, the optimizer's state, the
    /// trainer's position and the [`RunRecord`], so `train --resume` continues it exactly.
    pub fn save(&mut self, path: &Path) -> Result<()> {
        let s = &self.settings;
        let record = RunRecord {
            dataset: self.dataset,
            grayscale: s.load.grayscale,
            noise: s.load.noise,
            init: s.init,
            train: s.train.clone(),
            precision: T::NAME.to_string(),
        };
        let h = &self.state.history;
        // The entries besides `run` are for people and PyTorch scripts reading the header.
        let meta: BTreeMap<String, String> = [
            (
                RunRecord::KEY,
                serde_json::to_string(&record).expect("run settings serialise"),
            ),
            ("dataset", self.dataset.name().to_string()),
            ("activation", activation_of(self.net.specs()).to_string()),
            ("optimizer", self.opt.config.name().to_string()),
            ("lr", self.opt.config.lr().to_string()),
            ("epochs", h.epochs.len().to_string()),
            ("iterations", self.state.iteration.to_string()),
            (
                "test_acc",
                // An interrupted run's last epoch may have been evaluated on a head only.
                h.epochs
                    .last()
                    .map_or(String::new(), |r| match r.eval_samples {
                        None => r.test_acc.to_string(),
                        Some(n) => format!("{} (first {n} test samples)", r.test_acc),
                    }),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        checkpoint::save_training(&mut self.net, &self.opt, &self.state, &meta, path)
    }
}
