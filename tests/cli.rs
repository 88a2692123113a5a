//! The `scratchnet` binary: exit codes, output formats, and one-line errors on bad input.

mod common;

use std::path::Path;

use common::{assert_one_line_error, scratchnet, stdout_of};
use predicates::prelude::*;

#[test]
fn bench_gemm_csv_has_exact_columns_and_one_row_per_point() {
    let out = scratchnet()
        .args([
            "bench",
            "gemm",
            "--kernels",
            "naive,simd,threaded",
            "--sizes",
            "16,33",
            "--shapes",
            "7x5x3:ta",
            "--format",
            "csv",
            "--budget-ms",
            "5",
            "--threads",
            "2",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "kernel,m,k,n,transpose,threads,precision,gflops,pct_peak,speedup_vs_naive"
    );
    assert_eq!(lines.len(), 1 + 3 * 3, "{stdout}");
    let naive_row: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        &naive_row[..7],
        &["naive", "16", "16", "16", "none", "1", "f32"]
    );
    assert_eq!(naive_row[9], "1.00");
    let threaded_row: Vec<&str> = lines[3].split(',').collect();
    // A 16³ product is too small to split: the report says it ran on one thread.
    assert_eq!(
        &threaded_row[..6],
        &["threaded", "16", "16", "16", "none", "1"]
    );
    for line in &lines[1..] {
        let gflops: f64 = line.split(',').nth(7).unwrap().parse().unwrap();
        assert!(gflops > 0.0, "{line}");
    }
    // The experiment header goes to stderr so stdout stays pure CSV.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("# fma peak:"), "{stderr}");
}

