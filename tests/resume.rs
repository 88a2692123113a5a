//! Interrupted and resumed runs, through the binary: SIGTERM saves and writes every file it
//! was asked for and exits 143; a run cut mid-epoch is continued without recording an epoch
//! twice; everything a run needs (grayscale, noise, optimizer, lr, init) comes back from the
//! checkpoint.

mod common;

use std::path::Path;
use std::process::Stdio;

use common::{scratchnet, stdout_of, summary, temp_dir};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[cfg(unix)]
#[test]
fn sigterm_saves_writes_every_file_and_exits_143() {
    let dir = temp_dir("sigterm");
    let (ckpt, log, json, plot) = (
        dir.join("x.st"),
        dir.join("x.csv"),
        dir.join("x.json"),
        dir.join("x.svg"),
    );
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("scratchnet"))
        .args(["train", "--dataset", "circle", "--hidden", "8", "--quiet"])
        .args(["--epochs", "1000000", "--save", s(&ckpt), "--log", s(&log)])
        .args(["--summary-json", s(&json), "--plot", s(&plot)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(stderr.contains("interrupted by SIGTERM"), "{stderr}");
    let resume = format!(
        "--resume {p} --epochs 1000000 --save {p}",
        p = ckpt.display()
    );
    assert!(stderr.contains(&resume), "{stderr}");
    // The log, plot and summary cover the epochs completed, and agree with the checkpoint.
    let rows = common::epoch_rows(&std::fs::read_to_string(&log).unwrap()).len();
    assert!(rows >= 1, "at least one epoch in 1.5 s");
    let j = summary(&json);
    assert_eq!(j["epochs"].as_u64(), Some(rows as u64));
    assert!(std::fs::read_to_string(&plot).unwrap().contains("<svg"));
    let meta = scratchnet::checkpoint::read_metadata(&ckpt).unwrap();
    assert_eq!(meta["epochs"], rows.to_string());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The iteration, loss, epoch and accuracy cells of a log's rows (the seconds differ between
/// runs): what must match between an interrupted-and-resumed run and an uninterrupted one.
fn log_of(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            cells[..6].join(",")
        })
        .collect()
}

#[test]
fn a_run_cut_mid_epoch_resumes_without_recording_the_epoch_twice() {
    // The circle has 1000 training points: 10 iterations of 100 per epoch. Stop at 7, go on
    // to 25, and compare with 25 in one go.
    let dir = temp_dir("midepoch");
    let base = ["train", "--dataset", "circle", "--hidden", "8", "--quiet"];
    let ckpt = dir.join("a.st");
    scratchnet()
        .args(base)
        .args(["--iters", "7", "--save", s(&ckpt)])
        .assert()
        .success();
    let (log, json) = (dir.join("resumed.csv"), dir.join("resumed.json"));
    scratchnet()
        .args(["train", "--resume", s(&ckpt), "--iters", "25", "--quiet"])
        .args(["--log", s(&log), "--summary-json", s(&json)])
        .assert()
        .success();
    let (log1, json1) = (dir.join("whole.csv"), dir.join("whole.json"));
    scratchnet()
        .args(base)
        .args([
            "--iters",
            "25",
            "--log",
            s(&log1),
            "--summary-json",
            s(&json1),
        ])
        .assert()
        .success();
    let text = std::fs::read_to_string(&log).unwrap();
    let epochs: Vec<String> = common::epoch_rows(&text)
        .into_iter()
        .map(|r| r[2].clone())
        .collect();
    assert_eq!(epochs, ["1", "2", "3"], "{text}");
    // Every iteration's loss and every epoch's figures, as if never interrupted.
    assert_eq!(log_of(&log), log_of(&log1));
    assert_eq!(summary(&json)["epochs"], summary(&json1)["epochs"]);
    assert_eq!(summary(&json)["test_acc"], summary(&json1)["test_acc"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_resumed_run_reports_the_checkpoints_optimizer_lr_and_init() {
    let dir = temp_dir("resume-report");
    let ckpt = dir.join("sgd.st");
    scratchnet()
        .args(["train", "--dataset", "circle", "--hidden", "8", "--quiet"])
        .args(["--optimizer", "sgd", "--lr", "0.05", "--init", "xavier"])
        .args(["--epochs", "2", "--save", s(&ckpt)])
        .assert()
        .success();
    let json = dir.join("s.json");
    scratchnet()
        .args(["train", "--resume", s(&ckpt), "--epochs", "3", "--quiet"])
        .args(["--summary-json", s(&json)])
        .assert()
        .success();
    let j = summary(&json);
    assert_eq!(j["optimizer"], "sgd");
    assert_eq!(j["lr"].as_f64(), Some(0.05));
    assert_eq!(j["init"], "xavier");
    assert_eq!(j["epochs"].as_u64(), Some(3));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn noise_is_kept_so_a_noisy_model_is_evaluated_on_the_data_it_was_tested_on() {
    let dir = temp_dir("noise");
    let (ckpt, json) = (dir.join("n.st"), dir.join("n.json"));
    scratchnet()
        .args(["train", "--dataset", "circle", "--hidden", "8", "--quiet"])
        .args(["--noise", "0.8", "--epochs", "5", "--save", s(&ckpt)])
        .args(["--summary-json", s(&json)])
        .assert()
        .success();
    let trained = summary(&json)["test_acc"].as_f64().unwrap();
    let out = stdout_of(scratchnet().args(["eval", "--model", s(&ckpt)]));
    let shown = format!("accuracy {trained:.4}");
    assert!(out.contains(&shown), "expected '{shown}' in {out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_grayscale_cifar_run_resumes_and_predict_draws_a_colour_image() {
    let dir = temp_dir("gray-resume");
    common::write_tiny_cifar(&dir.join("cifar10"));
    let ckpt = dir.join("g.st");
    let data = ["--dataset", "cifar10", "--data-dir", s(&dir)];
    scratchnet()
        .args(["train", "--grayscale", "--hidden", "8", "--batch", "10"])
        .args(data)
        .args(["--epochs", "1", "--quiet", "--save", s(&ckpt)])
        .assert()
        .success();
    scratchnet()
        .args(["train", "--resume", s(&ckpt), "--epochs", "2", "--quiet"])
        .args(["--data-dir", s(&dir)])
        .assert()
        .success();
    // A colour model: predict draws the 32×32 image, not a "point".
    let colour = dir.join("c.st");
    scratchnet()
        .args(["train", "--hidden", "8", "--batch", "10"])
        .args(data)
        .args(["--epochs", "1", "--quiet", "--save", s(&colour)])
        .assert()
        .success();
    let out = stdout_of(
        scratchnet()
            .args(["predict", "--model", s(&colour), "--index", "1"])
            .args(["--data-dir", s(&dir)]),
    );
    assert!(!out.contains("point ("), "{out}");
    let drawn: Vec<&str> = out
        .lines()
        .take_while(|l| !l.starts_with("test sample"))
        .collect();
    assert_eq!(drawn.len(), 32, "{out}");
    // Class 1 is bright in the bottom half: the drawing's last row is denser than its first.
    assert!(drawn[31].trim().len() > drawn[0].trim().len(), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}
