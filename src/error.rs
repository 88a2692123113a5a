//! The crate's one error type.
//!
//! Every variant carries the context a user needs to fix the problem, and its `Display` is a
//! single line: what was wrong, then what to do. The CLI prints exactly that line and exits
//! non-zero; the library never panics or exits on bad input.

use std::fmt;
use std::path::PathBuf;

/// Shorthand for `std::result::Result<T, scratchnet::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in scratchnet, grouped by domain.
#[derive(Debug)]
pub enum Error {
    /// Reading or writing a file failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A file was read but its content is not what its format promises.
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, where (`the header's magic number is …`).
        what: String,
    },
    /// Two operands of `op` have shapes that do not fit together.
    Shape {
        /// The operation, e.g. `matmul`.
        op: &'static str,
        /// The shape it needed.
        expected: String,
        /// The shape it was given.
        got: String,
    },
    /// A setting of the library is out of range; `problem` reads after the setting's name
    /// ("learning rate must be a positive finite number, got 0"). The command line shows the
    /// flag that sets it instead of the name (`--lr must be …`).
    Invalid {
        /// The setting.
        setting: Setting,
        /// What is wrong with its value.
        problem: String,
    },
    /// A flag or setting is out of range or contradicts another one.
    Config(String),
    /// A dataset was read but cannot be used: counts that disagree, labels out of range, an
    /// empty split.
    Data {
        /// The dataset's name.
        dataset: String,
        /// Where it was read from.
        origin: String,
        /// What is wrong with it.
        what: String,
    },
    /// A download failed on every mirror; `attempts` says why for each (`url: reason`).
    /// Nothing was written.
    Download {
        /// The file that was to be fetched.
        file: String,
        /// Each mirror tried, with why it failed.
        attempts: Vec<String>,
    },
    /// A dataset was not found in any of the places searched.
    MissingDataset {
        /// The dataset's name.
        name: String,
        /// Every place looked in, in order.
        searched: Vec<PathBuf>,
        /// How to get it (`scratchnet download …`, `SCRATCHNET_DATA`).
        hint: String,
    },
    /// Training produced a NaN, infinite or exploding loss; `advice` fits the likely cause.
    Diverged {
        /// The epoch it happened in (1-based).
        epoch: usize,
        /// The iteration (1 = before any update).
        step: usize,
        /// The loss of that batch.
        loss: f64,
        /// What to try.
        advice: String,
    },
    /// A signal (SIGINT, SIGTERM) stopped the command after it saved what it was asked to;
    /// `what` says what was kept and how to continue. The process exits with 128 + `signal`.
    Interrupted {
        /// The signal's number (2 for SIGINT, 15 for SIGTERM).
        signal: i32,
        /// What was kept, and how to continue.
        what: String,
    },
}

/// The settings the library checks, by the name it uses for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// The learning rate.
    LearningRate,
    /// The mini-batch size.
    Batch,
    /// The number of epochs.
    Epochs,
    /// The number of iterations.
    Iterations,
    /// The hidden layers' widths.
    Hidden,
    /// The dropout ratio.
    Dropout,
    /// The L2 weight decay λ.
    WeightDecay,
    /// The number of samples each epoch is evaluated on.
    EvalSamples,
    /// The number of training samples used.
    TrainSamples,
    /// The share held out for validation.
    Validation,
}

impl Setting {
    /// The name in the library's terms.
    pub fn name(self) -> &'static str {
        match self {
            Setting::LearningRate => "learning rate",
            Setting::Batch => "batch size",
            Setting::Epochs => "epoch count",
            Setting::Iterations => "iteration count",
            Setting::Hidden => "hidden layer widths",
            Setting::Dropout => "dropout ratio",
            Setting::WeightDecay => "weight decay",
            Setting::EvalSamples => "evaluation sample count",
            Setting::TrainSamples => "training sample count",
            Setting::Validation => "validation share",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => {
                write!(f, "cannot access {}: {source}", path.display())
            }
            Error::Format { path, what } => {
                write!(f, "{} is not a valid file: {what}", path.display())
            }
            Error::Shape { op, expected, got } => {
                write!(f, "shape mismatch in {op}: expected {expected}, got {got}")
            }
            Error::Invalid { setting, problem } => write!(f, "{} {problem}", setting.name()),
            Error::Config(msg) => write!(f, "{msg}"),
            Error::Data {
                dataset,
                origin,
                what,
            } => write!(f, "dataset {dataset} ({origin}) cannot be used: {what}"),
            Error::Download { file, attempts } => write!(
                f,
                "download of {file} failed, nothing was written: {}",
                attempts.join("; ")
            ),
            Error::MissingDataset {
                name,
                searched,
                hint,
            } => {
                let places: Vec<String> =
                    searched.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "dataset {name} not found; looked in: {}. {hint}",
                    places.join(", ")
                )
            }
            Error::Diverged {
                epoch,
                step,
                loss,
                advice,
            } => write!(
                f,
                "training diverged: the loss became {loss:.4e} at epoch {epoch}, iteration {step}; \
                 {advice}"
            ),
            Error::Interrupted { signal, what } => {
                let name = match *signal {
                    2 => "SIGINT".to_string(),
                    15 => "SIGTERM".to_string(),
                    n => format!("signal {n}"),
                };
                write!(f, "interrupted by {name}: {what}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Error {
    /// A file could not be read or written.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// A file's content is not what its format promises.
    pub fn format(path: &std::path::Path, what: impl Into<String>) -> Self {
        Error::Format {
            path: path.to_path_buf(),
            what: what.into(),
        }
    }

    /// `setting` is out of range: `problem` reads after its name.
    pub fn invalid(setting: Setting, problem: impl Into<String>) -> Self {
        Error::Invalid {
            setting,
            problem: problem.into(),
        }
    }

    /// The process exit status for this error: 128 + the signal for an interruption, as
    /// shells report a command a signal ended; 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Interrupted { signal, .. } => 128 + signal,
            _ => 1,
        }
    }

    /// A shape error; `expected` and `got` are rendered as given (e.g. "3×4").
    pub fn shape(op: &'static str, expected: impl Into<String>, got: impl Into<String>) -> Self {
        Error::Shape {
            op,
            expected: expected.into(),
            got: got.into(),
        }
    }
}
