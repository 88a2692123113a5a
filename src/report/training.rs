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

/// The whole history as a table (CSV log, Markdown).
pub fn table(history: &History) -> Table {
    let mut t = Table::new(&COLUMNS);
    for r in &history.epochs {
        t.push(cells(r));
    }
    t
}

/// Loss above, train/test accuracy below, against epochs.
pub fn charts(history: &History, title: &str) -> Vec<LineChart> {
    let pts = |f: fn(&EpochRecord) -> f64| -> Vec<(f64, f64)> {
        history
            .epochs
            .iter()
            .map(|r| (r.epoch as f64, f(r)))
            .collect()
    };
    let mut loss = LineChart::new(
        format!("{title}: training loss"),
        "epoch",
        "mean batch loss",
    );
    loss.legend = Legend::UpperRight;
    loss.series = vec![Series {
        name: "train loss".into(),
        points: pts(|r| r.loss),
    }];
    let mut acc = LineChart::new(format!("{title}: accuracy"), "epoch", "accuracy");
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
        };
        History {
            epochs: vec![rec(1, 0.5, 0.9), rec(2, 0.25, 0.95)],
            iterations: 1200,
            final_loss: 0.2,
            train_seconds: 1.0,
            eval_seconds: 0.1,
        }
    }

    #[test]
    fn csv_log_and_streamed_rows() {
        let h = history();
        let text = csv::render(&table(&h));
        assert_eq!(
            text.lines().next().unwrap(),
            "epoch,iterations,loss,train_acc,test_acc,seconds,samples_per_sec"
        );
        assert_eq!(
            text.lines().nth(2).unwrap(),
            "2,1200,0.2500,0.9500,0.9400,0.50,120000"
        );
        assert_eq!(header_line().len(), row_line(&h.epochs[0]).len());
    }

    #[test]
    fn chart_has_loss_and_both_accuracies() {
        let svg = svg::render_column(&charts(&history(), "mnist"), Some("sub")).unwrap();
        for s in ["train loss", "train", "test", "accuracy", "epoch", "sub"] {
            assert!(svg.contains(s), "missing {s}");
        }
    }
}
