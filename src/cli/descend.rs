//! `scratchnet descend`: descent on a function of two variables — the course's gradient descent
//! on x0² + x1² from (-3, 4) with the numerical gradient (what the learning rate does), and the
//! book's SGD, Momentum, AdaGrad and Adam on x²/20 + y² from (-7, 2) (what the optimizer does).

use std::path::PathBuf;

use clap::Args;

use crate::descend::{Surface, descend};
use crate::error::{Error, Result};
use crate::memory;
use crate::optim::OptimizerConfig;
use crate::output::{self, Named, write_output};
use crate::report::plane;

#[derive(Debug, Args)]
pub struct DescendCmd {
    /// sphere: x0² + x1² with the numerical gradient (the course's chapter 4); elongated:
    /// x²/20 + y² with its analytic gradient (the book's optimizer comparison).
    #[arg(long, default_value = "sphere")]
    pub function: String,
    /// The optimizers, comma-separated, each NAME or NAME:LR (sgd, momentum, nesterov, adagrad,
    /// rmsprop, adam), e.g. sgd:0.95,momentum:0.1,adagrad:1.5,adam:0.3 as in the book.
    #[arg(long, default_value = "sgd")]
    pub optimizer: String,
    /// Learning rate of every optimizer given without one.
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// Number of updates [default: 100 on sphere, 30 on elongated].
    #[arg(long)]
    pub steps: Option<usize>,
    /// Starting point x0,x1 [default: -3,4 on sphere, -7,2 on elongated].
    #[arg(long, allow_hyphen_values = true)]
    pub init: Option<String>,
    /// Draw each path over the function's contours as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// A `--optimizer` item: `NAME` (with `lr`) or `NAME:LR`.
fn parse_optimizer(item: &str, lr: f64) -> Result<OptimizerConfig> {
    // from_name refuses a learning rate that is not positive and finite.
    let (name, lr) = match item.split_once(':') {
        Some((name, v)) => (
            name,
            v.trim().parse::<f64>().map_err(|_| {
                Error::Config(format!("'{item}': '{v}' is not a finite learning rate"))
            })?,
        ),
        None => (item, lr),
    };
    OptimizerConfig::from_name(name.trim(), Some(lr))
}

pub fn run(cmd: DescendCmd) -> Result<()> {
    if !cmd.lr.is_finite() {
        return Err(Error::Config(format!(
            "--lr must be a finite number, got {}",
            cmd.lr
        )));
    }
    let surface: Surface = cmd.function.parse()?;
    let optimizers = crate::cli::parse_list("--optimizer", &cmd.optimizer, |item| {
        parse_optimizer(item, cmd.lr)
    })?;
    if optimizers.is_empty() {
        return Err(Error::Config(
            "--optimizer: name at least one, e.g. sgd or sgd:0.95,adam:0.3".into(),
        ));
    }
    let init = match &cmd.init {
        None => surface.start(),
        Some(text) => {
            let coords: Vec<f64> = text
                .split(',')
                .map(|v| v.trim().parse::<f64>())
                .collect::<std::result::Result<_, _>>()
                .ok()
                .filter(|v: &Vec<f64>| v.len() == 2 && v.iter().all(|x| x.is_finite()))
                .ok_or_else(|| {
                    Error::Config(format!("--init '{text}': expected two numbers, e.g. -3,4"))
                })?;
            [coords[0], coords[1]]
        }
    };
    let steps = cmd.steps.unwrap_or(surface.steps());
    if let Some(p) = &cmd.plot {
        output::check_outputs(&[Named::new("--plot", p)], &[], &[])?;
    }
    // Each path keeps every step's point (16 bytes each).
    memory::check(
        &format!("--steps {steps}"),
        steps
            .checked_add(1)
            .and_then(|n| memory::product(&[n, 16, optimizers.len()])),
    )?;
    let f = |x: [f64; 2]| surface.value(x);
    let start_f = f(init);
    let verdict = |end: [f64; 2]| {
        let fe = f(end);
        if !fe.is_finite() || fe > start_f * 10.0 {
            "diverged: the learning rate is too large"
        } else if fe < start_f * 1e-6 {
            "converged to the minimum at (0, 0)"
        } else if fe > start_f * 0.99 {
            "barely moved: the learning rate is too small"
        } else {
            "on its way to the minimum (more steps or a larger learning rate)"
        }
    };
    let vars = surface.variables();
    let paths: Vec<(OptimizerConfig, Vec<[f64; 2]>)> = optimizers
        .iter()
        .map(|&cfg| (cfg, descend(|x| surface.gradient(x), init, cfg, steps)))
        .collect();
    let single_sgd = matches!(paths.as_slice(), [(OptimizerConfig::Sgd { .. }, _)]);
    if single_sgd {
        crate::outln!(
            "f({vars}) = {}, start ({}, {}), lr {}, {steps} steps",
            surface.formula(),
            init[0],
            init[1],
            paths[0].0.lr()
        );
    } else {
        crate::outln!(
            "f({vars}) = {}, start ({}, {}), {steps} steps",
            surface.formula(),
            init[0],
            init[1]
        );
    }
    for (cfg, path) in &paths {
        let end = path[path.len() - 1];
        let who = if single_sgd {
            String::new()
        } else {
            format!("{} lr {}: ", cfg.name(), cfg.lr())
        };
        crate::outln!(
            "{who}end point ({:.8e}, {:.8e}), f = {:.8e}",
            end[0],
            end[1],
            f(end)
        );
        crate::outln!("{}{}", " ".repeat(who.chars().count()), verdict(end));
    }
    if let Some(p) = &cmd.plot {
        let svg = if single_sgd && surface == Surface::Sphere {
            let (path, lr) = (&paths[0].1, paths[0].0.lr());
            let outside = path
                .iter()
                .position(|q| q[0].abs() > 4.5 || q[1].abs() > 4.5);
            let v = verdict(path[path.len() - 1]);
            let subtitle = match outside {
                Some(i) => format!("lr {lr} · {steps} steps · left the plot at step {i}: {v}"),
                None => format!("lr {lr} · {steps} steps · {v}"),
            };
            let title = format!("gradient descent on x0² + x1², lr = {lr}");
            plane::descent_chart(path, &title, &subtitle, 4.5)?
        } else {
            let panels: Vec<(String, &[[f64; 2]])> = paths
                .iter()
                .map(|(cfg, path)| (format!("{} (lr {})", cfg.name(), cfg.lr()), &path[..]))
                .collect();
            // Panels twice as wide as high, with room around the start.
            let hy = (1.5 * init[1].abs()).max(0.75 * init[0].abs()).max(1.0);
            let extent = (2.0 * hy, hy);
            let subtitle = format!(
                "f({vars}) = {} from ({}, {}), {steps} steps; the cross is the minimum",
                surface.formula(),
                init[0],
                init[1]
            );
            plane::descent_grid(&panels, surface.axes(), extent, &subtitle)?
        };
        write_output(p, svg.as_bytes())?;
    }
    Ok(())
}
