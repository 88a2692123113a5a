//! `train`'s run as a job: a [`Session`] stepped an epoch at a time through the job API
//! ([`crate::job`]), writing the files it was asked for as it goes.
//!
//! The files are written here, once, for whoever drives the run: the command line prints the
//! job's events, and `serve --runs` reads the same files back. While the run trains, the
//! `--log` table and the `--summary-json` object are rewritten (atomically) after every epoch,
//! so that anyone watching the folder sees the run advance; the checkpoint is saved every
//! `--save-every` epochs and at the end; the plot is drawn at the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::data::DatasetName;
use crate::error::Result;
use crate::job::Stepper;
use crate::matrix::Float;
use crate::nn::spec::{
    LayerSpec, activation_of, describe_layers, dropout_of, has_batchnorm, widths,
};
use crate::output::{self, write_output};
use crate::report::{csv, svg, training};
use crate::session::{Session, Settings};
use crate::train::{EpochRecord, Event, History, Outcome};

/// The files a run writes: each `None` is not written.
#[derive(Clone, Debug, Default)]
pub struct RunFiles {
    /// The checkpoint, saved at the end (however the run ended) and every `save_every` epochs.
    pub save: Option<PathBuf>,
    /// Save the checkpoint every this many epochs too.
    pub save_every: Option<usize>,
    /// The per-epoch table, CSV.
    pub log: Option<PathBuf>,
    /// The loss and accuracy curves, SVG.
    pub plot: Option<PathBuf>,
    /// A [`RunSummary`], JSON.
    pub summary_json: Option<PathBuf>,
}

/// Where a run stands, as its summary records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// Training (the files are rewritten after every epoch).
    Running,
    /// It reached its length.
    Finished,
    /// Stopped by a signal; a checkpoint (if saved) continues it.
    Interrupted,
    /// Ended by an error (a diverged loss).
    Failed,
}

impl RunState {
    /// `running`, `finished`, `interrupted` or `failed`.
    pub fn name(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Interrupted => "interrupted",
            RunState::Failed => "failed",
        }
    }
}

/// The `--summary-json` object: the run's settings, where it stands and its last figures.
/// `serve --runs` reads it back with this same type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The dataset.
    pub dataset: String,
    /// `mlp`, `simple-cnn`, `deep-cnn` or `layers`.
    pub net: String,
    /// Every layer, as `scratchnet` describes it.
    pub layers: Vec<String>,
    /// Hidden widths of an MLP.
    pub hidden: Vec<usize>,
    /// The activation.
    pub activation: String,
    /// How the weights started.
    pub init: String,
    /// Whether it has batch normalisation.
    pub batchnorm: bool,
    /// Its dropout ratio, if any.
    pub dropout: Option<f64>,
    /// L2 weight decay λ.
    pub weight_decay: f64,
    /// The optimizer's name.
    pub optimizer: String,
    /// The learning rate.
    pub lr: f64,
    /// Samples per mini-batch.
    pub batch: usize,
    /// `None`: trained on every training sample (see `--train-samples`).
    pub train_samples: Option<usize>,
    /// `shuffle` or `random`.
    pub sampling: String,
    /// "none", or the `--augment` spec.
    pub augment: String,
    /// Iterations done.
    pub iterations: usize,
    /// Iterations the run was asked for.
    #[serde(default)]
    pub planned_iterations: usize,
    /// Epochs done.
    pub epochs: usize,
    /// Iterations per epoch (to count the epochs planned).
    #[serde(default)]
    pub iterations_per_epoch: usize,
    /// The run's seed.
    pub seed: u64,
    /// Threads it trained on.
    pub threads: usize,
    /// `f32` or `f64`.
    pub precision: String,
    /// Where the run stands.
    #[serde(default = "finished")]
    pub state: RunState,
    /// The last batch's loss.
    pub final_loss: f64,
    /// The last epoch's training accuracy.
    pub train_acc: Option<f64>,
    /// The last epoch's test accuracy.
    pub test_acc: Option<f64>,
    /// `None`: the accuracies above are on every sample (see `--eval-samples`).
    pub eval_samples: Option<usize>,
    /// Training time (evaluation excluded).
    pub train_seconds: f64,
    /// Evaluation time.
    pub eval_seconds: f64,
}

fn finished() -> RunState {
    RunState::Finished
}

