//! The Playground's pictures: a run's output over the plane with its points, as SVG (what
//! `playground --plot` writes and the web app offers as a download).

use crate::error::Result;
use crate::nn::spec::describe_layers;
use crate::playground::{HALF, PlaygroundRun, Snapshot};
use crate::report::plane;

/// `P(class 1)`-like values in [0, 1] for the field chart, `field[i][j]` with i along x₁ and j
/// along x₂ from below, from a snapshot's output (rows from the top).
pub fn field_for_chart(snap: &Snapshot) -> Vec<Vec<f64>> {
    let g = snap.grid;
    (0..g)
        .map(|i| {
            (0..g)
                .map(|j| {
                    let v = snap.output[(g - 1 - j) * g + i];
                    ((f64::from(v) + 1.0) / 2.0).clamp(0.0, 1.0)
                })
                .collect()
        })
        .collect()
}

/// Every point as the field chart takes them: (x₁, x₂, positive?, is_test).
pub fn chart_points(run: &PlaygroundRun) -> Vec<(f64, f64, usize, bool)> {
    let d = &run.data;
    let mut p = Vec::new();
    for (x, y, test) in [
        (&d.x_train, &d.y_train, false),
        (&d.x_test, &d.y_test, true),
    ] {
        for (i, &t) in y.iter().enumerate() {
            let (a, b) = (f64::from(x.get(i, 0)), f64::from(x.get(i, 1)));
            p.push((a, b, usize::from(t > 0.0), test));
        }
    }
    p
}

/// The run's picture: its output over the plane with every point, as SVG.
pub fn picture(run: &mut PlaygroundRun, snap: &Snapshot, title: &str, sub: &str) -> Result<String> {
    plane::decision_field_chart(
        &field_for_chart(snap),
        &chart_points(run),
        f64::from(HALF),
        title,
        sub,
    )
}

/// The title every picture of `run` carries: the set and the network.
pub fn title(run: &PlaygroundRun) -> String {
    format!(
        "{} · {}",
        run.settings().set.name(),
        describe_layers(run.net.specs())
    )
}
