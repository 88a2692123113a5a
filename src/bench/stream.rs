//! Memory bandwidth, STREAM-triad style: `a[i] = b[i] + s·c[i]` over arrays far larger than
//! the last-level cache, timed on 1 and on several threads at once. It is the slope of the
//! roofline: a product that moves `B` bytes cannot run faster than `B / bandwidth`.
//!
//! Bytes are counted as STREAM counts them: two arrays read, one written (24 bytes per f64
//! element; the write-allocate read of `a` is not counted), so the figure is comparable with
//! published STREAM results.

use std::time::Instant;

/// Elements per array: 3 × 64 MiB of f64, eight times a 24 MiB L3 and well past a 32 MiB one.
pub const ELEMENTS: usize = 8 << 20;

/// Best-of-`rounds` triad bandwidth in GB/s (10⁹ bytes/s) on `threads` threads, each working
/// on its own contiguous slice of the arrays.
pub fn triad(threads: usize, rounds: usize) -> f64 {
    triad_on(threads, rounds, ELEMENTS)
}

/// [`triad`] on arrays of `n` elements (tests use small ones).
pub fn triad_on(threads: usize, rounds: usize, n: usize) -> f64 {
    let threads = threads.max(1);
    let b = vec![1.0_f64; n];
    let c = vec![2.0_f64; n];
    let mut a = vec![0.0_f64; n];
    let chunk = n.div_ceil(threads);
    let s = 3.0_f64;
    let mut best = 0.0_f64;
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for ((a, b), c) in a
                .chunks_mut(chunk)
                .zip(b.chunks(chunk))
                .zip(c.chunks(chunk))
            {
                scope.spawn(move || {
                    for ((x, &y), &z) in a.iter_mut().zip(b).zip(c) {
                        *x = y + s * z;
                    }
                });
            }
        });
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        best = best.max((3 * 8 * n) as f64 / secs / 1e9);
        std::hint::black_box(&a);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triad_reports_a_positive_bandwidth() {
        let bw = triad_on(2, 2, 1 << 16);
        assert!(bw > 0.0 && bw.is_finite(), "{bw}");
    }
}
