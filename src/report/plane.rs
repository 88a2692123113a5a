//! SVG figures of the (x0, x1) plane: gradient descent over contours and a classifier's
//! decision field with its points. The line charts are in [`svg`](super::svg).

use plotters::prelude::*;

use super::svg::{COLORS, Plot, chart_err, draw_legend, figure};
use crate::error::Result;

/// A square figure of the plane [-`half`, `half`]² with axes x0 and x1; `draw` adds the mesh
/// and the content. Returns the SVG text.
fn plane_figure(
    title: &str,
    subtitle: &str,
    half: f64,
    draw: impl FnOnce(&mut Plot<'_>) -> Result<()>,
) -> Result<String> {
    figure(
        (720, 760),
        title,
        subtitle,
        (-half..half, -half..half),
        60,
        draw,
    )
}

/// A path of gradient descent drawn over the contours of f(x0, x1) = x0² + x1², in the square
/// [-`half`, `half`]²; points outside it are left out (the caption says when that happened).
pub fn descent_chart(path: &[[f64; 2]], title: &str, subtitle: &str, half: f64) -> Result<String> {
    plane_figure(title, subtitle, half, |chart| {
        chart
            .configure_mesh()
            .x_desc("x0")
            .y_desc("x1")
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(chart_err)?;
        // Contours f = r² for r = 0.5, 1, …: circles.
        let gray = RGBColor(170, 170, 170);
        let mut r = 0.5;
        while r <= half {
            let circle: Vec<(f64, f64)> = (0..=120)
                .map(|i| {
                    let a = std::f64::consts::TAU * i as f64 / 120.0;
                    (r * a.cos(), r * a.sin())
                })
                .collect();
            chart
                .draw_series(LineSeries::new(circle, gray.stroke_width(1)))
                .map_err(chart_err)?;
            r += 0.5;
        }
        let inside: Vec<(f64, f64)> = path
            .iter()
            .take_while(|p| p[0].abs() <= half && p[1].abs() <= half)
            .map(|p| (p[0], p[1]))
            .collect();
        let color = COLORS[1];
        chart
            .draw_series(LineSeries::new(inside.clone(), color.stroke_width(2)))
            .map_err(chart_err)?
            .label("x ← x − lr·∇f(x)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
            });
        chart
            .draw_series(inside.iter().map(|&p| Circle::new(p, 3, color.filled())))
            .map_err(chart_err)?;
        draw_legend(chart, SeriesLabelPosition::UpperRight)
    })
}

/// A classifier's decision field over a square: `field[i][j]` is P(class 1) at the centre of
/// cell (i, j) of an n×n grid over [-`half`, `half`]² (i along x0, j along x1), drawn from blue
/// (class 0) to orange (class 1); `points` are (x0, x1, label, is_test) — training points filled,
/// test points hollow.
pub fn decision_field_chart(
    field: &[Vec<f64>],
    points: &[(f64, f64, usize, bool)],
    half: f64,
    title: &str,
    subtitle: &str,
) -> Result<String> {
    plane_figure(title, subtitle, half, |chart| {
        chart
            .configure_mesh()
            .x_desc("x0")
            .y_desc("x1")
            .disable_mesh()
            .label_style(("sans-serif", 14))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(chart_err)?;
        let n = field.len().max(1);
        let cell = 2.0 * half / n as f64;
        let (blue, orange) = ((0.0, 114.0, 178.0), (230.0, 159.0, 0.0));
        let mix = |p: f64| {
            // White at p = 0.5, saturating towards each class colour (pale, so points show).
            let (c, t) = if p < 0.5 {
                (blue, 1.0 - 2.0 * p)
            } else {
                (orange, 2.0 * p - 1.0)
            };
            let t = 0.55 * t.clamp(0.0, 1.0);
            let ch = |v: f64| (255.0 + (v - 255.0) * t).round() as u8;
            RGBColor(ch(c.0), ch(c.1), ch(c.2))
        };
        chart
            .draw_series(field.iter().enumerate().flat_map(|(i, col)| {
                col.iter().enumerate().map(move |(j, &p)| {
                    let (x, y) = (-half + i as f64 * cell, -half + j as f64 * cell);
                    Rectangle::new([(x, y), (x + cell, y + cell)], mix(p).filled())
                })
            }))
            .map_err(chart_err)?;
        let color = |label: usize| {
            if label == 1 {
                RGBColor(213, 94, 0)
            } else {
                RGBColor(0, 90, 160)
            }
        };
        chart
            .draw_series(
                points
                    .iter()
                    .filter(|p| !p.3)
                    .map(|&(x, y, l, _)| Circle::new((x, y), 3, color(l).filled())),
            )
            .map_err(chart_err)?
            .label("train (filled)")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, BLACK.filled()));
        chart
            .draw_series(
                points
                    .iter()
                    .filter(|p| p.3)
                    .map(|&(x, y, l, _)| Circle::new((x, y), 4, color(l).stroke_width(2))),
            )
            .map_err(chart_err)?
            .label("test (hollow)")
            .legend(|(x, y)| Circle::new((x + 10, y), 4, BLACK.stroke_width(2)));
        draw_legend(chart, SeriesLabelPosition::UpperRight)
    })
}
