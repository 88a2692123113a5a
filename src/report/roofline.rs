//! The roofline: each measured product at its arithmetic intensity (flops per byte of the
//! operands it must move at least once) against the machine's roofs — the memory bandwidth's
//! slope and the FMA peaks' ceilings. A point far below its roof is losing to something the
//! roofs do not model (cache misses, edge tiles, packing, the loop itself); a point on the
//! slope is bound by memory, one on a ceiling by arithmetic.

use plotters::prelude::*;

use super::svg::{COLORS, chart_err, draw_legend, figure, house_mesh};
use super::{Align, Table};
use crate::bench::gemm::{Point, Problem};
use crate::error::{Error, Result};

/// Flops per byte a product must move at least once: 2mnk over A, B and C each read or written
/// once, at `elem` bytes per value.
pub fn intensity(p: &Problem, elem: usize) -> f64 {
    let bytes = (p.m * p.k + p.k * p.n + p.m * p.n) as f64 * elem as f64;
    p.flops() / bytes.max(1.0)
}

/// The roofs for one thread count, in GFLOP/s and GB/s.
#[derive(Clone, Debug, PartialEq)]
pub struct Roof {
    /// The thread count these roofs are for.
    pub threads: usize,
    /// Compute ceilings, widest last: e.g. `[("avx2+fma", 117.0), ("avx512f", 117.0)]`.
    pub ceilings: Vec<(String, f64)>,
    /// STREAM-triad bandwidth on that many threads.
    pub bandwidth: f64,
}

/// The machine's roofs, for one thread and for all the threads a report used.
#[derive(Clone, Debug, PartialEq)]
pub struct Roofs {
    /// One per thread count measured, fewest threads first.
    pub roofs: Vec<Roof>,
}

impl Roofs {
    /// The roof for `threads` (the largest measured thread count not above it).
    pub fn for_threads(&self, threads: usize) -> Option<&Roof> {
        self.roofs
            .iter()
            .filter(|r| r.threads <= threads.max(1))
            .max_by_key(|r| r.threads)
            .or_else(|| self.roofs.first())
    }

    /// The attainable GFLOP/s at `intensity` on `threads` threads: the highest ceiling or the
    /// bandwidth's slope, whichever is lower.
    pub fn attainable(&self, intensity: f64, threads: usize) -> f64 {
        self.for_threads(threads).map_or(0.0, |r| {
            let peak = r.ceilings.iter().map(|c| c.1).fold(0.0, f64::max);
            peak.min(intensity * r.bandwidth)
        })
    }
}

/// One row per point: kernel, product, intensity, GFLOP/s, the roof there, and the share of it.
pub fn table(points: &[Point], roofs: &Roofs, elem: usize) -> Table {
    let mut t = Table::new(&[
        ("kernel", Align::Left),
        ("m×k×n", Align::Left),
        ("threads", Align::Right),
        ("flop/byte", Align::Right),
        ("GFLOP/s", Align::Right),
        ("roof", Align::Right),
        ("% of roof", Align::Right),
    ]);
    for p in points {
        let ai = intensity(&p.problem, elem);
        let roof = roofs.attainable(ai, p.threads);
        t.push(vec![
            p.kernel.to_string(),
            p.problem.label(),
            p.threads.to_string(),
            format!("{ai:.1}"),
            format!("{:.1}", p.gflops_median),
            format!("{roof:.1}"),
            format!("{:.1}", 100.0 * p.gflops_median / roof.max(1e-9)),
        ]);
    }
    t
}

