//! How much memory a command may plan to use, checked before it allocates.
//!
//! A size from the command line (`--hidden 1000000000`, `bench gemm --sizes 200000`) can ask
//! for terabytes. Allocating that aborts the process, or worse, pushes the machine into swap
//! for minutes first. So each command estimates what it needs from its flags, in checked
//! arithmetic, and [`check`] refuses — with the figure — what this machine cannot hold.

use crate::error::{Error, Result};

/// Bytes of memory this process may reasonably use: the kernel's `MemAvailable` (free memory
/// plus what caches would give back), or `None` where that is unknown (not Linux).
pub fn available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib.saturating_mul(1024))
    };
    field("MemAvailable:").or_else(|| field("MemTotal:"))
}

/// `n` bytes in the largest unit that keeps it readable.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Refuses `needed` bytes (`None`: too many to count) for `what` when they exceed what this
/// machine has available. Where the amount available is unknown, only an uncountable need is
/// refused.
pub fn check(what: &str, needed: Option<u64>) -> Result<()> {
    check_against(what, needed, available())
}

/// [`check`] against a given amount available (for tests).
pub fn check_against(what: &str, needed: Option<u64>, available: Option<u64>) -> Result<()> {
    match (needed, available) {
        (None, _) => Err(Error::Config(format!(
            "{what} would need more memory than can be counted (over 16 EiB); ask for less"
        ))),
        (Some(n), Some(a)) if n > a => Err(Error::Config(format!(
            "{what} would need about {} of memory, more than the {} this machine has \
             available; ask for less",
            human(n),
            human(a)
        ))),
        _ => Ok(()),
    }
}

/// `a × b × …` in bytes, or `None` on overflow: the building block of every estimate.
pub fn product(factors: &[usize]) -> Option<u64> {
    factors
        .iter()
        .try_fold(1u64, |acc, &f| acc.checked_mul(u64::try_from(f).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_does_not_fit_and_names_the_figure() {
        let gib = 1u64 << 30;
        assert!(check_against("x", Some(gib), Some(2 * gib)).is_ok());
        let err = check_against("--hidden 1000000000", Some(3 * gib), Some(2 * gib))
            .unwrap_err()
            .to_string();
        assert!(err.contains("3.0 GiB") && err.contains("2.0 GiB"), "{err}");
        assert!(check_against("x", None, None).is_err());
        assert!(check_against("x", Some(u64::MAX), None).is_ok());
        assert_eq!(product(&[usize::MAX, 4]), None);
        assert_eq!(product(&[3, 4, 5]), Some(60));
    }

    #[test]
    fn this_machine_reports_its_memory() {
        if cfg!(target_os = "linux") {
            assert!(available().is_some_and(|a| a > 0));
        }
    }
}
