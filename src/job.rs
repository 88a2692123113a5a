//! A training job: work done one step at a time on its own thread, that reports what it has
//! reached and obeys play, pause, one step and stop.
//!
//! The command line and the web server drive the same jobs. What a job *does* is a
//! [`Stepper`] (the Playground's run is one: a step is an epoch); what it *reports* is an
//! [`Event`] handed to a callback, which prints it (the command line) or streams it to a page
//! (`serve`). The callback answers with a [`Flow`], so a listener that has gone — a closed
//! tab — ends the job.
//!
//! Snapshots are rate-limited here, not by the listener: however fast the steps run, at most
//! one snapshot per [`JobOptions::snapshot_every`] is taken, so a view drawing at 60 frames a
//! second is never sent more than it can draw and the trainer spends its time training.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Work a job does one step at a time.
pub trait Stepper: Send + 'static {
    /// What the job reports of where it stands (losses, a picture to draw).
    type Snapshot: Send + 'static;

    /// Does one step; returns false, having done nothing, when there is no more to do.
    fn step(&mut self) -> Result<bool>;

    /// Where the work stands now.
    fn snapshot(&mut self) -> Result<Self::Snapshot>;
}

/// What a job reports.
#[derive(Debug)]
pub enum Event<S> {
    /// Where the work stands: after the start, after a single step, and while playing at most
    /// once per [`JobOptions::snapshot_every`].
    Snapshot(S),
    /// Nothing happened for [`JobOptions::idle_every`] (the job is paused): a chance for the
    /// listener to say whether anyone is still there.
    Idle,
    /// The stepper has no more to do; the job ends.
    Finished,
    /// A step or snapshot failed (a diverged loss); the job ends.
    Failed(Error),
}

/// The listener's answer to an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the job.
    Continue,
    /// End the job: nobody is listening any more.
    Stop,
}

/// How often a job reports.
#[derive(Clone, Copy, Debug)]
pub struct JobOptions {
    /// The least time between two snapshots while playing.
    pub snapshot_every: Duration,
    /// How long a paused job waits before it reports [`Event::Idle`].
    pub idle_every: Duration,
}

