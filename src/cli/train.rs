//! `scratchnet train`: train an MLP on a dataset, with a progress bar, a per-epoch table and
//! optional CSV log, SVG plot and JSON summary.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use clap::{Args, ValueEnum};

use crate::bench::environment::debug_build_warning;
use crate::bench::peak::Peak;
use crate::checkpoint;
pub use crate::cli::Precision;
use crate::cli::datasets::{load_dataset, offline};
use crate::cli::progress_bar;
use crate::cli::trace::Trace;
use crate::data::augment::Augment;
use crate::data::{Dataset, DatasetName, LoadOptions};
use crate::error::{Error, Result};
use crate::job::{self, Control, Event as JobEvent, Flow, JobOptions};
use crate::matrix::Float;
use crate::matrix::gemm::dispatch::resolve_threads;
use crate::memory;
use crate::nn::cnn::Architecture;
use crate::nn::init::Init;
use crate::nn::spec::{Activation, LayerSpec, describe_layers, memory_estimate};
use crate::optim::OptimizerConfig;
use crate::outln;
use crate::output::{self, Named, write_output};
use crate::report::{tiles, training};
use crate::serve::Server;
use crate::session::{Session, Settings};
use crate::train::{Event, History, Length, Outcome, Sampling, TrainConfig};
use crate::train_job::{RunFiles, TrainJob};

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
    /// The network: mlp (from --hidden, --activation, --batchnorm, --dropout), or the book's
    /// simple-cnn (SimpleConvNet: conv 30 5×5 → relu → max-pool 2 → affine 100 → relu →
    /// affine; weights N(0, 0.01²)) or deep-cnn (DeepConvNet: six 3×3 convs of 16, 16, 32, 32,
    /// 64, 64 filters with relu, max-pool 2 after each pair, affine 50 → relu → dropout 0.5 →
    /// affine → dropout 0.5; He init) [default: mlp].
    #[arg(long, value_name = "NAME", conflicts_with = "layers")]
    pub net: Option<String>,
    /// Any stack of layers, comma-separated; the output affine layer is added for the
    /// dataset's classes, and a flatten before the first affine layer after an image.
    /// Items: `conv:FILTERS:KHxKW[:sSTRIDE][:pPAD]` (e.g. conv:30:5x5, conv:16:3x3:s1:p1),
    /// `maxpool:SIZE[:sSTRIDE][:pPAD]`, `avgpool:SIZE[:sSTRIDE][:pPAD]`, affine:UNITS, relu,
    /// sigmoid, tanh, dropout:P, batchnorm, flatten.
    /// Example: conv:30:5x5,relu,maxpool:2,affine:100,relu.
    #[arg(long, value_name = "SPEC")]
    pub layers: Option<String>,
    /// Hidden layer widths, comma-separated (`none` for a linear model) [default: 100,50].
    #[arg(long)]
    pub hidden: Option<String>,
    /// relu, sigmoid or tanh [default: relu].
    #[arg(long)]
    pub activation: Option<String>,
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
    /// Evaluate each epoch on the first N training and N test samples only, as the book's
    /// trainer does with evaluate_sample_num_per_epoch; the last epoch (and one that ends at a
    /// --save-every checkpoint) is always evaluated on all of them [default: all, every epoch].
    #[arg(long, value_name = "N")]
    pub eval_samples: Option<usize>,
    /// Train on the first N training samples only (the book's overfitting experiments use 300);
    /// the training accuracy is measured on them, the test accuracy on the whole test set
    /// [default: all].
    #[arg(long, value_name = "N")]
    pub train_samples: Option<usize>,
    /// Move each training image a little every time it is drawn into a batch (data
    /// augmentation, the book's §8.1.2): shift:PX (whole pixels, each axis), rotate:DEG,
    /// scale:F (size × 1 ± F), flip (left–right, half the time; for CIFAR-10 and
    /// Fashion-MNIST), comma-separated, e.g. shift:2,rotate:10,scale:0.1 [default: none].
    #[arg(long, value_name = "SPEC")]
    pub augment: Option<String>,
    /// Seed for initialisation, batch order, dropout, augmentation and generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Threads [default: $SCRATCHNET_THREADS or all cores]: for the GEMMs, the conv layers, and
    /// an MLP's first layer, split by columns between two threads. Results do not depend on it.
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
    /// Draw the first conv layer's filters as grey tiles before and after training (SVG; the
    /// book's figure of learned edge detectors). Needs --net or --layers with a conv layer.
    #[arg(long, value_name = "FILE.svg")]
    pub plot_filters: Option<PathBuf>,
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
        "dataset", "net", "layers", "hidden", "activation", "init", "batchnorm", "dropout",
        "weight_decay",
        "optimizer", "lr", "batch", "sampling", "seed", "grayscale", "noise", "train_samples",
        "augment",
    ])]
    pub resume: Option<PathBuf>,
    /// Record the run step by step in DIR (created if missing), for replaying it in another
    /// framework: init.safetensors (the weights before the first step), steps.csv (each
    /// step's loss and batch indices) and masks.bin (each dropout mask, a byte per unit).
    /// benches/torch_replay.py replays one in PyTorch.
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub trace: Option<PathBuf>,
    /// Watch this run in a browser: serve the Runs page of the --log file's folder on
    /// 127.0.0.1:PORT (default 7878; 0 for any free port) while it trains, and keep serving
    /// after it ends until Ctrl-C.
    #[arg(long, value_name = "PORT", num_args = 0..=1, default_missing_value = "7878")]
    pub serve: Option<u16>,
    /// No progress bar and no table: only errors (and the files asked for).
    #[arg(long)]
    pub quiet: bool,
    /// After training, print where a training step's time went: each layer's forward and
    /// backward time, its share, each affine and conv layer's GFLOP/s against the FMA peak,
    /// and the time outside the layers (loss, batch gathering and augmentation, optimizer).
    #[arg(long)]
    pub profile: bool,
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
    pub fn settings(&self) -> Result<Settings> {
        let dataset: DatasetName = self.dataset.parse()?;
        let arch = match (&self.net, &self.layers) {
            (_, Some(spec)) => Architecture::Layers(spec.clone()),
            (Some(name), None) => name.parse()?,
            (None, None) => Architecture::Mlp,
        };
        if arch.is_convolutional() {
            let flag = match &arch {
                Architecture::Layers(_) => "--layers".to_string(),
                other => format!("--net {}", other.name()),
            };
            let mlp_flags = [
                ("--hidden", self.hidden.is_some()),
                ("--activation", self.activation.is_some()),
                ("--batchnorm", self.batchnorm),
                ("--dropout", self.dropout.is_some()),
            ];
            if let Some((mlp_flag, _)) = mlp_flags.iter().find(|(_, given)| *given) {
                return Err(Error::Config(format!(
                    "{mlp_flag} shapes the MLP and cannot be used with {flag}: write the layers \
                     out with --layers instead"
                )));
            }
            if dataset.is_generated() {
                return Err(Error::Config(format!(
                    "{flag} needs images; {dataset} is a set of 2-D points (use --hidden)"
                )));
            }
        }
        let activation: Activation = self.activation.as_deref().unwrap_or("relu").parse()?;
        let init = match (&self.init, &arch) {
            (Some(s), _) => s.parse()?,
            // The book's SimpleConvNet: weight_init_std = 0.01.
            (None, Architecture::SimpleCnn) => Init::Std(0.01),
            (None, _) => activation.default_init(),
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
            eval_samples: self.eval_samples,
            train_samples: self.train_samples,
            augment: match &self.augment {
                Some(spec) => spec.parse()?,
                None => Augment::default(),
            },
        };
        let setup = Settings {
            dataset,
            load: LoadOptions {
                data_dir: self.data_dir.clone(),
                grayscale: self.grayscale,
                seed: self.seed,
                noise: self.noise,
            },
            arch,
            hidden: parse_hidden(self.hidden.as_deref().unwrap_or("100,50"))?,
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
        if !setup.train.augment.is_none() {
            let shape = dataset.image_shape(self.grayscale).ok_or_else(|| {
                Error::Config(format!(
                    "--augment moves images; {dataset} is a set of 2-D points"
                ))
            })?;
            setup.train.augment.validate(shape)?;
        }
        Ok(setup)
    }
}

