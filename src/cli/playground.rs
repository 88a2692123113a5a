//! `scratchnet playground`: the TensorFlow-Playground experiment — a 2-D data set, the input
//! features made of each point, a small network with one output unit, training, and the
//! output drawn as a coloured field over the plane. The web app (`serve`) runs the same
//! [`PlaygroundRun`], so the command it shows gives its numbers here.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::data::playground::{Feature, PlaneSet};
use crate::error::{Error, Result};
use crate::job::{self, Control, Event, Flow, JobOptions};
use crate::optim::OptimizerConfig;
use crate::output::{self, Named, write_output};
use crate::playground::{HALF, PlaygroundRun, PlaygroundSettings, Regularization};
use crate::report::playground::{chart_points, field_for_chart, picture, title};
use crate::report::svg::{LineChart, Series};
use crate::report::{plane, svg};

/// Cells per side of the drawn field.
const GRID: usize = 60;

#[derive(Debug, Args)]
pub struct PlaygroundCmd {
    /// circle, xor, gauss, spiral (two classes), plane or multi-gauss (regression).
    #[arg(long, default_value = "circle")]
    pub dataset: String,
    /// Points in all, training and test.
    #[arg(long, default_value_t = 500)]
    pub points: usize,
    /// The share of the points used for training, in percent.
    #[arg(long, default_value_t = 50)]
    pub train_percent: usize,
    /// The input features made of each point (x1, x2, x1sq, x2sq, x1x2, sinx1, sinx2).
    #[arg(long, default_value = "x1,x2")]
    pub features: String,
    /// Hidden layer widths (`none` for a linear model).
    #[arg(long, default_value = "30,5,10")]
    pub hidden: String,
    /// relu, sigmoid, tanh or linear.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// sgd, momentum, nesterov, adagrad, rmsprop or adam.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    #[arg(long, default_value_t = 10)]
    pub batch: usize,
    /// none, l1 or l2: the penalty on the weights.
    #[arg(long, default_value = "none")]
    pub regularization: String,
    /// The penalty's rate λ.
    #[arg(long, default_value_t = 0.0)]
    pub reg_rate: f64,
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Gaussian noise (σ) on the points.
    #[arg(long, default_value_t = 0.0)]
    pub noise: f64,
    /// Write the output field, the points and the loss curves as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// With --plot: also write FILE-epoch-N.svg every N epochs, to watch the boundary form.
    #[arg(long, value_name = "N", requires = "plot")]
    pub snapshots: Option<usize>,
    /// Save the trained model (safetensors, PyTorch's layout).
    #[arg(long, value_name = "FILE.safetensors")]
    pub save: Option<PathBuf>,
}

impl PlaygroundCmd {
    /// The run the flags describe.
    pub fn settings(&self) -> Result<PlaygroundSettings> {
        let set = PlaneSet::from_name(&self.dataset).map_err(|_| {
            Error::Config(format!(
                "playground draws 2-D data sets: use --dataset circle, xor, gauss, spiral, \
                 plane or multi-gauss, not {}",
                self.dataset
            ))
        })?;
        let features = crate::cli::parse_list("--features", &self.features, Feature::from_name)?;
        let hidden = if self.hidden.trim() == "none" {
            Vec::new()
        } else {
            crate::cli::parse_list("--hidden", &self.hidden, |w| {
                w.parse::<usize>()
                    .map_err(|_| Error::Config(format!("'{w}' is not a layer width")))
            })?
        };
        let activation = match self.activation.to_ascii_lowercase().as_str() {
            "linear" => None,
            name => Some(name.parse().map_err(|_| {
                Error::Config(format!(
                    "unknown activation '{}': choose relu, sigmoid, tanh or linear",
                    self.activation
                ))
            })?),
        };
        Ok(PlaygroundSettings {
            set,
            points: self.points,
            train_percent: self.train_percent,
            noise: self.noise,
            features,
            hidden,
            activation,
            optimizer: OptimizerConfig::from_name(&self.optimizer, Some(self.lr))?,
            batch: self.batch,
            regularization: Regularization::from_name(&self.regularization, self.reg_rate)?,
            seed: self.seed,
        })
    }
}

/// The loss curves as a chart: (epoch, training loss) and (epoch, test loss).
fn curves(history: &[(usize, f64, f64)], title: &str) -> LineChart {
    let mut chart = LineChart::new(title, "epoch", "loss: mean ½(output − target)²");
    for (name, pick) in [("training loss", 0), ("test loss", 1)] {
        chart.series.push(Series {
            name: name.into(),
            points: history
                .iter()
                .map(|&(e, a, b)| (e as f64, if pick == 0 { a } else { b }))
                .collect(),
        });
    }
    chart
}

