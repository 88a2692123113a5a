//! Helpers shared by the integration tests.
#![allow(dead_code)]

use assert_cmd::Command;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scratchnet::data::{self, Dataset, DatasetName, LoadOptions};
use scratchnet::{Float, Matrix};

/// A generated 2-D dataset (circle, xor, gauss, spiral) drawn from `seed`.
pub fn generated(name: DatasetName, seed: u64) -> Dataset {
    data::load(
        name,
        &LoadOptions {
            seed,
            ..Default::default()
        },
    )
    .unwrap()
}

/// A seeded RNG so every failure reproduces.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A matrix of small integers in [-4, 4]: products and sums of these are exact in f32 up to
/// k ≈ 10⁵, so rungs that sum in different orders must agree bit for bit.
pub fn integer_matrix<T: Float>(rows: usize, cols: usize, rng: &mut StdRng) -> Matrix<T> {
    Matrix::from_fn(rows, cols, |_, _| {
        T::from_f64(rng.random_range(-4i32..=4) as f64)
    })
}

/// A matrix of uniform values in [-1, 1).
pub fn uniform_matrix<T: Float>(rows: usize, cols: usize, rng: &mut StdRng) -> Matrix<T> {
    Matrix::random_uniform(rows, cols, -1.0, 1.0, rng)
}

/// An IDX image file: n images of h×w bytes from `fill(i)`.
pub fn idx_images(n: u32, h: u32, w: u32, fill: impl Fn(usize) -> u8) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 3];
    for d in [n, h, w] {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend((0..(n * h * w) as usize).map(fill));
    b
}

/// An IDX label file.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 1];
    b.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    b.extend_from_slice(labels);
    b
}

/// `bytes` gzipped.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A tiny MNIST-format dataset: 6 train and 4 test 3×2 images; train files gzipped.
pub fn write_tiny_mnist(dir: &Path) {
    write_small_mnist(dir, 3, 2);
}

/// An MNIST-format dataset of 6 train and 4 test `h`×`w` images; train files gzipped.
pub fn write_small_mnist(dir: &Path, h: u32, w: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).unwrap();
    write(
        "train-images-idx3-ubyte.gz",
        gz(&idx_images(6, h, w, |i| (i * 7 % 256) as u8)),
    );
    write(
        "train-labels-idx1-ubyte.gz",
        gz(&idx_labels(&[0, 1, 2, 3, 4, 9])),
    );
    write(
        "t10k-images-idx3-ubyte",
        idx_images(4, h, w, |i| (255 - i % 256) as u8),
    );
    write("t10k-labels-idx1-ubyte", idx_labels(&[5, 6, 7, 8]));
}

/// One CIFAR-10 record whose three colour planes are flat `r`, `g`, `b`.
pub fn cifar_record(label: u8, r: u8, g: u8, b: u8) -> Vec<u8> {
    let mut rec = vec![label];
    rec.extend(std::iter::repeat_n(r, 1024));
    rec.extend(std::iter::repeat_n(g, 1024));
    rec.extend(std::iter::repeat_n(b, 1024));
    rec
}

/// The binary under test.
pub fn scratchnet() -> Command {
    Command::cargo_bin("scratchnet").expect("binary built")
}

/// Runs `cmd`, asserts it succeeded (showing its stderr if not) and returns its stdout.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts a failed run: non-zero exit, exactly one stderr line starting with `error:` and
/// containing `needle`, and never a Rust panic.
pub fn assert_one_line_error(args: &[&str], needle: &str) {
    let out = scratchnet().args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args:?} panicked: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: expected one line, got {stderr}");
    assert!(lines[0].starts_with("error:"), "{args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "{args:?}: '{needle}' not in {stderr}"
    );
}

/// Trains a small 2-8-2 model on the circle for `epochs` and saves it (with its training
/// state) to `path`.
pub fn save_circle_model(path: &Path, epochs: usize) {
    scratchnet()
        .args(["train", "--dataset", "circle", "--hidden", "8", "--quiet"])
        .args(["--epochs", &epochs.to_string(), "--save"])
        .arg(path)
        .assert()
        .success();
}

/// A temporary folder for one test, emptied first: `scratchnet-<tag>-<pid>`.
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scratchnet-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Five training batches of 20 and a test batch of 10 CIFAR-10 records in the real binary
/// format, in `dir`: class 0 bright in the top half, class 1 in the bottom half, in all three
/// planes, so the set is separable in colour and in gray.
pub fn write_tiny_cifar(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let record = |label: u8| -> Vec<u8> {
        let plane = (0..1024).map(move |p| if (p < 512) == (label == 0) { 220 } else { 10 });
        std::iter::once(label)
            .chain(plane.clone())
            .chain(plane.clone())
            .chain(plane)
            .collect()
    };
    let batch = |n: usize| -> Vec<u8> { (0..n).flat_map(|i| record((i % 2) as u8)).collect() };
    for i in 1..=5 {
        std::fs::write(dir.join(format!("data_batch_{i}.bin")), batch(20)).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), batch(10)).unwrap();
}

/// The folder holding the real `name` (MNIST, Fashion-MNIST) through the project's normal
/// lookup, or `None` after printing one line, straight to the terminal (past the test
/// harness's capture), that the test is skipped and why. With `SCRATCHNET_REQUIRE_DATA=1`
/// (CI sets it) a missing dataset fails the test instead: CI can never skip these.
pub fn real_data(name: DatasetName) -> Option<PathBuf> {
    match data::locate::find(name, None) {
        Ok(dir) => Some(dir),
        Err(e) => {
            if std::env::var("SCRATCHNET_REQUIRE_DATA").is_ok_and(|v| v == "1") {
                panic!("SCRATCHNET_REQUIRE_DATA=1 but real {name} is missing: {e}");
            }
            let _ = writeln!(
                std::io::stderr(),
                "skipped: this test needs the real {name} ({e}); point SCRATCHNET_DATA at it"
            );
            None
        }
    }
}

/// The real `name` loaded through [`real_data`]'s lookup, or `None` after saying the test is
/// skipped (failing instead under `SCRATCHNET_REQUIRE_DATA=1`).
pub fn real_dataset(name: DatasetName) -> Option<Dataset> {
    let opts = LoadOptions {
        data_dir: Some(real_data(name)?),
        ..LoadOptions::default()
    };
    Some(data::load(name, &opts).unwrap())
}

/// A `--summary-json` file, parsed.
pub fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The rows of a `--log` CSV where an epoch ended (its `epoch` cell is filled), as cells.
pub fn epoch_rows(csv: &str) -> Vec<Vec<String>> {
    csv.lines()
        .skip(1)
        .map(|l| l.split(',').map(String::from).collect::<Vec<_>>())
        .filter(|cells| !cells[2].is_empty())
        .collect()
}

/// Central differences of `objective` with respect to every value of `x` (step
/// [`scratchnet::gradcheck::H`]): the numerical ∂objective/∂x the layer checks compare with.
pub fn numerical_input_gradient(
    x: &Matrix<f64>,
    mut objective: impl FnMut(&Matrix<f64>) -> f64,
) -> Vec<f64> {
    let h = scratchnet::gradcheck::H;
    (0..x.len())
        .map(|i| {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp.as_mut_slice()[i] += h;
            xm.as_mut_slice()[i] -= h;
            (objective(&xp) - objective(&xm)) / (2.0 * h)
        })
        .collect()
}
