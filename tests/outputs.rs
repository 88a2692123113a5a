//! Never destroy a file, never lose a run: what an output path points at survives (a device
//! node, a FIFO, a symlink, a file's permissions), outputs that name an input or each other
//! are refused before training, and a reader that goes away or a full stdout does not cost the
//! run its files. Everything happens inside a temporary folder; nothing here touches `/dev`.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use common::{assert_one_line_error, scratchnet, stdout_of, temp_dir, write_tiny_mnist};

/// A quick circle run's arguments, with the outputs to add.
fn circle(extra: &[&str]) -> Vec<String> {
    [
        "train",
        "--dataset",
        "circle",
        "--hidden",
        "8",
        "--epochs",
        "3",
    ]
    .iter()
    .chain(extra)
    .map(|s| s.to_string())
    .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[cfg(unix)]
fn file_type(p: &Path) -> std::fs::FileType {
    std::fs::symlink_metadata(p).unwrap().file_type()
}

/// A memory character device (major 1: 3 is null, 7 is full) of our own at `path`, inside a
/// test's temporary folder, so no test ever opens anything under /dev. Needs root (or
/// CAP_MKNOD); returns false where that is not allowed.
fn make_char_device(path: &Path, minor: u32) -> bool {
    std::process::Command::new("mknod")
        .arg(path)
        .args(["c", "1", &minor.to_string()])
        .status()
        .is_ok_and(|st| st.success())
}

#[cfg(unix)]
#[test]
fn a_device_a_fifo_and_a_symlink_are_written_through_and_survive() {
    use std::os::unix::fs::FileTypeExt;
    let dir = temp_dir("through");
    // A null device of our own (root may create one anywhere; /dev is never touched).
    let null = dir.join("null");
    let made = make_char_device(&null, 3);
    let fifo = dir.join("summary.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let real = dir.join("real.csv");
    let link = dir.join("link.csv");
    std::os::unix::fs::symlink("real.csv", &link).unwrap();
    // The FIFO needs a reader, or the writer would wait for one.
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::fs::File::open(&fifo)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        })
    };
    let save = if made {
        null.clone()
    } else {
        eprintln!("note: mknod is not permitted here; --save goes to a plain file instead");
        dir.join("model.st")
    };
    let args = circle(&[
        "--quiet",
        "--save",
        s(&save),
        "--summary-json",
        s(&fifo),
        "--log",
        s(&link),
    ]);
    scratchnet().args(&args).assert().success();
    let summary = reader.join().unwrap();
    assert!(summary.contains("\"test_acc\""), "{summary}");
    assert!(file_type(&fifo).is_fifo(), "the FIFO is still a FIFO");
    assert!(file_type(&link).is_symlink(), "the link is still a link");
    let csv = std::fs::read_to_string(&real).unwrap();
    assert!(
        csv.starts_with("iteration,"),
        "the link's target got the log: {csv}"
    );
    if made {
        assert!(
            file_type(&null).is_char_device(),
            "the device is still a device"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn a_replaced_file_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("mode");
    let model = dir.join("model.st");
    std::fs::write(&model, b"old").unwrap();
    std::fs::set_permissions(&model, std::fs::Permissions::from_mode(0o600)).unwrap();
    scratchnet()
        .args(circle(&["--quiet", "--save", s(&model)]))
        .assert()
        .success();
    let meta = std::fs::metadata(&model).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(meta.len() > 3, "the checkpoint replaced the old content");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dash_is_standard_output_for_text_and_refused_for_a_checkpoint() {
    let out = stdout_of(scratchnet().args(circle(&["--quiet", "--summary-json", "-"])));
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(json["test_acc"].as_f64().is_some(), "{out}");
    assert_one_line_error(
        &circle(&["--save", "-"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "--save writes a binary checkpoint",
    );
}

fn args_of(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn outputs_that_collide_with_each_other_or_an_input_are_refused_before_training() {
    let dir = temp_dir("collide");
    let m = dir.join("m.st");
    assert_one_line_error(
        &args_of(&circle(&["--save", s(&m), "--log", s(&m)])),
        "--log",
    );
    assert!(!m.exists(), "nothing was written");

    let r = dir.join("r.st");
    common::save_circle_model(&r, 2);
    let before = std::fs::read(&r).unwrap();
    let dotted = dir.join(".").join("r.st");
    assert_one_line_error(
        &[
            "train",
            "--resume",
            s(&r),
            "--epochs",
            "4",
            "--summary-json",
            s(&dotted),
        ],
        "are the same file",
    );
    assert_eq!(
        std::fs::read(&r).unwrap(),
        before,
        "the checkpoint is intact"
    );
    // Continuing a checkpoint in place is what --save beside --resume is for.
    scratchnet()
        .args(["train", "--resume", s(&r), "--epochs", "4", "--quiet"])
        .args(["--save", s(&r)])
        .assert()
        .success();
    assert_ne!(std::fs::read(&r).unwrap(), before, "continued in place");

    // An output onto a dataset file.
    let data = dir.join("data");
    write_tiny_mnist(&data.join("mnist"));
    let labels: PathBuf = std::fs::read_dir(data.join("mnist"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| s(p).contains("t10k-labels"))
        .unwrap();
    let before = std::fs::read(&labels).unwrap();
    assert_one_line_error(
        &[
            "train",
            "--dataset",
            "mnist",
            "--data-dir",
            s(&data),
            "--batch",
            "2",
            "--iters",
            "2",
            "--save",
            s(&labels),
        ],
        "the dataset file",
    );
    assert_eq!(
        std::fs::read(&labels).unwrap(),
        before,
        "the data is intact"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_reader_that_goes_away_does_not_cost_the_run_its_files() {
    let dir = temp_dir("pipe");
    let (ckpt, log, summary) = (dir.join("x.st"), dir.join("x.csv"), dir.join("x.json"));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("scratchnet"))
        .args(circle(&[
            "--save",
            s(&ckpt),
            "--log",
            s(&log),
            "--summary-json",
            s(&summary),
        ]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Like `| head -0`: the reader is gone before the first line is printed.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let csv = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        common::epoch_rows(&csv).len(),
        3,
        "all three epochs logged: {csv}"
    );
    assert!(ckpt.is_file() && summary.is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_stdout_is_one_error_line_after_the_files_are_written() {
    let dir = temp_dir("full");
    let device = dir.join("full");
    if !make_char_device(&device, 7) {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: mknod is not permitted here, so no full device can be made for this test"
        );
        return;
    }
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open(&device)
        .unwrap();
    let ckpt = dir.join("x.st");
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("scratchnet"))
        .args(circle(&["--save", s(&ckpt)]))
        .stdout(Stdio::from(full))
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(
        errors[0].starts_with("error: cannot access standard output"),
        "{stderr}"
    );
    assert!(ckpt.is_file(), "the run still saved its checkpoint");
    std::fs::remove_dir_all(&dir).unwrap();
}
