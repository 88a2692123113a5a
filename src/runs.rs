//! A folder of training runs, as `serve --runs` reads it: each `--log` CSV is a run, named by
//! its file name without `.csv`, with the `--summary-json` (`NAME.json`) and the checkpoint
//! (`NAME.st` or `NAME.safetensors`) beside it where they exist; a log whose first column is
//! `run` (`compare --log`, `search --log`) is a group, one run per value of that column.
//!
//! Only what [`RunsFolder::scan`] finds is ever read: the regular files directly inside the
//! folder, a symbolic link only if it leads to one that is also inside. Nothing a caller names
//! becomes a path; callers name a run by its place in the scan.
//!
//! The files are read whole every time (a log is at most a few thousand rows): a run that is
//! still training, rewritten or truncated is seen as it is now. A last line without its newline
//! (a writer caught mid-line by a reader) is left for the next read.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::report::training::LOG_COLUMNS;
use crate::train::EpochRecord;
use crate::train_job::RunSummary;

/// The largest log read (a log of the longest run is a few hundred kilobytes).
pub const MAX_LOG_BYTES: u64 = 16 << 20;
/// The largest summary read.
const MAX_SUMMARY_BYTES: u64 = 1 << 20;

/// A folder of runs.
#[derive(Clone, Debug)]
pub struct RunsFolder {
    /// Canonical: every file read must lie directly under it.
    root: PathBuf,
}

/// One run's files, as found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundRun {
    /// The log's file name without `.csv`.
    pub name: String,
    /// The `--log` CSV.
    pub log: PathBuf,
    /// `NAME.json` beside it, if there is one.
    pub summary: Option<PathBuf>,
    /// `NAME.st` or `NAME.safetensors` beside it, if there is one.
    pub checkpoint: Option<PathBuf>,
}

/// What a folder holds: its runs, and every checkpoint (with a log beside it or not).
#[derive(Clone, Debug, Default)]
pub struct Scan {
    /// The runs, by name.
    pub runs: Vec<FoundRun>,
    /// (file name, path) of each `.st` / `.safetensors` file.
    pub checkpoints: Vec<(String, PathBuf)>,
}

impl RunsFolder {
    /// The folder `dir`, which must exist.
    pub fn open(dir: &Path) -> Result<Self> {
        let root = dir
            .canonicalize()
            .map_err(|e| Error::Config(format!("--runs {}: cannot open it: {e}", dir.display())))?;
        if !root.is_dir() {
            return Err(Error::Config(format!(
                "--runs {}: not a folder; name the folder the runs' --log files are in",
                dir.display()
            )));
        }
        Ok(RunsFolder { root })
    }

    /// The folder, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `entry` of the folder, as the path to read: a regular file directly inside the folder
    /// (following a link only to such a file).
    fn inside(&self, entry: &Path) -> Option<PathBuf> {
        let real = entry.canonicalize().ok()?;
        (real.parent() == Some(self.root.as_path()) && real.is_file()).then_some(real)
    }

    /// The runs and checkpoints in the folder now, by name.
    pub fn scan(&self) -> Scan {
        let mut files: Vec<(String, PathBuf)> = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    Some((name, self.inside(&e.path())?))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        let find = |name: &str| {
            files
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| p.clone())
        };
        let mut scan = Scan::default();
        for (file, path) in &files {
            if let Some(stem) = file.strip_suffix(".csv").filter(|s| !s.is_empty()) {
                scan.runs.push(FoundRun {
                    name: stem.to_string(),
                    log: path.clone(),
                    summary: find(&format!("{stem}.json")),
                    checkpoint: find(&format!("{stem}.st"))
                        .or_else(|| find(&format!("{stem}.safetensors"))),
                });
            } else if file.ends_with(".st") || file.ends_with(".safetensors") {
                scan.checkpoints.push((file.clone(), path.clone()));
            }
        }
        scan
    }
}

/// Reads `path` whole as text, refusing more than `max` bytes.
pub fn read_text(path: &Path, max: u64) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut text = String::new();
    file.take(max + 1)
        .read_to_string(&mut text)
        .map_err(|e| Error::format(path, format!("cannot be read as text: {e}")))?;
    if text.len() as u64 > max {
        return Err(Error::format(
            path,
            format!("is over {} MiB: not a log this tool wrote", max >> 20),
        ));
    }
    Ok(text)
}

/// The summary at `path`.
pub fn read_summary(path: &Path) -> Result<RunSummary> {
    let text = read_text(path, MAX_SUMMARY_BYTES)?;
    serde_json::from_str(&text)
        .map_err(|e| Error::format(path, format!("not a --summary-json of this tool: {e}")))
}

