//! `scratchnet compare`: several training runs that differ in one setting, side by side on one
//! chart and one table (`--vary activation=sigmoid,relu`, `--vary hidden=50:100,50`, …).

use std::path::PathBuf;

use clap::Args;

use std::sync::atomic::AtomicBool;

use crate::cli::datasets::{load_dataset, offline};
use crate::cli::in_flags;
use crate::cli::train::{Precision, SamplingArg, TrainArgs};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::memory;
use crate::nn::spec::{describe_layers, memory_estimate};
use crate::output::{self, write_output};
use crate::report::svg::{Legend, LineChart, Series};
use crate::report::training;
use crate::report::{Align, Table, csv, markdown};
use crate::session::{Session, Settings};
use crate::train::History;

#[derive(Debug, Args)]
pub struct CompareCmd {
    #[command(flatten)]
    pub args: TrainArgs,
    /// KEY=V1,V2,… — the setting to vary: activation, lr, optimizer, init, batch, dropout,
    /// weight-decay, sampling, batchnorm (true/false), train-samples, hidden (variants
    /// separated by `:`, e.g. hidden=50:100,50) or augment (variants separated by `/`, e.g.
    /// augment=none/shift:2/shift:2,rotate:10).
    #[arg(long, value_name = "KEY=VALUES")]
    pub vary: String,
    /// Write the curves (test accuracy per epoch, smoothed mini-batch loss per iteration, one
    /// line per run) as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Write every run's per-iteration loss and per-epoch figures as one CSV: `train --log`'s
    /// columns after a first column `run` naming the variant (`serve --runs` shows it as a
    /// group).
    #[arg(long, value_name = "FILE.csv")]
    pub log: Option<PathBuf>,
    /// Also write the final-figures table as a Markdown file.
    #[arg(long, value_name = "FILE.md")]
    pub markdown: Option<PathBuf>,
    /// Add the epoch (and training seconds) at which each run first reached this test
    /// accuracy: how fast, not only how far.
    #[arg(long, value_name = "ACC")]
    pub target: Option<f64>,
}

/// The first epoch whose test accuracy reaches `target`, with the training seconds spent up
/// to the end of it.
pub fn time_to(h: &History, target: f64) -> Option<(usize, f64)> {
    let mut seconds = 0.0;
    h.epochs.iter().find_map(|r| {
        seconds += r.seconds;
        (r.test_acc >= target).then_some((r.epoch, seconds))
    })
}

/// Splits `KEY=VALUES` into the key and its variants.
pub fn parse_vary(s: &str) -> Result<(String, Vec<String>)> {
    let (key, values) = s.split_once('=').ok_or_else(|| {
        Error::Config(format!(
            "--vary '{s}': expected KEY=V1,V2, e.g. activation=sigmoid,relu"
        ))
    })?;
    // Variants that hold commas themselves are separated by another character.
    let sep = match key.trim() {
        "hidden" => ':',
        "augment" => '/',
        _ => ',',
    };
    let values: Vec<String> = values
        .split(sep)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if values.len() < 2 {
        return Err(Error::Config(format!(
            "--vary '{s}': give at least two values to compare"
        )));
    }
    Ok((key.trim().to_string(), values))
}

/// `args` with `key` set to `value`.
fn with(args: &TrainArgs, key: &str, value: &str) -> Result<TrainArgs> {
    let mut a = args.clone();
    let num = |v: &str| {
        v.parse::<f64>()
            .map_err(|_| Error::Config(format!("--vary {key}: '{v}' is not a number")))
    };
    let count = |v: &str| {
        v.parse::<usize>()
            .map_err(|_| Error::Config(format!("--vary {key}: '{v}' is not an integer")))
    };
    match key {
        "activation" => a.activation = Some(value.into()),
        "optimizer" => a.optimizer = value.into(),
        "init" => a.init = Some(value.into()),
        "hidden" => a.hidden = Some(value.into()),
        "lr" => a.lr = Some(num(value)?),
        "dropout" => a.dropout = Some(num(value)?),
        "weight-decay" => a.weight_decay = num(value)?,
        "batch" => a.batch = count(value)?,
        "train-samples" => a.train_samples = Some(count(value)?),
        "augment" => a.augment = Some(value.into()),
        "sampling" => {
            a.sampling = match value {
                "shuffle" => SamplingArg::Shuffle,
                "random" => SamplingArg::Random,
                _ => {
                    return Err(Error::Config(format!(
                        "--vary sampling: '{value}' is not shuffle or random"
                    )));
                }
            }
        }
        "batchnorm" => {
            a.batchnorm = value.parse().map_err(|_| {
                Error::Config(format!("--vary batchnorm: '{value}' is not true or false"))
            })?
        }
        _ => {
            return Err(Error::Config(format!(
                "--vary: cannot vary '{key}'; choose activation, lr, optimizer, init, hidden, batch, \
                 dropout, weight-decay, sampling, batchnorm, train-samples or augment"
            )));
        }
    }
    Ok(a)
}