impl RunSummary {
    /// The summary of a run of `settings` with layers `specs` that has reached `history`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: &Settings,
        specs: &[LayerSpec],
        weight_decay: f64,
        precision: &str,
        history: &History,
        planned_iterations: usize,
        iterations_per_epoch: usize,
        state: RunState,
    ) -> Self {
        let last = history.epochs.last();
        let mut hidden = widths(specs);
        hidden.pop(); // the output layer
        if !hidden.is_empty() {
            hidden.remove(0); // the input
        }
        RunSummary {
            dataset: settings.dataset.name().into(),
            net: settings.arch.name().into(),
            layers: specs.iter().map(|s| s.to_string()).collect(),
            hidden,
            activation: activation_of(specs).into(),
            init: settings.init.name(),
            batchnorm: has_batchnorm(specs),
            dropout: dropout_of(specs),
            weight_decay,
            optimizer: settings.optimizer.name().into(),
            lr: settings.optimizer.lr(),
            batch: settings.train.batch,
            train_samples: settings.train.train_samples,
            sampling: settings.train.sampling.name().into(),
            augment: settings.train.augment.to_string(),
            iterations: history.iterations,
            planned_iterations,
            epochs: history.epochs.len(),
            iterations_per_epoch,
            seed: settings.train.seed,
            threads: settings.threads,
            precision: precision.into(),
            state,
            final_loss: history.final_loss,
            train_acc: last.map(|r| r.train_acc),
            test_acc: last.map(|r| r.test_acc),
            eval_samples: last.and_then(|r| r.eval_samples),
            train_seconds: history.train_seconds,
            eval_seconds: history.eval_seconds,
        }
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a summary serialises") + "\n"
    }
}

/// What a [`TrainJob`] reports: where it stands and the epochs finished since the last report.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Iterations done.
    pub iteration: usize,
    /// Iterations the run lasts.
    pub total: usize,
    /// The epochs finished since the last report.
    pub epochs: Vec<EpochRecord>,
    /// How the run ended, once it has.
    pub outcome: Option<Outcome>,
}

