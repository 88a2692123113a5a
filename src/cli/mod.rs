//! The command line: clap definitions, and one module per subcommand that turns parsed flags
//! into library calls.

pub mod activations;
pub mod bench;
pub mod compare;
pub mod datasets;
pub mod descend;
pub mod gradcheck;
pub mod model;
pub mod playground;
pub mod search;
pub mod serve;
pub mod shell;
pub mod trace;
pub mod train;

use std::io::IsTerminal;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::error::{Error, Result, Setting};

/// Neural networks from scratch, in Rust, fast.
#[derive(Debug, Parser)]
#[command(name = "scratchnet", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure performance: `scratchnet bench gemm` times every rung of the GEMM ladder.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Train a network: `scratchnet train --dataset mnist --hidden 100,50 --optimizer adam`.
    Train(Box<train::TrainCmd>),
    /// Check backprop against numerical gradients on real data, and time both.
    Gradcheck(gradcheck::GradcheckCmd),
    /// Loss, accuracy and confusion matrix of a saved model on a test set.
    Eval(model::EvalCmd),
    /// Show one test sample, the model's prediction and its class probabilities.
    Predict(model::PredictCmd),
    /// Fetch a dataset from its public mirrors and verify its SHA-256.
    Download(datasets::DownloadCmd),
    /// List every dataset, where it was found (or searched for) and whether it verifies.
    Datasets(datasets::DatasetsCmd),
    /// Descent on x0² + x1² (what the learning rate does) or x²/20 + y² (what the optimizer does).
    Descend(descend::DescendCmd),
    /// What the initial weights' scale does to each layer's activations: the book's histograms.
    Activations(activations::ActivationsCmd),
    /// The TensorFlow-Playground experiment: train on a 2-D set, draw the decision boundary.
    Playground(playground::PlaygroundCmd),
    /// Several training runs differing in one setting, on one chart and one table.
    Compare(Box<compare::CompareCmd>),
    /// Hyper-parameter search: random learning rates and weight decays, ranked on validation data.
    Search(Box<search::SearchCmd>),
    /// The local web app: the TensorFlow Playground, the runs of a folder live, a model by hand.
    Serve(serve::ServeCmd),
    /// A shell completion script: `source <(scratchnet completions bash)`.
    Completions(shell::CompletionsCmd),
    /// The man page (roff): `scratchnet man | man -l -`, or `scratchnet man train`.
    Man(shell::ManCmd),
}

/// The flag that sets `setting`, for messages in the command line's terms.
pub fn flag(setting: Setting) -> &'static str {
    match setting {
        Setting::LearningRate => "--lr",
        Setting::Batch => "--batch",
        Setting::Epochs => "--epochs",
        Setting::Iterations => "--iters",
        Setting::Hidden => "--hidden",
        Setting::Dropout => "--dropout",
        Setting::WeightDecay => "--weight-decay",
        Setting::EvalSamples => "--eval-samples",
        Setting::TrainSamples => "--train-samples",
        Setting::Validation => "--validation",
    }
}

/// `err` in the command line's terms: a setting is named by its flag.
pub fn in_flags(err: Error) -> Error {
    match err {
        Error::Invalid { setting, problem } => {
            Error::Config(format!("{} {problem}", flag(setting)))
        }
        other => other,
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    dispatch(cli).map_err(in_flags)
}

fn dispatch(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Bench(cmd) => bench::run(cmd),
        Command::Train(cmd) => train::run(*cmd),
        Command::Gradcheck(cmd) => gradcheck::run(cmd),
        Command::Eval(cmd) => model::eval(cmd),
        Command::Predict(cmd) => model::predict(cmd),
        Command::Download(cmd) => datasets::download(cmd),
        Command::Datasets(cmd) => datasets::list(cmd),
        Command::Descend(cmd) => descend::run(cmd),
        Command::Playground(cmd) => playground::run(cmd),
        Command::Compare(cmd) => compare::run(*cmd),
        Command::Search(cmd) => search::run(*cmd),
        Command::Activations(cmd) => activations::run(cmd),
        Command::Serve(cmd) => serve::run(cmd),
        Command::Completions(cmd) => shell::completions(cmd),
        Command::Man(cmd) => shell::man(cmd),
    }
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

/// The floating-point type a command computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Precision {
    F32,
    F64,
}

impl Precision {
    /// `f32` or `f64`, as `Float::NAME` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }

    /// Bytes per value.
    pub fn bytes(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F64 => 8,
        }
    }
}

/// Parses a comma-separated list with `parse`, naming the flag in errors.
pub(crate) fn parse_list<T>(
    flag: &str,
    s: &str,
    parse: impl Fn(&str) -> Result<T>,
) -> Result<Vec<T>> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| parse(p).map_err(|e| Error::Config(format!("{flag}: {e}"))))
        .collect()
}