/// The plot's subtitle: what was varied, then what every run shares (the network, optimizer,
/// batch, training samples and seed, each left out when it is what varies).
fn subtitle(key: &str, first: &Settings, ds: &Dataset) -> Result<String> {
    let mut parts = vec![format!("varying {key}")];
    if !matches!(key, "hidden" | "activation" | "batchnorm" | "dropout") {
        let (specs, _) = first.network_for(ds)?;
        parts.push(describe_layers(&specs));
    }
    match key {
        "optimizer" => {}
        "lr" => parts.push(format!("optimizer {}", first.optimizer.name())),
        _ => parts.push(format!(
            "optimizer {} lr {}",
            first.optimizer.name(),
            first.optimizer.lr()
        )),
    }
    if key != "batch" {
        parts.push(format!("batch {}", first.train.batch));
    }
    if key != "weight-decay" && first.weight_decay != 0.0 {
        parts.push(format!("weight decay {}", first.weight_decay));
    }
    let available = ds.x_train.rows();
    if let Some(n) = first.train.train_samples.filter(|&n| n < available)
        && key != "train-samples"
    {
        parts.push(format!("the first {n} of {available} training samples"));
    }
    if key != "augment" && !first.train.augment.is_none() {
        parts.push(format!("augmented {}", first.train.augment));
    }
    parts.push(format!("seed {}", first.train.seed));
    Ok(parts.join(" · "))
}

/// One run of the comparison, start to end, in precision `T`.
fn train_one<T: crate::matrix::Float>(
    setup: &Settings,
    ds: &Dataset,
    never: &AtomicBool,
) -> Result<History> {
    let mut session = Session::<T>::start(setup, ds)?;
    session.run(None, never, |_| {}, |_| Ok(()))?;
    Ok(session.state.history)
}

