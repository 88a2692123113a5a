//! Rung 6 — `threaded`: the `simd` rung split across worker threads.
//!
//! The rows of C are cut into one contiguous band per thread (at multiples of mr, so every band
//! but the last is made of whole tiles); each thread runs the complete packed algorithm on its
//! band — A's rows for that band against all of B, packed once and shared — with its own
//! buffers for A. The calling thread takes the last band itself. The other bands go:
//!
//! - for big products (≥ [`SCOPED_MIN_MACS`]), to `std::thread::scope` threads that read A in
//!   place: their start-up cost (50–200 µs here) vanishes beside milliseconds of work. All the
//!   threads first pack B together, each a share of every block's panels
//!   ([`packed::pack_b_shared`]);
//! - for the mid-sized products of a training step, to persistent [`pool`]
//!   workers that are already awake. Pool jobs must own their data, so a helper's band of A
//!   and its band of C travel to the worker in reusable buffers and come back, and B is packed
//!   once by the caller into the panel order every thread's loops read, and shared — m·k/threads
//!   + m·n/threads copied elements and one packing of B against m·n·k/threads multiply-adds.
//!
//! **Determinism.** An element of C is the sum over k in the same kc slices, in the same order,
//! by the same microkernel, whichever band it falls in; edge tiles merge with the same arithmetic
//! as full ones. So the result is bit-identical for 1, 2 or 16 threads.
//!
//! **Small products stay on one thread.** A band is only worth a thread if it carries at least
//! [`MIN_MACS_PER_THREAD`] multiply-adds (see docs/gemm.md, rung 6, for the measurement). A
//! product on one thread runs the [`direct`] rung where [`direct::suits`] (a training-sized
//! shape), which reads A and B without packing them, else the packed loops.
//!
//! Measure: `scratchnet bench gemm --kernels simd,threaded --threads 2`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, TryLockError};
use std::time::{Duration, Instant};

use super::kernel::MicroKernel;
use super::pack::PackBuffers;
use super::params::BlockParams;
use super::{direct, packed, pool};
use crate::matrix::{Float, MatMut, MatRef};

/// The least work (m·n·k multiply-adds) a thread must get before it is worth using.
pub const MIN_MACS_PER_THREAD: usize = 3 << 20;

/// From this many multiply-adds (64 M, about 4 ms on one core) helpers are scoped threads
/// reading the caller's A and B in place; below it, pool workers with copied operands.
pub const SCOPED_MIN_MACS: usize = 64 << 20;

/// On a machine where the pool does not pay ([`pool_pays`]), products from this many
/// multiply-adds (16 M, about 0.12 ms on one core) also go to scoped threads: with the default
/// thresholds they would otherwise be split through the pool, whose copies cross between the
/// cores' caches. On the Sapphire Rapids VM SimpleConvNet's 4320 → 100 layer (43 M per
/// product) took 2.5 ms per step on two threads through the pool, 2.1 on one, 1.7 scoped.
pub const SCOPED_WITHOUT_POOL_MIN_MACS: usize = 16 << 20;

/// Whether a split product's helpers are scoped threads reading A and B in place, rather than
/// pool workers with copied operands.
fn scoped(work: usize, limits: Thresholds) -> bool {
    work >= limits.scoped_min_macs
        || (limits == Thresholds::default() && work >= SCOPED_WITHOUT_POOL_MIN_MACS && !pool_pays())
}

/// When the rung splits a product and how: the defaults are [`MIN_MACS_PER_THREAD`] and
/// [`SCOPED_MIN_MACS`]; tests lower them to drive both the pool and the scoped-thread paths on
/// small shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// The least work (m·n·k) a thread must get before it is used.
    pub min_macs_per_thread: usize,
    /// From this much work on, helpers are scoped threads reading A and B in place.
    pub scoped_min_macs: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_macs_per_thread: MIN_MACS_PER_THREAD,
            scoped_min_macs: SCOPED_MIN_MACS,
        }
    }
}

/// How many threads a product of `m`×`k`×`n` uses, given at most `max_threads` and a tile of
/// `mr` rows: limited by the work per thread and by the number of row tiles. With the default
/// thresholds, a product for the pool whose bands would carry less than twice
/// [`MIN_MACS_PER_THREAD`] stays on one thread where [`pool_pays`] found the pool too slow.
pub fn threads_for(
    m: usize,
    k: usize,
    n: usize,
    mr: usize,
    max_threads: usize,
    limits: Thresholds,
) -> usize {
    let work = m.saturating_mul(n).saturating_mul(k);
    let split = |min_macs: usize| {
        let by_work = (work / min_macs.max(1)).max(1);
        let by_rows = m.div_ceil(mr).max(1);
        max_threads.min(by_work).min(by_rows).max(1)
    };
    let threads = split(limits.min_macs_per_thread);
    if threads > 1 && !scoped(work, limits) && limits == Thresholds::default() && !pool_pays() {
        return split(2 * limits.min_macs_per_thread);
    }
    threads
}