/// One run's curves, from its log.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curves {
    /// The run's name: the log's, or in a group the `run` column's.
    pub name: String,
    /// (iteration, mini-batch loss), as traced.
    pub steps: Vec<(usize, f64)>,
    /// The epochs' figures.
    pub epochs: Vec<EpochRecord>,
}

/// A log read back: one run, or a group of several.
#[derive(Clone, Debug, PartialEq)]
pub struct Log {
    /// Whether the log is a group (a first column `run`).
    pub group: bool,
    /// Its runs: one, or a group's in the order they first appear.
    pub runs: Vec<Curves>,
}

/// Parses a `--log` CSV (or a group log) of the run `name`. A malformed file is an error
/// naming its line and what is wrong there.
pub fn parse_log(name: &str, text: &str) -> std::result::Result<Log, String> {
    // A last line without its newline may be a row still being written: leave it.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    let mut lines = complete.lines();
    let header = lines
        .next()
        .ok_or_else(|| "empty: no header line yet".to_string())?;
    let names: Vec<&str> = LOG_COLUMNS.iter().map(|(h, _)| *h).collect();
    let cols: Vec<&str> = header.trim_end_matches('\r').split(',').collect();
    let group = match cols.first() {
        Some(&"run") if cols[1..] == names[..] => true,
        _ if cols == names => false,
        _ => {
            return Err(format!(
                "line 1: the header is not a --log header ({}): {header}",
                names.join(",")
            ));
        }
    };
    let mut runs: Vec<Curves> = Vec::new();
    for (i, line) in lines.enumerate() {
        let at = i + 2;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let mut cells = split_csv(line);
        let run = if group {
            if cells.is_empty() {
                return Err(format!("line {at}: no run name"));
            }
            cells.remove(0)
        } else {
            name.to_string()
        };
        if cells.len() != names.len() {
            return Err(format!(
                "line {at}: {} cells where the header has {}",
                cells.len(),
                names.len()
            ));
        }
        let bad =
            |col: usize| format!("line {at}: {} '{}' is not a number", names[col], cells[col]);
        let int = |col: usize| cells[col].parse::<usize>().map_err(|_| bad(col));
        let num = |col: usize| {
            cells[col]
                .parse::<f64>()
                .ok()
                .filter(|v| !v.is_nan())
                .ok_or_else(|| bad(col))
        };
        let iteration = int(0)?;
        let curves = match runs.iter().position(|r| r.name == run) {
            Some(k) => &mut runs[k],
            None => {
                runs.push(Curves {
                    name: run,
                    ..Curves::default()
                });
                runs.last_mut().expect("just pushed")
            }
        };
        if !cells[1].is_empty() {
            curves.steps.push((iteration, num(1)?));
        }
        if !cells[2].is_empty() {
            curves.epochs.push(EpochRecord {
                epoch: int(2)?,
                iterations: iteration,
                loss: num(3)?,
                train_acc: num(4)?,
                test_acc: num(5)?,
                seconds: num(6)?,
                samples_per_sec: num(7)?,
                eval_samples: match cells[8].as_str() {
                    "all" | "" => None,
                    _ => Some(int(8)?),
                },
            });
        } else if cells[1].is_empty() {
            return Err(format!("line {at}: neither a batch loss nor an epoch"));
        }
    }
    Ok(Log { group, runs })
}