#[test]
fn bench_gemm_table_markdown_and_svg() {
    let dir = std::env::temp_dir().join(format!("scratchnet-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("gemm.svg");
    scratchnet()
        .args([
            "bench",
            "gemm",
            "--kernels",
            "reordered,packed",
            "--sizes",
            "8,16",
        ])
        .args([
            "--shapes",
            "none",
            "--format",
            "markdown",
            "--budget-ms",
            "5",
            "--quiet",
        ])
        .arg("--svg")
        .arg(&svg)
        .assert()
        .success()
        .stdout(predicate::str::contains("| kernel"))
        .stdout(predicate::str::contains("- fma peak:"))
        .stdout(predicate::str::contains("| packed"));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("packed"));
    scratchnet()
        .args([
            "bench",
            "gemm",
            "--kernels",
            "auto",
            "--sizes",
            "8",
            "--shapes",
            "none",
        ])
        .args(["--precision", "f64", "--budget-ms", "5", "--quiet"])
        .assert()
        .success()
        .stdout(predicate::str::contains("f64"))
        .stdout(predicate::str::contains("cpu:"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_bench_flags_are_one_line_errors() {
    assert_one_line_error(&["bench", "gemm", "--threads", "0"], "--threads");
    assert_one_line_error(
        &["bench", "gemm", "--kernels", "fast"],
        "unknown GEMM kernel 'fast'",
    );
    assert_one_line_error(
        &["bench", "gemm", "--shapes", "10x0x3"],
        "invalid shape '10x0x3'",
    );
    assert_one_line_error(&["bench", "gemm", "--sizes", "abc"], "--sizes");
    assert_one_line_error(
        &["bench", "gemm", "--sizes", "none", "--shapes", "none"],
        "nothing to measure",
    );
    assert_one_line_error(&["bench", "gemm", "--budget-ms", "0"], "--budget-ms");
    let svg_in_missing_dir = std::env::temp_dir().join("scratchnet-no-such-dir/x.svg");
    assert_one_line_error(
        &[
            "bench",
            "gemm",
            "--kernels",
            "simd",
            "--sizes",
            "8",
            "--shapes",
            "none",
            "--budget-ms",
            "1",
            "--quiet",
            "--svg",
            svg_in_missing_dir.to_str().unwrap(),
        ],
        "scratchnet-no-such-dir",
    );
}

#[test]
fn clap_rejects_unknown_values_without_panicking() {
    scratchnet()
        .args(["bench", "gemm", "--precision", "f16"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("f16"))
        .stderr(predicate::str::contains("panicked").not());
}

#[test]
fn eval_samples_evaluates_a_head_each_epoch_and_everything_at_the_end() {
    let dir = common::temp_dir("eval-samples");
    let log = dir.join("log.csv");
    let run = |extra: &[&str]| {
        stdout_of(
            scratchnet()
                .args([
                    "train",
                    "--dataset",
                    "circle",
                    "--hidden",
                    "8",
                    "--epochs",
                    "3",
                ])
                .args(["--batch", "10", "--seed", "3", "--log"])
                .arg(&log)
                .args(extra),
        )
    };
    let full = run(&[]);
    let full_rows = common::epoch_rows(&std::fs::read_to_string(&log).unwrap());
    let head = run(&["--eval-samples", "20"]);
    let head_rows = common::epoch_rows(&std::fs::read_to_string(&log).unwrap());
    assert!(
        head.contains("on the first 20 training and 20 test samples") && !full.contains("first 20"),
        "{head}"
    );
    let col =
        |rows: &[Vec<String>], c: usize| rows.iter().map(|r| r[c].clone()).collect::<Vec<_>>();
    assert_eq!(col(&head_rows, 8), ["20", "20", "all"]);
    assert_eq!(col(&full_rows, 8), ["all", "all", "all"]);
    // Same steps (loss column), same final accuracies; an accuracy on 20 samples is k/20.
    assert_eq!(col(&head_rows, 3), col(&full_rows, 3));
    assert_eq!(head_rows[2][4..6], full_rows[2][4..6]);
    for acc in &head_rows[0][4..6] {
        let k = acc.parse::<f64>().unwrap() * 20.0;
        assert!(
            (k - k.round()).abs() < 1e-3,
            "{acc} is not a multiple of 1/20"
        );
    }
    common::assert_one_line_error(
        &["train", "--dataset", "circle", "--eval-samples", "0"],
        "--eval-samples",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn train_on_the_circle_writes_log_plot_and_summary() {
    let dir = std::env::temp_dir().join(format!("scratchnet-train-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (log, plot, json) = (
        dir.join("log.csv"),
        dir.join("plot.svg"),
        dir.join("s.json"),
    );
    let stdout = stdout_of(
        scratchnet()
            .args([
                "train",
                "--dataset",
                "circle",
                "--hidden",
                "30,5,10",
                "--epochs",
                "40",
            ])
            .args(["--batch", "10", "--lr", "0.01", "--seed", "3"])
            .arg("--log")
            .arg(&log)
            .arg("--plot")
            .arg(&plot)
            .arg("--summary-json")
            .arg(&json),
    );
    assert!(stdout.contains("epoch  iterations"), "{stdout}");
    assert!(stdout.contains("done: test accuracy"), "{stdout}");
    // The log: every one of the 4,000 iterations' batch losses, and the 40 epochs' figures
    // on the rows where an epoch ended.
    let csv = std::fs::read_to_string(&log).unwrap();
    assert!(csv.starts_with(
        "iteration,batch_loss,epoch,loss,train_acc,test_acc,seconds,samples_per_sec,eval_samples\n"
    ));
    assert_eq!(csv.lines().count(), 1 + 4000);
    let epochs = common::epoch_rows(&csv);
    assert_eq!(epochs.len(), 40);
    assert_eq!(epochs[39][0], "4000");
    assert_eq!(epochs[39][2], "40");
    assert_eq!(epochs[39][8], "all");
    // The plot: the per-iteration loss (raw and smoothed) and both accuracies, with their
    // axis titles and legend names.
    let svg = std::fs::read_to_string(&plot).unwrap();
    for text in [
        "training loss",
        "mini-batch loss",
        "iteration",
        "batch loss",
        "smoothed",
        "accuracy",
        "epoch",
    ] {
        assert!(svg.contains(text), "'{text}' missing from the plot");
    }
    for legend in ["train", "test"] {
        assert!(
            svg.contains(&format!("\n{legend}\n</text>")),
            "legend {legend}"
        );
    }
    let summary = std::fs::read_to_string(&json).unwrap();
    for key in [
        "\"dataset\": \"circle\"",
        "\"hidden\"",
        "\"activation\": \"relu\"",
        "\"optimizer\": \"adam\"",
        "\"lr\": 0.01",
        "\"batch\": 10",
        "\"iterations\": 4000",
        "\"epochs\": 40",
        "\"seed\": 3",
        "\"threads\"",
        "\"precision\": \"f32\"",
        "\"final_loss\"",
        "\"train_acc\"",
        "\"test_acc\"",
        "\"train_seconds\"",
        "\"eval_seconds\"",
    ] {
        assert!(summary.contains(key), "{key} missing from {summary}");
    }
    let test_acc: f64 = summary
        .lines()
        .find(|l| l.contains("\"test_acc\""))
        .and_then(|l| l.split(':').nth(1))
        .map(|v| v.trim().trim_end_matches(',').parse().unwrap())
        .unwrap();
    assert!(test_acc >= 0.99, "circle reached {test_acc}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn same_seed_same_result_whatever_the_threads() {
    let run = |threads: &str| {
        let s = stdout_of(
            scratchnet()
                .args([
                    "train",
                    "--dataset",
                    "spiral",
                    "--hidden",
                    "16,16",
                    "--epochs",
                    "3",
                ])
                .args(["--quiet", "--summary-json", "-", "--threads", threads]),
        );
        s.lines()
            .filter(|l| l.contains("final_loss") || l.contains("_acc"))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(run("1"), run("2"));
}

#[test]
fn bad_train_flags_are_one_line_errors() {
    let circle = ["train", "--dataset", "circle", "--epochs", "1"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        circle
            .iter()
            .copied()
            .chain(extra.iter().copied())
            .collect()
    };
    assert_one_line_error(&with(&["--lr", "0"]), "--lr must be a positive");
    assert_one_line_error(&with(&["--lr", "NaN"]), "--lr must be a positive");
    assert_one_line_error(&with(&["--lr=-0.1"]), "--lr must be a positive");
    assert_one_line_error(&with(&["--batch", "0"]), "--batch must be at least 1");
    assert_one_line_error(
        &with(&["--batch", "5000"]),
        "larger than the 1000 training samples",
    );
    assert_one_line_error(&with(&["--hidden", ""]), "--hidden");
    assert_one_line_error(&with(&["--hidden", "10,0"]), "--hidden");
    assert_one_line_error(&with(&["--dropout", "1"]), "--dropout must be in [0, 1)");
    assert_one_line_error(&with(&["--dropout=-0.1"]), "--dropout");
    assert_one_line_error(&with(&["--optimizer", "lamb"]), "unknown optimizer 'lamb'");
    assert_one_line_error(&with(&["--threads", "0"]), "--threads must be at least 1");
    assert_one_line_error(&with(&["--init", "std:0"]), "invalid --init");
    assert_one_line_error(&with(&["--activation", "gelu"]), "unknown activation");
    assert_one_line_error(&with(&["--weight-decay=-1"]), "--weight-decay");
    assert_one_line_error(
        &["train", "--dataset", "imagenet"],
        "unknown dataset 'imagenet'",
    );
    assert_one_line_error(
        &with(&["--grayscale"]),
        "--grayscale applies to --dataset cifar10",
    );
}

#[test]
fn missing_dataset_says_where_it_looked_and_looks_only_where_named() {
    let empty = common::temp_dir("nodata");
    // The variable names a folder that does hold MNIST: with --data-dir given, it must not
    // be used (training on data the user did not choose), only named in nothing.
    let other = empty.join("other");
    common::write_tiny_mnist(&other.join("mnist"));
    let named = empty.join("named");
    std::fs::create_dir_all(&named).unwrap();
    for (dataset, offline) in [("cifar10", false), ("mnist", true)] {
        let mut cmd = scratchnet();
        cmd.current_dir(&empty)
            .env("SCRATCHNET_DATA", &other)
            .args(["train", "--dataset", dataset, "--data-dir"])
            .arg(&named);
        if offline {
            cmd.arg("--offline");
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        let looked = format!(
            "dataset {dataset} not found; looked in: {}, {}.",
            named.join(dataset).display(),
            named.display()
        );
        assert!(stderr.contains(&looked), "{stderr}");
        assert!(!stderr.contains("/usr/share/datasets"), "{stderr}");
        assert!(!stderr.contains(other.to_str().unwrap()), "{stderr}");
        assert!(
            stderr.contains(&format!("`scratchnet download {dataset}`")),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"));
    }
    // A variable that names an empty place is the only place looked at too.
    let out = scratchnet()
        .current_dir(&empty)
        .env("SCRATCHNET_DATA", &named)
        .args(["train", "--dataset", "mnist", "--offline"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Offline, so nothing was downloaded"),
        "{stderr}"
    );
    assert!(!stderr.contains("/usr/share"), "{stderr}");
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn divergence_is_an_error_suggesting_a_smaller_learning_rate() {
    let out = scratchnet()
        .args([
            "train",
            "--dataset",
            "spiral",
            "--hidden",
            "64,64",
            "--init",
            "std:1",
        ])
        .args([
            "--optimizer",
            "sgd",
            "--lr",
            "10000",
            "--epochs",
            "50",
            "--quiet",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: training diverged"), "{stderr}");
    assert!(stderr.contains("smaller learning rate"), "{stderr}");
}

#[test]
fn save_eval_predict_and_their_errors() {
    let dir = std::env::temp_dir().join(format!("scratchnet-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = dir.join("circle.safetensors");
    common::save_circle_model(&model, 5);
    scratchnet()
        .args(["eval", "--model"])
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains("accuracy"))
        .stdout(predicate::str::contains("true \\ pred"));
    scratchnet()
        .args(["predict", "--index", "3", "--model"])
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "test sample 3 of circle: predicted",
        ));
    let m = model.to_str().unwrap();
    // The confusion matrix as a heat map: 2×2 squares, whose counts add up to the test set,
    // recall and precision in the table; never over the model.
    let heat = dir.join("confusion.svg");
    let table = common::stdout_of(
        scratchnet()
            .args(["eval", "--model", m, "--confusion"])
            .arg(&heat),
    );
    assert!(
        table.contains("recall") && table.contains("precision"),
        "{table}"
    );
    let svg = std::fs::read_to_string(&heat).unwrap();
    assert_eq!(svg.matches("<rect x=").count(), 4, "{svg}");
    let total: usize = svg
        .split(r#"text-anchor="middle" fill=""#)
        .skip(1)
        .filter_map(|t| {
            t.split('>')
                .nth(1)?
                .split('<')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    let tested = table
        .split(" on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap();
    assert_eq!(total.to_string(), tested, "{table}");
    assert_one_line_error(&["eval", "--model", m, "--confusion", m], "--confusion");
    assert_one_line_error(
        &["predict", "--model", m, "--index", "500"],
        "--index 500 is out of range",
    );
    assert_one_line_error(
        &["eval", "--model", m, "--dataset", "imagenet"],
        "unknown dataset",
    );
    let not_a_model = dir.join("junk.safetensors");
    std::fs::write(&not_a_model, b"junk").unwrap();
    assert_one_line_error(
        &["eval", "--model", not_a_model.to_str().unwrap()],
        "not a safetensors checkpoint",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn summary_line(json: &str, key: &str) -> String {
    json.lines()
        .find(|l| l.contains(&format!("\"{key}\"")))
        .unwrap_or_default()
        .trim()
        .trim_end_matches(',')
        .to_string()
}

/// `train --resume CKPT --epochs EPOCHS --quiet`, with its `--summary-json` at `json` read back.
fn resumed_summary(ckpt: &Path, epochs: &str, json: &Path) -> String {
    scratchnet()
        .args(["train", "--quiet", "--epochs", epochs, "--resume"])
        .arg(ckpt)
        .arg("--summary-json")
        .arg(json)
        .assert()
        .success();
    std::fs::read_to_string(json).unwrap()
}

#[test]
fn resume_continues_exactly_and_save_every_writes_during_training() {
    let dir = std::env::temp_dir().join(format!("scratchnet-resume-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let common = [
        "train",
        "--dataset",
        "spiral",
        "--hidden",
        "16,8",
        "--dropout",
        "0.1",
        "--quiet",
    ];
    let straight = dir.join("straight.json");
    scratchnet()
        .args(common)
        .args(["--epochs", "4", "--summary-json"])
        .arg(&straight)
        .assert()
        .success();
    let ckpt = dir.join("half.safetensors");
    scratchnet()
        .args(common)
        .args(["--epochs", "2", "--save-every", "1", "--save"])
        .arg(&ckpt)
        .assert()
        .success();
    let (a, b) = (
        std::fs::read_to_string(&straight).unwrap(),
        resumed_summary(&ckpt, "4", &dir.join("resumed.json")),
    );
    for key in [
        "final_loss",
        "test_acc",
        "train_acc",
        "iterations",
        "epochs",
    ] {
        assert_eq!(summary_line(&a, key), summary_line(&b, key), "{key}");
    }
    // Asking a finished checkpoint for no more work is an error, not a silent no-op.
    assert_one_line_error(
        &["train", "--epochs", "2", "--resume", ckpt.to_str().unwrap()],
        "already done",
    );
    // Flags that would change the run are refused on --resume, not silently overridden.
    for flag in [
        ["--dataset", "xor"],
        ["--lr", "0.5"],
        ["--hidden", "4"],
        ["--seed", "1"],
    ] {
        scratchnet()
            .args(["train", "--epochs", "6", "--resume", ckpt.to_str().unwrap()])
            .args(flag)
            .assert()
            .failure()
            .stderr(predicate::str::contains(format!("'{} <", flag[0])))
            .stderr(predicate::str::contains("cannot be used with"))
            .stderr(predicate::str::contains("'--resume <FILE>'"))
            .stderr(predicate::str::contains("panicked").not());
    }
    scratchnet()
        .args(["train", "--save-every", "1"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("--save <FILE>"))
        .stderr(predicate::str::contains("panicked").not());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn train_samples_trains_on_a_head_and_a_resumed_run_keeps_it() {
    let dir = common::temp_dir("train-samples");
    let common = [
        "train",
        "--dataset",
        "circle",
        "--hidden",
        "8",
        "--batch",
        "10",
        "--train-samples",
        "50",
    ];
    let straight = dir.join("straight.json");
    let out = stdout_of(
        scratchnet()
            .args(common)
            .args(["--epochs", "4", "--summary-json"])
            .arg(&straight),
    );
    assert!(out.contains("the first 50 of 1000 train"), "{out}");
    let a = std::fs::read_to_string(&straight).unwrap();
    assert_eq!(summary_line(&a, "train_samples"), "\"train_samples\": 50");
    // Five batches of 10 an epoch, not a hundred.
    assert_eq!(summary_line(&a, "iterations"), "\"iterations\": 20");
    // Saved halfway and resumed without the flag: the checkpoint keeps training on those 50.
    let ckpt = dir.join("half.st");
    scratchnet()
        .args(common)
        .args(["--epochs", "2", "--quiet", "--save"])
        .arg(&ckpt)
        .assert()
        .success();
    let b = resumed_summary(&ckpt, "4", &dir.join("resumed.json"));
    for key in [
        "final_loss",
        "train_acc",
        "test_acc",
        "iterations",
        "train_samples",
    ] {
        assert_eq!(summary_line(&a, key), summary_line(&b, key), "{key}");
    }
    // Without the flag the JSON says null and an epoch is the whole set.
    let all = dir.join("all.json");
    scratchnet()
        .args(["train", "--dataset", "circle", "--hidden", "8", "--quiet"])
        .args(["--batch", "10", "--epochs", "1", "--summary-json"])
        .arg(&all)
        .assert()
        .success();
    let c = std::fs::read_to_string(&all).unwrap();
    assert_eq!(summary_line(&c, "train_samples"), "\"train_samples\": null");
    assert_eq!(summary_line(&c, "iterations"), "\"iterations\": 100");
    // compare varies it.
    let table = stdout_of(scratchnet().args([
        "compare",
        "--dataset",
        "circle",
        "--hidden",
        "8",
        "--batch",
        "10",
        "--epochs",
        "2",
        "--vary",
        "train-samples=20,200",
    ]));
    assert!(
        table.contains("train-samples=20") && table.contains("train-samples=200"),
        "{table}"
    );
    // Bad counts are one line naming the flag; a resumed run cannot change it.
    for bad in ["0", "1001"] {
        common::assert_one_line_error(
            &["train", "--dataset", "circle", "--train-samples", bad],
            "--train-samples",
        );
    }
    common::assert_one_line_error(
        &["train", "--dataset", "circle", "--train-samples", "5"],
        "--batch 100 is larger than the 5 training samples",
    );
    scratchnet()
        .args([
            "train",
            "--epochs",
            "6",
            "--train-samples",
            "20",
            "--resume",
        ])
        .arg(&ckpt)
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot be used with"))
        .stderr(predicate::str::contains("panicked").not());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ctrl_c_finishes_the_step_saves_and_exits_cleanly() {
    let dir = std::env::temp_dir().join(format!("scratchnet-sigint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ckpt = dir.join("interrupted.safetensors");
    let bin = assert_cmd::cargo::cargo_bin("scratchnet");
    let child = std::process::Command::new(bin)
        .args([
            "train",
            "--dataset",
            "circle",
            "--hidden",
            "8",
            "--epochs",
            "1000000",
            "--quiet",
        ])
        .arg("--save")
        .arg(&ckpt)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Exit 130 as shells expect after SIGINT, with one line saying what was kept and the
    // command that continues the run, --save included so the continuation is kept too.
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("interrupted by SIGINT: stopped after iteration"),
        "{stderr}"
    );
    let resume = format!(
        "--resume {p} --epochs 1000000 --save {p}",
        p = ckpt.display()
    );
    assert!(stderr.contains(&resume), "{stderr}");
    assert!(!stderr.contains("panicked"));
    let meta = scratchnet::checkpoint::read_metadata(&ckpt).unwrap();
    assert!(meta["train_state"].contains("\"iteration\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::io::{BufRead, BufReader};
    let bin = assert_cmd::cargo::cargo_bin("scratchnet");
    let mut child = std::process::Command::new(bin)
        .args([
            "bench",
            "gemm",
            "--kernels",
            "naive,simd",
            "--sizes",
            "8,16,32,64",
        ])
        .args(["--shapes", "none", "--budget-ms", "20", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone now (like `| head -1`).
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success());
}

#[test]
fn a_model_that_does_not_fit_the_dataset_is_refused() {
    // A 2-feature circle model against an MNIST-format set of 3×2 images.
    let dir = std::env::temp_dir().join(format!("scratchnet-misfit-{}", std::process::id()));
    common::write_tiny_mnist(&dir.join("mnist"));
    let model = dir.join("circle.safetensors");
    common::save_circle_model(&model, 1);
    let m = model.to_str().unwrap();
    let data = dir.to_str().unwrap();
    assert_one_line_error(
        &[
            "eval",
            "--model",
            m,
            "--dataset",
            "mnist",
            "--data-dir",
            data,
        ],
        "2 features and 2 classes, as the model has",
    );
    assert_one_line_error(
        &[
            "train",
            "--precision",
            "f64",
            "--epochs",
            "2",
            "--resume",
            m,
        ],
        "resume it with --precision f32",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn descend_reproduces_the_courses_three_learning_rates() {
    let run = |lr: &str| stdout_of(scratchnet().args(["descend", "--lr", lr]));
    // The course (numpy, same numerical gradient): (-6.1e-10, 8.1e-10), (-2.58e13, -1.29e12),
    // (-2.99999994, 3.99999992).
    let good = run("0.1");
    assert!(
        good.contains("end point (-6.11110793e-10, 8.14814391e-10)"),
        "{good}"
    );
    assert!(good.contains("converged"));
    let big = run("10");
    assert!(
        big.contains("end point (-2.58983747e13, -1.29524862e12)"),
        "{big}"
    );
    assert!(big.contains("diverged"));
    let tiny = run("1e-10");
    assert!(
        tiny.contains("end point (-2.99999994e0, 3.99999992e0)"),
        "{tiny}"
    );
    assert!(tiny.contains("barely moved"));
    let svg = std::env::temp_dir().join(format!("scratchnet-descend-{}.svg", std::process::id()));
    scratchnet()
        .args(["descend", "--lr", "0.1", "--plot"])
        .arg(&svg)
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&svg)
            .unwrap()
            .contains("gradient descent")
    );
    std::fs::remove_file(&svg).unwrap();
    assert_one_line_error(&["descend", "--init", "1,2,3"], "expected two numbers");
    assert_one_line_error(&["descend", "--lr", "NaN"], "--lr must be a finite number");
}

#[test]
fn descend_runs_the_books_four_optimizers_on_the_elongated_bowl() {
    let dir = common::temp_dir("descend-optimizers");
    let svg = dir.join("opt.svg");
    let out = stdout_of(
        scratchnet()
            .args(["descend", "--function", "elongated", "--optimizer"])
            .arg("sgd:0.95,momentum:0.1,adagrad:1.5,adam:0.3")
            .arg("--plot")
            .arg(&svg),
    );
    // The book's update rules evaluated step by step in Python end at these digits.
    assert!(out.contains("start (-7, 2), 30 steps"), "{out}");
    for end in [
        "sgd lr 0.95: end point (-3.50392996e-1, 8.47823166e-2)",
        "momentum lr 0.1: end point (8.96413858e-1, 8.80856017e-2)",
        "adagrad lr 1.5: end point (-1.20162322e-1, 2.48638989e-17)",
        "adam lr 0.3: end point (1.36006852e-1, 3.18245376e-1)",
    ] {
        assert!(out.contains(end), "{end} not in {out}");
    }
    let svg = std::fs::read_to_string(&svg).unwrap();
    for title in [
        "sgd (lr 0.95)",
        "momentum (lr 0.1)",
        "adagrad (lr 1.5)",
        "adam (lr 0.3)",
    ] {
        assert!(svg.contains(title), "missing {title}");
    }
    for (args, needle) in [
        (&["--function", "cube"][..], "--function 'cube'"),
        (&["--optimizer", "lbfgs"][..], "lbfgs"),
        (
            &["--optimizer", "sgd:fast"][..],
            "not a finite learning rate",
        ),
        (&["--optimizer", "adam:-1"][..], "--optimizer"),
        (&["--optimizer", ","][..], "--optimizer"),
    ] {
        let mut all = vec!["descend"];
        all.extend_from_slice(args);
        assert_one_line_error(&all, needle);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn playground_draws_the_boundary_and_a_linear_model_fails() {
    let dir = std::env::temp_dir().join(format!("scratchnet-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plot = dir.join("circle.svg");
    let stdout = stdout_of(
        scratchnet()
            .args([
                "playground",
                "--dataset",
                "circle",
                "--epochs",
                "40",
                "--snapshots",
                "20",
                "--plot",
            ])
            .arg(&plot),
    );
    let acc: f64 = stdout
        .split("test accuracy ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(acc >= 0.99, "{stdout}");
    for f in ["circle.svg", "circle-curves.svg", "circle-epoch-20.svg"] {
        let svg = std::fs::read_to_string(dir.join(f)).unwrap();
        assert!(svg.contains("<rect") || svg.contains("accuracy"), "{f}");
    }
    let linear = scratchnet()
        .args([
            "playground",
            "--dataset",
            "circle",
            "--hidden",
            "none",
            "--epochs",
            "20",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&linear.stdout);
    let acc: f64 = text
        .split("test accuracy ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap();
    assert!(acc < 0.8, "a linear model cannot separate a circle: {text}");
    assert_one_line_error(&["playground", "--dataset", "mnist"], "2-D data sets");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_runs_each_variant_and_tabulates_them() {
    let dir = std::env::temp_dir().join(format!("scratchnet-cmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (svg, md) = (dir.join("cmp.svg"), dir.join("cmp.md"));
    stdout_of(
        scratchnet()
            .args([
                "compare",
                "--dataset",
                "xor",
                "--hidden",
                "8",
                "--epochs",
                "3",
            ])
            .args(["--vary", "activation=sigmoid,relu,tanh", "--plot"])
            .arg(&svg)
            .arg("--markdown")
            .arg(&md),
    );
    let table = std::fs::read_to_string(&md).unwrap();
    assert_eq!(table.lines().count(), 2 + 3, "{table}");
    let chart = std::fs::read_to_string(&svg).unwrap();
    for v in ["activation=sigmoid", "activation=relu", "activation=tanh"] {
        assert!(table.contains(v), "{table}");
        // One series per run in each of the two charts' legends.
        assert_eq!(chart.matches(&format!("\n{v}\n</text>")).count(), 2, "{v}");
    }
    for text in [
        "test accuracy",
        "training loss",
        "mini-batch loss",
        "iteration",
        "epoch",
    ] {
        assert!(chart.contains(text), "'{text}' missing from the chart");
    }
    // --target adds how fast each run got there; a target above 1 is refused.
    let stdout = stdout_of(
        scratchnet()
            .args(["compare", "--dataset", "circle", "--hidden", "30,5,10"])
            .args([
                "--optimizer",
                "sgd",
                "--lr",
                "0.03",
                "--batch",
                "10",
                "--epochs",
                "20",
            ])
            .args(["--vary", "activation=sigmoid,relu", "--target", "0.99"]),
    );
    assert!(
        stdout.lines().next().unwrap().contains("epochs to 0.99"),
        "{stdout}"
    );
    let row = |run: &str| {
        stdout
            .lines()
            .find(|l| l.contains(run))
            .unwrap()
            .to_string()
    };
    // Sigmoid with plain SGD is the slow one the course describes: not there in 20 epochs.
    assert!(
        row("activation=sigmoid").contains("not reached"),
        "{stdout}"
    );
    assert!(!row("activation=relu").contains("not reached"), "{stdout}");
    assert_one_line_error(
        &[
            "compare",
            "--dataset",
            "xor",
            "--vary",
            "lr=0.1,0.2",
            "--target",
            "1.01",
        ],
        "--target 1.01",
    );
    assert_one_line_error(
        &["compare", "--dataset", "xor", "--vary", "lr=0.1"],
        "at least two values",
    );
    assert_one_line_error(
        &["compare", "--dataset", "xor", "--vary", "seed=1,2"],
        "cannot vary 'seed'",
    );
    assert_one_line_error(
        &["compare", "--dataset", "xor", "--vary", "lr=0.1,abc"],
        "'abc' is not a number",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cifar10_trains_in_grayscale_from_its_binary_batches() {
    let root = std::env::temp_dir().join(format!("scratchnet-cifar-{}", std::process::id()));
    common::write_tiny_cifar(&root.join("cifar10"));
    let stdout = stdout_of(
        scratchnet()
            .args([
                "train",
                "--dataset",
                "cifar10",
                "--grayscale",
                "--hidden",
                "8",
            ])
            .args([
                "--batch",
                "10",
                "--epochs",
                "5",
                "--lr",
                "0.01",
                "--data-dir",
            ])
            .arg(&root),
    );
    assert!(
        stdout.contains("cifar10: 100 train / 10 test samples, 1024 features, 10 classes"),
        "{stdout}"
    );
    assert!(stdout.contains("network 1024-8-10"), "{stdout}");
    assert!(stdout.contains("test accuracy 1.0000"), "{stdout}");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn compare_checks_every_variant_first_and_reports_one_that_diverges() {
    // The second variant is invalid: refused before the first one trains.
    let out = scratchnet()
        .args([
            "compare",
            "--dataset",
            "circle",
            "--hidden",
            "8",
            "--epochs",
            "2",
        ])
        .args(["--vary", "lr=0.01,-1"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!stderr.contains("training "), "nothing trained: {stderr}");
    assert!(
        stderr.contains("run lr=-1: --lr must be a positive"),
        "{stderr}"
    );
    // One variant diverges: it is marked, the other still runs and is reported.
    let out = scratchnet()
        .args([
            "compare",
            "--dataset",
            "circle",
            "--hidden",
            "8",
            "--epochs",
            "3",
        ])
        .args(["--optimizer", "sgd", "--vary", "lr=0.1,1e9"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let diverged = stdout.lines().find(|l| l.contains("lr=1e9")).unwrap();
    assert!(diverged.contains("diverged at iteration"), "{stdout}");
    let fine = stdout.lines().find(|l| l.contains("lr=0.1 ")).unwrap();
    assert!(fine.contains("0."), "{stdout}");
}

#[test]
fn flags_that_do_not_apply_are_refused() {
    assert_one_line_error(
        &["train", "--dataset", "mnist", "--noise", "0.1"],
        "--noise applies to the generated sets",
    );
    assert_one_line_error(
        &["train", "--dataset", "circle", "--data-dir", "/nonexistent"],
        "reads no files",
    );
    let dir = common::temp_dir("notapply");
    let model = dir.join("c.st");
    common::save_circle_model(&model, 1);
    let m = model.to_str().unwrap();
    assert_one_line_error(
        &["eval", "--model", m, "--dataset", "mnist", "--grayscale"],
        "--grayscale applies to --dataset cifar10 only",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn divergence_before_any_update_blames_the_initial_weights() {
    let out = scratchnet()
        .args(["train", "--dataset", "spiral", "--hidden", "64,64"])
        .args([
            "--init", "std:1000", "--lr", "1e-9", "--epochs", "1", "--quiet",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("iteration 1;"), "{stderr}");
    assert!(stderr.contains("initial weights are too large"), "{stderr}");
    assert!(!stderr.contains("smaller learning rate"), "{stderr}");
}

#[test]
fn the_chance_warning_fires_at_chance_only_with_advice_that_fits() {
    let run = |extra: &[&str]| -> String {
        let out = scratchnet()
            .args(["train", "--dataset", "circle", "--hidden", "16", "--quiet"])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // A learning rate far too small: the loss never moves, and the advice says so.
    let tiny = run(&["--lr", "1e-300", "--epochs", "2"]);
    assert!(tiny.contains("no better than guessing"), "{tiny}");
    assert!(tiny.contains("larger --lr"), "{tiny}");
    assert!(!tiny.contains("smaller --lr"), "{tiny}");
    // A run well above chance but far from perfect gets no warning.
    let partial = run(&["--optimizer", "sgd", "--lr", "0.05", "--epochs", "3"]);
    assert!(!partial.contains("guessing"), "{partial}");
}

#[test]
fn bench_roofline_places_each_product_under_its_roofs() {
    let dir = common::temp_dir("roofline");
    let svg = dir.join("roof.svg");
    let stdout = stdout_of(
        scratchnet()
            .args(["bench", "roofline", "--kernels", "reordered,simd"])
            .args(["--sizes", "64", "--shapes", "100x50x10", "--threads", "2"])
            .args(["--budget-ms", "20", "--format", "csv", "--quiet", "--svg"])
            .arg(&svg),
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "kernel,m×k×n,threads,flop/byte,GFLOP/s,roof,% of roof"
    );
    assert_eq!(lines.len(), 1 + 2 * 2, "{stdout}");
    for line in &lines[1..] {
        let cells: Vec<&str> = line.split(',').collect();
        let (ai, gflops, roof): (f64, f64, f64) = (
            cells[3].parse().unwrap(),
            cells[4].parse().unwrap(),
            cells[5].parse().unwrap(),
        );
        assert!(ai > 0.0 && gflops > 0.0 && roof > 0.0, "{line}");
        // 64³ in f32: 2·64³ flops over 3·64²·4 bytes.
        if cells[1] == "64x64x64" {
            assert!((ai - 2.0 * 64.0 / 12.0).abs() < 0.06, "{line}");
        }
    }
    let chart = std::fs::read_to_string(&svg).unwrap();
    for text in ["GEMM roofline", "arithmetic intensity", "GB/s", "GFLOP/s"] {
        assert!(chart.contains(text), "'{text}' missing from the roofline");
    }
    for legend in ["reordered", "simd"] {
        assert!(chart.contains(&format!("\n{legend}\n</text>")), "{legend}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn train_profile_accounts_for_the_step_layer_by_layer() {
    let out = stdout_of(scratchnet().args([
        "train",
        "--dataset",
        "spiral",
        "--hidden",
        "32,16",
        "--epochs",
        "3",
        "--quiet",
        "--profile",
        "--threads",
        "1",
    ]));
    assert!(out.starts_with("profile: "), "{out}");
    for part in [
        "0: affine 2 32",
        "1: relu",
        "2: affine 32 16",
        "4: affine 16 2",
        "softmax with loss",
        "batch gathering",
        "optimizer",
        "other",
    ] {
        assert!(out.contains(part), "'{part}' missing: {out}");
    }
    // The shares account for the whole training time (each printed to 0.1 %).
    let total: f64 = out
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .find(|c| c.len() > 1 && c.ends_with('%'))
        })
        .map(|c| c.trim_end_matches('%').parse::<f64>().unwrap())
        .sum();
    assert!((total - 100.0).abs() < 2.0, "shares sum to {total}: {out}");
    // Affine layers report a GEMM rate.
    let affine = out.lines().find(|l| l.starts_with("0: affine")).unwrap();
    assert!(affine.split_whitespace().count() >= 7, "{affine}");
}

#[test]
fn search_ranks_random_draws_on_validation_data() {
    let dir = common::temp_dir("search");
    let (plot, csv) = (dir.join("search.svg"), dir.join("search.csv"));
    let out = stdout_of(
        scratchnet()
            .args([
                "search",
                "--dataset",
                "circle",
                "--hidden",
                "8",
                "--batch",
                "10",
            ])
            .args(["--epochs", "2", "--trials", "6", "--top", "3"])
            .args(["--lr-range", "1e-4..1", "--optimizer", "sgd", "--plot"])
            .arg(&plot)
            .arg("--csv")
            .arg(&csv),
    );
    assert!(
        out.contains("800 training and 200 validation samples")
            && out.contains("the test set is not used"),
        "{out}"
    );
    assert!(out.contains("learning rate 10^U(-4, 0)"), "{out}");
    assert!(out.contains("| rank | val acc |"), "{out}");
    assert!(out.contains("best: validation accuracy"), "{out}");
    assert!(out.contains("the best 3 lie in --lr-range"), "{out}");
    // Three rows in the printed table, all six in the CSV, best first.
    let csv = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 6, "{csv}");
    let accs: Vec<f64> = rows
        .iter()
        .filter_map(|r| r.split(',').nth(1).and_then(|v| v.parse().ok()))
        .collect();
    assert!(accs.windows(2).all(|w| w[0] >= w[1]), "{csv}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.contains("against the learning rate") && svg.contains("the best 3"));
    // Bad flags are one line each.
    for (args, needle) in [
        (&["--lr", "0.1"][..], "--lr-range"),
        (&["--weight-decay", "0.1"][..], "--weight-decay-range"),
        (&["--trials", "0"][..], "--trials"),
        (&["--validation", "1.5"][..], "--validation"),
        (&["--lr-range", "0..1"][..], "--lr-range"),
        (
            &["--weight-decay-range", "1e-2..1e-4"][..],
            "--weight-decay-range",
        ),
    ] {
        let mut all = vec!["search", "--dataset", "circle", "--epochs", "1"];
        all.extend_from_slice(args);
        common::assert_one_line_error(&all, needle);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn activations_tabulates_and_draws_each_init_and_layer() {
    let dir = common::temp_dir("activations");
    let plot = dir.join("act.svg");
    let out = stdout_of(
        scratchnet()
            .args(["activations", "--layers", "3", "--samples", "200"])
            .args(["--init", "std:1,xavier", "--plot"])
            .arg(&plot),
    );
    assert!(out.contains("through 3 untrained sigmoid layers"), "{out}");
    // Two inits × three layers.
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("| std:1") || l.starts_with("| xavier"))
        .collect();
    assert_eq!(rows.len(), 6, "{out}");
    let svg = std::fs::read_to_string(&plot).unwrap();
    for text in ["std:1", "xavier", "layer 3", "sigmoid output"] {
        assert!(svg.contains(text), "missing {text}");
    }
    // ReLU's default inits, and its zeros named in the table.
    let relu = stdout_of(scratchnet().args(["activations", "--activation", "relu"]));
    assert!(
        relu.contains("share of zeros") && relu.contains("| he "),
        "{relu}"
    );
    for (args, needle) in [
        (&["--init", "std:0"][..], "--init"),
        (&["--init", ","][..], "--init"),
        (&["--layers", "0"][..], "--layers"),
        (&["--activation", "swish"][..], "swish"),
        (&["--units", "99999999999"][..], "memory"),
    ] {
        let mut all = vec!["activations"];
        all.extend_from_slice(args);
        common::assert_one_line_error(&all, needle);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn eval_half_rounds_the_model_to_float16_and_says_how_much() {
    let dir = common::temp_dir("eval-half");
    let model = dir.join("circle.st");
    common::save_circle_model(&model, 5);
    let accuracy = |out: &str| -> f64 {
        let at = out.find("accuracy ").expect("an accuracy") + "accuracy ".len();
        out[at..at + 6].parse().unwrap()
    };
    let full = stdout_of(scratchnet().arg("eval").arg("--model").arg(&model));
    let half = stdout_of(scratchnet().args(["eval", "--half", "--model"]).arg(&model));
    assert!(!full.contains("float16"));
    // 2-8-2 plus biases: 42 values, nearly all of them random f32s that float16 cannot hold.
    let line = half.lines().next().unwrap();
    assert!(line.starts_with("float16: "), "{half}");
    let changed: usize = line["float16: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(line.contains(" of 42 model values rounded"), "{line}");
    assert!(changed > 30, "{line}");
    // 11 significant bits move the circle's boundary by a hair, not the accuracy.
    assert!(
        (accuracy(&full) - accuracy(&half)).abs() <= 0.01,
        "{full}\n{half}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
