//! A grid of histograms: one row per run, one panel per layer — the book's figures of
//! activation distributions, side by side so the rows can be compared.

use plotters::prelude::*;

use super::svg::{COLORS, chart_err, with_subtitle};
use crate::error::{Error, Result};

/// One panel: its title and its bin counts.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// The panel's title (e.g. the layer).
    pub title: String,
    /// Values per bin, bins left to right.
    pub counts: Vec<usize>,
}

/// One row of panels, labelled (e.g. by its init).
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The row's label, drawn at its left.
    pub label: String,
    /// Its panels, left to right.
    pub panels: Vec<Panel>,
}

/// The grid as SVG. Every panel bins over `lo..hi`; the panels of a row share their y axis,
/// so a spike in one layer and a spread in another read at the same scale.
pub fn grid(rows: &[Row], (lo, hi): (f64, f64), x_label: &str, subtitle: &str) -> Result<String> {
    let columns = rows.iter().map(|r| r.panels.len()).max().unwrap_or(0);
    if columns == 0 || hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return Err(Error::Config("nothing to plot: no histograms".into()));
    }
    let (width, height) = ((60 + 200 * columns) as u32, (30 + 210 * rows.len()) as u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_err)?;
        let body = with_subtitle(&root, subtitle)?;
        for (r, (row, strip)) in rows
            .iter()
            .zip(body.split_evenly((rows.len(), 1)))
            .enumerate()
        {
            let (label_area, cells) = strip.split_horizontally(40);
            label_area
                .draw(&Text::new(
                    row.label.clone(),
                    (14, 100),
                    ("sans-serif", 15)
                        .into_font()
                        .transform(FontTransform::Rotate270),
                ))
                .map_err(chart_err)?;
            let top = row
                .panels
                .iter()
                .flat_map(|p| p.counts.iter().copied())
                .max()
                .unwrap_or(0)
                .max(1) as f64;
            let color = COLORS[r % COLORS.len()];
            for (panel, cell) in row.panels.iter().zip(cells.split_evenly((1, columns))) {
                let mut chart = ChartBuilder::on(&cell)
                    .caption(&panel.title, ("sans-serif", 13))
                    .margin(6)
                    .x_label_area_size(28)
                    .y_label_area_size(36)
                    .build_cartesian_2d(lo..hi, 0.0..top * 1.05)
                    .map_err(chart_err)?;
                chart
                    .configure_mesh()
                    .x_desc(x_label)
                    .x_labels(3)
                    .y_labels(3)
                    .y_label_formatter(&|v: &f64| format!("{v:.0}"))
                    .label_style(("sans-serif", 11))
                    .axis_desc_style(("sans-serif", 11))
                    .disable_mesh()
                    .draw()
                    .map_err(chart_err)?;
                let width = (hi - lo) / panel.counts.len().max(1) as f64;
                chart
                    .draw_series(panel.counts.iter().enumerate().map(|(i, &c)| {
                        let x0 = lo + i as f64 * width;
                        Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], color.filled())
                    }))
                    .map_err(chart_err)?;
            }
        }
        root.present().map_err(chart_err)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_bar_per_bin_and_labels_rows_and_panels() {
        let row = |label: &str| Row {
            label: label.into(),
            panels: (1..=3)
                .map(|l| Panel {
                    title: format!("layer {l}"),
                    counts: vec![1, 5, 2, 0],
                })
                .collect(),
        };
        let svg = grid(
            &[row("std:1"), row("xavier")],
            (0.0, 1.0),
            "activation",
            "sub",
        )
        .unwrap();
        for text in ["std:1", "xavier", "layer 3", "activation", "sub"] {
            assert!(svg.contains(text), "missing {text}");
        }
        // 2 rows × 3 panels × 4 bins.
        assert!(svg.matches("<rect").count() >= 24);
        assert!(grid(&[], (0.0, 1.0), "a", "s").is_err());
        assert!(grid(&[row("x")], (1.0, 1.0), "a", "s").is_err());
    }
}
