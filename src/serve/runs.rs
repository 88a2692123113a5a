//! The Runs page's API: the runs of `serve --runs DIR`, live.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/runs` | every run in the folder now: id, name, settings, state, epoch of planned, ETA, last figures |
//! | `GET /api/runs/{id}` | a run's curves (a group's, one per run): mini-batch losses (raw and as the course's `smooth_curve`), epochs |
//!
//! A run is named by an id this server gave it (its place in the order first seen), never by a
//! path: the files read are only those [`RunsFolder::scan`] finds directly in the folder.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::checkpoint;
use crate::report::training::smooth_curve;
use crate::runs::{self, Curves, FoundRun, RunsFolder, Scan};
use crate::session::RunRecord;
use crate::train_job::{RunState, RunSummary};

/// The folder and the ids given out.
pub struct Runs {
    folder: Option<RunsFolder>,
    /// Each log's id is its index here; a run that disappears keeps its id, unused.
    ids: Mutex<Vec<PathBuf>>,
    /// Checkpoints' ids, the same way (the Draw page lists them).
    models: Mutex<Vec<PathBuf>>,
}

impl Runs {
    /// The runs of `folder` (none when `None`), no id given out yet.
    pub fn new(folder: Option<RunsFolder>) -> Self {
        Runs {
            folder,
            ids: Mutex::new(Vec::new()),
            models: Mutex::new(Vec::new()),
        }
    }

    /// The folder, if `--runs` named one.
    pub fn folder(&self) -> Option<&RunsFolder> {
        self.folder.as_ref()
    }

    fn scan(&self) -> Scan {
        self.folder
            .as_ref()
            .map(RunsFolder::scan)
            .unwrap_or_default()
    }

    fn id_of(list: &Mutex<Vec<PathBuf>>, path: &PathBuf) -> usize {
        let mut ids = list.lock().unwrap_or_else(|e| e.into_inner());
        match ids.iter().position(|p| p == path) {
            Some(i) => i,
            None => {
                ids.push(path.clone());
                ids.len() - 1
            }
        }
    }

    /// The run with id `id`, if it is still in the folder.
    fn find(&self, id: usize) -> Option<FoundRun> {
        let path = self
            .ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()?;
        self.scan().runs.into_iter().find(|r| r.log == path)
    }

    /// The checkpoints in the folder: (id, file name, path).
    pub fn checkpoints(&self) -> Vec<(usize, String, PathBuf)> {
        self.scan()
            .checkpoints
            .into_iter()
            .map(|(name, path)| (Self::id_of(&self.models, &path), name, path))
            .collect()
    }

    /// The checkpoint with id `id`, if it is still in the folder.
    pub fn checkpoint(&self, id: usize) -> Option<PathBuf> {
        let path = self
            .models
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()?;
        self.scan()
            .checkpoints
            .into_iter()
            .find(|(_, p)| *p == path)
            .map(|(_, p)| p)
    }

    /// The `GET /api/runs` answer.
    pub fn list(&self) -> Value {
        let Some(folder) = &self.folder else {
            return json!({ "folder": null, "runs": [] });
        };
        let runs: Vec<Value> = self
            .scan()
            .runs
            .iter()
            .map(|r| {
                let id = Self::id_of(&self.ids, &r.log);
                describe(id, r)
            })
            .collect();
        json!({ "folder": folder.root().display().to_string(), "runs": runs })
    }

    /// The `GET /api/runs/{id}` answer, or `None` for an id not (or no longer) in the folder.
    pub fn curves(&self, id: usize) -> Option<Value> {
        let run = self.find(id)?;
        let log = read_log(&run);
        Some(match log {
            Err(e) => json!({ "id": id, "name": run.name, "error": e }),
            Ok(log) => json!({
                "id": id,
                "name": run.name,
                "group": log.group,
                "series": log.runs.iter().map(series).collect::<Vec<_>>(),
            }),
        })
    }
}

fn read_log(run: &FoundRun) -> std::result::Result<runs::Log, String> {
    let text = runs::read_text(&run.log, runs::MAX_LOG_BYTES).map_err(|e| e.to_string())?;
    runs::parse_log(&run.name, &text)
}

/// One run's curves for the page.
fn series(c: &Curves) -> Value {
    let losses: Vec<f64> = c.steps.iter().map(|s| s.1).collect();
    json!({
        "name": c.name,
        "iterations": c.steps.iter().map(|s| s.0).collect::<Vec<_>>(),
        "loss": losses,
        "smoothed": smooth_curve(&losses),
        "epochs": c.epochs.iter().map(|r| json!({
            "epoch": r.epoch,
            "iterations": r.iterations,
            "loss": r.loss,
            "train_acc": r.train_acc,
            "test_acc": r.test_acc,
            "seconds": r.seconds,
        })).collect::<Vec<_>>(),
    })
}

