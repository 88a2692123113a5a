//! `scratchnet train`: train an MLP on a dataset, with a progress bar, a per-epoch table and
//! optional CSV log, SVG plot and JSON summary.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::bench::environment::debug_build_warning;
use crate::checkpoint;
use crate::cli::datasets::{load_dataset, offline};
use crate::data::{self, DatasetName, LoadOptions};
use crate::error::{Error, Result};
use crate::matrix::Float;
use crate::matrix::gemm::dispatch::resolve_threads;
use crate::memory;
use crate::nn::init::Init;
use crate::nn::network::memory_estimate;
use crate::nn::network::{Activation, LayerSpec, MlpSpec, Network};
use crate::optim::{Optimizer, OptimizerConfig};
use crate::outln;
use crate::output::{self, Named, write_output};
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
    /// Folder holding the dataset, or a DATASET/ folder with it: the only place looked at
    /// [default: $SCRATCHNET_DATA, else ./datasets and /usr/share/datasets].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Never download: a missing MNIST or Fashion-MNIST is an error instead of being fetched
    /// on first use (also $SCRATCHNET_OFFLINE=1).
    #[arg(long)]
    pub offline: bool,
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
        let threads = resolve_threads(self.threads)?;
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
        if self.noise != 0.0 && !dataset.is_generated() {
            return Err(Error::Config(format!(
                "--noise applies to the generated sets (circle, xor, gauss, spiral), not {dataset}"
            )));
        }
        if self.data_dir.is_some() && dataset.is_generated() {
            return Err(Error::Config(format!(
                "--data-dir: {dataset} is generated from --seed and reads no files"
            )));
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
        setup.train.validate_flags()?;
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

/// SIGINT and SIGTERM raise a flag instead of ending the process: the trainer finishes its
/// step and returns, the run saves and writes its files, then exits 130 or 143.
pub struct StopSignals {
    /// Raised by either signal; what the trainer polls.
    pub stop: Arc<AtomicBool>,
    /// The number of the signal that raised it (0 while none has).
    signal: Arc<AtomicUsize>,
}

impl StopSignals {
    /// Registers the flags for SIGINT and SIGTERM. A second signal raises them again and does
    /// nothing else, so it can never cut a save short. Registration can only fail for signals
    /// the OS forbids to handle; then the default action stays, which is no worse than before.
    pub fn install() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let signal = Arc::new(AtomicUsize::new(0));
        #[cfg(unix)]
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            let _ = signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize);
            let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
        }
        StopSignals { stop, signal }
    }

    /// The signal that stopped the run (SIGINT if the flag was raised some other way).
    pub fn signal(&self) -> i32 {
        match self.signal.load(Ordering::Relaxed) {
            0 => 2,
            s => s as i32,
        }
    }
}

/// The files a run reads and writes besides data.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunFiles<'a> {
    pub save: Option<&'a Path>,
    pub save_every: Option<usize>,
    pub resume: Option<&'a Path>,
}

/// How a run ended: its history, the network's layers, the optimizer it ran with (the
/// checkpoint's when resumed) and whether it finished or was interrupted.
pub struct RunResult {
    pub history: History,
    pub specs: Vec<LayerSpec>,
    pub optimizer: OptimizerConfig,
    pub outcome: Outcome,
    pub total: usize,
}

