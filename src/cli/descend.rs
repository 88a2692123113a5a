//! `scratchnet descend`: gradient descent on f(x0, x1) = x0² + x1² from (-3, 4) with the
//! numerical gradient — the course's demonstration of what the learning rate does.

use std::path::PathBuf;

use clap::Args;

use crate::descend::{function_2, gradient_descent};
use crate::error::{Error, Result};
use crate::memory;
use crate::output::{self, Named, write_output};
use crate::report::plane;

#[derive(Debug, Args)]
pub struct DescendCmd {
    /// Learning rate.
    #[arg(long, default_value_t = 0.1)]
    pub lr: f64,
    /// Number of updates.
    #[arg(long, default_value_t = 100)]
    pub steps: usize,
    /// Starting point x0,x1.
    #[arg(long, default_value = "-3,4", allow_hyphen_values = true)]
    pub init: String,
    /// Draw the path over the function's contours as SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

pub fn run(cmd: DescendCmd) -> Result<()> {
    if !cmd.lr.is_finite() {
        return Err(Error::Config(format!(
            "--lr must be a finite number, got {}",
            cmd.lr
        )));
    }
    let coords: Vec<f64> = cmd
        .init
        .split(',')
        .map(|v| v.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .ok()
        .filter(|v: &Vec<f64>| v.len() == 2 && v.iter().all(|x| x.is_finite()))
        .ok_or_else(|| {
            Error::Config(format!(
                "--init '{}': expected two numbers, e.g. -3,4",
                cmd.init
            ))
        })?;
    if let Some(p) = &cmd.plot {
        output::check_outputs(&[Named::new("--plot", p)], &[], &[])?;
    }
    // The path keeps every step's point (16 bytes each).
    memory::check(
        &format!("--steps {}", cmd.steps),
        cmd.steps
            .checked_add(1)
            .and_then(|n| memory::product(&[n, 16])),
    )?;
    let init = [coords[0], coords[1]];
    let path = gradient_descent(function_2, init, cmd.lr, cmd.steps);
    let end = path[path.len() - 1];
    crate::outln!(
        "f(x0, x1) = x0² + x1², start ({}, {}), lr {}, {} steps",
        init[0],
        init[1],
        cmd.lr,
        cmd.steps
    );
    crate::outln!(
        "end point ({:.8e}, {:.8e}), f = {:.8e}",
        end[0],
        end[1],
        function_2(end)
    );
    let start_f = function_2(init);
    let verdict = if !function_2(end).is_finite() || function_2(end) > start_f * 10.0 {
        "diverged: the learning rate is too large"
    } else if function_2(end) < start_f * 1e-6 {
        "converged to the minimum at (0, 0)"
    } else if function_2(end) > start_f * 0.99 {
        "barely moved: the learning rate is too small"
    } else {
        "on its way to the minimum (more steps or a larger learning rate)"
    };
    crate::outln!("{verdict}");
    if let Some(p) = &cmd.plot {
        let outside = path
            .iter()
            .position(|q| q[0].abs() > 4.5 || q[1].abs() > 4.5);
        let subtitle = match outside {
            Some(i) => format!(
                "lr {} · {} steps · left the plot at step {i}: {verdict}",
                cmd.lr, cmd.steps
            ),
            None => format!("lr {} · {} steps · {verdict}", cmd.lr, cmd.steps),
        };
        let title = format!("gradient descent on x0² + x1², lr = {}", cmd.lr);
        write_output(
            p,
            plane::descent_chart(&path, &title, &subtitle, 4.5)?.as_bytes(),
        )?;
    }
    Ok(())
}
