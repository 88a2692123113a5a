//! `scratchnet train`: train an MLP on a dataset, with a progress bar, a per-epoch table and
//! optional CSV log, SVG plot and JSON summary.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::atomic_write::{check_writable_dir, write_atomic};
use crate::bench::environment::debug_build_warning;
use crate::checkpoint;
use crate::data::{self, DatasetName, LoadOptions};
use crate::error::{Error, Result};
use crate::matrix::Float;
use crate::matrix::gemm::dispatch::default_threads;
use crate::nn::init::Init;
use crate::nn::network::{Activation, LayerSpec, MlpSpec, Network};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::report::{csv, svg, training};
use crate::train::{
    self, Event, History, Length, Outcome, Sampling, TrainConfig, TrainData, TrainState,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Precision {
    F32,
    F64,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SamplingArg {
    Shuffle,
    Random,
}

/// Flags shared by every command that builds and trains a network.
#[derive(Clone, Debug, Args)]
pub struct TrainArgs {
    /// mnist, fashion-mnist, cifar10, circle, xor, gauss or spiral.
    #[arg(long, default_value = "mnist")]
    pub dataset: String,
    /// Folder holding the dataset, or a DATASET/ folder with it; searched before $SCRATCHNET_DATA.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Hidden layer widths, comma-separated (`none` for a linear model).
    #[arg(long, default_value = "100,50")]
    pub hidden: String,
    /// relu, sigmoid or tanh.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// he, xavier or std:SIGMA [default: he for relu, xavier otherwise].
    #[arg(long)]
    pub init: Option<String>,
    /// Batch normalisation after each hidden affine layer.
    #[arg(long)]
    pub batchnorm: bool,
    /// Dropout ratio after each hidden activation, in [0, 1).
    #[arg(long, value_name = "P")]
    pub dropout: Option<f64>,
    /// L2 weight decay λ (½λ‖W‖² added to the loss).
    #[arg(long, value_name = "L", default_value_t = 0.0)]
    pub weight_decay: f64,
    /// sgd, momentum, nesterov, adagrad, rmsprop or adam.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Learning rate [default: the optimizer's textbook default: 0.01, adam 0.001].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Epochs to train [default: 10 unless --iters is given].
    #[arg(long, conflicts_with = "iters")]
    pub epochs: Option<usize>,
    /// Iterations (mini-batch steps) to train instead of epochs.
    #[arg(long)]
    pub iters: Option<usize>,
    /// shuffle: every sample once per epoch; random: batches drawn with replacement.
    #[arg(long, value_enum, default_value_t = SamplingArg::Shuffle)]
    pub sampling: SamplingArg,
    /// Seed for initialisation, batch order, dropout and generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// GEMM threads [default: $SCRATCHNET_THREADS or all cores]. Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = Precision::F32)]
    pub precision: Precision,
    /// CIFAR-10 as 1024 gray values per image instead of 3072 colour values.
    #[arg(long)]
    pub grayscale: bool,
    /// Gaussian noise (σ) added to playground points.
    #[arg(long, default_value_t = 0.0)]
    pub noise: f64,
}

#[derive(Debug, Args)]
pub struct TrainCmd {
    #[command(flatten)]
    pub args: TrainArgs,
    /// Write the per-epoch table as CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub log: Option<PathBuf>,
    /// Write the loss and accuracy curves as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Write a JSON summary of the run.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Save the trained model as a safetensors checkpoint (PyTorch-loadable; see README),
    /// with the optimizer and trainer state so the run can be resumed.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// Also save to --save every N epochs during training.
    #[arg(long, value_name = "N", requires = "save")]
    pub save_every: Option<usize>,
    /// Continue the run saved in FILE: its network, optimizer, batch order and progress are
    /// restored; --epochs / --iters give the new total length. Flags that would change the
    /// run (dataset, network, optimizer, batch, seed…) are refused rather than ignored.
    #[arg(long, value_name = "FILE", conflicts_with_all = [
        "dataset", "hidden", "activation", "init", "batchnorm", "dropout", "weight_decay",
        "optimizer", "lr", "batch", "sampling", "seed", "grayscale", "noise",
    ])]
    pub resume: Option<PathBuf>,
    /// No progress bar and no table: only errors (and the files asked for).
    #[arg(long)]
    pub quiet: bool,
}

