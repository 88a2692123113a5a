//! A small pool of persistent worker threads for the `threaded` rung.
//!
//! Why not `std::thread::scope` per product: creating a thread and waking the other core out of
//! idle costs 50–200 µs on this VM, as much as a whole 100×784×100 product. Pool workers are
//! created once and, after each job, spin for [`SPIN`] before they block, so the products of a
//! training step find them awake. Jobs own their data (`'static`), so the pool needs no
//! `unsafe` lifetime tricks: the `threaded` rung moves each band's buffers in and gets them back.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A unit of work for a pool thread.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// How long an idle worker keeps polling before it sleeps: longer than the gap between the
/// products of one training step, short enough to give the core back soon after.
pub const SPIN: Duration = Duration::from_millis(5);

static WORKERS: OnceLock<Mutex<Vec<Sender<Job>>>> = OnceLock::new();

/// Runs `job` on pool worker `index` (workers are created on first use and then kept).
pub fn submit(index: usize, job: Job) {
    let workers = WORKERS.get_or_init(|| Mutex::new(Vec::new()));
    let mut workers = workers.lock().unwrap_or_else(|e| e.into_inner());
    while workers.len() <= index {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(format!("scratchnet-gemm-{}", workers.len()))
            .spawn(move || worker(rx))
            .expect("the OS refused to start a GEMM worker thread");
        workers.push(tx);
    }
    workers[index]
        .send(job)
        .expect("GEMM worker thread stopped: an earlier job panicked");
}

fn worker(rx: Receiver<Job>) {
    while let Some(job) = receive(&rx) {
        job();
    }
}

/// The next message on `rx`, or `None` once every sender is gone. It polls for [`SPIN`]
/// before it blocks: a blocked thread's vCPU goes idle, and waking it again took 30–40 µs on
/// the Sapphire Rapids VM — as much as a 100×784×100 product's half. After the spin it blocks,
/// so an oversubscribed machine (more threads than cores) does not burn the core the other
/// thread needs.
pub fn receive<M>(rx: &Receiver<M>) -> Option<M> {
    let deadline = Instant::now() + SPIN;
    loop {
        match rx.try_recv() {
            Ok(message) => return Some(message),
            Err(TryRecvError::Empty) if Instant::now() < deadline => std::hint::spin_loop(),
            Err(TryRecvError::Empty) => return rx.recv().ok(),
            Err(TryRecvError::Disconnected) => return None,
        }
    }
}