/// Refuses a network that would need more memory to train on `ds`, `copies` at a time, than
/// this machine has (the error gives the figure), before anything is allocated; returns its
/// layers.
pub fn check_network_memory(
    settings: &Settings,
    ds: &Dataset,
    precision: Precision,
    copies: usize,
) -> Result<Vec<LayerSpec>> {
    let (specs, input) = settings.network_for(ds)?;
    memory::check(
        &format!("the network {}", describe_layers(&specs)),
        memory_estimate(&specs, input, settings.train.batch, precision.bytes())
            .and_then(|b| b.checked_mul(copies as u64)),
    )?;
    Ok(specs)
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

pub fn run(cmd: TrainCmd) -> Result<()> {
    let mut settings = cmd.args.settings()?;
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
    if cmd.trace.is_some() && !settings.train.augment.is_none() {
        return Err(Error::Config(
            "--trace records the batches for a replay in PyTorch, which would not see the images \
             --augment moved: drop one of the two"
                .into(),
        ));
    }
    if let Some(path) = &cmd.resume {
        let meta = checkpoint::read_metadata(path)?;
        settings.resume_from(&meta, path, cmd.args.precision.name())?;
    }
    // The page's port is taken before any work, so a busy one fails the command at once.
    let server = match (cmd.serve, &cmd.log) {
        (Some(port), Some(log)) => {
            let dir = match log.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if output::is_stdout(log) {
                return Err(Error::Config(
                    "--serve shows the run from its --log file: name a file, not -".into(),
                ));
            }
            let server = Server::bind(IpAddr::V4(Ipv4Addr::LOCALHOST), port)?;
            // The folder must exist for the page to list it; --log would create the file in it.
            Some(server.with_runs(&dir)?)
        }
        (Some(_), None) => {
            return Err(Error::Config(
                "--serve shows the run from its --log file: add --log DIR/NAME.csv".into(),
            ));
        }
        (None, _) => None,
    };
    if let Some(w) = debug_build_warning() {
        eprintln!("{w}");
    }
    let ds = load_dataset(settings.dataset, &settings.load, offline(cmd.args.offline))?;
    settings.train.validate(ds.x_train.rows())?;
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
    let trace_files = match &cmd.trace {
        Some(dir) => {
            Trace::create_dir(dir)?;
            Trace::paths(dir).to_vec()
        }
        None => Vec::new(),
    };
    let outputs: Vec<Named<'_>> = [
        ("--save", &cmd.save),
        ("--log", &cmd.log),
        ("--plot", &cmd.plot),
        ("--summary-json", &cmd.summary_json),
        ("--plot-filters", &cmd.plot_filters),
    ]
    .into_iter()
    .filter_map(|(flag, p)| p.as_deref().map(|p| Named::new(flag, p)))
    .chain(trace_files.iter().map(|p| Named::new("--trace", p)))
    .collect();
    output::check_outputs(&outputs, &inputs, &[("--save", "--resume")])?;
    if cmd.resume.is_none() {
        check_network_memory(&settings, &ds, cmd.args.precision, 1)?;
    }
    match cmd.args.precision {
        Precision::F32 => train_typed::<f32>(&cmd, &mut settings, &ds, server),
        Precision::F64 => train_typed::<f64>(&cmd, &mut settings, &ds, server),
    }
}

