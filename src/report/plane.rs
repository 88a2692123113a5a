//! SVG figures of the (x0, x1) plane: gradient descent over contours and a classifier's
//! decision field with its points. The line charts are in [`svg`](super::svg).

use plotters::prelude::*;

use super::svg::{COLORS, Plot, chart_err, draw_legend, figure, with_subtitle};
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
        draw_descent(chart, path, (1.0, 1.0), (half, half), COLORS[1], 3)?
            .label("x ← x − lr·∇f(x)")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], COLORS[1].stroke_width(3))
            });
        draw_legend(chart, SeriesLabelPosition::UpperRight)
    })
}

/// Several descents on one function, a panel each (two to a row), over the contours
/// x²/a² + y²/b² = c of `axes` = (a, b), in [-hx, hx] × [-hy, hy]: the book's figure of SGD,
/// Momentum, AdaGrad and Adam on x²/20 + y².
pub fn descent_grid(
    panels: &[(String, &[[f64; 2]])],
    axes: (f64, f64),
    (hx, hy): (f64, f64),
    subtitle: &str,
) -> Result<String> {
    if panels.is_empty() {
        return Err(crate::Error::Config("nothing to plot: no paths".into()));
    }
    let cols = panels.len().min(2);
    let rows = panels.len().div_ceil(cols);
    let (w, h) = (480 * cols as u32, 30 + 300 * rows as u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let body = with_subtitle(&root, subtitle)?;
        for (i, ((title, path), area)) in panels
            .iter()
            .zip(body.split_evenly((rows, cols)))
            .enumerate()
        {
            let mut chart = ChartBuilder::on(&area)
                .caption(title, ("sans-serif", 17))
                .margin(10)
                .x_label_area_size(30)
                .y_label_area_size(36)
                .build_cartesian_2d(-hx..hx, -hy..hy)
                .map_err(chart_err)?;
            chart
                .configure_mesh()
                .label_style(("sans-serif", 12))
                .light_line_style(WHITE)
                .bold_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(chart_err)?;
            draw_descent(
                &mut chart,
                path,
                axes,
                (hx, hy),
                COLORS[i % COLORS.len()],
                2,
            )?;
            // The minimum.
            chart
                .draw_series(std::iter::once(Cross::new(
                    (0.0, 0.0),
                    5,
                    BLACK.stroke_width(2),
                )))
                .map_err(chart_err)?;
        }
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

/// The contours x²/a² + y²/b² = r² that fit in [-hx, hx] × [-hy, hy] in gray (r in steps of
/// 0.5 for circles, of an eighth of the largest that fits for ellipses), then `path` up to
/// where it first leaves that box, as a line with a dot at every point.
fn draw_descent<'c, 'a>(
    chart: &'c mut Plot<'a>,
    path: &[[f64; 2]],
    (a, b): (f64, f64),
    (hx, hy): (f64, f64),
    color: RGBColor,
    dot: u32,
) -> Result<&'c mut plotters::chart::SeriesAnno<'a, SVGBackend<'a>>> {
    let gray = RGBColor(170, 170, 170);
    let fits = (hx / a).min(hy / b);
    let step = if (a, b) == (1.0, 1.0) {
        0.5
    } else {
        fits / 8.0
    };
    let mut r = step;
    while r <= fits + 1e-9 {
        let ring: Vec<(f64, f64)> = (0..=120)
            .map(|i| {
                let t = std::f64::consts::TAU * i as f64 / 120.0;
                (a * r * t.cos(), b * r * t.sin())
            })
            .collect();
        chart
            .draw_series(LineSeries::new(ring, gray.stroke_width(1)))
            .map_err(chart_err)?;
        r += step;
    }
    let inside: Vec<(f64, f64)> = path
        .iter()
        .take_while(|p| p[0].abs() <= hx && p[1].abs() <= hy)
        .map(|p| (p[0], p[1]))
        .collect();
    chart
        .draw_series(inside.iter().map(|&p| Circle::new(p, dot, color.filled())))
        .map_err(chart_err)?;
    chart
        .draw_series(LineSeries::new(inside, color.stroke_width(2)))
        .map_err(chart_err)
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