/// Builds (or resumes) the network of `setup` for `ds`, trains it in precision `T` until the
/// end or until `stop` is raised, and saves it as `files` says.
pub fn run_training<T: Float>(
    setup: &Setup,
    ds: &data::Dataset,
    files: RunFiles<'_>,
    stop: &AtomicBool,
    mut on_event: impl FnMut(Event<'_>),
) -> Result<RunResult> {
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
    let total = setup.train.total_iters(n)?;
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
            ("init", setup.init.name()),
            ("optimizer", opt.config.name().to_string()),
            ("lr", opt.config.lr().to_string()),
            ("batch", setup.train.batch.to_string()),
            ("sampling", setup.train.sampling.name().to_string()),
            ("seed", setup.train.seed.to_string()),
            ("grayscale", setup.load.grayscale.to_string()),
            ("noise", setup.load.noise.to_string()),
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
            stop,
            &mut on_event,
        )?;
        save(&mut net, &opt, &state)?;
        if outcome == Outcome::Interrupted || state.iteration >= total {
            return Ok(RunResult {
                history: state.history,
                specs: net.specs().to_vec(),
                optimizer: opt.config,
                outcome,
                total,
            });
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

/// A metadata entry of the checkpoint being resumed, parsed; missing or invalid is an error
/// naming the entry, never a silent default.
fn meta_value<V: std::str::FromStr>(
    meta: &BTreeMap<String, String>,
    path: &Path,
    key: &str,
) -> Result<V> {
    let raw = meta.get(key).ok_or_else(|| Error::Format {
        path: path.to_path_buf(),
        what: format!("no '{key}' in its metadata: not a training checkpoint of this version"),
    })?;
    raw.parse().map_err(|_| Error::Format {
        path: path.to_path_buf(),
        what: format!("its metadata '{key}' has an invalid value '{raw}'"),
    })
}

/// Takes the run's settings from the checkpoint being resumed, so it continues exactly:
/// dataset, how it was loaded, batch order, seed, init; refuses a precision change.
fn apply_resume_metadata(
    setup: &mut Setup,
    meta: &BTreeMap<String, String>,
    path: &Path,
    precision: Precision,
) -> Result<()> {
    let fmt = |what: String| Error::Format {
        path: path.to_path_buf(),
        what,
    };
    setup.dataset = meta_value::<String>(meta, path, "dataset")?
        .parse()
        .map_err(|_| {
            fmt(format!(
                "its metadata 'dataset' names no dataset: '{}'",
                meta["dataset"]
            ))
        })?;
    setup.train.seed = meta_value(meta, path, "seed")?;
    setup.load.seed = setup.train.seed;
    setup.train.batch = meta_value(meta, path, "batch")?;
    if setup.train.batch == 0 {
        return Err(fmt("its metadata 'batch' is 0".into()));
    }
    setup.train.sampling = match meta_value::<String>(meta, path, "sampling")?.as_str() {
        "shuffle" => Sampling::Shuffle,
        "random" => Sampling::Random,
        other => {
            return Err(fmt(format!(
                "its metadata 'sampling' is '{other}', not shuffle or random"
            )));
        }
    };
    setup.init = meta_value::<String>(meta, path, "init")?
        .parse()
        .map_err(|_| {
            fmt(format!(
                "its metadata 'init' is invalid: '{}'",
                meta["init"]
            ))
        })?;
    // How the data was loaded matters only where it applies; older checkpoints of other sets
    // lack the entries, and there the defaults are the only possible values.
    setup.load.grayscale = match meta.get("grayscale") {
        None if setup.dataset != DatasetName::Cifar10 => false,
        _ => meta_value(meta, path, "grayscale")?,
    };
    setup.load.noise = match meta.get("noise") {
        None if !setup.dataset.is_generated() => 0.0,
        _ => meta_value(meta, path, "noise")?,
    };
    if !(setup.load.noise >= 0.0 && setup.load.noise.is_finite()) {
        return Err(fmt(format!(
            "its metadata 'noise' is invalid: {}",
            setup.load.noise
        )));
    }
    let trained: String = meta_value(meta, path, "precision")?;
    if trained != precision.name() {
        return Err(Error::Config(format!(
            "{} was trained in {trained}: resume it with --precision {trained}",
            path.display()
        )));
    }
    Ok(())
}

pub fn run(cmd: TrainCmd) -> Result<()> {
    let mut setup = cmd.args.setup()?;
    if cmd.save_every == Some(0) {
        return Err(Error::Config(
            "--save-every must be at least 1 epoch".into(),
        ));
    }
    if cmd.save.as_deref().is_some_and(output::is_stdout) {
        return Err(Error::Config(
            "--save writes a binary checkpoint: name a file, not -".into(),
        ));
    }
    if let Some(path) = &cmd.resume {
        let meta = checkpoint::read_metadata(path)?;
        apply_resume_metadata(&mut setup, &meta, path, cmd.args.precision)?;
    }
    if let Some(w) = debug_build_warning() {
        eprintln!("{w}");
    }
    let ds = load_dataset(setup.dataset, &setup.load, offline(cmd.args.offline))?;
    setup.train.validate(ds.x_train.rows())?;
    let total = setup.train.total_iters(ds.x_train.rows())?;
    // Nothing is written over an input or over another output, and nothing is allocated that
    // this machine cannot hold: both are checked before the first step.
    let data_files = ds.files();
    let mut inputs: Vec<Named<'_>> = data_files
        .iter()
        .map(|f| Named::new("the dataset file", f))
        .collect();
    if let Some(r) = &cmd.resume {
        inputs.push(Named::new("--resume", r));
    }
    let outputs: Vec<Named<'_>> = [
        ("--save", &cmd.save),
        ("--log", &cmd.log),
        ("--plot", &cmd.plot),
        ("--summary-json", &cmd.summary_json),
    ]
    .into_iter()
    .filter_map(|(flag, p)| p.as_deref().map(|p| Named::new(flag, p)))
    .collect();
    output::check_outputs(&outputs, &inputs, &[("--save", "--resume")])?;
    if cmd.resume.is_none() {
        let specs = setup.mlp(ds.input_dim(), ds.classes).layer_specs();
        let elem = match cmd.args.precision {
            Precision::F32 => 4,
            Precision::F64 => 8,
        };
        memory::check(
            &format!("the network {}", describe_layers(&specs)),
            memory_estimate(&specs, setup.train.batch, elem),
        )?;
    }
    if !cmd.quiet {
        let source = ds
            .source
            .as_ref()
            .map_or("generated".to_string(), |p| p.display().to_string());
        outln!(
            "{}: {} train / {} test samples, {} features, {} classes ({source})",
            ds.name,
            ds.x_train.rows(),
            ds.x_test.rows(),
            ds.input_dim(),
            ds.classes
        );
        match &cmd.resume {
            Some(path) => outln!(
                "resuming {} (network, optimizer, batch {} {} and seed {} from the checkpoint), {total} iterations in all, {} threads",
                path.display(),
                setup.train.batch,
                setup.train.sampling.name(),
                setup.train.seed,
                setup.threads
            ),
            None => outln!(
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
        outln!("{}", training::header_line());
    }
    let signals = StopSignals::install();
    let bar = progress_bar(
        total as u64,
        !cmd.quiet,
        "{bar:30} {pos}/{len} it  loss {msg}  {per_sec} [{elapsed}<{eta}]",
    );
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
                bar.suspend(|| outln!("{}", training::row_line(r)));
            }
        }
    };
    let files = RunFiles {
        save: cmd.save.as_deref(),
        save_every: cmd.save_every,
        resume: cmd.resume.as_deref(),
    };
    let result = match cmd.args.precision {
        Precision::F32 => run_training::<f32>(&setup, &ds, files, &signals.stop, on_event)?,
        Precision::F64 => run_training::<f64>(&setup, &ds, files, &signals.stop, on_event)?,
    };
    bar.finish_and_clear();
    setup.optimizer = result.optimizer;
    let history = &result.history;
    // The files asked for are written whether the run finished or was interrupted: an
    // interrupted run's log, plot and summary cover the epochs it completed.
    write_reports(&cmd, &setup, &ds, &result)?;
    if result.outcome == Outcome::Interrupted {
        let length = match setup.train.length {
            Length::Epochs(e) => format!("--epochs {e}"),
            Length::Iters(i) => format!("--iters {i}"),
        };
        let what = match &cmd.save {
            Some(p) => format!(
                "stopped after iteration {} of {total}; saved to {p} — continue with \
                 `scratchnet train --resume {p} {length} --save {p}`",
                history.iterations,
                p = p.display(),
            ),
            None => format!(
                "stopped after iteration {} of {total}; nothing saved (pass --save FILE to keep \
                 progress)",
                history.iterations
            ),
        };
        return Err(Error::Interrupted {
            signal: signals.signal(),
            what,
        });
    }
    let Some(last) = history.epochs.last() else {
        return Ok(());
    };
    if !quiet {
        outln!(
            "done: test accuracy {:.4}, train accuracy {:.4}, {:.2} s training + {:.2} s evaluation",
            last.test_acc,
            last.train_acc,
            history.train_seconds,
            history.eval_seconds
        );
    }
    if let Some(warning) = chance_warning(&ds, history, &setup) {
        eprintln!("{warning}");
    }
    Ok(())
}

