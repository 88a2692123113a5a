//! The trainer, shaped like the textbook's `common/trainer.py`: each epoch is one pass of
//! mini-batch steps, then an evaluation on the full train and test sets (or, as the book's
//! `evaluate_sample_num_per_epoch` does, on their first samples until the last epoch:
//! [`TrainConfig::eval_samples`]), recorded in a [`History`] and reported through a callback.
//!
//! Training time and evaluation time are measured separately: `train_seconds` covers only the
//! steps (gather, forward, backward, update), so speed comparisons are not skewed by how often
//! one chooses to evaluate.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::data::augment::Augment;
use crate::error::{Error, Result, Setting};
use crate::matrix::{Float, Matrix};
use crate::nn::Layer;
use crate::nn::affine::Affine;
use crate::nn::network::{BatchEdit, Network};
use crate::nn::softmax_with_loss::Targets;
use crate::optim::Optimizer;

/// A batch loss above this many times ln(classes) stops training as diverged.
pub const EXPLODED_LOSS_FACTOR: f64 = 100.0;

/// How batches are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// Each epoch visits every training sample once, in a fresh random order.
    Shuffle,
    /// Each batch is drawn with replacement, like the textbook's `np.random.choice`;
    /// an epoch is then `⌊N / batch⌋` iterations.
    Random,
}

impl Sampling {
    /// The name the CLI and checkpoints use: `shuffle` or `random`.
    pub fn name(self) -> &'static str {
        match self {
            Sampling::Shuffle => "shuffle",
            Sampling::Random => "random",
        }
    }
}

/// How long to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Length {
    /// This many epochs.
    Epochs(usize),
    /// This many iterations (mini-batch steps).
    Iters(usize),
}

/// Trainer settings (the network and optimizer are passed separately).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Samples per mini-batch.
    pub batch: usize,
    /// How long to train.
    pub length: Length,
    /// How batches are drawn.
    pub sampling: Sampling,
    /// Seed of the batch order, dropout and augmentation.
    pub seed: u64,
    /// Evaluate each epoch on the first this many training and test samples only (the book
    /// trainer's `evaluate_sample_num_per_epoch`); the epoch that ends a call to
    /// [`train_from`] (the run's last, or one before a checkpoint pause) is always evaluated
    /// on every sample. `None`: every epoch on every sample.
    ///
    /// Not part of a checkpoint's run record: like the thread count, it changes no weight
    /// and no batch, so each invocation chooses its own.
    #[serde(skip)]
    pub eval_samples: Option<usize>,
    /// Train on the first this many training samples only, as the book's overfitting
    /// experiments do with `x_train[:300]`; the training accuracy is then measured on them, and
    /// the test set is whole. `None`: every training sample.
    ///
    /// Part of a checkpoint's run record, so a resumed run keeps training on the same samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_samples: Option<usize>,
    /// How each training image is moved each time it is drawn into a batch (data
    /// augmentation); the default moves nothing. Needs [`TrainData::image_shape`].
    ///
    /// Part of a checkpoint's run record: it changes every step. A record without it (older
    /// checkpoints) reads as none.
    #[serde(default, skip_serializing_if = "Augment::is_none")]
    pub augment: Augment,
}

/// One row of the per-epoch table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpochRecord {
    /// The epoch (1-based).
    pub epoch: usize,
    /// Iterations done so far (cumulative).
    pub iterations: usize,
    /// Mean training loss over this epoch's batches.
    pub loss: f64,
    /// Accuracy on the training samples evaluated.
    pub train_acc: f64,
    /// Accuracy on the test samples evaluated.
    pub test_acc: f64,
    /// Training time of this epoch (evaluation excluded).
    pub seconds: f64,
    /// Training samples per second of training time.
    pub samples_per_sec: f64,
    /// `Some(n)`: the accuracies are on the first n training and the first n test samples
    /// (see [`TrainConfig::eval_samples`]); `None`: on all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval_samples: Option<usize>,
}