/// The cells of one CSV line, as `report::csv` writes them (quotes around a cell with a comma
/// or a quote, quotes doubled inside).
fn split_csv(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    cells.push(cell);
    cells
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{csv, training};
    use crate::train::{History, LossTrace};

    fn history(epochs: usize, loss0: f64) -> History {
        let mut h = History::default();
        let mut losses = LossTrace::default();
        for e in 1..=epochs {
            for j in 1..=4 {
                losses.push((e - 1) * 4 + j, loss0 / (e * j) as f64);
            }
            h.epochs.push(EpochRecord {
                epoch: e,
                iterations: e * 4,
                loss: loss0 / e as f64,
                train_acc: 0.5 + 0.1 * e as f64,
                test_acc: 0.45 + 0.1 * e as f64,
                seconds: 0.25,
                samples_per_sec: 1600.0,
                eval_samples: (e < epochs).then_some(100),
            });
        }
        h.losses = losses;
        h.iterations = epochs * 4;
        h
    }

    /// Batch losses and epochs' (epoch, loss, test accuracy), as the log prints them.
    type Printed = (Vec<(usize, String)>, Vec<(usize, String, String)>);

    /// The figures a log keeps (to its printed digits) of `h`.
    fn rounded(h: &History) -> Printed {
        (
            h.losses
                .points
                .iter()
                .map(|&(i, l)| (i, format!("{l:.6}")))
                .collect(),
            h.epochs
                .iter()
                .map(|r| {
                    (
                        r.epoch,
                        format!("{:.4}", r.loss),
                        format!("{:.4}", r.test_acc),
                    )
                })
                .collect(),
        )
    }

    fn curves_rounded(c: &Curves) -> Printed {
        (
            c.steps
                .iter()
                .map(|&(i, l)| (i, format!("{l:.6}")))
                .collect(),
            c.epochs
                .iter()
                .map(|r| {
                    (
                        r.epoch,
                        format!("{:.4}", r.loss),
                        format!("{:.4}", r.test_acc),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn a_log_reads_back_as_the_history_it_was_written_from() {
        let h = history(3, 2.0);
        let text = csv::render(&training::table(&h));
        let log = parse_log("x", &text).unwrap();
        assert!(!log.group);
        assert_eq!(log.runs.len(), 1);
        assert_eq!(log.runs[0].name, "x");
        assert_eq!(curves_rounded(&log.runs[0]), rounded(&h));
        assert_eq!(log.runs[0].epochs[0].eval_samples, Some(100));
        assert_eq!(log.runs[0].epochs[2].eval_samples, None);
    }

    #[test]
    fn a_group_log_reads_back_as_its_runs() {
        let (a, b) = (history(2, 2.0), history(3, 1.0));
        let text = csv::render(&training::group_table(&[
            ("lr=0.1".into(), &a),
            ("opt=\"a,b\"".into(), &b),
        ]));
        let log = parse_log("cmp", &text).unwrap();
        assert!(log.group);
        let names: Vec<&str> = log.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["lr=0.1", "opt=\"a,b\""]);
        assert_eq!(curves_rounded(&log.runs[0]), rounded(&a));
        assert_eq!(curves_rounded(&log.runs[1]), rounded(&b));
    }

    #[test]
    fn a_half_written_last_line_waits_and_a_malformed_one_is_named() {
        let h = history(2, 2.0);
        let text = csv::render(&training::table(&h));
        let cut = &text[..text.len() - 5];
        let log = parse_log("x", cut).unwrap();
        assert_eq!(
            log.runs[0].epochs.len(),
            1,
            "the cut last row is not read yet"
        );
        assert!(parse_log("x", "").unwrap_err().contains("empty"));
        let e = parse_log("x", "epoch,loss\n1,2\n").unwrap_err();
        assert!(e.starts_with("line 1: the header"), "{e}");
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[3] = lines[3].replacen(',', ",abc,", 1);
        let e = parse_log("x", &(lines.join("\n") + "\n")).unwrap_err();
        assert!(e.starts_with("line 4: 10 cells"), "{e}");
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        let mut cells: Vec<&str> = lines[2].split(',').collect();
        cells[1] = "NaN";
        lines[2] = cells.join(",");
        let e = parse_log("x", &(lines.join("\n") + "\n")).unwrap_err();
        assert!(e.contains("line 3: batch_loss 'NaN'"), "{e}");
    }

    #[test]
    fn only_files_directly_inside_the_folder_are_found() {
        let base = std::env::temp_dir().join(format!("scratchnet-runs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("runs");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let log = csv::render(&training::table(&history(1, 1.0)));
        for f in [
            "a.csv",
            "sub/b.csv",
            "a.json",
            "a.st",
            "lone.safetensors",
            ".csv",
        ] {
            std::fs::write(dir.join(f), &log).unwrap();
        }
        std::fs::write(base.join("outside.csv"), &log).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(base.join("outside.csv"), dir.join("out.csv")).unwrap();
            std::os::unix::fs::symlink(dir.join("a.csv"), dir.join("alias.csv")).unwrap();
        }
        let folder = RunsFolder::open(&dir).unwrap();
        let scan = folder.scan();
        let names: Vec<&str> = scan.runs.iter().map(|r| r.name.as_str()).collect();
        #[cfg(unix)]
        assert_eq!(names, ["a", "alias"]);
        let a = &scan.runs[0];
        assert!(a.summary.is_some() && a.checkpoint.is_some());
        let files: Vec<&str> = scan.checkpoints.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(files, ["a.st", "lone.safetensors"]);
        for r in &scan.runs {
            assert_eq!(r.log.parent(), Some(folder.root()));
        }
        assert!(RunsFolder::open(&dir.join("a.csv")).is_err());
        assert!(RunsFolder::open(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&base).unwrap();
    }
}