/// Whether the persistent pool makes a training-sized product faster on this machine.
///
/// Handing a band to a pool worker moves data between the cores' private caches: the packed B
/// and the helper's band of A go over, its band of C comes back. What that costs depends on the
/// CPU far more than the arithmetic does: on the Zen 3 VM two threads ran 100×784×100 at 36–49
/// GFLOP/s against 32 on one; on the Sapphire Rapids VM, where one core reads 320 KB another
/// just wrote in 29 µs, two threads took 134 µs against 113 µs on one. So it is measured, only
/// when a product could use the pool: a 96×768×96 f32 product (an MLP's first layer at batch
/// 96) on one thread and on two, five products each, alternated three times, best of three —
/// about 4 ms. Two threads must be at least 10 % faster. Which way it goes changes the speed of
/// a run, never a bit of its results.
///
/// On a VM the answer can change while a process runs: the Zen 3 VM has periods of a few
/// seconds in which moving data between its vCPUs costs more (its neighbours' load), and a
/// process whose one reading fell in one kept its mid-sized products on one thread long after.
/// So the reading is taken again on the schedule of [`Recheck`]: one second later, then at
/// doubling intervals while the verdict holds, up to [`RECHECK_MAX`]; a changed verdict starts
/// the schedule over. At most one probe in any second and one a minute in the long run, against
/// the 4 ms each costs.
pub fn pool_pays() -> bool {
    gain_pays(pool_gain())
}

/// Two threads pay when they are at least 10 % faster than one on the probe.
pub fn gain_pays(gain: f64) -> bool {
    gain >= 1.1
}

/// The latest reading of [`measure_pool_gain`], re-measured when due (see [`pool_pays`]): the
/// report header and the split decision read the same figure.
pub fn pool_gain() -> f64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    POOL_CHECK.reading(origin.elapsed(), measure_pool_gain)
}

/// How many times this process has measured the pool probe, and the latest reading (`None`
/// before the first): `bench gemm` says when the figure was re-measured during its run.
pub fn pool_readings() -> (u64, Option<f64>) {
    POOL_CHECK.readings()
}

static POOL_CHECK: Recheck = Recheck::new();

/// The first re-measurement of the pool probe comes this long after the first reading.
pub const RECHECK_FIRST: Duration = Duration::from_secs(1);

/// The longest wait between two readings of the pool probe.
pub const RECHECK_MAX: Duration = Duration::from_secs(64);

/// The pool probe's reading over a process's life, and when it is next due.
///
/// Callers read the latest figure without waiting (two atomics); the one that finds it due
/// measures again while the others keep using the old figure. Only the very first reading makes
/// everyone wait, as nobody has a figure yet.
pub struct Recheck {
    /// The latest reading's bits (an `f64`), or [`Recheck::NONE`] before the first.
    gain: AtomicU64,
    /// When the next reading is due, in nanoseconds from the clock's origin.
    due: AtomicU64,
    /// The wait after the latest reading; held while measuring, so one thread measures.
    wait: Mutex<Duration>,
    /// How many readings have been taken.
    count: AtomicU64,
}

impl Recheck {
    /// Bits no reading has: a NaN with a payload `f64` arithmetic never produces here.
    const NONE: u64 = 0x7ff8_dead_beef_0001;

    /// No reading yet.
    pub const fn new() -> Self {
        Recheck {
            gain: AtomicU64::new(Self::NONE),
            due: AtomicU64::new(0),
            wait: Mutex::new(RECHECK_FIRST),
            count: AtomicU64::new(0),
        }
    }

    /// How many readings have been taken, and the latest (`None` before the first).
    pub fn readings(&self) -> (u64, Option<f64>) {
        let latest = self.gain.load(Ordering::Acquire);
        let latest = (latest != Self::NONE).then(|| f64::from_bits(latest));
        (self.count.load(Ordering::Acquire), latest)
    }