fn snapshot_path(plot: &Path, epoch: usize, suffix: Option<&str>) -> PathBuf {
    let stem = plot
        .file_stem()
        .map_or("playground".into(), |s| s.to_string_lossy().into_owned());
    let name = match suffix {
        Some(s) => format!("{stem}-{s}.svg"),
        None => format!("{stem}-epoch-{epoch}.svg"),
    };
    plot.with_file_name(name)
}

pub fn run(cmd: PlaygroundCmd) -> Result<()> {
    let settings = cmd.settings()?;
    if cmd.snapshots == Some(0) {
        return Err(Error::Config("--snapshots must be at least 1 epoch".into()));
    }
    let curves_path = cmd
        .plot
        .as_deref()
        .map(|p| snapshot_path(p, 0, Some("curves")));
    let mut outputs = Vec::new();
    if let (Some(plot), Some(curves)) = (&cmd.plot, &curves_path) {
        if output::is_stdout(plot) {
            return Err(Error::Config(
                "--plot writes two files (the field and the curves): name a file, not -".into(),
            ));
        }
        outputs.push(Named::new("--plot", plot));
        outputs.push(Named::new("the curves file", curves));
    }
    if let Some(save) = &cmd.save {
        outputs.push(Named::new("--save", save));
    }
    output::check_outputs(&outputs, &[], &[])?;
    let mut run = PlaygroundRun::new(&settings, GRID)?;
    run.epochs = Some(cmd.epochs);
    // Pictures only where --snapshots draws one: the losses alone cost far less.
    run.pictures_every = Some(cmd.snapshots.filter(|_| cmd.plot.is_some()).unwrap_or(0));
    let title = title(&run);
    let bar = crate::cli::progress_bar(
        cmd.epochs as u64,
        true,
        "{bar:30} epoch {pos}/{len} · {msg}",
    );
    let every = cmd.snapshots.filter(|_| cmd.plot.is_some());
    // One snapshot per epoch, so the curves have every epoch and --snapshots lands exactly.
    let options = JobOptions {
        snapshot_every: std::time::Duration::ZERO,
        ..JobOptions::default()
    };
    let start = std::time::Instant::now();
    let mut history: Vec<(usize, f64, f64)> = Vec::new();
    let mut failure: Option<Error> = None;
    let mut wrote: Result<()> = Ok(());
    let control = Control::new(true);
    let pts = chart_points(&run);
    let mut stepper = run;
    job::run(&mut stepper, &control, options, |event| {
        match event {
            Event::Snapshot(snap) => {
                history.push((snap.epoch, snap.loss_train, snap.loss_test));
                bar.set_position(snap.epoch as u64);
                bar.set_message(format!("test loss {:.4}", snap.loss_test));
                if let (Some(plot), Some(n)) = (&cmd.plot, every)
                    && snap.epoch > 0
                    && snap.epoch.is_multiple_of(n)
                {
                    let sub = format!("epoch {} · test loss {:.4}", snap.epoch, snap.loss_test);
                    wrote = plane::decision_field_chart(
                        &field_for_chart(&snap),
                        &pts,
                        f64::from(HALF),
                        &title,
                        &sub,
                    )
                    .and_then(|svg| {
                        write_output(&snapshot_path(plot, snap.epoch, None), svg.as_bytes())
                    });
                    if wrote.is_err() {
                        return Flow::Stop;
                    }
                }
            }
            Event::Failed(e) => failure = Some(e),
            Event::Idle | Event::Finished => {}
        }
        Flow::Continue
    });
    bar.finish_and_clear();
    wrote?;
    if let Some(e) = failure {
        return Err(e);
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut run = stepper;
    let (loss_train, loss_test) = run.losses()?;
    let acc = match run.accuracies()? {
        Some((a, b)) => format!(", train accuracy {a:.4}, test accuracy {b:.4}"),
        None => String::new(),
    };
    crate::outln!(
        "{title}: train loss {loss_train:.4}, test loss {loss_test:.4}{acc} after {} epochs ({seconds:.2} s)",
        run.epoch()
    );
    if let Some(plot) = &cmd.plot {
        run.pictures_every = None;
        let snap = run.snapshot()?;
        let sub = format!(
            "{} epochs · {} lr {} · batch {} · test loss {:.4}",
            run.epoch(),
            settings.optimizer.name(),
            settings.optimizer.lr(),
            settings.batch,
            loss_test
        );
        write_output(plot, picture(&mut run, &snap, &title, &sub)?.as_bytes())?;
        let curves_file = curves_path.clone().expect("set with --plot");
        let svg = svg::render_column(&[curves(&history, &title)], Some(&sub))?;
        write_output(&curves_file, svg.as_bytes())?;
        eprintln!("wrote {} and {}", plot.display(), curves_file.display());
    }
    if let Some(save) = &cmd.save {
        write_output(save, &run.model_bytes()?)?;
        eprintln!("saved the model to {}", save.display());
    }
    Ok(())
}