/// The trace, whose lock a panic elsewhere cannot leave unusable (it holds open files).
fn lock(t: &Mutex<Trace>) -> MutexGuard<'_, Trace> {
    t.lock().unwrap_or_else(|e| e.into_inner())
}

/// The run in precision `T`: the session, the table as epochs end, the files, the outcome.
fn train_typed<T: Float>(
    cmd: &TrainCmd,
    settings: &mut Settings,
    ds: &Dataset,
    server: Option<Server>,
) -> Result<()> {
    let mut session = match &cmd.resume {
        Some(path) => Session::<T>::resume(settings, ds, path)?,
        None => Session::<T>::start(settings, ds)?,
    };
    settings.optimizer = session.optimizer();
    let total = session.total();
    if !cmd.quiet {
        print_header(cmd, settings, ds, &session);
    }
    let signals = StopSignals::install();
    let page = match server {
        Some(server) => {
            let url = format!("{}runs", server.url());
            outln!("watch this run at {url} (Ctrl-C stops)");
            let _ = std::io::Write::flush(&mut std::io::stdout());
            let stop = Arc::clone(&signals.stop);
            Some((url, std::thread::spawn(move || server.run(stop))))
        }
        None => None,
    };
    let bar = progress_bar(
        total as u64,
        !cmd.quiet,
        "{bar:30} {pos}/{len} it  loss {msg}  {per_sec} [{elapsed}<{eta}]",
    );
    let quiet = cmd.quiet;
    // The FMA peak the profile's rates are set against, read before training and again after
    // it, the better kept: one short reading in a busy moment would flatter every rate.
    let peak_before = cmd.profile.then(|| profile_peak(settings.threads));
    if cmd.profile {
        session.net.enable_profile();
    }
    let filters_before = match &cmd.plot_filters {
        None => None,
        Some(_) => Some(first_filters(&mut session.net).ok_or_else(|| {
            Error::Config(
                "--plot-filters draws a conv layer's filters, and this network has none (use \
                 --net simple-cnn, --net deep-cnn or --layers conv:...)"
                    .into(),
            )
        })?),
    };
    let trace = match &cmd.trace {
        Some(dir) => Some(Arc::new(Mutex::new(Trace::start(dir, &mut session)?))),
        None => None,
    };
    let iteration_before = session.state.iteration;
    let seconds_before = session.state.history.train_seconds;
    let on_step = step_hook(bar.clone(), trace.clone());
    let files = RunFiles {
        save: cmd.save.clone(),
        save_every: cmd.save_every,
        log: cmd.log.clone(),
        plot: cmd.plot.clone(),
        summary_json: cmd.summary_json.clone(),
    };
    let mut job = TrainJob::new(
        session,
        ds.name,
        ds.x_train.rows(),
        files,
        Arc::clone(&signals.stop),
        Box::new(on_step),
    );
    // Every epoch is a step and every step is reported: the table gets each row as it ends.
    let options = JobOptions {
        snapshot_every: std::time::Duration::ZERO,
        ..JobOptions::default()
    };
    let mut failure = None;
    job::run(&mut job, &Control::new(true), options, |event| {
        match event {
            JobEvent::Snapshot(p) if !quiet => {
                for r in &p.epochs {
                    bar.suspend(|| outln!("{}", training::row_line(r)));
                }
            }
            JobEvent::Failed(e) => failure = Some(e),
            _ => {}
        }
        Flow::Continue
    });
    let outcome = job.outcome().unwrap_or(Outcome::Finished);
    let mut session = job.into_session();
    // A trace is written however the run ended: a diverged run's is the one worth replaying.
    // (The job, and the step hook's share of the trace with it, is gone by now.)
    if let Some(t) = trace.and_then(|t| Arc::try_unwrap(t).ok()) {
        t.into_inner().unwrap_or_else(|e| e.into_inner()).finish()?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    bar.finish_and_clear();
    if cmd.profile {
        let seconds = session.state.history.train_seconds - seconds_before;
        outln!(
            "{}",
            profile_report(
                &session,
                seconds,
                settings.threads,
                peak_before.map_or_else(
                    || profile_peak(settings.threads),
                    |before| before.best(profile_peak(settings.threads))
                ),
                !settings.train.augment.is_none()
            )
        );
    }
    if let (Some(path), Some(before)) = (&cmd.plot_filters, filters_before) {
        let after = first_filters(&mut session.net).expect("the network had a conv layer");
        write_filters(
            path,
            ds,
            before,
            after,
            iteration_before,
            session.state.iteration,
        )?;
    }
    let save = cmd.save.as_deref();
    let history = &session.state.history;
    if outcome == Outcome::Interrupted {
        let length = match settings.train.length {
            Length::Epochs(e) => format!("--epochs {e}"),
            Length::Iters(i) => format!("--iters {i}"),
        };
        let what = match save {
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
    if let Some(warning) = chance_warning(ds, history, settings) {
        eprintln!("{warning}");
    }
    if let Some((url, thread)) = page {
        outln!("the page stays up at {url} until Ctrl-C");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        // The server ends when a signal raises the flag; the run is done, so that is success.
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    }
    Ok(())
}

/// What the run is, before its first row: the data, the network or the checkpoint resumed,
/// and the table's header.
fn print_header<T: Float>(cmd: &TrainCmd, settings: &Settings, ds: &Dataset, session: &Session<T>) {
    let total = session.total();
    let source = ds
        .source
        .as_ref()
        .map_or("generated".to_string(), |p| p.display().to_string());
    let available = ds.x_train.rows();
    let used = settings.train.training_rows(available);
    outln!(
        "{}: {} train / {} test samples, {} features, {} classes ({source})",
        ds.name,
        if used < available {
            format!("the first {used} of {available}")
        } else {
            available.to_string()
        },
        ds.x_test.rows(),
        ds.input_dim(),
        ds.classes
    );
    match &cmd.resume {
        Some(path) => outln!(
            "resuming {} (network, optimizer, batch {} {} and seed {} from the checkpoint), {total} iterations in all, {} threads",
            path.display(),
            settings.train.batch,
            settings.train.sampling.name(),
            settings.train.seed,
            settings.threads
        ),
        None => outln!(
            "network {}, init {}, optimizer {} lr {}, batch {}, {total} iterations, {} threads, {}",
            describe_layers(session.net.specs()),
            settings.init.name(),
            settings.optimizer.name(),
            settings.optimizer.lr(),
            settings.train.batch,
            settings.threads,
            T::NAME
        ),
    }
    if !settings.train.augment.is_none() {
        outln!(
            "augmenting every training image as it is drawn: {} (accuracies on the images \
             as they are)",
            settings.train.augment
        );
    }
    if let Some(n) = settings.train.eval_samples {
        outln!(
            "accuracies of each epoch on the first {n} training and {n} test samples, of the \
             last on all of them"
        );
    }
    outln!("{}", training::header_line());
}

/// What every step shows: the progress bar's position and loss, and the trace's record.
fn step_hook(
    bar: indicatif::ProgressBar,
    trace: Option<Arc<Mutex<Trace>>>,
) -> impl FnMut(&Event<'_>) + Send + 'static {
    let mut last_loss = f64::NAN;
    move |ev: &Event<'_>| match *ev {
        Event::Step {
            iteration,
            loss,
            batch,
            dropout,
            ..
        } => {
            if let Some(t) = &trace {
                lock(t).record(iteration, loss, batch, dropout);
            }
            last_loss = loss;
            if iteration % 10 == 0 {
                bar.set_position(iteration as u64);
                bar.set_message(format!("{loss:.4}"));
            }
        }
        Event::Evaluating { samples } => {
            bar.set_message(format!("{last_loss:.4}, evaluating {samples} samples"));
        }
        Event::Epoch(_) => {}
    }
}

/// `--plot-filters`: the first conv layer's filters `before` (at iteration `from`) and
/// `after` training (at `after_iteration`), side by side.
fn write_filters(
    path: &std::path::Path,
    ds: &Dataset,
    before: Filters,
    after: Filters,
    from: usize,
    after_iteration: usize,
) -> Result<()> {
    let heading = format!(
        "{}: the first conv layer's {} filters ({}×{}{})",
        ds.name,
        before.tiles.len(),
        before.h,
        before.w,
        if before.channels > 1 {
            format!(", mean of {} input channels", before.channels)
        } else {
            String::new()
        }
    );
    let grids = [
        tiles::TileGrid {
            title: format!("at iteration {from}"),
            tiles: before.tiles,
            captions: Vec::new(),
            range: None,
        },
        tiles::TileGrid {
            title: format!("after iteration {after_iteration}"),
            tiles: after.tiles,
            captions: Vec::new(),
            range: None,
        },
    ];
    let svg = tiles::render(&heading, &grids, before.h, before.w, 10);
    write_output(path, svg.as_bytes())
}

/// One reading of the FMA peak on `threads` threads for `--profile`: three rounds of 30 ms.
fn profile_peak(threads: usize) -> Peak {
    crate::bench::peak::measure(threads, std::time::Duration::from_millis(30), 3)
}

/// The `--profile` table: per layer, then the time outside the layers, each as milliseconds
/// per step and share of the training time; affine layers also as GEMM GFLOP/s and % of the
/// FMA `peak` (on `threads` threads, as `bench gemm` measures it). The batch's gathering
/// includes its augmentation when `augmented`.
fn profile_report<T: Float>(
    session: &Session<T>,
    seconds: f64,
    threads: usize,
    peak: Peak,
    augmented: bool,
) -> String {
    use crate::report::{Align, Table};
    let Some(p) = session.net.profile() else {
        return String::new();
    };
    let steps = p.steps.max(1) as f64;
    let peak_gflops = peak.gflops(T::NAME, threads);
    let total = seconds.max(1e-9);
    let mut t = Table::new(&[
        ("part", Align::Left),
        ("forward ms", Align::Right),
        ("backward ms", Align::Right),
        ("share", Align::Right),
        ("GEMM GFLOP/s", Align::Right),
        ("% peak", Align::Right),
    ]);
    let ms = |d: std::time::Duration| format!("{:.3}", d.as_secs_f64() * 1e3 / steps);
    let share = |secs: f64| format!("{:.1}%", 100.0 * secs / total);
    let mut accounted = 0.0;
    let specs = session.net.specs();
    let shapes = crate::nn::shape::infer(specs, session.net.input_shape()).unwrap_or_default();
    for (i, spec) in specs.iter().enumerate() {
        let (f, b) = (p.forward[i], p.backward[i]);
        let secs = (f + b).as_secs_f64();
        accounted += secs;
        // Multiply-adds of one forward product per row: X·W, or W·col per image for a conv
        // layer (its im2col and col2im time counted in, so its rate is the layer's, not only
        // the GEMMs'). Backward does it again for dW and, past the first layer, for dX.
        let macs = match (spec, shapes.get(i)) {
            (&LayerSpec::Affine { n_in, n_out }, _) => Some(n_in * n_out),
            (&LayerSpec::Conv { c_in, kh, kw, .. }, Some(out)) => Some(c_in * kh * kw * out.len()),
            _ => None,
        };
        let (rate, pct) = match macs {
            Some(macs) => {
                let one = 2.0 * p.rows as f64 * macs as f64;
                let flops = one * if i == 0 { 2.0 } else { 3.0 };
                let gflops = flops / secs.max(1e-12) / 1e9;
                (
                    format!("{gflops:.1}"),
                    format!("{:.1}", 100.0 * gflops / peak_gflops.max(1e-9)),
                )
            }
            None => (String::new(), String::new()),
        };
        let absorbed = if session.net.absorbed(i) {
            " (run inside the max pool)"
        } else if i == 0 && session.net.split_steps() > 0 {
            " (columns split over 2 threads)"
        } else {
            ""
        };
        t.push(vec![
            format!("{i}: {spec}{absorbed}"),
            ms(f),
            ms(b),
            share(secs),
            rate,
            pct,
        ]);
    }
    let n = specs.len();
    let loss = (p.forward[n] + p.backward[n]).as_secs_f64();
    accounted += loss;
    t.push(vec![
        "softmax with loss".into(),
        ms(p.forward[n]),
        ms(p.backward[n]),
        share(loss),
        String::new(),
        String::new(),
    ]);
    let gathering = if augmented {
        "batch gathering and augmentation"
    } else {
        "batch gathering"
    };
    for (name, d) in [(gathering, p.gather), ("optimizer", p.optimizer)] {
        accounted += d.as_secs_f64();
        t.push(vec![
            name.into(),
            ms(d),
            String::new(),
            share(d.as_secs_f64()),
            String::new(),
            String::new(),
        ]);
    }
    let other = (total - accounted).max(0.0);
    t.push(vec![
        "other (weight decay, bookkeeping)".into(),
        format!("{:.3}", other * 1e3 / steps),
        String::new(),
        share(other),
        String::new(),
        String::new(),
    ]);
    format!(
        "profile: {} steps, {:.3} ms per step, {threads} thread(s), FMA peak {peak_gflops:.1} GFLOP/s {} ({})\n{}",
        p.steps,
        total * 1e3 / steps,
        T::NAME,
        peak.isa,
        t.to_text()
    )
}

/// The first conv layer's filters, one tile of kh × kw values per output channel (the mean
/// over input channels when there are several).
struct Filters {
    tiles: Vec<Vec<f64>>,
    h: usize,
    w: usize,
    channels: usize,
}

fn first_filters<T: Float>(net: &mut crate::nn::network::Network<T>) -> Option<Filters> {
    let (index, c_in, kh, kw) = net.specs().iter().enumerate().find_map(|(i, s)| match *s {
        LayerSpec::Conv { c_in, kh, kw, .. } => Some((i, c_in, kh, kw)),
        _ => None,
    })?;
    let mut tiles = Vec::new();
    net.visit_params(&mut |i, p| {
        if i == index && p.name == "weight" {
            let area = kh * kw;
            for filter in p.value.chunks_exact(c_in * area) {
                let tile = (0..area)
                    .map(|k| {
                        (0..c_in)
                            .map(|c| filter[c * area + k].to_f64())
                            .sum::<f64>()
                            / c_in as f64
                    })
                    .collect();
                tiles.push(tile);
            }
        }
    });
    Some(Filters {
        tiles,
        h: kh,
        w: kw,
        channels: c_in,
    })
}

/// A warning when the run ended no better than guessing, with advice that fits the cause.
///
/// Guessing scores 1/classes, or the share of the largest test class when the classes are
/// unbalanced; "no better" leaves a margin of two points for the noise of a finite test set.
pub fn chance_warning(ds: &Dataset, h: &History, setup: &Settings) -> Option<String> {
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