    /// The latest reading at time `now` (from any fixed origin), calling `measure` first if none
    /// has been taken or the latest is due for a re-measurement.
    pub fn reading(&self, now: Duration, measure: impl FnOnce() -> f64) -> f64 {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        let latest = self.gain.load(Ordering::Acquire);
        if latest != Self::NONE && nanos(now) < self.due.load(Ordering::Acquire) {
            return f64::from_bits(latest);
        }
        let mut wait = if latest == Self::NONE {
            // The first reading: wait for whoever is taking it.
            self.wait.lock().unwrap_or_else(|e| e.into_inner())
        } else {
            match self.wait.try_lock() {
                Ok(wait) => wait,
                Err(TryLockError::Poisoned(e)) => e.into_inner(),
                // Another thread is measuring: keep to the latest figure meanwhile.
                Err(TryLockError::WouldBlock) => return f64::from_bits(latest),
            }
        };
        // Under the lock, look again: the reading may have been taken while this thread waited.
        let before = self.gain.load(Ordering::Acquire);
        if before != Self::NONE && nanos(now) < self.due.load(Ordering::Acquire) {
            return f64::from_bits(before);
        }
        let gain = measure();
        self.count.fetch_add(1, Ordering::AcqRel);
        if before != Self::NONE {
            *wait = if gain_pays(gain) == gain_pays(f64::from_bits(before)) {
                (*wait * 2).min(RECHECK_MAX)
            } else {
                RECHECK_FIRST
            };
        }
        self.due.store(nanos(now + *wait), Ordering::Release);
        self.gain.store(gain.to_bits(), Ordering::Release);
        gain
    }
}

impl Default for Recheck {
    fn default() -> Self {
        Self::new()
    }
}

/// One thread's time over two threads' on the pool probe of [`pool_pays`].
pub fn measure_pool_gain() -> f64 {
    let (m, k, n) = (96, 768, 96);
    let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 - 6.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 - 3.0).collect();
    let mut c = vec![0.0_f32; m * n];
    let uk = super::dispatch::fastest_kernel::<f32>();
    let params = BlockParams::for_f32(uk.mr(), uk.nr());
    // Thresholds that send any split to the pool: the path being judged.
    let forced = Thresholds {
        min_macs_per_thread: 1,
        scoped_min_macs: usize::MAX,
    };
    let mut bufs = ThreadBuffers::default();
    let mut time = |threads: usize| {
        let start = Instant::now();
        for _ in 0..5 {
            let a = MatRef::new(&a, m, k, k, 1).expect("probe shape");
            let b = MatRef::new(&b, k, n, n, 1).expect("probe shape");
            let c = MatMut::new(&mut c, m, n, n, 1).expect("probe shape");
            gemm(&uk, &params, threads, 1.0, a, b, 0.0, c, &mut bufs, forced);
        }
        start.elapsed()
    };
    time(2); // wakes the pool worker and sizes the buffers
    let (mut one, mut two) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        one = one.min(time(1));
        two = two.min(time(2));
    }
    one.as_secs_f64() / two.as_secs_f64().max(1e-9)
}

/// A helper band's buffers, owned so they can travel to a pool thread and back.
#[derive(Debug, Default)]
pub struct BandBuffers<T> {
    pack: PackBuffers<T>,
    /// The band's rows of A, row-major.
    a: Vec<T>,
    /// The band's rows of C, row-major.
    c: Vec<T>,
}

/// Everything the threaded rung keeps between products.
#[derive(Debug, Default)]
pub struct ThreadBuffers<T> {
    /// The calling thread's packing buffers.
    pub main: PackBuffers<T>,
    helpers: Vec<BandBuffers<T>>,
    /// B, row-major, shared read-only by the helpers.
    b: Arc<Vec<T>>,
}

