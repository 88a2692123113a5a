//! Training reports: the per-epoch table, its CSV log, and the loss/accuracy chart.

use crate::report::svg::{Legend, LineChart, Series};
use crate::report::{Align, Table};
use crate::train::{EpochRecord, History};

/// Column headers of the per-epoch table; the CSV log uses the same order.
pub const COLUMNS: [(&str, Align); 7] = [
    ("epoch", Align::Right),
    ("iterations", Align::Right),
    ("loss", Align::Right),
    ("train_acc", Align::Right),
    ("test_acc", Align::Right),
    ("seconds", Align::Right),
    ("samples_per_sec", Align::Right),
];

/// One epoch as table cells.
pub fn cells(r: &EpochRecord) -> Vec<String> {
    vec![
        r.epoch.to_string(),
        r.iterations.to_string(),
        format!("{:.4}", r.loss),
        format!("{:.4}", r.train_acc),
        format!("{:.4}", r.test_acc),
        format!("{:.2}", r.seconds),
        format!("{:.0}", r.samples_per_sec),
    ]
}

/// Fixed column widths for streaming rows as epochs finish (the table cannot be measured
/// before it is complete).
const WIDTHS: [usize; 7] = [5, 10, 8, 9, 8, 7, 15];

fn line(cells: &[String]) -> String {
    cells
        .iter()
        .zip(WIDTHS)
        .map(|(c, w)| format!("{c:>w$}"))
        .collect::<Vec<_>>()
        .join("  ")
}

/// The header line of the streamed table.
pub fn header_line() -> String {
    let headers: Vec<String> = COLUMNS.iter().map(|(h, _)| h.to_string()).collect();
    line(&headers)
}

/// One streamed row.
pub fn row_line(r: &EpochRecord) -> String {
    line(&cells(r))
}

/// Columns of the `--log` CSV: one row per traced iteration (its mini-batch loss) and per
/// epoch end (the epoch's figures), merged by iteration; cells that do not apply are empty.
/// `df.dropna(subset=["epoch"])` gives the per-epoch table, `df.dropna(subset=["batch_loss"])`
/// the per-iteration curve. `eval_samples` says what the epoch's accuracies were measured on:
/// `all` samples, or the first n of each set (`train --eval-samples`).
pub const LOG_COLUMNS: [(&str, Align); 9] = [
    ("iteration", Align::Right),
    ("batch_loss", Align::Right),
    ("epoch", Align::Right),
    ("loss", Align::Right),
    ("train_acc", Align::Right),
    ("test_acc", Align::Right),
    ("seconds", Align::Right),
    ("samples_per_sec", Align::Right),
    ("eval_samples", Align::Right),
];

/// The whole history as the `--log` table.
pub fn table(history: &History) -> Table {
    let mut t = Table::new(&LOG_COLUMNS);
    let mut steps = history.losses.points.iter().peekable();
    let mut epochs = history.epochs.iter().peekable();
    loop {
        let next_step = steps.peek().map(|p| p.0);
        let next_epoch = epochs.peek().map(|r| r.iterations);
        let iteration = match (next_step, next_epoch) {
            (None, None) => break,
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
        };
        let mut row = vec![iteration.to_string()];
        match steps.next_if(|p| p.0 == iteration) {
            Some(&(_, loss)) => row.push(format!("{loss:.6}")),
            None => row.push(String::new()),
        }
        match epochs.next_if(|r| r.iterations == iteration) {
            Some(r) => {
                let c = cells(r);
                row.push(c[0].clone());
                row.extend(c[2..].iter().cloned());
                row.push(r.eval_samples.map_or("all".into(), |n| n.to_string()));
            }
            None => row.extend(std::iter::repeat_n(String::new(), 7)),
        }
        t.push(row);
    }
    t
}