/// The roofline chart as SVG: log₂ axes, the slopes and ceilings as lines, one colour of
/// points per kernel.
pub fn chart(
    points: &[Point],
    roofs: &Roofs,
    elem: usize,
    title: &str,
    subtitle: &str,
) -> Result<String> {
    if points.is_empty() {
        return Err(Error::Config("nothing to plot: no measured points".into()));
    }
    let ais: Vec<f64> = points.iter().map(|p| intensity(&p.problem, elem)).collect();
    let lo_x = ais.iter().copied().fold(f64::INFINITY, f64::min).max(1e-3) / 2.0;
    let hi_x = ais.iter().copied().fold(0.0, f64::max) * 2.0;
    let top = roofs
        .roofs
        .iter()
        .flat_map(|r| r.ceilings.iter().map(|c| c.1))
        .fold(0.0, f64::max);
    let lo_y = points
        .iter()
        .map(|p| p.gflops_median)
        .fold(f64::INFINITY, f64::min)
        .max(1e-3)
        / 2.0;
    let (x0, x1) = (lo_x.log2().floor(), hi_x.log2().ceil());
    let (y0, y1) = (lo_y.log2().floor(), (top * 1.5).log2().ceil());
    figure((960, 640), title, subtitle, (x0..x1, y0..y1), 70, |chart| {
        let pow = |v: &f64| {
            let x = 2f64.powf(*v);
            if x >= 1.0 {
                format!("{x:.0}")
            } else {
                format!("{x:.2}")
            }
        };
        house_mesh(
            chart
                .configure_mesh()
                .x_desc("arithmetic intensity (flop per byte of A, B and C)")
                .y_desc("GFLOP/s")
                .x_labels((x1 - x0) as usize + 1)
                .y_labels((y1 - y0) as usize + 1)
                .x_label_formatter(&pow)
                .y_label_formatter(&pow),
        )
        .draw()
        .map_err(chart_err)?;
        // The roofs in gray, one set per thread count: the slope up to the highest ceiling,
        // each ceiling from its knee.
        let gray = RGBColor(90, 90, 90);
        let steps = 64;
        for roof in &roofs.roofs {
            let t = if roof.threads == 1 {
                "1 thread".to_string()
            } else {
                format!("{} threads", roof.threads)
            };
            let roof_top = roof.ceilings.iter().map(|c| c.1).fold(0.0, f64::max);
            let bw = roof.bandwidth;
            let line: Vec<(f64, f64)> = (0..=steps)
                .map(|i| x0 + (x1 - x0) * i as f64 / steps as f64)
                .map(|x| (x, (2f64.powf(x) * bw).min(roof_top).log2()))
                .collect();
            chart
                .draw_series(LineSeries::new(line, gray.stroke_width(2)))
                .map_err(chart_err)?;
            let label_x = x0 + 0.3;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{t}: {bw:.0} GB/s"),
                    (label_x, (2f64.powf(label_x) * bw).log2() + 0.25),
                    ("sans-serif", 13).into_font().color(&gray),
                )))
                .map_err(chart_err)?;
            // Ceilings within 3 % of each other (Zen 4's AVX2 and AVX-512) are one line.
            let mut merged: Vec<(String, f64)> = Vec::new();
            for (name, peak) in &roof.ceilings {
                match merged.last_mut() {
                    Some((n, p)) if (*peak - *p).abs() <= 0.03 * *p => {
                        *n = format!("{n} = {name}");
                        *p = p.max(*peak);
                    }
                    _ => merged.push((name.clone(), *peak)),
                }
            }
            for (name, peak) in &merged {
                let knee = (peak / bw.max(1e-9)).log2().max(x0);
                chart
                    .draw_series(LineSeries::new(
                        vec![(knee, peak.log2()), (x1, peak.log2())],
                        gray.stroke_width(1),
                    ))
                    .map_err(chart_err)?;
                chart
                    .draw_series(std::iter::once(Text::new(
                        format!("{name}, {t}: {peak:.0} GFLOP/s"),
                        (knee + 0.2, peak.log2() + 0.12),
                        ("sans-serif", 13).into_font().color(&gray),
                    )))
                    .map_err(chart_err)?;
            }
        }
        // The points, one colour per kernel.
        let mut kernels: Vec<String> = Vec::new();
        for p in points {
            let name = p.kernel.to_string();
            if !kernels.contains(&name) {
                kernels.push(name);
            }
        }
        for (i, name) in kernels.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let pts: Vec<(f64, f64)> = points
                .iter()
                .zip(&ais)
                .filter(|(p, _)| p.kernel.to_string() == *name)
                .map(|(p, &ai)| (ai.log2(), p.gflops_median.max(1e-9).log2()))
                .collect();
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 5, color.filled())))
                .map_err(chart_err)?
                .label(name.as_str())
                .legend(move |(x, y)| Circle::new((x + 10, y), 5, color.filled()));
        }
        draw_legend(chart, SeriesLabelPosition::LowerRight)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roofs() -> Roofs {
        let roof = |threads, peak, bandwidth| Roof {
            threads,
            ceilings: vec![("avx2+fma".into(), peak)],
            bandwidth,
        };
        Roofs {
            roofs: vec![roof(1, 100.0, 20.0), roof(2, 200.0, 30.0)],
        }
    }

    #[test]
    fn intensity_counts_each_operand_once() {
        let p = Problem::square(64);
        // 2·64³ flops over 3·64² f32 values.
        assert!((intensity(&p, 4) - 2.0 * 64.0 / 12.0).abs() < 1e-12);
        assert!((intensity(&p, 8) - intensity(&p, 4) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn the_roof_is_the_lower_of_slope_and_ceiling_for_the_points_threads() {
        let r = roofs();
        assert_eq!(r.attainable(1.0, 1), 20.0); // memory-bound
        assert_eq!(r.attainable(100.0, 1), 100.0); // compute-bound
        assert_eq!(r.attainable(100.0, 2), 200.0);
        assert_eq!(r.attainable(1.0, 2), 30.0);
        assert_eq!(r.attainable(100.0, 8), 200.0); // the largest measured count below
    }
}
