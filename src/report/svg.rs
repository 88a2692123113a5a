//! SVG line charts through `plotters` (SVG backend only, so no font or system library is
//! needed; the viewer's browser renders the text). The 2-D plane figures are in
//! [`plane`](super::plane).

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// One named curve.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// The line's name in the legend.
    pub name: String,
    /// (x, y) points, in the order drawn.
    pub points: Vec<(f64, f64)>,
}

/// Where the legend box sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Legend {
    /// The legend in the top left corner.
    UpperLeft,
    /// The legend in the top right corner.
    UpperRight,
    /// The legend in the bottom left corner.
    LowerLeft,
    /// The legend in the bottom right corner.
    LowerRight,
    /// Wherever it covers the fewest points of the curves (`emptiest_place`).
    Auto,
}

/// A line chart: one curve per series, a legend, labelled axes.
#[derive(Clone, Debug, PartialEq)]
pub struct LineChart {
    /// The chart's title.
    pub title: String,
    /// A line under the title (the run's settings).
    pub subtitle: Option<String>,
    /// The x axis' label.
    pub x_label: String,
    /// The y axis' label.
    pub y_label: String,
    /// Base-2 logarithmic x axis, ticks labelled with powers of two (for sizes 64…2048).
    pub log_x: bool,
    /// Fixed y range ends (default: 0 to just above the largest value).
    pub y_min: Option<f64>,
    /// The top of the y axis; `None`: the data's maximum.
    pub y_max: Option<f64>,
    /// Where the legend goes.
    pub legend: Legend,
    /// The lines.
    pub series: Vec<Series>,
}

impl LineChart {
    /// A chart with a linear x axis, y from 0, the legend at the upper left.
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
    ) -> Self {
        LineChart {
            title: title.into(),
            subtitle: None,
            x_label: x_label.into(),
            y_label: y_label.into(),
            log_x: false,
            y_min: None,
            y_max: None,
            legend: Legend::UpperLeft,
            series: Vec::new(),
        }
    }
}

/// Distinguishable colours (Okabe–Ito, readable with colour-vision deficiencies).
pub(super) const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

pub(super) fn chart_err(e: impl std::fmt::Display) -> Error {
    Error::Config(format!("could not draw the chart: {e}"))
}

impl LineChart {
    /// The chart as an SVG document.
    pub fn render(&self) -> Result<String> {
        render_column(std::slice::from_ref(self), self.subtitle.as_deref())
    }

    /// Draws the chart into `area`.
    fn draw(&self, area: &DrawingArea<SVGBackend<'_>, Shift>) -> Result<()> {
        // A log axis is drawn as a linear axis over log2(x), so ticks fall on powers of two
        // and read as sizes (64, 128, …) rather than plotters' decimal log ticks.
        let fx = |x: f64| if self.log_x { x.log2() } else { x };
        let series: Vec<Vec<(f64, f64)>> = self
            .series
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .filter(|p| p.1.is_finite() && (!self.log_x || p.0 > 0.0))
                    .map(|&(x, y)| (fx(x), y))
                    .collect()
            })
            .collect();
        let (mut x0, mut x1, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, 0.0_f64);
        for &(x, y) in series.iter().flatten() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        if !x0.is_finite() {
            return Err(Error::Config(
                "nothing to plot: the chart has no points".into(),
            ));
        }
        if x1 <= x0 {
            x1 = x0 + 1.0;
        }
        let (x0, x1) = if self.log_x {
            (x0 - 0.15, x1 + 0.15)
        } else {
            (x0, x1)
        };
        let y1 = match self.y_max {
            Some(m) => m,
            None if y1 > 0.0 => y1 * 1.08,
            None => 1.0,
        };
        let y0 = self.y_min.unwrap_or(0.0);
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(chart_err)?;
        let log_x = self.log_x;
        let x_fmt = move |x: &f64| {
            if log_x {
                format!("{}", 2f64.powf(*x).round())
            } else if x.fract() == 0.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.2}")
            }
        };
        // Whole-number x values (epochs) over a short range get one tick each, not 1.50, 2.50.
        let integral = series.iter().flatten().all(|p| p.0.fract() == 0.0);
        let x_ticks = if log_x {
            ((x1 - x0).floor() as usize + 1).max(2)
        } else if integral && x1 - x0 < 10.0 {
            (x1 - x0) as usize + 1
        } else {
            10
        };
        house_mesh(
            chart
                .configure_mesh()
                .x_desc(self.x_label.as_str())
                .y_desc(self.y_label.as_str())
                .x_labels(x_ticks)
                .x_label_formatter(&x_fmt),
        )
        .draw()
        .map_err(chart_err)?;
        for (i, (s, pts)) in self.series.iter().zip(&series).enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(chart_err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                });
            if pts.len() <= 60 {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(chart_err)?;
            }
        }
        let position = match self.legend {
            Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
            Legend::UpperRight => SeriesLabelPosition::UpperRight,
            Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
            Legend::LowerRight => SeriesLabelPosition::LowerRight,
            Legend::Auto => {
                // The curves as drawn, on the unit square, each segment sampled so a line
                // between two far-apart points counts where it passes.
                let unit = |(x, y): (f64, f64)| ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0));
                let mut traced = Vec::new();
                for pts in &series {
                    traced.extend(pts.first().map(|&p| unit(p)));
                    for w in pts.windows(2) {
                        let (a, b) = (unit(w[0]), unit(w[1]));
                        traced.extend((1..=8).map(|i| {
                            let t = f64::from(i) / 8.0;
                            (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
                        }));
                    }
                }
                emptiest_place(&traced)
            }
        };
        draw_legend(&mut chart, position)?;
        Ok(())
    }
}