/// Everything a run produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// Every epoch's record, in order.
    pub epochs: Vec<EpochRecord>,
    /// Iterations done.
    pub iterations: usize,
    /// Loss of the last training batch.
    pub final_loss: f64,
    /// Time spent training (evaluation excluded).
    pub train_seconds: f64,
    /// Time spent evaluating.
    pub eval_seconds: f64,
    /// The mini-batch loss along the way, for the per-iteration curve.
    pub losses: LossTrace,
}

/// The mini-batch loss of every `stride`-th iteration, at most [`LossTrace::MAX_POINTS`] of
/// them: the course's per-iteration curve, which shows SGD's noise and what a learning rate
/// does, at a bounded cost for any run length.
///
/// Every iteration is offered; when the trace fills up, every other point is dropped and the
/// stride doubles. The points kept depend only on the sequence of iterations, so a resumed run
/// traces exactly what an uninterrupted one does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossTrace {
    /// Every how many iterations a point is kept.
    pub stride: usize,
    /// (iteration, batch loss), iterations multiples of `stride`.
    pub points: Vec<(usize, f64)>,
}

impl Default for LossTrace {
    fn default() -> Self {
        LossTrace {
            stride: 1,
            points: Vec::new(),
        }
    }
}

impl LossTrace {
    /// The most points kept: a few thousand draw the curve; more only make files bigger.
    pub const MAX_POINTS: usize = 4096;

    /// Offers iteration `iteration`'s batch loss.
    pub fn push(&mut self, iteration: usize, loss: f64) {
        if !iteration.is_multiple_of(self.stride) {
            return;
        }
        self.points.push((iteration, loss));
        if self.points.len() > Self::MAX_POINTS {
            self.stride *= 2;
            let stride = self.stride;
            self.points.retain(|&(i, _)| i % stride == 0);
        }
    }
}

/// What the trainer reports while it runs.
#[derive(Debug)]
pub enum Event<'a> {
    /// After each iteration: (iterations done, total, this batch's loss), the batch's sample
    /// indices and the dropout layers' masks of its forward pass (true = kept, layer order).
    Step {
        /// Iterations done, this one included.
        iteration: usize,
        /// Iterations the run lasts.
        total: usize,
        /// This batch's loss.
        loss: f64,
        /// The batch's sample indices.
        batch: &'a [usize],
        /// The dropout layers' masks of its forward pass.
        dropout: DropoutMasks<'a>,
    },
    /// An epoch's steps are done and its evaluation starts, on this many training and test
    /// samples in all: on a large network it takes a while, and a progress bar should say so.
    Evaluating {
        /// Training and test samples to classify.
        samples: usize,
    },
    /// After each epoch's evaluation.
    Epoch(&'a EpochRecord),
}

/// The dropout layers' masks of a step's forward pass (true = kept), visited in layer order
/// rather than collected: every step is reported, and most listeners never look at them.
#[derive(Clone, Copy)]
pub struct DropoutMasks<'a>(&'a VisitMasks<'a>);

/// A visitor of masks: calls its argument on each, in layer order.
pub type VisitMasks<'a> = dyn Fn(&mut dyn FnMut(&[bool])) + 'a;

impl<'a> DropoutMasks<'a> {
    /// Masks given by `visit`, which calls its argument on each in layer order.
    pub fn new(visit: &'a VisitMasks<'a>) -> Self {
        DropoutMasks(visit)
    }

    /// Calls `f` on each mask, in layer order.
    pub fn for_each(&self, mut f: impl FnMut(&[bool])) {
        (self.0)(&mut f)
    }
}

impl std::fmt::Debug for DropoutMasks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut lens = Vec::new();
        self.for_each(|mask| lens.push(mask.len()));
        f.debug_tuple("DropoutMasks").field(&lens).finish()
    }
}

/// A dataset converted to the training precision.
#[derive(Clone, Debug)]
pub struct TrainData<T> {
    /// Training inputs, a sample per row.
    pub x_train: Matrix<T>,
    /// Their classes.
    pub t_train: Vec<usize>,
    /// Test inputs.
    pub x_test: Matrix<T>,
    /// Their classes.
    pub t_test: Vec<usize>,
    /// (channels, height, width) of each row, for image data: what augmentation moves.
    pub image_shape: Option<(usize, usize, usize)>,
}