impl Default for JobOptions {
    /// At most 30 snapshots a second (a page's frame rate, halved), idle reports every 500 ms.
    fn default() -> Self {
        JobOptions {
            snapshot_every: Duration::from_millis(33),
            idle_every: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    playing: bool,
    /// Single steps asked for and not yet taken.
    steps: usize,
    stopped: bool,
    /// At most this many steps a second while playing; `None`: as fast as they run.
    pace: Option<f64>,
}

/// The fastest pace a job can be held to: one step per snapshot at the snapshot rate.
pub const MAX_PACE: f64 = 30.0;

/// The play / pause / step / stop switches of a job, shared by whoever drives it.
#[derive(Debug, Default)]
pub struct Control {
    state: Mutex<State>,
    changed: Condvar,
}

impl Control {
    /// A control that starts paused (`playing` false) or playing.
    pub fn new(playing: bool) -> Self {
        Control {
            state: Mutex::new(State {
                playing,
                ..State::default()
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a panic elsewhere while holding three plain fields: they are
        // still valid, so go on rather than spread the panic.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }

    /// This control, holding play to at most `pace` steps a second (see [`Control::set_pace`]).
    pub fn with_pace(self, pace: Option<f64>) -> Self {
        self.set_pace(pace);
        self
    }

    /// While playing, take at most `pace` steps a second, each followed by a snapshot, so a
    /// person can watch what one step does (the Playground's boundary forming); `None` lets
    /// the steps run as fast as they go. A pace is clamped to (0, [`MAX_PACE`]]; a pace that is
    /// not a positive number is `None`.
    pub fn set_pace(&self, pace: Option<f64>) {
        let pace = pace
            .filter(|p| *p > 0.0 && p.is_finite())
            .map(|p| p.min(MAX_PACE));
        self.update(|s| s.pace = pace);
    }

    /// The pace set, if any.
    pub fn pace(&self) -> Option<f64> {
        self.lock().pace
    }

    /// Waits until `deadline`, or less if the job is paused, stopped or unpaced meanwhile.
    fn wait_until(&self, deadline: Instant) {
        let mut s = self.lock();
        while s.playing && !s.stopped && s.pace.is_some() {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            s = self
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Run steps one after another.
    pub fn play(&self) {
        self.update(|s| s.playing = true);
    }

    /// Stop taking steps after the one under way (the job stays, ready to go on).
    pub fn pause(&self) {
        self.update(|s| {
            s.playing = false;
            s.steps = 0;
        });
    }

    /// Take one step, then pause.
    pub fn step(&self) {
        self.update(|s| {
            s.playing = false;
            s.steps += 1;
        });
    }

    /// End the job after the step under way.
    pub fn stop(&self) {
        self.update(|s| s.stopped = true);
    }

    /// Whether the job is taking steps one after another.
    pub fn is_playing(&self) -> bool {
        self.lock().playing
    }

    /// Whether the job has been told to end.
    pub fn is_stopped(&self) -> bool {
        self.lock().stopped
    }
}

/// What the job thread is to do next.
enum Next {
    Play,
    Step,
    Idle,
    Stop,
}

fn next(control: &Control, wait: Duration) -> Next {
    let mut s = control.lock();
    let deadline = Instant::now() + wait;
    loop {
        if s.stopped {
            return Next::Stop;
        }
        if s.playing {
            return Next::Play;
        }
        if s.steps > 0 {
            s.steps -= 1;
            return Next::Step;
        }
        let now = Instant::now();
        if now >= deadline {
            return Next::Idle;
        }
        s = control
            .changed
            .wait_timeout(s, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
}

/// Runs `stepper` under `control` on the calling thread until it finishes, fails, is stopped or
/// `on_event` answers [`Flow::Stop`]. The first event is a snapshot of the start.
pub fn run<S: Stepper>(
    stepper: &mut S,
    control: &Control,
    options: JobOptions,
    mut on_event: impl FnMut(Event<S::Snapshot>) -> Flow,
) {
    let report =
        |stepper: &mut S, on_event: &mut dyn FnMut(Event<S::Snapshot>) -> Flow| match stepper
            .snapshot()
        {
            Ok(s) => on_event(Event::Snapshot(s)) == Flow::Continue,
            Err(e) => {
                on_event(Event::Failed(e));
                false
            }
        };
    if !report(stepper, &mut on_event) {
        return;
    }
    loop {
        let more = match next(control, options.idle_every) {
            Next::Stop => return,
            Next::Idle => {
                if on_event(Event::Idle) == Flow::Stop {
                    return;
                }
                continue;
            }
            Next::Step => stepper.step(),
            Next::Play if control.pace().is_some() => {
                // One step, then the rest of its share of a second waited out.
                let start = Instant::now();
                let pace = control.pace().unwrap_or(MAX_PACE);
                let more = stepper.step();
                control.wait_until(start + Duration::from_secs_f64(1.0 / pace));
                more
            }
            Next::Play => {
                // Steps until it is time for a snapshot, or until the switches change.
                let start = Instant::now();
                loop {
                    match stepper.step() {
                        Ok(true) => {}
                        other => break other,
                    }
                    if start.elapsed() >= options.snapshot_every || !control.is_playing() {
                        break Ok(true);
                    }
                }
            }
        };
        match more {
            Ok(true) => {
                if !report(stepper, &mut on_event) {
                    return;
                }
            }
            Ok(false) => {
                if report(stepper, &mut on_event) {
                    on_event(Event::Finished);
                }
                return;
            }
            Err(e) => {
                on_event(Event::Failed(e));
                return;
            }
        }
    }
}

/// A job running on a thread of its own.
pub struct Job {
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

impl Job {
    /// Starts `stepper` on a new thread under `control` (e.g. `Control::new(playing)`),
    /// reporting to `on_event`.
    pub fn spawn<S: Stepper>(
        mut stepper: S,
        control: Control,
        options: JobOptions,
        on_event: impl FnMut(Event<S::Snapshot>) -> Flow + Send + 'static,
    ) -> Result<Self> {
        let control = Arc::new(control);
        let theirs = Arc::clone(&control);
        let thread = std::thread::Builder::new()
            .name("scratchnet-job".into())
            .spawn(move || run(&mut stepper, &theirs, options, on_event))
            .map_err(|e| Error::Config(format!("cannot start a training thread: {e}")))?;
        Ok(Job {
            control,
            thread: Some(thread),
        })
    }

    /// The job's switches.
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Whether the job's thread has ended (finished, failed or stopped).
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Stops the job and waits for its thread: at most the step under way.
    pub fn stop_and_wait(mut self) {
        self.control.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Job {
    /// A job dropped is stopped; its thread ends after its step without being waited for.
    fn drop(&mut self) {
        self.control.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Counts to `limit`; a snapshot is the count so far.
    struct Counter {
        n: usize,
        limit: usize,
        fail_at: Option<usize>,
    }

    impl Stepper for Counter {
        type Snapshot = usize;
        fn step(&mut self) -> Result<bool> {
            if Some(self.n) == self.fail_at {
                return Err(Error::Config("step failed".into()));
            }
            if self.n == self.limit {
                return Ok(false);
            }
            self.n += 1;
            Ok(true)
        }
        fn snapshot(&mut self) -> Result<usize> {
            Ok(self.n)
        }
    }

    fn fast() -> JobOptions {
        JobOptions {
            snapshot_every: Duration::from_millis(1),
            idle_every: Duration::from_millis(20),
        }
    }

    #[test]
    fn a_paused_job_steps_once_per_request_then_plays_to_the_end() {
        let (tx, rx) = mpsc::channel();
        let counter = Counter {
            n: 0,
            limit: 100_000,
            fail_at: None,
        };
        let job = Job::spawn(counter, Control::new(false), fast(), move |e| {
            let msg = match e {
                Event::Snapshot(n) => Some(n),
                Event::Finished => Some(usize::MAX),
                Event::Idle => None,
                Event::Failed(e) => panic!("{e}"),
            };
            if let Some(m) = msg {
                let _ = tx.send(m);
            }
            Flow::Continue
        })
        .unwrap();
        let wait = Duration::from_secs(10);
        assert_eq!(rx.recv_timeout(wait).unwrap(), 0, "a snapshot of the start");
        job.control().step();
        assert_eq!(rx.recv_timeout(wait).unwrap(), 1);
        job.control().step();
        assert_eq!(rx.recv_timeout(wait).unwrap(), 2);
        // Paused: nothing more comes.
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        job.control().play();
        let mut last = 2;
        loop {
            let m = rx.recv_timeout(wait).unwrap();
            if m == usize::MAX {
                break;
            }
            assert!(m >= last, "snapshots go forward: {m} after {last}");
            last = m;
        }
        assert_eq!(last, 100_000);
        job.stop_and_wait();
    }

    #[test]
    fn a_paced_job_reports_every_step_and_never_outruns_its_pace() {
        let (tx, rx) = mpsc::channel();
        let counter = Counter {
            n: 0,
            limit: usize::MAX,
            fail_at: None,
        };
        let control = Control::new(true).with_pace(Some(20.0));
        assert_eq!(control.pace(), Some(20.0));
        let start = Instant::now();
        let job = Job::spawn(counter, control, fast(), move |e| {
            if let Event::Snapshot(n) = e {
                let _ = tx.send((n, Instant::now()));
            }
            Flow::Continue
        })
        .unwrap();
        // Every step is reported, one by one (unpaced, a snapshot covers thousands).
        let wait = Duration::from_secs(10);
        let seen: Vec<(usize, Instant)> = (0..6).map(|_| rx.recv_timeout(wait).unwrap()).collect();
        assert_eq!(
            seen.iter().map(|s| s.0).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
        // Step k cannot come before (k − 1) waits of 1/20 s: a bound the pace sets, whatever
        // the machine's speed.
        for &(n, at) in &seen[1..] {
            let least = Duration::from_secs_f64((n - 1) as f64 / 20.0);
            assert!(at - start >= least, "step {n} after {:?}", at - start);
        }
        // Unpaced, it runs ahead at once; out-of-range paces are clamped or ignored.
        job.control().set_pace(None);
        let (n, _) = loop {
            let s = rx.recv_timeout(wait).unwrap();
            if s.0 > 1000 {
                break s;
            }
        };
        assert!(n > 1000);
        job.control().set_pace(Some(1e9));
        assert_eq!(job.control().pace(), Some(MAX_PACE));
        job.control().set_pace(Some(f64::NAN));
        assert_eq!(job.control().pace(), None);
        job.control().set_pace(Some(-1.0));
        assert_eq!(job.control().pace(), None);
        job.stop_and_wait();
    }

    #[test]
    fn a_listener_that_goes_away_stops_the_job_and_failures_are_reported() {
        let counter = Counter {
            n: 0,
            limit: usize::MAX,
            fail_at: None,
        };
        let job = Job::spawn(counter, Control::new(false), fast(), |e| match e {
            Event::Idle => Flow::Stop,
            _ => Flow::Continue,
        })
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !job.is_finished() {
            assert!(Instant::now() < deadline, "the job did not stop");
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut counter = Counter {
            n: 0,
            limit: 10,
            fail_at: Some(3),
        };
        let control = Control::new(true);
        let mut seen = Vec::new();
        run(&mut counter, &control, fast(), |e| {
            seen.push(match e {
                Event::Failed(e) => e.to_string(),
                Event::Snapshot(n) => n.to_string(),
                other => format!("{other:?}"),
            });
            Flow::Continue
        });
        assert_eq!(seen.first().map(String::as_str), Some("0"));
        assert!(seen.last().unwrap().contains("step failed"), "{seen:?}");
    }
}