/// The `--log` table of several runs (`compare`'s variants, `search`'s trials) in one: a
/// first column `run` naming each row's run, then [`LOG_COLUMNS`]. `serve --runs` shows such a
/// file as a group, one chart for all of them.
pub fn group_table(runs: &[(String, &History)]) -> Table {
    let mut columns = vec![("run", Align::Left)];
    columns.extend_from_slice(&LOG_COLUMNS);
    let mut t = Table::new(&columns);
    for (name, history) in runs {
        for row in table(history).rows {
            let mut cells = vec![name.clone()];
            cells.extend(row);
            t.push(cells);
        }
    }
    t
}

/// The course's `smooth_curve`: each point replaced by a Kaiser-window (length 11, β = 2)
/// weighted mean of its neighbours, the ends mirrored so the curve keeps its length. It shows
/// the trend through the mini-batch noise without shifting it.
pub fn smooth_curve(x: &[f64]) -> Vec<f64> {
    const WINDOW: usize = 11;
    const HALF: usize = WINDOW / 2;
    if x.len() < WINDOW {
        return x.to_vec();
    }
    let w = kaiser(WINDOW, 2.0);
    let total: f64 = w.iter().sum();
    // numpy's np.r_[x[window-1:0:-1], x, x[-1:-window:-1]]
    let mut padded: Vec<f64> = x[1..WINDOW].iter().rev().copied().collect();
    padded.extend_from_slice(x);
    padded.extend(x[x.len() - (WINDOW - 1)..].iter().rev());
    let valid: Vec<f64> = padded
        .windows(WINDOW)
        .map(|win| win.iter().zip(&w).map(|(a, b)| a * b).sum::<f64>() / total)
        .collect();
    valid[HALF..valid.len() - HALF].to_vec()
}

/// numpy's `kaiser(m, beta)`: I0(β·√(1 − (2n/(m−1) − 1)²)) / I0(β).
fn kaiser(m: usize, beta: f64) -> Vec<f64> {
    let i0 = |x: f64| {
        // The power series of the modified Bessel function, to full double precision.
        let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
        while term > 1e-17 * sum {
            term *= (x / (2.0 * k)).powi(2);
            sum += term;
            k += 1.0;
        }
        sum
    };
    (0..m)
        .map(|n| {
            let r = 2.0 * n as f64 / (m - 1) as f64 - 1.0;
            i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0(beta)
        })
        .collect()
}

/// The per-iteration loss chart: the traced mini-batch losses and, over them, their smoothed
/// curve; a run of one series per name in `runs` (for `compare`: the smoothed curve only).
pub fn loss_chart(title: &str, runs: &[(&str, &History)]) -> LineChart {
    let mut loss = LineChart::new(
        format!("{title}: training loss"),
        "iteration",
        "mini-batch loss",
    );
    loss.legend = Legend::UpperRight;
    for (name, h) in runs {
        let (its, losses): (Vec<f64>, Vec<f64>) =
            h.losses.points.iter().map(|&(i, l)| (i as f64, l)).unzip();
        let smooth = smooth_curve(&losses);
        if runs.len() == 1 {
            loss.series.push(Series {
                name: "batch loss".into(),
                points: its.iter().copied().zip(losses.iter().copied()).collect(),
            });
        }
        loss.series.push(Series {
            name: if runs.len() == 1 {
                "smoothed".into()
            } else {
                name.to_string()
            },
            points: its.into_iter().zip(smooth).collect(),
        });
    }
    loss
}