impl<T: Float> TrainData<T> {
    /// The data of `ds`, in precision `T`.
    pub fn from_dataset(ds: &Dataset) -> Self {
        Self::from_dataset_head(ds, None)
    }

    /// [`TrainData::from_dataset`] with only the first `train_samples` training samples (all
    /// of them for `None`, or when there are fewer), converted once.
    pub fn from_dataset_head(ds: &Dataset, train_samples: Option<usize>) -> Self {
        let n = train_samples.map_or(ds.x_train.rows(), |k| k.min(ds.x_train.rows()));
        let x_train = if n == ds.x_train.rows() {
            ds.x_train.cast()
        } else {
            ds.x_train.rows_range(0, n).cast()
        };
        TrainData {
            x_train,
            t_train: ds.t_train[..n].to_vec(),
            x_test: ds.x_test.cast(),
            t_test: ds.t_test.clone(),
            image_shape: ds.image_shape,
        }
    }

    /// The same data with only the first `n` training samples (`n` at most the number there).
    fn head(&self, n: usize) -> Self {
        TrainData {
            x_train: self.x_train.rows_range(0, n),
            t_train: self.t_train[..n].to_vec(),
            x_test: self.x_test.clone(),
            t_test: self.t_test.clone(),
            image_shape: self.image_shape,
        }
    }
}

impl TrainConfig {
    /// How many of `available` training samples the run trains on ([`TrainConfig::train_samples`]).
    pub fn training_rows(&self, available: usize) -> usize {
        self.train_samples.map_or(available, |k| k.min(available))
    }

    /// Iterations per epoch for `n` training samples.
    pub fn iters_per_epoch(&self, n: usize) -> usize {
        match self.sampling {
            Sampling::Shuffle => n.div_ceil(self.batch),
            Sampling::Random => (n / self.batch).max(1),
        }
    }

    /// Total iterations for `n` training samples, or an error when `epochs × iterations per
    /// epoch` does not fit in a machine word (it would wrap to a tiny run otherwise).
    pub fn total_iters(&self, n: usize) -> Result<usize> {
        match self.length {
            Length::Epochs(e) => {
                let ipe = self.iters_per_epoch(n);
                e.checked_mul(ipe).ok_or_else(|| {
                    Error::invalid(
                        Setting::Epochs,
                        format!(
                            "{e} × {ipe} iterations per epoch does not fit in a 64-bit count; \
                             ask for fewer epochs"
                        ),
                    )
                })
            }
            Length::Iters(i) => Ok(i),
        }
    }

    /// Rejects settings that cannot train whatever the data, naming the flag.
    pub fn validate_flags(&self) -> Result<()> {
        if self.batch == 0 {
            return Err(Error::invalid(Setting::Batch, "must be at least 1"));
        }
        if self.eval_samples == Some(0) {
            return Err(Error::invalid(Setting::EvalSamples, "must be at least 1"));
        }
        if self.train_samples == Some(0) {
            return Err(Error::invalid(Setting::TrainSamples, "must be at least 1"));
        }
        match self.length {
            Length::Epochs(0) => Err(Error::invalid(Setting::Epochs, "must be at least 1")),
            Length::Iters(0) => Err(Error::invalid(Setting::Iterations, "must be at least 1")),
            _ => Ok(()),
        }
    }

    /// Rejects settings that cannot train on a set of `n_train` samples, naming the flag.
    pub fn validate(&self, n_train: usize) -> Result<()> {
        self.validate_flags()?;
        if let Some(k) = self.train_samples
            && k > n_train
        {
            return Err(Error::invalid(
                Setting::TrainSamples,
                format!("{k} asks for more than the {n_train} training samples there are"),
            ));
        }
        let n_train = self.training_rows(n_train);
        if self.batch > n_train {
            return Err(Error::invalid(
                Setting::Batch,
                format!(
                    "{} is larger than the {n_train} training samples",
                    self.batch
                ),
            ));
        }
        self.total_iters(n_train).map(|_| ())
    }
}

/// Where a run stands after some iterations: everything, besides the network and optimizer,
/// needed to continue it exactly as if it had never stopped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainState {
    /// Iterations done.
    pub iteration: usize,
    /// Sums over the current, unfinished epoch.
    pub epoch_loss_sum: f64,
    /// Samples seen in it.
    pub epoch_samples: usize,
    /// Training time spent in it.
    pub epoch_seconds: f64,
    /// Everything recorded so far.
    pub history: History,
}

