//! The experiment header every published table carries: what ran, where, built how, when.

use std::time::{SystemTime, UNIX_EPOCH};

/// Facts about the machine and the build, gathered once per report.
#[derive(Clone, Debug, PartialEq)]
pub struct Environment {
    /// The CPU's model name, as /proc/cpuinfo gives it.
    pub cpu: String,
    /// Logical cores the OS reports.
    pub logical_cores: usize,
    /// The widest SIMD the kernels use here: `avx512`, `avx2+fma` or `portable`.
    pub simd: &'static str,
    /// The compiler that built this binary (`rustc -V`, read at build time).
    pub rustc: &'static str,
    /// The build profile: optimised or not, with its opt-level.
    pub profile: &'static str,
    /// The git commit the binary was built from (`unknown` outside a checkout).
    pub commit: &'static str,
    /// When the report was made (UTC).
    pub date: String,
    /// The command line that made it, to rerun it.
    pub command: String,
}

impl Environment {
    /// Reads the CPU model from `/proc/cpuinfo` (where there is one) and the build facts
    /// recorded by `build.rs`.
    pub fn detect() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|m| m.trim().to_string())
            })
            .unwrap_or_else(|| std::env::consts::ARCH.to_string());
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Environment {
            cpu,
            logical_cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            simd: if crate::matrix::gemm::dispatch::has_avx512f() {
                "avx512f, avx2+fma"
            } else if crate::matrix::gemm::dispatch::has_avx2_fma() {
                "avx2+fma"
            } else {
                "portable only"
            },
            rustc: env!("SCRATCHNET_RUSTC"),
            profile: build_profile(),
            commit: env!("SCRATCHNET_COMMIT"),
            date: civil_date(secs),
            command: std::env::args().collect::<Vec<_>>().join(" "),
        }
    }

    /// The header as `key: value` lines.
    pub fn lines(&self) -> Vec<(String, String)> {
        vec![
            ("cpu".into(), self.cpu.clone()),
            ("logical cores".into(), self.logical_cores.to_string()),
            ("simd".into(), self.simd.to_string()),
            ("rustc".into(), self.rustc.to_string()),
            ("build".into(), self.profile.to_string()),
            ("commit".into(), self.commit.to_string()),
            ("date".into(), self.date.clone()),
            ("command".into(), self.command.clone()),
        ]
    }
}

/// Whether this binary was compiled without optimisation (`opt-level = 0`).
pub fn is_unoptimised() -> bool {
    env!("SCRATCHNET_OPT_LEVEL") == "0"
}

/// `"optimised (opt-level N)"`, or a warning-worthy description of a debug build.
pub fn build_profile() -> &'static str {
    if is_unoptimised() {
        "debug (unoptimised: tens of times slower)"
    } else {
        concat!("optimised (opt-level ", env!("SCRATCHNET_OPT_LEVEL"), ")")
    }
}

/// The warning `train` and `bench` print first in an unoptimised build, or `None`.
pub fn debug_build_warning() -> Option<&'static str> {
    is_unoptimised().then_some(
        "warning: this is a debug build, tens of times slower than release; use `cargo run --release`",
    )
}

/// `YYYY-MM-DD` (UTC) for seconds since the Unix epoch (Howard Hinnant's civil-from-days).
pub fn civil_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::civil_date;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(951_782_400), "2000-02-29");
        assert_eq!(civil_date(1_795_392_000), "2026-11-23");
    }
}