/// A progress bar on stderr when it is a terminal (and `show`), hidden otherwise.
pub fn progress_bar(len: u64, show: bool, template: &str) -> ProgressBar {
    if show && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(len);
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
        bar
    } else {
        ProgressBar::hidden()
    }
}

/// Writes `--log`, `--plot` and `--summary-json` for what the run did.
fn write_reports(cmd: &TrainCmd, setup: &Setup, ds: &data::Dataset, r: &RunResult) -> Result<()> {
    let history = &r.history;
    if let Some(path) = &cmd.log {
        write_output(path, csv::render(&training::table(history)).as_bytes())?;
    }
    if let Some(path) = &cmd.plot {
        let title = format!("{} {}", ds.name, describe_layers(&r.specs));
        let subtitle = format!(
            "optimizer {} lr {} · batch {} · {} iterations · seed {}",
            setup.optimizer.name(),
            setup.optimizer.lr(),
            setup.train.batch,
            history.iterations,
            setup.train.seed
        );
        let svg = svg::render_column(&training::charts(history, &title), Some(&subtitle))?;
        write_output(path, svg.as_bytes())?;
    }
    if let Some(path) = &cmd.summary_json {
        let json = summary_json(&cmd.args, setup, &r.specs, history);
        let text = serde_json::to_string_pretty(&json).expect("JSON values serialise") + "\n";
        write_output(path, text.as_bytes())?;
    }
    Ok(())
}

