//! `scratchnet playground`: the TensorFlow-Playground experiment — a 2-D data set, a small
//! network, training, and the decision boundary drawn as a coloured field over the plane.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use clap::Args;

use crate::cli::train::{Precision, SamplingArg, TrainArgs};
use crate::data::{self, Dataset};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::memory;
use crate::nn::Mode;
use crate::nn::network::Network;
use crate::nn::shape::Shape;
use crate::nn::spec::{describe_layers, memory_estimate};
use crate::output::{self, Named, write_output};
use crate::report::{plane, svg, training};
use crate::session::Session;

/// Half the side of the plotted square: points live in [-4, 4]², the field shows a margin.
const HALF: f64 = 4.5;
/// Grid cells per side of the decision field.
const GRID: usize = 40;

#[derive(Debug, Args)]
pub struct PlaygroundCmd {
    /// circle, xor, gauss or spiral.
    #[arg(long, default_value = "circle")]
    pub dataset: String,
    /// Hidden layer widths (`none` for a linear model).
    #[arg(long, default_value = "30,5,10")]
    pub hidden: String,
    /// relu, sigmoid or tanh.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Learning rate [default: 0.01].
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    #[arg(long, default_value_t = 10)]
    pub batch: usize,
    #[arg(long, default_value_t = 100)]
    pub epochs: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Gaussian noise (σ) on the points.
    #[arg(long, default_value_t = 0.0)]
    pub noise: f64,
    /// Write the decision field, the points and the training curves as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// With --plot: also write FILE-epoch-N.svg every N epochs, to watch the boundary form.
    #[arg(long, value_name = "N", requires = "plot")]
    pub snapshots: Option<usize>,
}

/// P(class 1) on a GRID×GRID lattice of cell centres.
fn field(net: &mut Network<f32>) -> Result<Vec<Vec<f64>>> {
    let cell = 2.0 * HALF / GRID as f64;
    let centre = |i: usize| (-HALF + (i as f64 + 0.5) * cell) as f32;
    let xs = Matrix::from_fn(GRID * GRID, 2, |r, c| {
        if c == 0 {
            centre(r / GRID)
        } else {
            centre(r % GRID)
        }
    });
    let probs = net.predict(&xs, Mode::Eval)?.softmax_rows();
    Ok((0..GRID)
        .map(|i| {
            (0..GRID)
                .map(|j| f64::from(probs.get(i * GRID + j, 1)))
                .collect()
        })
        .collect())
}

fn points(ds: &Dataset) -> Vec<(f64, f64, usize, bool)> {
    let take = |x: &Matrix<f32>, t: &[usize], test: bool| -> Vec<(f64, f64, usize, bool)> {
        (0..x.rows())
            .map(|i| (f64::from(x.get(i, 0)), f64::from(x.get(i, 1)), t[i], test))
            .collect()
    };
    let mut p = take(&ds.x_train, &ds.t_train, false);
    p.extend(take(&ds.x_test, &ds.t_test, true));
    p
}

/// The training curves' file beside the field's: `FILE-curves.svg`.
fn curves_path(plot: &Path) -> PathBuf {
    let stem = plot
        .file_stem()
        .map_or("playground".into(), |s| s.to_string_lossy().into_owned());
    plot.with_file_name(format!("{stem}-curves.svg"))
}

fn snapshot_path(plot: &Path, epoch: usize) -> PathBuf {
    let stem = plot
        .file_stem()
        .map_or("playground".into(), |s| s.to_string_lossy().into_owned());
    plot.with_file_name(format!("{stem}-epoch-{epoch}.svg"))
}

