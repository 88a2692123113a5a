//! The picture of a hyper-parameter search: each trial's validation accuracy against its
//! learning rate and against its weight decay, on log axes, the best trials in colour — where
//! the good values lie, which is what one reads a search for before narrowing its ranges.

use plotters::prelude::*;

use super::svg::{COLORS, chart_err, draw_legend, emptiest_place, house_mesh, with_subtitle};
use crate::error::{Error, Result};

/// One trial as drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// The trial's learning rate.
    pub lr: f64,
    /// The trial's weight decay.
    pub weight_decay: f64,
    /// `None`: the trial diverged.
    pub val_acc: Option<f64>,
    /// Its rank, best first (1-based).
    pub rank: usize,
}

/// The chart as SVG: one panel per searched parameter (the weight decay's only when
/// `weight_decay` was searched), the `top` best trials in colour and the best one marked,
/// the others grey, diverged trials as red crosses along the bottom.
pub fn chart(
    points: &[Point],
    weight_decay: bool,
    top: usize,
    title: &str,
    subtitle: &str,
) -> Result<String> {
    if points.is_empty() {
        return Err(Error::Config("nothing to plot: no trials".into()));
    }
    type Axis = (&'static str, fn(&Point) -> f64);
    let mut panels: Vec<Axis> = vec![("learning rate", |p| p.lr)];
    if weight_decay {
        panels.push(("weight decay", |p| p.weight_decay));
    }
    let height = 40 + 480 * panels.len() as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let body = with_subtitle(&root, subtitle)?;
        for ((name, value), area) in panels.iter().zip(body.split_evenly((panels.len(), 1))) {
            let logs: Vec<f64> = points.iter().map(|p| value(p).log10()).collect();
            let lo = logs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let (x0, x1) = (lo.floor(), hi.ceil().max(lo.floor() + 1.0));
            let mut chart = ChartBuilder::on(&area)
                .caption(format!("{title}: against the {name}"), ("sans-serif", 20))
                .margin(16)
                .x_label_area_size(50)
                .y_label_area_size(60)
                .build_cartesian_2d(x0..x1, 0.0..1.0)
                .map_err(chart_err)?;
            house_mesh(
                chart
                    .configure_mesh()
                    .x_desc(format!("{name} (log scale)"))
                    .y_desc("validation accuracy")
                    .x_labels((x1 - x0) as usize + 1)
                    .x_label_formatter(&|v: &f64| format!("1e{:.0}", v)),
            )
            .draw()
            .map_err(chart_err)?;
            let at = |p: &Point| (value(p).log10(), p.val_acc.unwrap_or(0.0));
            let grey = RGBColor(170, 170, 170);
            let rest: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.val_acc.is_some() && p.rank > top)
                .map(at)
                .collect();
            if !rest.is_empty() {
                chart
                    .draw_series(rest.iter().map(|&q| Circle::new(q, 4, grey.filled())))
                    .map_err(chart_err)?
                    .label("the other trials")
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, grey.filled()));
            }
            let best: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.val_acc.is_some() && p.rank <= top)
                .map(at)
                .collect();
            let blue = COLORS[0];
            chart
                .draw_series(best.iter().map(|&q| Circle::new(q, 6, blue.filled())))
                .map_err(chart_err)?
                .label(format!("the best {}", best.len()))
                .legend(move |(x, y)| Circle::new((x + 10, y), 6, blue.filled()));
            if let Some(first) = points.iter().find(|p| p.rank == 1 && p.val_acc.is_some()) {
                let orange = COLORS[1];
                chart
                    .draw_series(std::iter::once(Circle::new(
                        at(first),
                        9,
                        orange.stroke_width(3),
                    )))
                    .map_err(chart_err)?
                    .label(format!(
                        "the best: {:.4} at {name} {:.2e}",
                        first.val_acc.unwrap_or(0.0),
                        value(first)
                    ))
                    .legend(move |(x, y)| Circle::new((x + 10, y), 7, orange.stroke_width(3)));
            }
            let diverged: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.val_acc.is_none())
                .map(|p| (value(p).log10(), 0.02))
                .collect();
            if !diverged.is_empty() {
                let red = RGBColor(200, 30, 30);
                chart
                    .draw_series(
                        diverged
                            .iter()
                            .map(|&q| Cross::new(q, 5, red.stroke_width(2))),
                    )
                    .map_err(chart_err)?
                    .label(format!("diverged ({})", diverged.len()))
                    .legend(move |(x, y)| Cross::new((x + 10, y), 5, red.stroke_width(2)));
            }
            let at_unit: Vec<(f64, f64)> = points
                .iter()
                .map(|p| {
                    let (x, y) = at(p);
                    ((x - x0) / (x1 - x0), y.max(0.02))
                })
                .collect();
            draw_legend(&mut chart, emptiest_place(&at_unit))?;
        }
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(lr: f64, weight_decay: f64, val_acc: Option<f64>, rank: usize) -> Point {
        Point {
            lr,
            weight_decay,
            val_acc,
            rank,
        }
    }

    #[test]
    fn draws_a_panel_per_searched_parameter_and_marks_the_best() {
        let points = [
            point(1e-3, 1e-6, Some(0.8), 1),
            point(1e-5, 1e-7, Some(0.3), 3),
            point(3e-3, 1e-5, Some(0.7), 2),
            point(0.5, 1e-8, None, 4),
        ];
        let both = chart(&points, true, 2, "mnist", "sub").unwrap();
        for text in [
            "against the learning rate",
            "against the weight decay",
            "the best 2",
            "the other trials",
            "diverged (1)",
            "the best: 0.8000 at learning rate 1.00e-3",
            "sub",
        ] {
            assert!(both.contains(text), "missing {text}");
        }
        let one = chart(&points, false, 2, "mnist", "sub").unwrap();
        assert!(!one.contains("against the weight decay"));
        assert!(chart(&[], true, 2, "t", "s").is_err());
    }
}