/// A parsed, validated training setup.
#[derive(Clone, Debug)]
pub struct Setup {
    pub dataset: DatasetName,
    pub load: LoadOptions,
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub init: Init,
    pub batchnorm: bool,
    pub dropout: Option<f64>,
    pub weight_decay: f64,
    pub optimizer: OptimizerConfig,
    pub train: TrainConfig,
    pub threads: usize,
}

/// Parses a `--hidden` list.
pub fn parse_hidden(s: &str) -> Result<Vec<usize>> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let sizes = crate::cli::parse_list("--hidden", s, |p| {
        p.parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| Error::Config(format!("'{p}' is not a positive integer")))
    })?;
    if sizes.is_empty() {
        return Err(Error::Config(
            "--hidden: give at least one width, e.g. 100,50 (or `none` for a linear model)".into(),
        ));
    }
    Ok(sizes)
}

impl TrainArgs {
    /// Checks and converts every flag, before any data is loaded.
    pub fn setup(&self) -> Result<Setup> {
        let dataset: DatasetName = self.dataset.parse()?;
        let activation: Activation = self.activation.parse()?;
        let init = match &self.init {
            Some(s) => s.parse()?,
            None => activation.default_init(),
        };
        let optimizer = OptimizerConfig::from_name(&self.optimizer, self.lr)?;
        let threads = match self.threads {
            Some(0) => {
                return Err(Error::Config(
                    "--threads must be at least 1 (omit it to use every core)".into(),
                ));
            }
            Some(t) => t,
            None => default_threads(),
        };
        if !(self.noise >= 0.0 && self.noise.is_finite()) {
            return Err(Error::Config(format!(
                "--noise must be ≥ 0, got {}",
                self.noise
            )));
        }
        if self.grayscale && dataset != DatasetName::Cifar10 {
            return Err(Error::Config(
                "--grayscale applies to --dataset cifar10 only".into(),
            ));
        }
        let length = match (self.epochs, self.iters) {
            (_, Some(i)) => Length::Iters(i),
            (Some(e), None) => Length::Epochs(e),
            (None, None) => Length::Epochs(10),
        };
        let train = TrainConfig {
            batch: self.batch,
            length,
            sampling: match self.sampling {
                SamplingArg::Shuffle => Sampling::Shuffle,
                SamplingArg::Random => Sampling::Random,
            },
            seed: self.seed,
        };
        let setup = Setup {
            dataset,
            load: LoadOptions {
                data_dir: self.data_dir.clone(),
                grayscale: self.grayscale,
                seed: self.seed,
                noise: self.noise,
            },
            hidden: parse_hidden(&self.hidden)?,
            activation,
            init,
            batchnorm: self.batchnorm,
            dropout: self.dropout,
            weight_decay: self.weight_decay,
            optimizer,
            train,
            threads,
        };
        // Validate the network and trainer flags now, before loading data (input and class
        // counts are placeholders; --batch against the dataset size is checked once loaded).
        setup.mlp(1, 2).validate()?;
        setup.train.validate(usize::MAX)?;
        Ok(setup)
    }
}

impl Setup {
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
}

/// Raised by Ctrl-C: the trainer finishes its current step and returns.
static STOP: AtomicBool = AtomicBool::new(false);

/// The files a run reads and writes besides data.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunFiles<'a> {
    pub save: Option<&'a Path>,
    pub save_every: Option<usize>,
    pub resume: Option<&'a Path>,
}

