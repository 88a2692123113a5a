//! Counts and sizes from the command line that cannot be honoured are refused with one line
//! before anything is allocated or run: overflowing counts, sizes beyond this machine's
//! memory, impossible thread counts (from the flag or from `SCRATCHNET_THREADS`).

mod common;

use common::{assert_one_line_error, scratchnet, temp_dir};

#[test]
fn counts_that_overflow_are_refused_or_harmless() {
    assert_one_line_error(
        &[
            "train",
            "--dataset",
            "circle",
            "--epochs",
            "9223372036854775809",
        ],
        "does not fit in a 64-bit count",
    );
    // A period longer than any run never pauses: the run ends and saves once.
    let dir = temp_dir("periods");
    let ckpt = dir.join("x.st");
    scratchnet()
        .args([
            "train",
            "--dataset",
            "circle",
            "--hidden",
            "8",
            "--epochs",
            "2",
        ])
        .args(["--quiet", "--save-every", "9223372036854775808", "--save"])
        .arg(&ckpt)
        .assert()
        .success();
    assert!(ckpt.is_file());
    let plot = dir.join("p.svg");
    scratchnet()
        .args([
            "playground",
            "--epochs",
            "2",
            "--snapshots",
            "4611686018427387904",
        ])
        .arg("--plot")
        .arg(&plot)
        .assert()
        .success();
    assert!(plot.is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sizes_beyond_this_machines_memory_are_refused_with_the_figure() {
    assert_one_line_error(
        &["train", "--dataset", "circle", "--hidden", "1000000000"],
        "of memory, more than the",
    );
    assert_one_line_error(
        &[
            "gradcheck",
            "--dataset",
            "circle",
            "--hidden",
            "100000000",
            "--no-timing",
        ],
        "--hidden 100000000 would need about",
    );
    assert_one_line_error(
        &["bench", "gemm", "--sizes", "200000", "--shapes", "none"],
        "the 200000×200000×200000 product would need about",
    );
    assert_one_line_error(
        &[
            "bench",
            "gemm",
            "--sizes",
            "none",
            "--shapes",
            "18446744073709551615x2x2",
        ],
        "would need more memory than can be counted",
    );
    assert_one_line_error(
        &["descend", "--steps", "18446744073709551615"],
        "--steps 18446744073709551615",
    );
}

#[test]
fn thread_counts_are_checked_wherever_they_come_from() {
    let circle = ["train", "--dataset", "circle", "--epochs", "1"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        circle.iter().chain(extra).copied().collect()
    };
    assert_one_line_error(&with(&["--threads", "100000"]), "more threads than");
    assert_one_line_error(&with(&["--threads", "0"]), "--threads must be at least 1");
    for bad in ["abc", "0", "-1", "100000"] {
        let out = scratchnet()
            .args(circle)
            .env("SCRATCHNET_THREADS", bad)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "SCRATCHNET_THREADS={bad}");
        assert!(stderr.contains("SCRATCHNET_THREADS"), "{bad}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
    // A valid variable is used.
    scratchnet()
        .args(circle)
        .args(["--quiet"])
        .env("SCRATCHNET_THREADS", "2")
        .assert()
        .success();
}