impl TrainState {
    /// The iteration at which to pause next when something happens every `every` epochs
    /// (a checkpoint, a snapshot): the next multiple of `every` epochs after the current
    /// iteration, capped at `total`; `total` when nothing is periodic.
    /// A period too long to count (`every × iterations per epoch` beyond a machine word) is
    /// longer than any run, so it never pauses.
    pub fn next_pause(&self, every: Option<usize>, iters_per_epoch: usize, total: usize) -> usize {
        let Some(period) = every
            .filter(|&e| e > 0)
            .and_then(|e| e.checked_mul(iters_per_epoch.max(1)))
        else {
            return total;
        };
        (self.iteration / period + 1)
            .checked_mul(period)
            .map_or(total, |next| next.min(total))
    }
}

/// How a call to [`train_from`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The run reached its length.
    Finished,
    /// The stop flag was raised; the state holds everything needed to resume.
    Interrupted,
}

/// Draws mini-batches: the shuffled order or the random draws, from one seeded generator whose
/// sequence depends only on the seed and the iteration, so a resumed run can replay it.
struct Sampler {
    rng: StdRng,
    order: Vec<usize>,
    sampling: Sampling,
    batch: usize,
    seed: u64,
    /// A random batch drawn ahead by [`Sampler::peek`], which the next
    /// [`Sampler::batch`] returns (empty when none is).
    ahead: Vec<usize>,
}

impl Sampler {
    fn new(cfg: &TrainConfig, n: usize) -> Self {
        Sampler {
            // Mixed into the seed so batch order and weight init never share a random stream.
            rng: StdRng::seed_from_u64(cfg.seed ^ 0x0ba7_c4e5_u64),
            order: (0..n).collect(),
            sampling: cfg.sampling,
            batch: cfg.batch,
            seed: cfg.seed,
            ahead: Vec::new(),
        }
    }

    /// Whether this sampler draws the batches of `cfg` over `n` samples.
    fn serves(&self, cfg: &TrainConfig, n: usize) -> bool {
        self.order.len() == n
            && self.sampling == cfg.sampling
            && self.batch == cfg.batch
            && self.seed == cfg.seed
    }

    /// Advances the generator past iterations `from..to` (with `ipe` iterations per epoch)
    /// without building their batches: only the draws that change its state are made (one
    /// shuffle per epoch start, or every random index). Checks `stop` as it goes, since a long
    /// run's replay takes a while; returns false if it was raised.
    fn skip(&mut self, from: usize, to: usize, ipe: usize, stop: &AtomicBool) -> bool {
        const CHECK_EVERY: usize = 1 << 12;
        debug_assert!(self.ahead.is_empty(), "skip runs on fresh samplers only");
        for i in from..to {
            if i % CHECK_EVERY == 0 && stop.load(Ordering::Relaxed) {
                return false;
            }
            match self.sampling {
                Sampling::Shuffle if i % ipe == 0 => self.order.shuffle(&mut self.rng),
                Sampling::Shuffle => {}
                Sampling::Random => {
                    let n = self.order.len();
                    for _ in 0..self.batch {
                        self.rng.random_range(0..n);
                    }
                }
            }
        }
        true
    }

    /// The rows the next [`Sampler::batch`] call, for batch `j` of this epoch, will give,
    /// without moving past them: a random batch is drawn now and kept for that call (the
    /// same draws in the same order, only sooner), a shuffled one read from the epoch's
    /// order. `false` at an epoch's start, whose shuffle is still to come.
    fn peek(&mut self, j: usize, out: &mut Vec<usize>) -> bool {
        out.clear();
        let n = self.order.len();
        match self.sampling {
            Sampling::Shuffle if j == 0 => return false,
            Sampling::Shuffle => out.extend_from_slice(
                &self.order[(j * self.batch).min(n)..((j + 1) * self.batch).min(n)],
            ),
            Sampling::Random => {
                if self.ahead.is_empty() {
                    let rng = &mut self.rng;
                    self.ahead
                        .extend((0..self.batch).map(|_| rng.random_range(0..n)));
                }
                out.extend_from_slice(&self.ahead);
            }
        }
        true
    }