/// Builds (or resumes) the network of `setup` for `ds`, trains it in precision `T`, and saves
/// it as `files` says. Returns the history, the network's description and how training ended.
pub fn run_training<T: Float>(
    setup: &Setup,
    ds: &data::Dataset,
    files: RunFiles<'_>,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<(History, Vec<LayerSpec>, Outcome)> {
    let (mut net, mut opt, mut state) = match files.resume {
        Some(path) => {
            let mut ckpt = checkpoint::load::<T>(path, setup.threads)?;
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
            (ckpt.net, opt, state)
        }
        None => {
            let spec = setup.mlp(ds.input_dim(), ds.classes);
            (
                Network::<T>::mlp(&spec, setup.train.seed, setup.threads)?,
                Optimizer::<T>::new(setup.optimizer),
                TrainState::default(),
            )
        }
    };
    let n = ds.x_train.rows();
    let total = setup.train.total_iters(n);
    if state.iteration >= total {
        return Err(Error::Config(format!(
            "the checkpoint has already done {} of the {total} iterations asked for; ask for \
             more with --epochs or --iters",
            state.iteration
        )));
    }
    let data = TrainData::<T>::from_dataset(ds);
    let save = |net: &mut Network<T>, opt: &Optimizer<T>, state: &TrainState| -> Result<()> {
        let Some(path) = files.save else {
            return Ok(());
        };
        let meta: BTreeMap<String, String> = [
            ("dataset", ds.name.name().to_string()),
            ("activation", activation_of(net.specs()).to_string()),
            ("optimizer", opt.config.name().to_string()),
            ("lr", opt.config.lr().to_string()),
            ("batch", setup.train.batch.to_string()),
            ("sampling", setup.train.sampling.name().to_string()),
            ("seed", setup.train.seed.to_string()),
            ("epochs", state.history.epochs.len().to_string()),
            ("iterations", state.iteration.to_string()),
            (
                "test_acc",
                state
                    .history
                    .epochs
                    .last()
                    .map_or(String::new(), |r| r.test_acc.to_string()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        checkpoint::save_training(net, opt, state, &meta, path)
    };
    let ipe = setup.train.iters_per_epoch(n);
    loop {
        // Train up to the next --save-every point (or the end), then save there.
        let target = state.next_pause(files.save_every, ipe, total);
        let cfg = TrainConfig {
            length: Length::Iters(target),
            ..setup.train.clone()
        };
        let outcome = train::train_from(
            &mut net,
            &mut opt,
            &data,
            &cfg,
            &mut state,
            &STOP,
            &mut on_event,
        )?;
        save(&mut net, &opt, &state)?;
        if outcome == Outcome::Interrupted || state.iteration >= total {
            return Ok((state.history, net.specs().to_vec(), outcome));
        }
    }
}

/// The activation of a layer list, for metadata.
fn activation_of(specs: &[LayerSpec]) -> &'static str {
    specs
        .iter()
        .find_map(|s| match s {
            LayerSpec::Relu => Some("relu"),
            LayerSpec::Sigmoid => Some("sigmoid"),
            LayerSpec::Tanh => Some("tanh"),
            _ => None,
        })
        .unwrap_or("none")
}

/// `784-100-50-10 relu +bn` from a layer list.
pub fn describe_layers(specs: &[LayerSpec]) -> String {
    let mut sizes = Vec::new();
    for s in specs {
        if let LayerSpec::Affine { n_in, n_out } = *s {
            if sizes.is_empty() {
                sizes.push(n_in);
            }
            sizes.push(n_out);
        }
    }
    let sizes: Vec<String> = sizes.iter().map(|s| s.to_string()).collect();
    let mut out = format!("{} {}", sizes.join("-"), activation_of(specs));
    if specs
        .iter()
        .any(|s| matches!(s, LayerSpec::BatchNorm { .. }))
    {
        out.push_str(" +bn");
    }
    if let Some(LayerSpec::Dropout { ratio }) = specs
        .iter()
        .find(|s| matches!(s, LayerSpec::Dropout { .. }))
    {
        out.push_str(&format!(" +dropout {ratio}"));
    }
    out
}

pub fn run(cmd: TrainCmd) -> Result<()> {
    let mut setup = cmd.args.setup()?;
    for path in [&cmd.log, &cmd.plot, &cmd.summary_json, &cmd.save]
        .into_iter()
        .flatten()
    {
        check_writable_dir(path)?;
    }
    if cmd.save_every == Some(0) {
        return Err(Error::Config(
            "--save-every must be at least 1 epoch".into(),
        ));
    }
    if let Some(path) = &cmd.resume {
        // The run's data, batch order and seed come from the checkpoint, so it continues exactly.
        let meta = checkpoint::read_metadata(path)?;
        let get = |key: &str| {
            meta.get(key).cloned().ok_or_else(|| Error::Format {
                path: path.clone(),
                what: format!("no '{key}' in its metadata: not a training checkpoint"),
            })
        };
        setup.dataset = get("dataset")?.parse()?;
        setup.load.seed = get("seed")?.parse().unwrap_or(setup.load.seed);
        setup.train.seed = setup.load.seed;
        setup.train.batch = get("batch")?
            .parse()
            .map_err(|_| Error::Config("bad 'batch' in checkpoint".into()))?;
        setup.train.sampling = match get("sampling")?.as_str() {
            "random" => Sampling::Random,
            _ => Sampling::Shuffle,
        };
        let precision = get("precision")?;
        if precision != cmd.args.precision.name() {
            return Err(Error::Config(format!(
                "{} was trained in {precision}: resume it with --precision {precision}",
                path.display()
            )));
        }
    }
    if let Some(w) = debug_build_warning() {
        eprintln!("{w}");
    }
    let ds = data::load(setup.dataset, &setup.load)?;
    setup.train.validate(ds.x_train.rows())?;
    let total = setup.train.total_iters(ds.x_train.rows());
    if !cmd.quiet {
        let source = ds
            .source
            .as_ref()
            .map_or("generated".to_string(), |p| p.display().to_string());
        println!(
            "{}: {} train / {} test samples, {} features, {} classes ({source})",
            ds.name,
            ds.x_train.rows(),
            ds.x_test.rows(),
            ds.input_dim(),
            ds.classes
        );
        match &cmd.resume {
            Some(path) => println!(
                "resuming {} (network, optimizer, batch {} {} and seed {} from the checkpoint), {total} iterations in all, {} threads",
                path.display(),
                setup.train.batch,
                setup.train.sampling.name(),
                setup.train.seed,
                setup.threads
            ),
            None => println!(
                "network {}, init {}, optimizer {} lr {}, batch {}, {total} iterations, {} threads, {}",
                describe_layers(&setup.mlp(ds.input_dim(), ds.classes).layer_specs()),
                setup.init.name(),
                setup.optimizer.name(),
                setup.optimizer.lr(),
                setup.train.batch,
                setup.threads,
                cmd.args.precision.name()
            ),
        }
        println!("{}", training::header_line());
    }
    // Ctrl-C: finish the current step, save (with --save), exit cleanly. A second handler
    // cannot be installed in one process; tests calling run() twice just keep the first.
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::Relaxed));
    let show_bar = !cmd.quiet && std::io::stderr().is_terminal();
    let bar = if show_bar {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {pos}/{len} it  loss {msg}  {per_sec} [{elapsed}<{eta}]",
            )
            .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let quiet = cmd.quiet;
    let on_event = |ev: Event<'_>| match ev {
        Event::Step {
            iteration, loss, ..
        } => {
            if iteration % 10 == 0 {
                bar.set_position(iteration as u64);
                bar.set_message(format!("{loss:.4}"));
            }
        }
        Event::Epoch(r) => {
            if !quiet {
                bar.suspend(|| println!("{}", training::row_line(r)));
            }
        }
    };
    let files = RunFiles {
        save: cmd.save.as_deref(),
        save_every: cmd.save_every,
        resume: cmd.resume.as_deref(),
    };
    let (history, specs, outcome) = match cmd.args.precision {
        Precision::F32 => run_training::<f32>(&setup, &ds, files, on_event)?,
        Precision::F64 => run_training::<f64>(&setup, &ds, files, on_event)?,
    };
    bar.finish_and_clear();
    if outcome == Outcome::Interrupted {
        match &cmd.save {
            Some(p) => eprintln!(
                "interrupted after iteration {} of {total}; saved to {} — continue with `scratchnet train --resume {} {}`",
                history.iterations,
                p.display(),
                p.display(),
                match setup.train.length {
                    Length::Epochs(e) => format!("--epochs {e}"),
                    Length::Iters(i) => format!("--iters {i}"),
                }
            ),
            None => eprintln!(
                "interrupted after iteration {} of {total}; nothing saved (pass --save FILE to keep progress)",
                history.iterations
            ),
        }
        return Ok(());
    }
    let Some(last) = history.epochs.last() else {
        return Ok(());
    };
    if !quiet {
        println!(
            "done: test accuracy {:.4}, train accuracy {:.4}, {:.2} s training + {:.2} s evaluation",
            last.test_acc, last.train_acc, history.train_seconds, history.eval_seconds
        );
    }
    if last.test_acc <= 1.5 / ds.classes as f64 {
        eprintln!(
            "warning: test accuracy {:.4} is chance level for {} classes: the network did not \
             learn (dead units or a learning rate far too large); try a smaller --lr",
            last.test_acc, ds.classes
        );
    }
    if let Some(path) = &cmd.log {
        write_atomic(path, csv::render(&training::table(&history)).as_bytes())?;
    }
    if let Some(path) = &cmd.plot {
        let title = format!("{} {}", ds.name, describe_layers(&specs));
        let subtitle = format!(
            "optimizer {} lr {} · batch {} · {} iterations · seed {}",
            setup.optimizer.name(),
            setup.optimizer.lr(),
            setup.train.batch,
            history.iterations,
            setup.train.seed
        );
        let svg = svg::render_column(&training::charts(&history, &title), Some(&subtitle))?;
        write_atomic(path, svg.as_bytes())?;
    }
    if let Some(path) = &cmd.summary_json {
        let json = summary_json(&cmd.args, &setup, &specs, &history);
        let text = serde_json::to_string_pretty(&json).expect("JSON values serialise") + "\n";
        write_atomic(path, text.as_bytes())?;
    }
    Ok(())
}