/// C ← α·A·B + β·C on up to `max_threads` threads (β = 0: C is never read).
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Float>(
    uk: &MicroKernel<T>,
    params: &BlockParams,
    max_threads: usize,
    alpha: T,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    beta: T,
    c: MatMut<'_, T>,
    bufs: &mut ThreadBuffers<T>,
    limits: Thresholds,
) {
    if !c.rows_are_disjoint() {
        // A column-major C: solve Cᵀ = Bᵀ·Aᵀ, whose rows are C's columns.
        return gemm(
            uk,
            params,
            max_threads,
            alpha,
            b.t(),
            a.t(),
            beta,
            c.t(),
            bufs,
            limits,
        );
    }
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    let threads = threads_for(m, k, n, uk.mr(), max_threads, limits);
    if threads == 1 {
        if direct::suits(uk, params, &a, &b, &c) {
            direct::gemm(uk, params, alpha, a, b, beta, c, &mut bufs.main);
        } else {
            packed::gemm(uk, params, alpha, a, b, beta, c, &mut bufs.main);
        }
        return;
    }
    // Bands of whole mr-row tiles, as even as possible; the first bands take the extra tiles.
    let tiles = m.div_ceil(uk.mr());
    let band_rows = |t: usize| (tiles / threads + usize::from(t < tiles % threads)) * uk.mr();
    if bufs.helpers.len() < threads - 1 {
        bufs.helpers.resize_with(threads - 1, BandBuffers::default);
    }
    if scoped(m.saturating_mul(n).saturating_mul(k), limits) {
        // Big product: milliseconds of work per band, so a fresh scoped thread's start-up is
        // noise, and the helpers read A in place instead of from copies. B is packed once, by
        // all the threads together, and shared: each band packing all of B for itself cost a
        // pass over B per thread and a copy of it per thread in L3 (1024³ on two threads ran
        // 1.66× one thread's rate that way, on the Zen 4 VM).
        let b_shared = unique(&mut bufs.b);
        packed::pack_b_shared(b, params, threads, b_shared);
        let b_packed = &b_shared[..];
        std::thread::scope(|scope| {
            let mut rest = c;
            let mut row = 0;
            let mut helpers = bufs.helpers.iter_mut();
            for t in 0..threads {
                let rows = band_rows(t).min(m - row);
                let (band, below) = rest.split_rows_at(rows).expect("rows are disjoint");
                rest = below;
                let a_band = a.sub(row, 0, rows, k);
                if t + 1 == threads {
                    packed::gemm_packed_b(
                        uk,
                        params,
                        alpha,
                        a_band,
                        b_packed,
                        n,
                        beta,
                        band,
                        &mut bufs.main,
                    );
                } else {
                    let pack = &mut helpers.next().expect("one buffer per helper").pack;
                    scope.spawn(move || {
                        packed::gemm_packed_b(
                            uk, params, alpha, a_band, b_packed, n, beta, band, pack,
                        )
                    });
                }
                row += rows;
            }
        });
        return;
    }

    // Mid-sized product (a training step's layers): persistent pool workers, which need owned
    // data. B is packed once, here, into the panels every thread's loops read, and shared:
    // no thread copies or packs B again (packing B per thread cost as much as the second
    // core saved on 100×784×100).
    let b_shared = unique(&mut bufs.b);
    packed::pack_b(b, params, b_shared);

    let (tx, rx) = mpsc::channel::<(usize, BandBuffers<T>)>();
    let mut row = 0;
    let mut bands = Vec::with_capacity(threads - 1);
    for t in 0..threads - 1 {
        let rows = band_rows(t).min(m - row);
        let mut band = std::mem::take(&mut bufs.helpers[t]);
        copy_rows(a.sub(row, 0, rows, k), &mut band.a);
        if beta == T::ZERO {
            band.c.clear();
            band.c.resize(rows * n, T::ZERO);
        } else {
            copy_rows(c.as_ref().sub(row, 0, rows, n), &mut band.c);
        }
        let (uk, params, b_arc, tx) = (*uk, *params, Arc::clone(&bufs.b), tx.clone());
        pool::submit(
            t,
            Box::new(move || {
                let BandBuffers { pack, a, c } = &mut band;
                let a_view = MatRef::new(a, rows, k, k, 1).expect("band of A fits");
                let c_view = MatMut::new(c, rows, n, n, 1).expect("band of C fits");
                packed::gemm_packed_b(&uk, &params, alpha, a_view, &b_arc, n, beta, c_view, pack);
                drop(b_arc); // before replying, so the caller can reuse B's buffer
                let _ = tx.send((t, band));
            }),
        );
        bands.push((row, rows));
        row += rows;
    }
    // The calling thread's own band, straight from the caller's views.
    let (mut top, mine) = c
        .split_rows_at(row)
        .expect("rows are disjoint: checked above");
    let b_all = Arc::clone(&bufs.b);
    packed::gemm_packed_b(
        uk,
        params,
        alpha,
        a.sub(row, 0, m - row, k),
        &b_all,
        n,
        beta,
        mine,
        &mut bufs.main,
    );
    drop(b_all);

    // Collect the helpers' bands (in any order) and copy them into C.
    drop(tx);
    for _ in 0..threads - 1 {
        // Polled, not blocked on: 171 → 134 µs per 100×784×100 product on two threads.
        let (t, band) = pool::receive(&rx).expect("a GEMM worker thread panicked");
        let (r0, rows) = bands[t];
        for i in 0..rows {
            for (j, &v) in band.c[i * n..(i + 1) * n].iter().enumerate() {
                *top.at_mut(r0 + i, j) = v;
            }
        }
        bufs.helpers[t] = band;
    }
}

