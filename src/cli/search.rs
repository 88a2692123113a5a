//! `scratchnet search`: the book's hyper-parameter search (`hyperparameter_optimization.py`) —
//! random learning rates and weight decays on log scales, each trained briefly and ranked by
//! accuracy on validation data held out of the training set, never on the test set.

use std::path::PathBuf;
use std::sync::Mutex;

use clap::Args;

use crate::cli::datasets::{load_dataset, offline};
use crate::cli::progress_bar;
use crate::cli::train::{Precision, TrainArgs, check_network_memory};
use crate::error::{Error, Result};
use crate::nn::spec::describe_layers;
use crate::output::{self, write_output};
use crate::report::search::{Point, chart};
use crate::report::{Align, Table, csv, markdown};
use crate::search::{self, Edge, LogRange, Space, Trial};
use crate::train::Length;
use crate::{out, outln};

#[derive(Debug, Args)]
pub struct SearchCmd {
    #[command(flatten)]
    pub args: TrainArgs,
    /// Trials to run (the book runs 100).
    #[arg(long, default_value_t = 100)]
    pub trials: usize,
    /// The learning rates to draw from, LO..HI, uniformly on a log scale (a single value holds
    /// it fixed).
    #[arg(long, value_name = "LO..HI", default_value = "1e-6..1e-2")]
    pub lr_range: String,
    /// The weight decays to draw from, LO..HI, uniformly on a log scale; 0 holds it at 0.
    #[arg(long, value_name = "LO..HI", default_value = "1e-8..1e-4")]
    pub weight_decay_range: String,
    /// The share of the training samples (of the first --train-samples, if given) held out at
    /// random as validation data (the book: 0.2).
    #[arg(long, value_name = "SHARE", default_value_t = 0.2)]
    pub validation: f64,
    /// How many of the best trials to list, and to colour in the plot.
    #[arg(long, value_name = "K", default_value_t = 10)]
    pub top: usize,
    /// Draw each trial's validation accuracy against its learning rate and its weight decay
    /// (SVG).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Write every trial, best first, as CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub csv: Option<PathBuf>,
    /// Write every trial's per-iteration loss and per-epoch figures (validation accuracy as
    /// `test_acc`) as one CSV: `train --log`'s columns after a first column `run` naming the
    /// trial (`serve --runs` shows it as a group).
    #[arg(long, value_name = "FILE.csv")]
    pub log: Option<PathBuf>,
}