/// Loss per iteration above (raw and smoothed, as the course draws it), train/test accuracy
/// per epoch below.
pub fn charts(history: &History, title: &str) -> Vec<LineChart> {
    let pts = |f: fn(&EpochRecord) -> f64| -> Vec<(f64, f64)> {
        history
            .epochs
            .iter()
            .map(|r| (r.epoch as f64, f(r)))
            .collect()
    };
    let loss = loss_chart(title, &[("train", history)]);
    // Per-epoch accuracies on a head of each set (train --eval-samples) are coarser than the
    // full ones: the title says which points are which.
    let head = match history.epochs.iter().find_map(|r| r.eval_samples) {
        Some(n) => format!(" (first {n} samples per epoch, all at the last)"),
        None => String::new(),
    };
    let mut acc = LineChart::new(format!("{title}: accuracy{head}"), "epoch", "accuracy");
    acc.legend = Legend::LowerRight;
    let lowest = history
        .epochs
        .iter()
        .flat_map(|r| [r.train_acc, r.test_acc])
        .fold(1.0_f64, f64::min);
    acc.y_min = Some(
        (lowest - 0.02)
            .clamp(0.0, 0.9)
            .min((lowest * 10.0).floor() / 10.0),
    );
    acc.y_max = Some(1.0);
    acc.series = vec![
        Series {
            name: "train".into(),
            points: pts(|r| r.train_acc),
        },
        Series {
            name: "test".into(),
            points: pts(|r| r.test_acc),
        },
    ];
    vec![loss, acc]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{csv, svg};

    fn history() -> History {
        let rec = |epoch, loss, acc| EpochRecord {
            epoch,
            iterations: epoch * 600,
            loss,
            train_acc: acc,
            test_acc: acc - 0.01,
            seconds: 0.5,
            samples_per_sec: 120000.0,
            eval_samples: None,
        };
        History {
            epochs: vec![rec(1, 0.5, 0.9), rec(2, 0.25, 0.95)],
            iterations: 1200,
            final_loss: 0.2,
            train_seconds: 1.0,
            eval_seconds: 0.1,
            losses: Default::default(),
        }
    }

    #[test]
    fn csv_log_merges_iterations_and_epochs() {
        let mut h = history();
        h.losses.points = vec![(600, 0.6), (900, 0.4)];
        h.epochs[0].eval_samples = Some(1000);
        let text = csv::render(&table(&h));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "iteration,batch_loss,epoch,loss,train_acc,test_acc,seconds,samples_per_sec,\
             eval_samples"
        );
        assert_eq!(
            lines[1..],
            [
                "600,0.600000,1,0.5000,0.9000,0.8900,0.50,120000,1000",
                "900,0.400000,,,,,,,",
                "1200,,2,0.2500,0.9500,0.9400,0.50,120000,all",
            ]
        );
        assert_eq!(header_line().len(), row_line(&h.epochs[0]).len());
    }

    #[test]
    fn smoothing_matches_the_courses_numpy_and_keeps_a_line_straight() {
        // numpy: smooth_curve(np.arange(20.0) ** 2)[[0, 5, 19]] (the course's common/util.py).
        let x: Vec<f64> = (0..20).map(|i| (i * i) as f64).collect();
        let y = smooth_curve(&x);
        assert_eq!(y.len(), x.len());
        for (got, want) in [
            (y[0], 7.699_053_929_044_612),
            (y[5], 32.699_053_929_044_61),
            (y[19], 295.426_493_453_220_5),
        ] {
            assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
        // A constant stays constant; a short series is returned as it is.
        assert!(
            smooth_curve(&[3.0; 30])
                .iter()
                .all(|v| (v - 3.0).abs() < 1e-12)
        );
        assert_eq!(smooth_curve(&[1.0, 2.0]), vec![1.0, 2.0]);
    }

    #[test]
    fn chart_has_the_iteration_loss_and_both_accuracies() {
        let mut h = history();
        h.losses.points = (1..=40).map(|i| (i * 30, 1.0 / i as f64)).collect();
        let svg = svg::render_column(&charts(&h, "mnist"), Some("sub")).unwrap();
        for s in [
            "batch loss",
            "smoothed",
            "iteration",
            "mini-batch loss",
            "train",
            "test",
            "accuracy",
            "epoch",
            "sub",
        ] {
            assert!(svg.contains(s), "missing {s}");
        }
        assert!(!svg.contains("first"));
        h.epochs[0].eval_samples = Some(1000);
        let svg = svg::render_column(&charts(&h, "mnist"), Some("sub")).unwrap();
        assert!(svg.contains("accuracy (first 1000 samples per epoch, all at the last)"));
    }
}