pub fn run(cmd: PlaygroundCmd) -> Result<()> {
    let args = TrainArgs {
        dataset: cmd.dataset.clone(),
        data_dir: None,
        offline: true,
        net: None,
        layers: None,
        hidden: Some(cmd.hidden.clone()),
        activation: Some(cmd.activation.clone()),
        init: None,
        batchnorm: false,
        dropout: None,
        weight_decay: 0.0,
        optimizer: cmd.optimizer.clone(),
        lr: Some(cmd.lr),
        batch: cmd.batch,
        epochs: Some(cmd.epochs),
        iters: None,
        sampling: SamplingArg::Shuffle,
        eval_samples: None,
        train_samples: None,
        augment: None,
        seed: cmd.seed,
        threads: Some(1),
        precision: Precision::F32,
        grayscale: false,
        noise: cmd.noise,
    };
    let setup = args.settings()?;
    if !setup.dataset.is_generated() {
        return Err(Error::Config(format!(
            "playground draws 2-D data sets: use --dataset circle, xor, gauss or spiral, not {}",
            setup.dataset
        )));
    }
    if cmd.snapshots == Some(0) {
        return Err(Error::Config("--snapshots must be at least 1 epoch".into()));
    }
    let curves_path = cmd.plot.as_deref().map(curves_path);
    if let (Some(plot), Some(curves)) = (&cmd.plot, &curves_path) {
        if output::is_stdout(plot) {
            return Err(Error::Config(
                "--plot writes two files (the field and the curves): name a file, not -".into(),
            ));
        }
        output::check_outputs(
            &[
                Named::new("--plot", plot),
                Named::new("the curves file", curves),
            ],
            &[],
            &[],
        )?;
    }
    let ds = data::load(setup.dataset, &setup.load)?;
    setup.train.validate(ds.x_train.rows())?;
    memory::check(
        &format!(
            "the network {}",
            describe_layers(&setup.mlp(2, 2).layer_specs())
        ),
        memory_estimate(
            &setup.mlp(2, 2).layer_specs(),
            Shape::Flat(2),
            setup.train.batch,
            4,
        ),
    )?;
    let mut session = Session::<f32>::start(&setup, &ds)?;
    let ipe = setup.train.iters_per_epoch(ds.x_train.rows());
    let never = AtomicBool::new(false);
    let desc = describe_layers(session.net.specs());
    let title = format!("{} · {desc}", ds.name);
    let pts = points(&ds);
    // Every --snapshots epochs the session pauses and the boundary so far is drawn.
    let every = cmd.snapshots.filter(|_| cmd.plot.is_some());
    session.run(
        every,
        &never,
        |_| {},
        |s| {
            let Some(plot) = &cmd.plot else {
                return Ok(());
            };
            let epoch = s.state.iteration / ipe;
            let last = s.state.history.epochs.last().expect("an epoch ended");
            let sub = format!("epoch {epoch} · test accuracy {:.3}", last.test_acc);
            let svg = plane::decision_field_chart(&field(&mut s.net)?, &pts, HALF, &title, &sub)?;
            write_output(&snapshot_path(plot, epoch), svg.as_bytes())
        },
    )?;
    let (mut net, state) = (session.net, session.state);
    let h = &state.history;
    let last = h.epochs.last().expect("at least one epoch");
    crate::outln!(
        "{} {desc}: train accuracy {:.4}, test accuracy {:.4} after {} epochs ({:.2} s training)",
        ds.name,
        last.train_acc,
        last.test_acc,
        h.epochs.len(),
        h.train_seconds
    );
    if let Some(plot) = &cmd.plot {
        let sub = format!(
            "{} epochs · optimizer {} lr {} · batch {} · test accuracy {:.3}",
            h.epochs.len(),
            setup.optimizer.name(),
            setup.optimizer.lr(),
            setup.train.batch,
            last.test_acc
        );
        let field_svg = plane::decision_field_chart(&field(&mut net)?, &pts, HALF, &title, &sub)?;
        write_output(plot, field_svg.as_bytes())?;
        let curves = curves_path.clone().expect("set with --plot");
        let curves_svg = svg::render_column(&training::charts(h, &title), Some(&sub))?;
        write_output(&curves, curves_svg.as_bytes())?;
        eprintln!("wrote {} and {}", plot.display(), curves.display());
    }
    Ok(())
}