/// A warning when the run ended no better than guessing, with advice that fits the cause.
///
/// Guessing scores 1/classes, or the share of the largest test class when the classes are
/// unbalanced; "no better" leaves a margin of two points for the noise of a finite test set.
pub fn chance_warning(ds: &data::Dataset, h: &History, setup: &Setup) -> Option<String> {
    let last = h.epochs.last()?;
    let k = ds.classes.max(2);
    let mut counts = vec![0usize; k];
    for &t in &ds.t_test {
        counts[t.min(k - 1)] += 1;
    }
    let largest = *counts.iter().max()? as f64 / ds.t_test.len().max(1) as f64;
    let chance = largest.max(1.0 / k as f64);
    if last.test_acc > chance + 0.02 {
        return None;
    }
    let ln_k = (k as f64).ln();
    let first_loss = h.epochs.first().map_or(last.loss, |r| r.loss);
    // The loss of the first and last epochs tell the causes apart: it did not move (steps too
    // small, or dead units), or it sits above the loss of guessing (steps too large).
    let stayed = h.epochs.len() >= 2 && (first_loss - last.loss).abs() < 0.01 * first_loss;
    let advice = if setup.weight_decay >= 0.1 {
        format!(
            "weight decay {} pulls every weight to zero faster than the data pushes it: try a \
             smaller --weight-decay",
            setup.weight_decay
        )
    } else if stayed {
        format!(
            "its loss stayed at {:.3} from the first epoch on: the learning rate {} moves the \
             weights too little (try a larger --lr or more --epochs), or the units died at \
             initialisation (try --init he)",
            last.loss,
            setup.optimizer.lr()
        )
    } else if last.loss > 2.0 * ln_k {
        format!(
            "its loss {:.3} is above ln({k}) = {ln_k:.3}, the loss of guessing: the steps are too \
             large; try a smaller --lr",
            last.loss
        )
    } else {
        "try another --lr, --init or more --epochs".to_string()
    };
    Some(format!(
        "warning: test accuracy {:.4} is no better than guessing ({chance:.4} for {k} classes): \
         the network did not learn; {advice}",
        last.test_acc
    ))
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