/// The `--summary-json` object.
pub fn summary_json(
    args: &TrainArgs,
    setup: &Setup,
    specs: &[LayerSpec],
    h: &History,
) -> serde_json::Value {
    let last = h.epochs.last();
    let mut widths: Vec<usize> = specs
        .iter()
        .filter_map(|s| match s {
            LayerSpec::Affine { n_out, .. } => Some(*n_out),
            _ => None,
        })
        .collect();
    widths.pop(); // the output layer
    let dropout = specs.iter().find_map(|s| match s {
        LayerSpec::Dropout { ratio } => Some(*ratio),
        _ => None,
    });
    serde_json::json!({
        "dataset": setup.dataset.name(),
        "hidden": widths,
        "activation": activation_of(specs),
        "init": setup.init.name(),
        "batchnorm": specs.iter().any(|s| matches!(s, LayerSpec::BatchNorm { .. })),
        "dropout": dropout,
        "weight_decay": setup.weight_decay,
        "optimizer": setup.optimizer.name(),
        "lr": setup.optimizer.lr(),
        "batch": setup.train.batch,
        "sampling": setup.train.sampling.name(),
        "iterations": h.iterations,
        "epochs": h.epochs.len(),
        "seed": setup.train.seed,
        "threads": setup.threads,
        "precision": args.precision.name(),
        "final_loss": h.final_loss,
        "train_acc": last.map(|r| r.train_acc),
        "test_acc": last.map(|r| r.test_acc),
        "train_seconds": h.train_seconds,
        "eval_seconds": h.eval_seconds,
    })
}
