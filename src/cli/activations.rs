//! `scratchnet activations`: random inputs through an untrained stack of layers, and what each
//! layer's activations look like for each initial weight scale — the book's histograms of
//! sigmoid activations at σ = 1, σ = 0.01 and Xavier, and of ReLU's with He.

use std::path::PathBuf;

use clap::Args;

use crate::activations::{LayerActivations, Stack, histogram};
use crate::error::{Error, Result};
use crate::memory;
use crate::nn::init::Init;
use crate::nn::spec::Activation;
use crate::output::{self, Named, write_output};
use crate::report::histograms::{Panel, Row, grid};
use crate::report::{Align, Table, markdown};

#[derive(Debug, Args)]
pub struct ActivationsCmd {
    /// relu, sigmoid or tanh.
    #[arg(long, default_value = "sigmoid")]
    pub activation: String,
    /// The initial weight scales to compare, comma-separated: std:SIGMA, xavier or he
    /// [default: std:1,std:0.01,xavier for sigmoid and tanh; std:0.01,xavier,he for relu].
    #[arg(long)]
    pub init: Option<String>,
    /// Hidden layers in the stack.
    #[arg(long, default_value_t = 5)]
    pub layers: usize,
    /// Units in every layer (and values per input row).
    #[arg(long, default_value_t = 100)]
    pub units: usize,
    /// Random input rows, each value N(0, 1).
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Bins of each histogram.
    #[arg(long, default_value_t = 30)]
    pub bins: usize,
    /// Seed for the inputs and the weights.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Draw the histograms, one row per init and one panel per layer, as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

pub fn run(cmd: ActivationsCmd) -> Result<()> {
    let activation: Activation = cmd.activation.parse()?;
    let default = match activation {
        Activation::Relu => "std:0.01,xavier,he",
        _ => "std:1,std:0.01,xavier",
    };
    let inits = crate::cli::parse_list("--init", cmd.init.as_deref().unwrap_or(default), |s| {
        s.parse::<Init>()
    })?;
    if inits.is_empty() {
        return Err(Error::Config(
            "--init: give at least one scale, e.g. std:1,xavier".into(),
        ));
    }
    for (flag, value) in [
        ("--layers", cmd.layers),
        ("--units", cmd.units),
        ("--samples", cmd.samples),
        ("--bins", cmd.bins),
    ] {
        if value == 0 {
            return Err(Error::Config(format!("{flag} must be at least 1")));
        }
    }
    // The inputs and every layer's activations, kept while the network runs (f64), and the
    // values kept for binning, per init.
    let per_run = memory::product(&[cmd.samples, cmd.units, 2 * cmd.layers + 3, 8]);
    memory::check(
        &format!(
            "{} layers of {} units on {} samples",
            cmd.layers, cmd.units, cmd.samples
        ),
        per_run.and_then(|b| b.checked_mul(inits.len() as u64 + 1)),
    )?;
    if let Some(p) = &cmd.plot {
        output::check_outputs(&[Named::new("--plot", p)], &[], &[])?;
    }
    let stack = Stack {
        activation,
        layers: cmd.layers,
        units: cmd.units,
        samples: cmd.samples,
        seed: cmd.seed,
    };
    let runs: Vec<Vec<LayerActivations>> = inits
        .iter()
        .map(|&init| stack.run(init))
        .collect::<Result<_>>()?;
    crate::outln!(
        "{} random rows of {} values N(0, 1) through {} untrained {} layers of {} units, seed {}",
        cmd.samples,
        cmd.units,
        cmd.layers,
        activation.name(),
        cmd.units,
        cmd.seed
    );
    let flat = match activation {
        Activation::Sigmoid => "share < 0.01 or > 0.99",
        Activation::Tanh => "share beyond ±0.99",
        Activation::Relu => "share of zeros",
    };
    let mut table = Table::new(&[
        ("init", Align::Left),
        ("layer", Align::Right),
        ("σ of the weights", Align::Right),
        ("mean", Align::Right),
        ("std", Align::Right),
        (flat, Align::Right),
    ]);
    for (init, layers) in inits.iter().zip(&runs) {
        for (i, l) in layers.iter().enumerate() {
            table.push(vec![
                init.name(),
                (i + 1).to_string(),
                format!("{:.4}", init.std(cmd.units)),
                format!("{:.4}", l.mean),
                format!("{:.4}", l.std),
                format!("{:.1} %", 100.0 * l.flat),
            ]);
        }
    }
    crate::out!("{}", markdown::render(&table));
    if let Some(p) = &cmd.plot {
        let range = stack.range(&runs);
        let rows: Vec<Row> = inits
            .iter()
            .zip(&runs)
            .map(|(init, layers)| Row {
                label: init.name(),
                panels: layers
                    .iter()
                    .enumerate()
                    .map(|(i, l)| Panel {
                        title: match activation {
                            Activation::Relu => format!(
                                "layer {} · {:.0} % zeros (not drawn)",
                                i + 1,
                                100.0 * l.flat
                            ),
                            _ => format!("layer {} · std {:.3}", i + 1, l.std),
                        },
                        counts: histogram(&l.values, range.0, range.1, cmd.bins),
                    })
                    .collect(),
            })
            .collect();
        let subtitle = format!(
            "{} activations of {} random rows through {} untrained layers of {} units · seed {}",
            activation.name(),
            cmd.samples,
            cmd.layers,
            cmd.units,
            cmd.seed
        );
        let svg = grid(
            &rows,
            range,
            &format!("{} output", activation.name()),
            &subtitle,
        )?;
        write_output(p, svg.as_bytes())?;
    }
    Ok(())
}