/// Writes `subtitle` in small gray type across the top of `root`; returns the area below it.
pub(super) fn with_subtitle<'a>(
    root: &DrawingArea<SVGBackend<'a>, Shift>,
    subtitle: &str,
) -> Result<DrawingArea<SVGBackend<'a>, Shift>> {
    let (top, rest) = root.split_vertically(24);
    top.draw(&Text::new(
        subtitle,
        (12, 6),
        ("sans-serif", 13).into_font().color(&RGBColor(90, 90, 90)),
    ))
    .map_err(chart_err)?;
    Ok(rest)
}

/// A 2-D cartesian chart of f64 axes in an SVG document.
pub(super) type Plot<'a> =
    ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One figure of `size` pixels: white ground, `subtitle` across the top, `title` over axes
/// spanning `x` × `y` (with `y_labels` pixels for the y tick labels); `draw` adds the mesh and
/// the content. Returns the SVG text.
pub(super) fn figure(
    size: (u32, u32),
    title: &str,
    subtitle: &str,
    (x, y): (std::ops::Range<f64>, std::ops::Range<f64>),
    y_labels: u32,
    draw: impl FnOnce(&mut Plot<'_>) -> Result<()>,
) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let body = with_subtitle(&root, subtitle)?;
        let mut chart = ChartBuilder::on(&body)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(y_labels)
            .build_cartesian_2d(x, y)
            .map_err(chart_err)?;
        draw(&mut chart)?;
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

/// Several charts stacked vertically in one SVG, with an optional subtitle line on top.
pub fn render_column(charts: &[LineChart], subtitle: Option<&str>) -> Result<String> {
    let height = 600 * charts.len().max(1) as u32 - 200 * charts.len().saturating_sub(1) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (960, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let body = match subtitle {
            Some(sub) => with_subtitle(&root, sub)?,
            None => root.clone(),
        };
        for (chart, area) in charts.iter().zip(body.split_evenly((charts.len(), 1))) {
            chart.draw(&area)?;
        }
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

/// The axes' look every chart shares: label and description fonts, and a light grid of
/// major lines only.
pub(super) fn house_mesh<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: plotters::coord::ranged1d::Ranged<ValueType: std::fmt::Debug>,
    Y: plotters::coord::ranged1d::Ranged<ValueType: std::fmt::Debug>,
    DB: DrawingBackend,
{
    mesh.label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
}

/// Where in a chart a legend box covers the fewest of `points` (x and y scaled to the unit
/// square): one of the corners, or halfway up the right or left side; on a tie the earlier in
/// that order.
pub(super) fn emptiest_place(points: &[(f64, f64)]) -> SeriesLabelPosition {
    let places = [
        (SeriesLabelPosition::UpperLeft, 0.0..0.45, 0.75..1.01),
        (SeriesLabelPosition::LowerRight, 0.55..1.01, 0.0..0.25),
        (SeriesLabelPosition::UpperRight, 0.55..1.01, 0.75..1.01),
        (SeriesLabelPosition::LowerLeft, 0.0..0.45, 0.0..0.25),
        (SeriesLabelPosition::MiddleRight, 0.55..1.01, 0.375..0.625),
        (SeriesLabelPosition::MiddleLeft, 0.0..0.45, 0.375..0.625),
    ];
    let under = |xs: &std::ops::Range<f64>, ys: &std::ops::Range<f64>| {
        points
            .iter()
            .filter(|(x, y)| xs.contains(x) && ys.contains(y))
            .count()
    };
    places
        .iter()
        .min_by_key(|(_, xs, ys)| under(xs, ys))
        .map_or(SeriesLabelPosition::UpperLeft, |p| p.0.clone())
}

/// The legend box every chart uses: the series' labels on a light background.
pub(super) fn draw_legend<'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, CT>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(chart_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_series_legend_and_axes() {
        let mut chart = LineChart::new("GEMM", "n", "GFLOP/s");
        chart.subtitle = Some("machine".into());
        chart.log_x = true;
        chart.series = vec![
            Series {
                name: "naive".into(),
                points: vec![(64.0, 1.0), (128.0, 0.8)],
            },
            Series {
                name: "simd".into(),
                points: vec![(64.0, 40.0), (128.0, 70.0)],
            },
        ];
        let svg = chart.render().unwrap();
        assert!(svg.starts_with("<svg"));
        for text in ["GEMM", "GFLOP/s", "naive", "simd", "machine"] {
            assert!(svg.contains(text), "missing {text}");
        }
        assert!(svg.matches("<polyline").count() >= 2);
    }

    #[test]
    fn the_legend_goes_where_the_points_are_not() {
        let at = |points: &[(f64, f64)]| emptiest_place(points);
        assert!(matches!(
            at(&[(0.1, 0.9), (0.2, 0.95), (0.9, 0.1)]),
            SeriesLabelPosition::UpperRight
        ));
        assert!(matches!(
            at(&[(0.9, 0.9), (0.1, 0.1)]),
            SeriesLabelPosition::UpperLeft
        ));
        // Every corner taken: halfway up the right side.
        let corners = [(0.1, 0.9), (0.9, 0.9), (0.1, 0.1), (0.9, 0.1)];
        assert!(matches!(at(&corners), SeriesLabelPosition::MiddleRight));
        // An automatic legend in a chart: a rising curve leaves the lower right free.
        let mut chart = LineChart::new("t", "x", "y");
        chart.legend = Legend::Auto;
        chart.series = vec![Series {
            name: "rising".into(),
            points: (0..20).map(|i| (f64::from(i), f64::from(i))).collect(),
        }];
        assert!(chart.render().is_ok());
    }

    #[test]
    fn empty_chart_is_an_error() {
        assert!(LineChart::new("t", "x", "y").render().is_err());
    }
}