    /// The indices of batch `j` of the current epoch (a new epoch starts at j = 0).
    fn batch(&mut self, j: usize, out: &mut Vec<usize>) {
        let n = self.order.len();
        if j == 0 && self.sampling == Sampling::Shuffle {
            self.order.shuffle(&mut self.rng);
        }
        out.clear();
        match self.sampling {
            Sampling::Shuffle => {
                out.extend_from_slice(&self.order[j * self.batch..((j + 1) * self.batch).min(n)])
            }
            Sampling::Random if !self.ahead.is_empty() => std::mem::swap(out, &mut self.ahead),
            Sampling::Random => out.extend((0..self.batch).map(|_| self.rng.random_range(0..n))),
        }
        self.ahead.clear();
    }
}

/// Trains `net` with `opt` on `data` from scratch; see [`train_from`].
pub fn train<T: Float>(
    net: &mut Network<T>,
    opt: &mut Optimizer<T>,
    data: &TrainData<T>,
    cfg: &TrainConfig,
    on_event: impl FnMut(Event<'_>),
) -> Result<History> {
    let mut state = TrainState::default();
    train_from(
        net,
        opt,
        data,
        cfg,
        &mut state,
        &AtomicBool::new(false),
        on_event,
    )?;
    Ok(state.history)
}

/// Trains from `state` (fresh or loaded from a checkpoint) until the configured length, or
/// until `stop` is raised — checked after every completed step, so the state is always that
/// of a whole number of steps. Stops with [`Error::Diverged`] when a batch loss is NaN,
/// infinite or above [`EXPLODED_LOSS_FACTOR`] · ln(classes).
pub fn train_from<T: Float>(
    net: &mut Network<T>,
    opt: &mut Optimizer<T>,
    data: &TrainData<T>,
    cfg: &TrainConfig,
    state: &mut TrainState,
    stop: &AtomicBool,
    on_event: impl FnMut(Event<'_>),
) -> Result<Outcome> {
    let mut order = BatchOrder::default();
    train_on(net, opt, data, cfg, state, &mut order, stop, on_event)
}

/// Where the batch order stood when a call of [`train_on`] returned, so that the next call
/// (a run trained an epoch at a time) goes on drawing instead of replaying every draw since
/// the first iteration. Empty, or kept for another run, it is rebuilt: the batches are the
/// same either way.
#[derive(Default)]
pub struct BatchOrder(Option<(usize, Sampler)>);

/// [`train_from`], keeping the batch order in `order` between calls.
#[allow(clippy::too_many_arguments)]
pub fn train_on<T: Float>(
    net: &mut Network<T>,
    opt: &mut Optimizer<T>,
    data: &TrainData<T>,
    cfg: &TrainConfig,
    state: &mut TrainState,
    order: &mut BatchOrder,
    stop: &AtomicBool,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<Outcome> {
    cfg.validate(data.x_train.rows())?;
    if let Some(k) = cfg.train_samples
        && k < data.x_train.rows()
    {
        // Given the whole set (a library caller; a session hands over the head already).
        let head = data.head(k);
        return train_on(net, opt, &head, cfg, state, order, stop, on_event);
    }
    let n = data.x_train.rows();
    let ipe = cfg.iters_per_epoch(n);
    let total = cfg.total_iters(n)?;
    let mut batch_idx: Vec<usize> = Vec::with_capacity(cfg.batch);
    let mut batch_t: Vec<usize> = Vec::with_capacity(cfg.batch);
    if state.iteration >= total {
        return Ok(Outcome::Finished);
    }
    let mut sampler = match order.0.take() {
        Some((at, s)) if at == state.iteration && s.serves(cfg, n) => s,
        _ => {
            // Replay the sampler over the iterations already done: same draws, no arithmetic.
            // It is bounded by the run's length (a resumed state never lies beyond it) and
            // interruptible.
            let mut s = Sampler::new(cfg, n);
            if !s.skip(0, state.iteration, ipe, stop) {
                return Ok(Outcome::Interrupted);
            }
            s
        }
    };
    // A record of an epoch that the previous call's length cut short is provisional: this call
    // goes on with that epoch (its sums were kept) and records it whole, once.
    if state
        .history
        .epochs
        .last()
        .is_some_and(|r| r.iterations == state.iteration && !state.iteration.is_multiple_of(ipe))
    {
        state.history.epochs.pop();
    }
    // A fresh classifier's loss is about ln(classes); one a hundred times that is not learning
    // any more, it is diverging (log-sum-exp keeps the loss finite long after the weights blow up).
    let classes = net.classes().max(2);
    let explode_at = EXPLODED_LOSS_FACTOR * (classes as f64).ln();
    let heads = cfg.eval_samples.and_then(|n| EvalHeads::of(data, n));
    // The augmentation, checked against the images once, then applied to every batch.
    let moved = if cfg.augment.is_none() {
        None
    } else {
        let shape = data.image_shape.ok_or_else(|| {
            Error::Config("--augment moves images, and these samples are not images".into())
        })?;
        cfg.augment.validate(shape)?;
        Some(shape)
    };
    let augment = |step: usize, x: &mut Matrix<T>| {
        if let Some(shape) = moved {
            cfg.augment.apply(x, shape, cfg.seed, step);
        }
    };
    let edit: Option<&BatchEdit<'_, T>> = moved.map(|_| &augment as &BatchEdit<'_, T>);
    while state.iteration < total {
        // The steps up to the next evaluation (or the stop flag) form a segment. With two
        // threads an MLP's first layer may be split between the cores for a segment
        // (nn::split): its partner thread lives as long as the segment, and the network is
        // whole again for the evaluation.
        let mut run = Steps {
            data,
            state: &mut *state,
            sampler: &mut sampler,
            batch_idx: &mut batch_idx,
            batch_t: &mut batch_t,
            edit,
            stop,
            on_event: &mut on_event,
            ipe,
            total,
            explode_at,
            next_idx: Vec::new(),
        };
        match net.split_first_layer(cfg.batch) {
            None => run.segment(net, opt)?,
            Some((partner, cut)) => {
                let mut right = opt.split_first_layer(&cut);
                let result = std::thread::scope(|s| {
                    let update = |layer: &mut Affine<T>| {
                        right.step_params(|f| layer.visit_params(f));
                    };
                    let helper = s.spawn(|| partner.serve(&data.x_train, edit, update));
                    let result = run.segment(net, opt);
                    net.rejoin_first_layer(|| {
                        helper
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    });
                    result
                });
                opt.rejoin_first_layer(right, &cut);
                result?
            }
        }
        let epoch = (state.iteration - 1) / ipe + 1;
        if state.iteration.is_multiple_of(ipe) || state.iteration == total {
            let steps = state.iteration - (epoch - 1) * ipe;
            let seconds = state.epoch_seconds;
            let eval_start = Instant::now();
            let head = heads.as_ref().filter(|_| state.iteration < total);
            on_event(Event::Evaluating {
                samples: match head {
                    Some(h) => h.x_train.rows() + h.x_test.rows(),
                    None => data.x_train.rows() + data.x_test.rows(),
                },
            });
            let (train_acc, test_acc, eval_samples) = match head {
                Some(h) => (
                    net.accuracy(&h.x_train, &data.t_train[..h.x_train.rows()])?,
                    net.accuracy(&h.x_test, &data.t_test[..h.x_test.rows()])?,
                    Some(h.n),
                ),
                None => (
                    net.accuracy(&data.x_train, &data.t_train)?,
                    net.accuracy(&data.x_test, &data.t_test)?,
                    None,
                ),
            };
            state.history.eval_seconds += eval_start.elapsed().as_secs_f64();
            let record = EpochRecord {
                epoch,
                iterations: state.iteration,
                loss: state.epoch_loss_sum / steps as f64,
                train_acc,
                test_acc,
                seconds,
                samples_per_sec: state.epoch_samples as f64 / seconds.max(1e-9),
                eval_samples,
            };
            on_event(Event::Epoch(&record));
            state.history.epochs.push(record);
            if state.iteration.is_multiple_of(ipe) {
                state.epoch_loss_sum = 0.0;
                state.epoch_samples = 0;
                state.epoch_seconds = 0.0;
            }
        }
        if stop.load(Ordering::Relaxed) && state.iteration < total {
            order.0 = Some((state.iteration, sampler));
            return Ok(Outcome::Interrupted);
        }
    }
    order.0 = Some((state.iteration, sampler));
    Ok(Outcome::Finished)
}

/// The first n rows of the training and test sets, copied once per call of [`train_from`],
/// for the per-epoch evaluation of [`TrainConfig::eval_samples`].
struct EvalHeads<T> {
    n: usize,
    x_train: Matrix<T>,
    x_test: Matrix<T>,
}

impl<T: Float> EvalHeads<T> {
    /// `None` when n covers both sets: every epoch is then evaluated on all of them anyway.
    fn of(data: &TrainData<T>, n: usize) -> Option<Self> {
        let (train, test) = (data.x_train.rows(), data.x_test.rows());
        (n < train || n < test).then(|| EvalHeads {
            n,
            x_train: data.x_train.rows_range(0, n.min(train)),
            x_test: data.x_test.rows_range(0, n.min(test)),
        })
    }
}

/// What a run of training steps reads and advances.
struct Steps<'a, T, F> {
    data: &'a TrainData<T>,
    state: &'a mut TrainState,
    sampler: &'a mut Sampler,
    batch_idx: &'a mut Vec<usize>,
    batch_t: &'a mut Vec<usize>,
    /// The batches' augmentation, if any.
    edit: Option<&'a BatchEdit<'a, T>>,
    stop: &'a AtomicBool,
    on_event: &'a mut F,
    /// Iterations per epoch, and in all.
    ipe: usize,
    total: usize,
    /// The batch loss above which training has diverged.
    explode_at: f64,
    /// The next batch's rows, for a split first layer's partner to gather ahead.
    next_idx: Vec<usize>,
}

impl<T: Float, F: FnMut(Event<'_>)> Steps<'_, T, F> {
    /// Runs steps until an epoch ends, the run ends or `stop` is raised (after a whole step).
    fn segment(&mut self, net: &mut Network<T>, opt: &mut Optimizer<T>) -> Result<()> {
        let (ipe, state) = (self.ipe, &mut *self.state);
        loop {
            let j = state.iteration % ipe;
            let epoch = state.iteration / ipe + 1;
            let start = Instant::now();
            self.sampler.batch(j, self.batch_idx);
            self.batch_t.clear();
            self.batch_t
                .extend(self.batch_idx.iter().map(|&i| self.data.t_train[i]));
            net.gather_batch(
                &self.data.x_train,
                self.batch_idx,
                state.iteration,
                self.edit,
            );
            let gathered = start.elapsed();
            // With the first layer split, its partner gathers the next batch of the epoch
            // while this thread runs the layers above, so its next forward need not wait for
            // memory (the same rows, copied sooner: the same bits).
            let next = state.iteration + 1;
            if net.is_split()
                && next < self.total
                && !next.is_multiple_of(ipe)
                && self.sampler.peek(next % ipe, &mut self.next_idx)
            {
                net.prefetch_batch(&self.next_idx);
            }
            let targets = Targets::Labels(self.batch_t);
            let loss = net.loss_on_input(targets)?.to_f64();
            // Checked before backward: a diverged step updates nothing, on any thread.
            if !loss.is_finite() || loss > self.explode_at {
                return Err(Error::Diverged {
                    epoch,
                    step: state.iteration + 1,
                    loss,
                    advice: divergence_advice(state.iteration + 1, net.weight_decay()),
                });
            }
            net.backward(targets);
            state.iteration += 1;
            let before_update = Instant::now();
            opt.step(net);
            if let Some(p) = net.profile_mut() {
                p.gather += gathered;
                p.optimizer += before_update.elapsed();
            }
            let seconds = start.elapsed().as_secs_f64();
            state.epoch_loss_sum += loss;
            state.epoch_samples += self.batch_idx.len();
            state.epoch_seconds += seconds;
            state.history.train_seconds += seconds;
            state.history.final_loss = loss;
            state.history.losses.push(state.iteration, loss);
            state.history.iterations = state.iteration;
            let masks = |f: &mut dyn FnMut(&[bool])| net.dropout_masks().for_each(f);
            (self.on_event)(Event::Step {
                iteration: state.iteration,
                total: self.total,
                loss,
                batch: self.batch_idx,
                dropout: DropoutMasks::new(&masks),
            });
            if state.iteration.is_multiple_of(ipe)
                || state.iteration == self.total
                || self.stop.load(Ordering::Relaxed)
            {
                return Ok(());
            }
        }
    }
}

/// What to try when the loss blows up at `step` (1 = before any update).
fn divergence_advice(step: usize, weight_decay: f64) -> String {
    if step == 1 {
        "it was that large before any update, so the initial weights are too large: try \
         --init he or xavier, or a smaller std"
            .into()
    } else if weight_decay > 0.0 {
        "try a smaller learning rate (--lr) or weight decay (--weight-decay)".into()
    } else {
        "try a smaller learning rate (--lr)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::TrainState;

    #[test]
    fn a_peeked_batch_is_the_batch_that_comes_next_and_draws_nothing_extra() {
        use super::{Augment, Length, Sampler, Sampling, TrainConfig};
        for sampling in [Sampling::Random, Sampling::Shuffle] {
            let cfg = TrainConfig {
                batch: 7,
                length: Length::Iters(40),
                sampling,
                seed: 3,
                eval_samples: None,
                train_samples: None,
                augment: Augment::default(),
            };
            let (n, ipe) = (50, 8);
            let (mut plain, mut peeking) = (Sampler::new(&cfg, n), Sampler::new(&cfg, n));
            let (mut a, mut b, mut ahead) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..40 {
                plain.batch(i % ipe, &mut a);
                peeking.batch(i % ipe, &mut b);
                assert_eq!(a, b, "{sampling:?}, step {i}");
                // Peek at the next batch (twice: the second peek draws nothing more).
                let j = (i + 1) % ipe;
                if peeking.peek(j, &mut ahead) {
                    let first = ahead.clone();
                    assert!(peeking.peek(j, &mut ahead));
                    assert_eq!(first, ahead);
                    plain.batch(j, &mut a);
                    peeking.batch(j, &mut b);
                    assert_eq!((&a, &b), (&ahead, &ahead), "{sampling:?}, step {}", i + 1);
                } else {
                    assert_eq!((sampling, j), (Sampling::Shuffle, 0));
                }
            }
        }
    }

    #[test]
    fn the_loss_trace_stays_bounded_and_does_not_depend_on_where_it_was_cut() {
        use super::LossTrace;
        let mut whole = LossTrace::default();
        for i in 1..=10_000 {
            whole.push(i, i as f64);
        }
        assert!(whole.points.len() <= LossTrace::MAX_POINTS);
        assert!(whole.points.len() > LossTrace::MAX_POINTS / 2);
        assert_eq!(whole.stride, 4);
        assert!(
            whole
                .points
                .iter()
                .all(|&(i, l)| i % 4 == 0 && l == i as f64)
        );
        // Cut in two at an arbitrary point (a checkpoint), continued: the same trace.
        let mut first = LossTrace::default();
        for i in 1..=3_333 {
            first.push(i, i as f64);
        }
        let mut resumed: LossTrace =
            serde_json::from_str(&serde_json::to_string(&first).unwrap()).unwrap();
        for i in 3_334..=10_000 {
            resumed.push(i, i as f64);
        }
        assert_eq!(resumed, whole);
    }

    #[test]
    fn pauses_fall_on_epoch_multiples_and_never_pass_the_end() {
        let at = |iteration| TrainState {
            iteration,
            ..TrainState::default()
        };
        // Every 2 epochs of 10 iterations, 45 in all.
        assert_eq!(at(0).next_pause(Some(2), 10, 45), 20);
        assert_eq!(at(19).next_pause(Some(2), 10, 45), 20);
        assert_eq!(at(20).next_pause(Some(2), 10, 45), 40);
        assert_eq!(at(40).next_pause(Some(2), 10, 45), 45);
        assert_eq!(at(7).next_pause(None, 10, 45), 45);
        assert_eq!(at(7).next_pause(Some(0), 10, 45), 45);
    }
}