/// What a run's steps are told of, every iteration (a progress bar, a trace).
pub type StepHook = Box<dyn FnMut(&Event<'_>) + Send>;

/// A [`Session`] as a job: a step is an epoch (or the stretch to a `--save-every` pause or to
/// the end, if shorter). `stop` (the signals' flag) is obeyed within a step, after the batch
/// under way; the files are written as the module doc says.
pub struct TrainJob<T: Float> {
    /// The run.
    pub session: Session<T>,
    settings: Settings,
    dataset: DatasetName,
    /// Training rows the data set has (the plot says when fewer were used).
    available: usize,
    files: RunFiles,
    stop: Arc<AtomicBool>,
    on_step: StepHook,
    /// Epochs already reported.
    reported: usize,
    outcome: Option<Outcome>,
}

impl<T: Float> TrainJob<T> {
    /// `session` (started or resumed) as a job writing `files`, on `available` training rows
    /// of `dataset`.
    pub fn new(
        session: Session<T>,
        dataset: DatasetName,
        available: usize,
        files: RunFiles,
        stop: Arc<AtomicBool>,
        on_step: StepHook,
    ) -> Self {
        let settings = Settings {
            optimizer: session.optimizer(),
            ..session.settings().clone()
        };
        TrainJob {
            reported: session.state.history.epochs.len(),
            session,
            settings,
            dataset,
            available,
            files,
            stop,
            on_step,
            outcome: None,
        }
    }

    /// The session, the job done.
    pub fn into_session(self) -> Session<T> {
        self.session
    }

    /// How the run ended, once it has.
    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// The summary of the run as it stands.
    pub fn summary(&self, state: RunState) -> RunSummary {
        RunSummary::new(
            &self.settings,
            self.session.net.specs(),
            self.session.net.weight_decay(),
            T::NAME,
            &self.session.state.history,
            self.session.total(),
            self.session.iters_per_epoch(),
            state,
        )
    }

    /// Writes the table and the summary while the run goes on: only into regular files (or
    /// new ones), never a stream such as standard output or a pipe, which is written once at
    /// the end.
    fn write_live(&self) -> Result<()> {
        if let Some(path) = self.files.log.as_deref().filter(|p| rewritable(p)) {
            self.write_log(path)?;
        }
        if let Some(path) = self.files.summary_json.as_deref().filter(|p| rewritable(p)) {
            write_output(path, self.summary(RunState::Running).to_json().as_bytes())?;
        }
        Ok(())
    }

    fn write_log(&self, path: &Path) -> Result<()> {
        let table = training::table(&self.session.state.history);
        write_output(path, csv::render(&table).as_bytes())
    }

    /// Saves the checkpoint and writes every file for a run that has ended as `state`.
    fn write_final(&mut self, state: RunState) -> Result<()> {
        if let Some(p) = &self.files.save {
            self.session.save(p)?;
        }
        if let Some(path) = &self.files.log {
            self.write_log(path)?;
        }
        if let Some(path) = &self.files.plot {
            write_output(path, self.plot()?.as_bytes())?;
        }
        if let Some(path) = &self.files.summary_json {
            write_output(path, self.summary(state).to_json().as_bytes())?;
        }
        Ok(())
    }

    /// The `--plot` SVG: the loss and accuracy curves under the run's settings.
    fn plot(&self) -> Result<String> {
        let (s, history) = (&self.settings, &self.session.state.history);
        let title = format!(
            "{} {}",
            self.dataset,
            describe_layers(self.session.net.specs())
        );
        let mut subtitle = format!(
            "optimizer {} lr {} · batch {} · {} iterations · seed {}",
            s.optimizer.name(),
            s.optimizer.lr(),
            s.train.batch,
            history.iterations,
            s.train.seed
        );
        let decay = self.session.net.weight_decay();
        if decay != 0.0 {
            subtitle += &format!(" · weight decay {decay}");
        }
        if let Some(n) = s.train.train_samples.filter(|&n| n < self.available) {
            subtitle += &format!(" · the first {n} of {} training samples", self.available);
        }
        if !s.train.augment.is_none() {
            subtitle += &format!(" · augmented {}", s.train.augment);
        }
        svg::render_column(&training::charts(history, &title), Some(&subtitle))
    }
}

/// Whether `path` can be rewritten after every epoch: a regular file, or none yet.
fn rewritable(path: &Path) -> bool {
    !output::is_stdout(path)
        && match std::fs::metadata(path) {
            Ok(m) => m.is_file(),
            Err(_) => true,
        }
}

impl<T: Float> Stepper for TrainJob<T> {
    type Snapshot = Progress;

    fn step(&mut self) -> Result<bool> {
        if self.outcome.is_some() || self.session.is_done() {
            return Ok(false);
        }
        let every = self.files.save_every;
        let pause = self.session.next_pause(every);
        let hook = &mut self.on_step;
        let outcome = match self.session.train_epoch(every, &self.stop, |e| hook(&e)) {
            Ok(o) => o,
            Err(e) => {
                // The files show how far it got; the error is what the caller reports.
                if let Some(path) = self.files.log.as_deref().filter(|p| rewritable(p)) {
                    let _ = self.write_log(path);
                }
                if let Some(path) = self.files.summary_json.as_deref().filter(|p| rewritable(p)) {
                    let json = self.summary(RunState::Failed).to_json();
                    let _ = write_output(path, json.as_bytes());
                }
                return Err(e);
            }
        };
        if outcome == Outcome::Interrupted || self.session.is_done() {
            self.outcome = Some(outcome);
            self.write_final(match outcome {
                Outcome::Finished => RunState::Finished,
                Outcome::Interrupted => RunState::Interrupted,
            })?;
            return Ok(true);
        }
        if let (Some(p), true) = (&self.files.save, self.session.state.iteration == pause) {
            self.session.save(p)?;
        }
        self.write_live()?;
        Ok(true)
    }

    fn snapshot(&mut self) -> Result<Progress> {
        let epochs = &self.session.state.history.epochs;
        let new = epochs[self.reported.min(epochs.len())..].to_vec();
        self.reported = epochs.len();
        Ok(Progress {
            iteration: self.session.state.iteration,
            total: self.session.total(),
            epochs: new,
            outcome: self.outcome,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{self, LoadOptions};
    use crate::job::{self, Control, Event as JobEvent, Flow, JobOptions};
    use crate::nn::cnn::Architecture;
    use crate::nn::init::Init;
    use crate::nn::spec::Activation;
    use crate::optim::OptimizerConfig;
    use crate::train::{Length, Sampling, TrainConfig};
    use std::sync::Mutex;
    use std::time::Duration;

    fn settings(epochs: usize, eval_samples: Option<usize>) -> Settings {
        Settings {
            dataset: DatasetName::Circle,
            load: LoadOptions {
                data_dir: None,
                grayscale: false,
                seed: 3,
                noise: 0.1,
            },
            arch: Architecture::Mlp,
            hidden: vec![8, 4],
            activation: Activation::Tanh,
            init: Init::Xavier,
            batchnorm: false,
            dropout: None,
            weight_decay: 0.0,
            optimizer: OptimizerConfig::from_name("momentum", Some(0.05)).unwrap(),
            train: TrainConfig {
                batch: 30,
                length: Length::Epochs(epochs),
                sampling: Sampling::Shuffle,
                seed: 3,
                eval_samples,
                train_samples: None,
                augment: Default::default(),
            },
            threads: 1,
        }
    }

    /// The job run to the end, with the epochs each snapshot reported.
    fn run_job(
        settings: &Settings,
        files: RunFiles,
        mut watch: impl FnMut(&Progress),
    ) -> (Session<f64>, Vec<EpochRecord>) {
        let ds = data::load(settings.dataset, &settings.load).unwrap();
        let session = Session::<f64>::start(settings, &ds).unwrap();
        let mut job = TrainJob::new(
            session,
            ds.name,
            ds.x_train.rows(),
            files,
            Arc::new(AtomicBool::new(false)),
            Box::new(|_| {}),
        );
        let options = JobOptions {
            snapshot_every: Duration::ZERO,
            ..JobOptions::default()
        };
        let mut reported = Vec::new();
        job::run(&mut job, &Control::new(true), options, |e| {
            match e {
                JobEvent::Snapshot(p) => {
                    watch(&p);
                    reported.extend(p.epochs);
                }
                JobEvent::Failed(e) => panic!("{e}"),
                _ => {}
            }
            Flow::Continue
        });
        assert_eq!(job.outcome(), Some(Outcome::Finished));
        (job.into_session(), reported)
    }

    fn params(s: &mut Session<f64>) -> Vec<f64> {
        let mut all = Vec::new();
        s.net
            .visit_params(&mut |_, p| all.extend_from_slice(p.value));
        all
    }

    #[test]
    fn stepped_an_epoch_at_a_time_it_trains_exactly_as_one_call_does() {
        // Evaluated on a head between the ends: the last epoch and the --save-every pauses
        // are evaluated whole, in both, and so are the same.
        for (every, eval) in [(None, None), (Some(3), Some(50))] {
            let s = settings(7, eval);
            let ds = data::load(s.dataset, &s.load).unwrap();
            let mut whole = Session::<f64>::start(&s, &ds).unwrap();
            let mut pauses = Vec::new();
            whole
                .run(
                    every,
                    &AtomicBool::new(false),
                    |_| {},
                    |s| {
                        pauses.push(s.state.iteration);
                        Ok(())
                    },
                )
                .unwrap();
            let files = RunFiles {
                save_every: every,
                ..RunFiles::default()
            };
            let (mut stepped, reported) = run_job(&s, files, |_| {});
            let mut a = whole.state.history.clone();
            let mut b = stepped.state.history.clone();
            for h in [&mut a, &mut b] {
                h.train_seconds = 0.0;
                h.eval_seconds = 0.0;
                for r in &mut h.epochs {
                    r.seconds = 0.0;
                    r.samples_per_sec = 0.0;
                }
            }
            assert_eq!(a, b, "save_every {every:?}");
            assert_eq!(reported.len(), 7);
            assert_eq!(
                reported.iter().map(|r| r.epoch).collect::<Vec<_>>(),
                (1..=7).collect::<Vec<_>>()
            );
            assert_eq!(params(&mut whole), params(&mut stepped));
            if every.is_some() {
                assert_eq!(pauses.len(), 2, "pauses at epochs 3 and 6");
                let whole_evals: Vec<_> = a.epochs.iter().map(|r| r.eval_samples).collect();
                assert_eq!(whole_evals[2], None, "the pause is evaluated whole");
                assert_eq!(whole_evals[0], Some(50));
            }
        }
    }

    /// The `--log` rows that end an epoch (the others hold a batch loss only).
    fn epoch_rows(log: &Path) -> usize {
        let text = std::fs::read_to_string(log).unwrap();
        text.lines()
            .skip(1)
            .filter(|l| !l.split(',').nth(2).unwrap_or("").is_empty())
            .count()
    }

    #[test]
    fn the_log_and_summary_are_written_while_it_trains_and_the_checkpoint_at_the_end() {
        let dir = std::env::temp_dir().join(format!("scratchnet-job-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (log, json, save) = (
            dir.join("run.csv"),
            dir.join("run.json"),
            dir.join("run.st"),
        );
        let files = RunFiles {
            save: Some(save.clone()),
            save_every: None,
            log: Some(log.clone()),
            plot: None,
            summary_json: Some(json.clone()),
        };
        let seen = Mutex::new(Vec::new());
        let (session, _) = run_job(&settings(4, None), files, |p| {
            if p.outcome.is_none() && p.iteration > 0 {
                let rows = epoch_rows(&log);
                let summary: RunSummary =
                    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
                seen.lock()
                    .unwrap()
                    .push((rows, summary.epochs, summary.state));
            }
        });
        let seen = seen.into_inner().unwrap();
        // After epochs 1, 2 and 3 the files show them, running; the 4th is the end.
        assert_eq!(
            seen,
            (1..=3)
                .map(|e| (e, e, RunState::Running))
                .collect::<Vec<_>>()
        );
        let summary: RunSummary =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(summary.state, RunState::Finished);
        assert_eq!(summary.epochs, 4);
        assert_eq!(summary.iterations, session.state.iteration);
        assert_eq!(summary.planned_iterations, session.total());
        assert!(save.exists());
        assert_eq!(epoch_rows(&log), 4);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