pub fn run(cmd: SearchCmd) -> Result<()> {
    if cmd.args.lr.is_some() || cmd.args.weight_decay != 0.0 {
        return Err(Error::Config(
            "search draws the learning rate and the weight decay: give their ranges with \
             --lr-range and --weight-decay-range instead of --lr and --weight-decay"
                .into(),
        ));
    }
    if cmd.trials == 0 || cmd.top == 0 {
        let flag = if cmd.trials == 0 { "--trials" } else { "--top" };
        return Err(Error::Config(format!("{flag} must be at least 1")));
    }
    let space = Space {
        lr: LogRange::parse("--lr-range", &cmd.lr_range)?,
        weight_decay: match cmd.weight_decay_range.trim() {
            "0" => None,
            s => Some(LogRange::parse("--weight-decay-range", s)?),
        },
    };
    let mut settings = cmd.args.settings()?;
    let ds = load_dataset(settings.dataset, &settings.load, offline(cmd.args.offline))?;
    settings.train.validate(ds.x_train.rows())?;
    let used = settings.train.training_rows(ds.x_train.rows());
    let split = ds.hold_out(
        settings.train.train_samples,
        cmd.validation,
        settings.train.seed,
    )?;
    // The split already holds only the samples asked for.
    settings.train.train_samples = None;
    settings.train.validate(split.x_train.rows())?;
    let workers = settings.threads.min(cmd.trials);
    // Each worker trains its own copy of the network.
    let specs = check_network_memory(&settings, &split, cmd.args.precision, workers)?;
    output::check_outputs_beside_data(
        &[
            ("--plot", cmd.plot.as_deref()),
            ("--csv", cmd.csv.as_deref()),
            ("--log", cmd.log.as_deref()),
        ],
        &ds.files(),
    )?;

    let length = match settings.train.length {
        Length::Epochs(e) => format!("{e} epochs"),
        Length::Iters(i) => format!("{i} iterations"),
    };
    outln!(
        "{}: {} training and {} validation samples, held out at random from {}; the test set \
         is not used",
        ds.name,
        split.x_train.rows(),
        split.x_test.rows(),
        if used < ds.x_train.rows() {
            format!("the first {used} training samples")
        } else {
            format!("the {used} training samples")
        }
    );
    outln!(
        "network {}, optimizer {}, batch {}, {length} per trial; {} trials: learning rate {}, \
         weight decay {}; {workers} at a time",
        describe_layers(&specs),
        settings.optimizer.name(),
        settings.train.batch,
        cmd.trials,
        space.lr,
        space
            .weight_decay
            .map_or("0".to_string(), |r| r.to_string()),
    );
    let draws = search::draws(&space, cmd.trials, settings.train.seed);
    let bar = progress_bar(
        cmd.trials as u64,
        true,
        "{bar:30} {pos}/{len} trials  {msg}  [{elapsed}<{eta}]",
    );
    let best = Mutex::new(f64::NEG_INFINITY);
    let on_done = |t: &Trial| {
        if let Some(acc) = t.val_acc() {
            let mut b = best.lock().unwrap_or_else(|p| p.into_inner());
            if acc > *b {
                *b = acc;
                bar.set_message(format!("best validation accuracy {acc:.4}"));
            }
        }
        bar.inc(1);
    };
    let trials = match cmd.args.precision {
        Precision::F32 => search::run::<f32>(&settings, &split, &draws, workers, on_done),
        Precision::F64 => search::run::<f64>(&settings, &split, &draws, workers, on_done),
    };
    bar.finish_and_clear();
    let trials = trials?;
    let ranked = search::ranked(&trials);

    let table = |rows: &[&Trial]| {
        let mut t = Table::new(&[
            ("rank", Align::Right),
            ("val acc", Align::Right),
            ("train acc", Align::Right),
            ("learning rate", Align::Right),
            ("weight decay", Align::Right),
            ("trial", Align::Right),
        ]);
        for (i, trial) in rows.iter().enumerate() {
            let (val, train) = match &trial.outcome {
                Ok(h) => h.epochs.last().map_or(("–".into(), "–".into()), |r| {
                    (format!("{:.4}", r.test_acc), format!("{:.4}", r.train_acc))
                }),
                Err(why) => (why.clone(), "–".into()),
            };
            t.push(vec![
                (i + 1).to_string(),
                val,
                train,
                format!("{:.3e}", trial.draw.lr),
                format!("{:.3e}", trial.draw.weight_decay),
                (trial.index + 1).to_string(),
            ]);
        }
        t
    };
    let top = cmd.top.min(ranked.len());
    out!("{}", markdown::render(&table(&ranked[..top])));
    let good: Vec<&Trial> = ranked[..top]
        .iter()
        .copied()
        .filter(|t| t.val_acc().is_some())
        .collect();
    let diverged = trials.iter().filter(|t| t.val_acc().is_none()).count();
    if diverged > 0 {
        outln!("{diverged} of {} trials diverged", trials.len());
    }
    match good.first() {
        None => outln!("every trial diverged: lower the --lr-range"),
        Some(first) => {
            let span = |f: fn(&Trial) -> f64| {
                let lo = good.iter().map(|t| f(t)).fold(f64::INFINITY, f64::min);
                let hi = good.iter().map(|t| f(t)).fold(0.0, f64::max);
                format!("{lo:.1e}..{hi:.1e}")
            };
            outln!(
                "best: validation accuracy {:.4} with --lr {:.3e} --weight-decay {:.3e} (trial {})",
                first.val_acc().unwrap_or(0.0),
                first.draw.lr,
                first.draw.weight_decay,
                first.index + 1
            );
            let ends = [
                ("learning rate", "--lr-range", Some(space.lr), first.draw.lr),
                (
                    "weight decay",
                    "--weight-decay-range",
                    space.weight_decay,
                    first.draw.weight_decay,
                ),
            ];
            for (what, flag, range, value) in ends {
                let Some(range) = range else { continue };
                let (side, end) = match range.edge(value) {
                    Some(Edge::High) => ("top", format!("above {:e}", range.hi)),
                    Some(Edge::Low) => ("bottom", format!("below {:e}", range.lo)),
                    None => continue,
                };
                outln!(
                    "the best {what} is at the {side} of {flag}: better values may lie {end}; \
                     move the range that way rather than only narrowing it"
                );
            }
            let mut narrow = format!("--lr-range {}", span(|t| t.draw.lr));
            if space.weight_decay.is_some() {
                narrow += &format!(" --weight-decay-range {}", span(|t| t.draw.weight_decay));
            }
            outln!(
                "the best {} lie in {narrow}: search there again, then train with the best \
                 values on all the training samples and measure the test set once",
                good.len()
            );
        }
    }
    if let Some(p) = &cmd.csv {
        write_output(p, csv::render(&table(&ranked)).as_bytes())?;
    }
    if let Some(p) = &cmd.log {
        let finished: Vec<(String, &crate::train::History)> = trials
            .iter()
            .filter_map(|t| {
                let h = t.outcome.as_ref().ok()?;
                let name = format!(
                    "trial {} (lr {:.3e}, weight decay {:.3e})",
                    t.index + 1,
                    t.draw.lr,
                    t.draw.weight_decay
                );
                Some((name, h))
            })
            .collect();
        write_output(
            p,
            csv::render(&crate::report::training::group_table(&finished)).as_bytes(),
        )?;
    }
    if let Some(p) = &cmd.plot {
        let points: Vec<Point> = ranked
            .iter()
            .enumerate()
            .map(|(i, t)| Point {
                lr: t.draw.lr,
                weight_decay: t.draw.weight_decay,
                val_acc: t.val_acc(),
                rank: i + 1,
            })
            .collect();
        let title = format!("{}: {} trials", ds.name, trials.len());
        let subtitle = format!(
            "{} · optimizer {} · batch {} · {length} · {} training / {} validation samples · seed {}",
            describe_layers(&specs),
            settings.optimizer.name(),
            settings.train.batch,
            split.x_train.rows(),
            split.x_test.rows(),
            settings.train.seed
        );
        let svg = chart(
            &points,
            space.weight_decay.is_some(),
            top,
            &title,
            &subtitle,
        )?;
        write_output(p, svg.as_bytes())?;
    }
    Ok(())
}
