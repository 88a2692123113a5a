//! The `bench gemm` report: measured points → table, Markdown, CSV and an SVG chart.

use crate::bench::gemm::Point;
use crate::bench::peak::Peak;
use crate::matrix::gemm::Kernel;
use crate::report::svg::{LineChart, Series};
use crate::report::{Align, Table};

/// The CSV header, fixed so scripts can rely on it.
pub const CSV_COLUMNS: [&str; 10] = [
    "kernel",
    "m",
    "k",
    "n",
    "transpose",
    "threads",
    "precision",
    "gflops",
    "pct_peak",
    "speedup_vs_naive",
];

/// The `naive` rate measured for the same problem, if naive was measured.
fn naive_rate(points: &[Point], p: &Point) -> Option<f64> {
    points
        .iter()
        .find(|q| q.kernel == Kernel::Naive && q.problem == p.problem)
        .map(|q| q.gflops_median)
}

fn pct_peak(p: &Point, peak: &Peak) -> f64 {
    100.0 * p.gflops_median / peak.gflops(p.precision, p.threads)
}

/// Rows for humans (text and Markdown): the shape with its transposes, the spread, notes.
pub fn table(points: &[Point], peak: &Peak) -> Table {
    let mut t = Table::new(&[
        ("kernel", Align::Left),
        ("m×k×n", Align::Left),
        ("threads", Align::Right),
        ("precision", Align::Left),
        ("GFLOP/s", Align::Right),
        ("min–max", Align::Right),
        ("% peak", Align::Right),
        ("vs naive", Align::Right),
        ("note", Align::Left),
    ]);
    for p in points {
        let speedup = naive_rate(points, p)
            .map(|n| format!("{:.1}×", p.gflops_median / n))
            .unwrap_or_else(|| "–".into());
        let note = match p.sampled_rows {
            Some(rows) => format!("sampled {rows} of {} rows", p.problem.m),
            None => String::new(),
        };
        t.push(vec![
            p.kernel.to_string(),
            p.problem.label().replace('x', "×"),
            p.threads.to_string(),
            p.precision.to_string(),
            format!("{:.2}", p.gflops_median),
            format!("{:.1}–{:.1}", p.gflops_min, p.gflops_max),
            format!("{:.1}", pct_peak(p, peak)),
            speedup,
            note,
        ]);
    }
    t
}

/// Rows for machines: exactly [`CSV_COLUMNS`]; `transpose` is `none`, `a`, `b` or `ab` (which
/// operands were read transposed); `speedup_vs_naive` is empty without naive.
pub fn csv_table(points: &[Point], peak: &Peak) -> Table {
    let columns: Vec<(&str, Align)> = CSV_COLUMNS.iter().map(|&c| (c, Align::Left)).collect();
    let mut t = Table::new(&columns);
    for p in points {
        t.push(vec![
            p.kernel.to_string(),
            p.problem.m.to_string(),
            p.problem.k.to_string(),
            p.problem.n.to_string(),
            match (p.problem.trans_a, p.problem.trans_b) {
                (false, false) => "none",
                (true, false) => "a",
                (false, true) => "b",
                (true, true) => "ab",
            }
            .to_string(),
            p.threads.to_string(),
            p.precision.to_string(),
            format!("{:.3}", p.gflops_median),
            format!("{:.2}", pct_peak(p, peak)),
            naive_rate(points, p)
                .map(|n| format!("{:.2}", p.gflops_median / n))
                .unwrap_or_default(),
        ]);
    }
    t
}

/// GFLOP/s against n for the square problems, one line per kernel (in measurement order).
pub fn chart(points: &[Point], threads: usize, subtitle: String) -> LineChart {
    let mut series: Vec<Series> = Vec::new();
    for p in points.iter().filter(|p| p.problem.is_square()) {
        let name = p.kernel.to_string();
        let point = (p.problem.n as f64, p.gflops_median);
        match series.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push(point),
            None => series.push(Series {
                name,
                points: vec![point],
            }),
        }
    }
    let precision = points.first().map_or("f32", |p| p.precision);
    let mut chart = LineChart::new(
        format!("GEMM throughput, {precision}, n×n×n (threaded and auto: up to {threads} threads)"),
        "n (log scale)",
        "GFLOP/s (median)",
    );
    chart.subtitle = Some(subtitle);
    chart.log_x = true;
    chart.series = series;
    chart
}

/// Points whose runs varied a lot (interquartile range over 15% of the median): the machine
/// was busy or the budget too short. A single slow outlier does not count.
pub fn noisy_points(points: &[Point]) -> usize {
    points
        .iter()
        .filter(|p| p.iqr_rel > crate::bench::gemm::NOISY_IQR)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::gemm::Problem;
    use crate::report::csv;

    fn point(kernel: Kernel, gflops: f64) -> Point {
        Point {
            kernel,
            problem: Problem::square(64),
            threads: 1,
            precision: "f32",
            gflops_median: gflops,
            gflops_min: gflops * 0.9,
            gflops_max: gflops * 1.5,
            runs: 5,
            iqr_rel: if kernel == Kernel::Naive { 0.5 } else { 0.01 },
            sampled_rows: None,
        }
    }

    #[test]
    fn csv_has_the_fixed_columns_and_ratios() {
        let peak = Peak {
            f32_per_core: 100.0,
            threads: 1,
            f32_total: 100.0,
            isa: "avx2+fma",
            avx2_per_core: None,
        };
        let pts = vec![point(Kernel::Naive, 0.5), point(Kernel::Simd, 80.0)];
        let text = csv::render(&csv_table(&pts, &peak));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "kernel,m,k,n,transpose,threads,precision,gflops,pct_peak,speedup_vs_naive"
        );
        assert_eq!(lines[1], "naive,64,64,64,none,1,f32,0.500,0.50,1.00");
        assert_eq!(lines[2], "simd,64,64,64,none,1,f32,80.000,80.00,160.00");
        // The same sizes read transposed are another row, told apart by its transpose cell.
        let mut ta = point(Kernel::Simd, 70.0);
        ta.problem.trans_a = true;
        let mut tab = point(Kernel::Simd, 60.0);
        (tab.problem.trans_a, tab.problem.trans_b) = (true, true);
        let text = csv::render(&csv_table(&[ta, tab], &peak));
        let rows: Vec<&str> = text.lines().skip(1).collect();
        assert!(
            rows[0].starts_with("simd,64,64,64,a,") && rows[1].starts_with("simd,64,64,64,ab,"),
            "{text}"
        );
        let human = table(&pts, &peak).to_text();
        assert!(human.contains("160.0×"), "{human}");
        assert_eq!(noisy_points(&pts), 1);
        let c = chart(&pts, 2, "m".into());
        assert_eq!(c.series.len(), 2);
    }
}
