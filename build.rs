//! Records the compiler version, git commit and optimisation level for report headers.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]).unwrap_or_else(|| "rustc (unknown)".into());
    let commit =
        output("git", &["rev-parse", "--short=10", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=SCRATCHNET_RUSTC={version}");
    println!("cargo:rustc-env=SCRATCHNET_COMMIT={commit}");
    // The optimisation level, so `train` and `bench` can warn about unoptimised builds (the
    // test profile keeps debug assertions but is optimised, so cfg!(debug_assertions) is no
    // guide).
    let opt = std::env::var("OPT_LEVEL").unwrap_or_else(|_| "?".into());
    println!("cargo:rustc-env=SCRATCHNET_OPT_LEVEL={opt}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
}
