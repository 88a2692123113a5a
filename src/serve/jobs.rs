//! The server's training jobs: each a [`PlaygroundRun`] on its own thread through the job API,
//! its latest snapshot kept (encoded once, as the event the page reads) for whoever streams it.
//!
//! At most [`MAX_JOBS`] run at once. A job nobody streams — its tab closed, its stream dropped,
//! or never opened — stops after [`ORPHAN_AFTER`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::job::{Control, Event, Flow, Job, JobOptions, Stepper};
use crate::playground::{PlaygroundRun, PlaygroundSettings, Snapshot};

/// Training jobs that may run at once (two cores: more would only share them).
pub const MAX_JOBS: usize = 4;
/// How long a job may go without anyone streaming it before it stops.
pub const ORPHAN_AFTER: Duration = Duration::from_secs(3);
/// Cells per side of every picture the page draws.
pub const GRID: usize = 40;

/// A run shared between its job's thread (which trains it) and the server (which saves it
/// or draws it on request): each holds the lock for one epoch or one encoding.
#[derive(Clone)]
pub struct SharedRun(Arc<Mutex<PlaygroundRun>>);

impl SharedRun {
    /// The run, for one epoch or one encoding (a poisoned lock is taken as it is).
    pub fn lock(&self) -> MutexGuard<'_, PlaygroundRun> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Stepper for SharedRun {
    type Snapshot = Snapshot;

    fn step(&mut self) -> Result<bool> {
        self.lock().step()
    }

    fn snapshot(&mut self) -> Result<Snapshot> {
        Stepper::snapshot(&mut *self.lock())
    }
}

/// One job as the server holds it.
pub struct Entry {
    /// The job's thread and its switches.
    pub job: Job,
    /// The run it trains, shared for downloads.
    pub run: SharedRun,
    /// The latest event, encoded: a snapshot, or the end of the job.
    pub events: watch::Receiver<Arc<String>>,
}

/// Every job the server runs, by id.
#[derive(Default)]
pub struct Jobs {
    map: Mutex<HashMap<u64, Arc<Entry>>>,
    next: AtomicU64,
}

impl Jobs {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Entry>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a job of `settings`, playing or paused, at `pace` epochs a second at most (`None`:
    /// as fast as it trains); returns its id and the run (for its points).
    pub fn start(
        &self,
        settings: &PlaygroundSettings,
        playing: bool,
        pace: Option<f64>,
    ) -> Result<(u64, SharedRun)> {
        let mut map = self.lock();
        map.retain(|_, e| !e.job.is_finished());
        if map.len() >= MAX_JOBS {
            return Err(Error::Config(format!(
                "{MAX_JOBS} training jobs are running already, the most this server runs at \
                 once: close another Playground tab, or wait a few seconds for a closed one to stop"
            )));
        }
        let run = SharedRun(Arc::new(Mutex::new(PlaygroundRun::new(settings, GRID)?)));
        let (tx, rx) = watch::channel(Arc::new(String::new()));
        let started = Instant::now();
        let mut last_seen = started;
        let control = Control::new(playing).with_pace(pace);
        let job = Job::spawn(run.clone(), control, JobOptions::default(), move |event| {
            // Is anybody streaming this job? Counting our own receiver in the entry, a stream
            // holds the second one.
            if tx.receiver_count() > 1 {
                last_seen = Instant::now();
            } else if last_seen.elapsed() >= ORPHAN_AFTER {
                let _ = tx.send(Arc::new(end_event("stopped: nobody was watching")));
                return Flow::Stop;
            }
            let encoded = match event {
                Event::Snapshot(s) => snapshot_event(&s),
                Event::Idle => return Flow::Continue,
                Event::Finished => end_event("finished"),
                Event::Failed(e) => error_event(&e),
            };
            let _ = tx.send(Arc::new(encoded));
            Flow::Continue
        })?;
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        map.insert(
            id,
            Arc::new(Entry {
                job,
                run: run.clone(),
                events: rx,
            }),
        );
        Ok((id, run))
    }

    /// Job `id`, if it still runs.
    pub fn get(&self, id: u64) -> Option<Arc<Entry>> {
        self.lock().get(&id).cloned()
    }

    /// Stops and forgets job `id`; false if there was none.
    pub fn remove(&self, id: u64) -> bool {
        match self.lock().remove(&id) {
            Some(e) => {
                e.job.control().stop();
                true
            }
            None => false,
        }
    }

    /// Jobs whose threads are still running.
    pub fn running(&self) -> usize {
        self.lock()
            .values()
            .filter(|e| !e.job.is_finished())
            .count()
    }

    /// Stops every job (the server is shutting down).
    pub fn stop_all(&self) {
        for e in self.lock().drain() {
            e.1.job.control().stop();
        }
    }
}

/// Values in [-1, 1] as bytes 0 … 255 (outside is clamped), base64: the page's colour scale
/// is [-1, 1], and a byte per cell keeps a snapshot of 48 neuron pictures near 100 KB.
fn bytes_b64(values: &[f32]) -> String {
    let bytes: Vec<u8> = values
        .iter()
        .map(|&v| {
            let v = if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) };
            ((v + 1.0) * 127.5).round() as u8
        })
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Four significant digits: enough for a line's width and a hover, a third of the bytes.
fn short(v: f32) -> Value {
    let v = f64::from(v);
    if !v.is_finite() {
        return Value::Null;
    }
    json!(format!("{v:.3e}").parse::<f64>().unwrap_or(v))
}

/// A snapshot as the page's `snapshot` event.
pub fn snapshot_event(s: &Snapshot) -> String {
    let weights: Vec<Value> = s
        .weights
        .iter()
        .map(|w| {
            Value::Array(
                (0..w.rows())
                    .map(|r| Value::Array(w.row(r).iter().map(|&v| short(v)).collect()))
                    .collect(),
            )
        })
        .collect();
    let biases: Vec<Value> = s
        .biases
        .iter()
        .map(|b| Value::Array(b.iter().map(|&v| short(v)).collect()))
        .collect();
    let neurons: Vec<Vec<String>> = s
        .neurons
        .iter()
        .map(|layer| layer.iter().map(|n| bytes_b64(n)).collect())
        .collect();
    json!({
        "type": "snapshot",
        "epoch": s.epoch,
        "lossTrain": s.loss_train,
        "lossTest": s.loss_test,
        "grid": s.grid,
        "output": bytes_b64(&s.output),
        "neurons": neurons,
        "weights": weights,
        "biases": biases,
    })
    .to_string()
}

fn end_event(why: &str) -> String {
    json!({"type": "end", "message": why}).to_string()
}

fn error_event(e: &Error) -> String {
    json!({"type": "error", "message": e.to_string()}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_bytes_of_the_colour_scale() {
        let b = base64::engine::general_purpose::STANDARD
            .decode(bytes_b64(&[-2.0, -1.0, 0.0, 1.0, f32::NAN]))
            .unwrap();
        assert_eq!(b, [0, 0, 128, 255, 128]);
        assert_eq!(short(0.123_456_7), json!(0.1235));
        assert_eq!(short(f32::INFINITY), Value::Null);
    }
}