/// Seconds since `path` was last written.
fn age(path: &PathBuf) -> Option<f64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(
        SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default()
            .as_secs_f64(),
    )
}

/// A run's row: what the summary (or else the checkpoint) says of its settings and state, and
/// the log's last figures. An unreadable file is said so on the row; the others are unaffected.
fn describe(id: usize, run: &FoundRun) -> Value {
    let summary: Option<std::result::Result<RunSummary, String>> = run
        .summary
        .as_ref()
        .map(|p| runs::read_summary(p).map_err(|e| e.to_string()));
    let meta = run
        .checkpoint
        .as_ref()
        .and_then(|p| checkpoint::read_metadata(p).ok());
    let record = meta
        .as_ref()
        .zip(run.checkpoint.as_deref())
        .and_then(|(m, p)| RunRecord::from_metadata(m, p).ok());
    let log = read_log(run);
    let updated = age(&run.log);
    let mut row = json!({
        "id": id,
        "name": run.name,
        "updated_seconds_ago": updated,
        "checkpoint": run.checkpoint.is_some(),
    });
    let settings = match (&summary, &meta) {
        (Some(Ok(s)), _) => Some(json!({
            "dataset": s.dataset, "net": s.net, "layers": s.layers, "optimizer": s.optimizer,
            "lr": s.lr, "batch": s.batch, "seed": s.seed, "threads": s.threads,
        })),
        (_, Some(m)) => Some(json!({
            "dataset": m.get("dataset"),
            "optimizer": m.get("optimizer"),
            "lr": m.get("lr").and_then(|v| v.parse::<f64>().ok()),
            "batch": record.as_ref().map(|r| r.train.batch),
            "seed": record.as_ref().map(|r| r.train.seed),
        })),
        _ => None,
    };
    row["settings"] = settings.unwrap_or(Value::Null);
    if let Some(Err(e)) = &summary {
        row["summary_error"] = json!(e);
    }
    match log {
        Err(e) => {
            row["error"] = json!(format!("{}: {e}", run.log.display()));
            row["state"] = json!("unreadable");
        }
        Ok(log) => {
            let members: Vec<Value> = log
                .runs
                .iter()
                .map(|c| {
                    let last = c.epochs.last();
                    json!({
                        "name": c.name,
                        "epoch": last.map(|r| r.epoch),
                        "iterations": c.steps.last().map(|s| s.0).max(last.map(|r| r.iterations)),
                        "loss": last.map(|r| r.loss),
                        "train_acc": last.map(|r| r.train_acc),
                        "test_acc": last.map(|r| r.test_acc),
                    })
                })
                .collect();
            row["group"] = json!(log.group);
            row["members"] = json!(members);
            let epochs = log.runs.first().map_or(0, |c| c.epochs.len());
            row["epoch"] = json!(epochs);
            // The state and the plan come from the summary (train writes it as it goes);
            // without one, a log's last write says only how long ago it was.
            if let Some(Ok(s)) = &summary {
                let per_epoch = s.iterations_per_epoch.max(1);
                row["state"] = json!(s.state.name());
                row["planned_epochs"] = json!(s.planned_iterations.div_ceil(per_epoch));
                if s.state == RunState::Running && s.iterations > 0 {
                    let spent = s.train_seconds + s.eval_seconds;
                    let left = s.planned_iterations.saturating_sub(s.iterations) as f64;
                    row["eta_seconds"] = json!(spent / s.iterations as f64 * left);
                }
            } else if let (Some(m), Some(record)) = (&meta, &record) {
                // A checkpoint is saved at the end, however the run ended: done as asked, or
                // interrupted before.
                let count = |key: &str| m.get(key).and_then(|v| v.parse::<usize>().ok());
                let (done, planned) = match record.train.length {
                    crate::train::Length::Iters(i) => (count("iterations"), i),
                    crate::train::Length::Epochs(e) => (count("epochs"), e),
                };
                if let crate::train::Length::Epochs(e) = record.train.length {
                    row["planned_epochs"] = json!(e);
                }
                row["state"] = json!(match done {
                    Some(d) if d >= planned => "finished",
                    Some(_) => "interrupted",
                    None => "saved",
                });
            } else {
                // Only the log: how long ago it was written says the rest.
                row["state"] = json!("log only");
            }
        }
    }
    row
}

/// Runs shared by the routes.
pub type SharedRuns = Arc<Runs>;