pub fn run(cmd: CompareCmd) -> Result<()> {
    let (key, values) = parse_vary(&cmd.vary)?;
    let variants: Vec<(String, TrainArgs)> = values
        .iter()
        .map(|v| Ok((format!("{key}={v}"), with(&cmd.args, &key, v)?)))
        .collect::<Result<_>>()?;
    // Check every variant's flags before training any.
    let setups = variants
        .iter()
        .map(|(label, a)| {
            a.settings()
                .map_err(|e| Error::Config(format!("run {label}: {}", in_flags(e))))
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(t) = cmd.target
        && !(t > 0.0 && t <= 1.0)
    {
        return Err(Error::Config(format!(
            "--target {t}: a test accuracy in (0, 1], e.g. 0.99"
        )));
    }
    let ds = load_dataset(
        setups[0].dataset,
        &setups[0].load,
        offline(cmd.args.offline),
    )?;
    output::check_outputs_beside_data(
        &[
            ("--plot", cmd.plot.as_deref()),
            ("--markdown", cmd.markdown.as_deref()),
            ("--log", cmd.log.as_deref()),
        ],
        &ds.files(),
    )?;
    for ((label, args), setup) in variants.iter().zip(&setups) {
        let fail = |e: Error| Error::Config(format!("run {label}: {}", in_flags(e)));
        setup.train.validate(ds.x_train.rows()).map_err(fail)?;
        let (specs, input) = setup.network_for(&ds).map_err(fail)?;
        memory::check(
            &format!("run {label}"),
            memory_estimate(&specs, input, setup.train.batch, args.precision.bytes()),
        )?;
    }
    // A run that diverges is reported as such; the others still run.
    let never = AtomicBool::new(false);
    let mut runs: Vec<(String, std::result::Result<History, String>)> = Vec::new();
    for ((label, args), setup) in variants.iter().zip(&setups) {
        eprintln!("training {label} …");
        let result = match args.precision {
            Precision::F32 => train_one::<f32>(setup, &ds, &never),
            Precision::F64 => train_one::<f64>(setup, &ds, &never),
        };
        match result {
            Ok(h) => runs.push((label.clone(), Ok(h))),
            Err(Error::Diverged { step, loss, .. }) => {
                eprintln!("{label} diverged at iteration {step} (loss {loss:.3e}); going on");
                runs.push((label.clone(), Err(format!("diverged at iteration {step}"))));
            }
            Err(e) => return Err(e),
        }
    }
    if runs.iter().all(|(_, r)| r.is_err()) {
        return Err(Error::Config(
            "every run diverged: try a smaller --lr".into(),
        ));
    }
    let mut columns = vec![
        ("run".to_string(), Align::Left),
        ("test acc".to_string(), Align::Right),
        ("train acc".to_string(), Align::Right),
        ("final epoch loss".to_string(), Align::Right),
        ("train s".to_string(), Align::Right),
    ];
    if let Some(t) = cmd.target {
        columns.push((format!("epochs to {t}"), Align::Right));
        columns.push((format!("train s to {t}"), Align::Right));
    }
    let columns: Vec<(&str, Align)> = columns.iter().map(|(c, a)| (c.as_str(), *a)).collect();
    let mut table = Table::new(&columns);
    for (label, run) in &runs {
        let h = match run {
            Ok(h) => h,
            Err(why) => {
                let mut row = vec![label.clone(), why.clone()];
                row.resize(columns.len(), "–".to_string());
                table.push(row);
                continue;
            }
        };
        let Some(last) = h.epochs.last() else {
            continue;
        };
        let mut row = vec![
            label.clone(),
            format!("{:.4}", last.test_acc),
            format!("{:.4}", last.train_acc),
            format!("{:.4}", last.loss),
            format!("{:.2}", h.train_seconds),
        ];
        if let Some(t) = cmd.target {
            match time_to(h, t) {
                Some((epoch, secs)) => row.extend([epoch.to_string(), format!("{secs:.3}")]),
                None => row.extend(["not reached".to_string(), "–".to_string()]),
            }
        }
        table.push(row);
    }
    let md = markdown::render(&table);
    crate::out!("{md}");
    if let Some(p) = &cmd.log {
        let finished: Vec<(String, &History)> = runs
            .iter()
            .filter_map(|(label, run)| run.as_ref().ok().map(|h| (label.clone(), h)))
            .collect();
        write_output(p, csv::render(&training::group_table(&finished)).as_bytes())?;
    }
    if let Some(p) = &cmd.markdown {
        write_output(p, md.as_bytes())?;
    }
    if let Some(p) = &cmd.plot {
        let series = |f: fn(&crate::train::EpochRecord) -> f64| -> Vec<Series> {
            runs.iter()
                .filter_map(|(label, run)| run.as_ref().ok().map(|h| (label, h)))
                .map(|(label, h)| Series {
                    name: label.clone(),
                    points: h.epochs.iter().map(|r| (r.epoch as f64, f(r))).collect(),
                })
                .collect()
        };
        let mut acc = LineChart::new(
            format!("{}: test accuracy", ds.name),
            "epoch",
            "test accuracy",
        );
        acc.legend = Legend::Auto;
        acc.series = series(|r| r.test_acc);
        let lowest = acc
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(1.0_f64, f64::min);
        acc.y_min = Some((lowest - 0.02).clamp(0.0, 0.98));
        acc.y_max = Some(1.0);
        let finished: Vec<(&str, &History)> = runs
            .iter()
            .filter_map(|(label, run)| run.as_ref().ok().map(|h| (label.as_str(), h)))
            .collect();
        let loss = training::loss_chart(&ds.name.to_string(), &finished);
        let sub = subtitle(&key, &setups[0], &ds)?;
        let svg = crate::report::svg::render_column(&[acc, loss], Some(&sub))?;
        write_output(p, svg.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{parse_vary, time_to};
    use crate::train::{EpochRecord, History};

    #[test]
    fn time_to_is_the_first_epoch_at_the_target_with_the_seconds_so_far() {
        let h = History {
            epochs: [0.5, 0.8, 0.79, 0.9]
                .iter()
                .enumerate()
                .map(|(i, &acc)| EpochRecord {
                    epoch: i + 1,
                    iterations: 10 * (i + 1),
                    loss: 1.0,
                    train_acc: acc,
                    test_acc: acc,
                    seconds: 0.25,
                    samples_per_sec: 1.0,
                    eval_samples: None,
                })
                .collect(),
            ..History::default()
        };
        assert_eq!(time_to(&h, 0.8), Some((2, 0.5)));
        assert_eq!(time_to(&h, 0.85), Some((4, 1.0)));
        assert_eq!(time_to(&h, 0.95), None);
    }

    #[test]
    fn vary_syntax() {
        assert_eq!(
            parse_vary("hidden=50:100,50").unwrap(),
            (
                "hidden".to_string(),
                vec!["50".to_string(), "100,50".to_string()]
            )
        );
        assert_eq!(
            parse_vary("augment=none/shift:2,rotate:10").unwrap().1,
            ["none", "shift:2,rotate:10"]
        );
        assert_eq!(parse_vary("lr=0.1,0.01").unwrap().1.len(), 2);
        assert!(parse_vary("lr=0.1").is_err());
        assert!(parse_vary("lr").is_err());
    }
}