/// The buffer behind `shared`, replaced by a fresh one if a pool worker still holds it.
fn unique<T>(shared: &mut Arc<Vec<T>>) -> &mut Vec<T> {
    if Arc::get_mut(shared).is_none() {
        *shared = Arc::new(Vec::new());
    }
    Arc::get_mut(shared).expect("fresh Arc is unique")
}

/// Copies a view into `out` as a row-major buffer: one `memcpy` per row when rows are
/// contiguous, a strided gather otherwise (a transposed operand).
fn copy_rows<T: Float>(src: MatRef<'_, T>, out: &mut Vec<T>) {
    let (rows, cols) = src.shape();
    out.clear();
    out.reserve(rows * cols);
    if rows == 0 || cols == 0 {
        return;
    }
    let (rs, cs, data) = (src.rs(), src.cs(), src.data());
    if cs == 1 {
        for i in 0..rows {
            out.extend_from_slice(&data[i * rs..i * rs + cols]);
        }
    } else {
        out.resize(rows * cols, T::ZERO);
        // Walk the source along its contiguous direction (rs = 1 for a transposed view).
        for j in 0..cols {
            let col = &data[j * cs..];
            for (i, &v) in col.iter().step_by(rs.max(1)).take(rows).enumerate() {
                out[i * cols + j] = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Reads `check` at `secs` with a probe that returns `gain`; says whether it measured.
    fn read_at(check: &Recheck, secs: f64, gain: f64) -> (f64, bool) {
        let measured = Cell::new(false);
        let got = check.reading(Duration::from_secs_f64(secs), || {
            measured.set(true);
            gain
        });
        (got, measured.get())
    }

    #[test]
    fn the_pool_check_is_taken_once_then_again_at_doubling_intervals_while_its_verdict_holds() {
        let check = Recheck::new();
        assert_eq!(check.readings(), (0, None));
        assert_eq!(read_at(&check, 0.0, 0.8), (0.8, true));
        // Before the first second nothing is measured, whatever the probe would say now.
        assert_eq!(read_at(&check, 0.5, 1.5), (0.8, false));
        assert_eq!(read_at(&check, 0.999, 1.5), (0.8, false));
        // Due after 1 s; the verdict holds (0.9 < 1.1), so the next wait is 2 s, then 4 s.
        assert_eq!(read_at(&check, 1.0, 0.9), (0.9, true));
        assert_eq!(read_at(&check, 2.9, 1.5), (0.9, false));
        assert_eq!(read_at(&check, 3.0, 1.0), (1.0, true));
        assert_eq!(read_at(&check, 6.9, 1.5), (1.0, false));
        // The verdict changes at 7 s: the schedule starts over, one second.
        assert_eq!(read_at(&check, 7.0, 1.4), (1.4, true));
        assert_eq!(read_at(&check, 7.9, 0.5), (1.4, false));
        assert_eq!(read_at(&check, 8.0, 1.3), (1.3, true));
        assert_eq!(read_at(&check, 9.9, 0.5), (1.3, false));
        assert_eq!(read_at(&check, 10.0, 1.2), (1.2, true));
        assert_eq!(check.readings(), (6, Some(1.2)));
    }

    #[test]
    fn the_wait_between_pool_checks_stops_growing_at_its_cap() {
        let check = Recheck::new();
        let mut now = 0.0;
        let mut waits = Vec::new();
        read_at(&check, now, 1.5);
        for _ in 0..10 {
            // Step in tenths of a second until the check is due again.
            let start = now;
            loop {
                now += 0.1;
                if read_at(&check, now, 1.5).1 {
                    break;
                }
            }
            waits.push((now - start).round() as u64);
        }
        let cap = RECHECK_MAX.as_secs();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, cap, cap, cap]);
    }

    #[test]
    fn a_thread_finding_the_pool_check_being_taken_keeps_the_latest_reading() {
        let check = Recheck::new();
        read_at(&check, 0.0, 1.5);
        let _measuring = check.wait.lock().unwrap();
        // Due, but another thread holds the schedule: no second probe, no waiting.
        assert_eq!(read_at(&check, 5.0, 0.5), (1.5, false));
        assert_eq!(check.readings(), (1, Some(1.5)));
    }
}
