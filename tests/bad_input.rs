//! Every kind of bad input the tool can be handed, through the binary: a non-zero exit, one
//! `error:` line that says what is wrong and where, and never a Rust panic. Corrupt dataset
//! files (gzip, IDX header, counts, labels, empty sets, CIFAR record size) and corrupt
//! checkpoints (truncated, not safetensors, another architecture). Bad flags are in `cli.rs`.

mod common;

use std::path::{Path, PathBuf};

use common::{
    assert_one_line_error, cifar_record, gz, idx_images, idx_labels, save_circle_model,
    write_tiny_mnist,
};

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scratchnet-bad-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A tiny MNIST under `root/mnist/` with `file` replaced by `bytes`.
fn mnist_with(root: &Path, file: &str, bytes: Vec<u8>) {
    let dir = root.join("mnist");
    write_tiny_mnist(&dir);
    for stale in [file.to_string(), format!("{file}.gz")] {
        let _ = std::fs::remove_file(dir.join(stale));
    }
    std::fs::write(dir.join(file), bytes).unwrap();
}

fn train_mnist(root: &Path) -> Vec<String> {
    [
        "train",
        "--dataset",
        "mnist",
        "--batch",
        "2",
        "--iters",
        "2",
    ]
    .into_iter()
    .map(String::from)
    .chain(["--data-dir".into(), root.to_str().unwrap().into()])
    .collect()
}

fn assert_training_fails(root: &Path, needle: &str) {
    let args = train_mnist(root);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_one_line_error(&args, needle);
}

#[test]
fn corrupt_dataset_files_are_one_line_errors() {
    let good = gz(&idx_images(6, 3, 2, |i| i as u8));
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 4] {
        *b ^= 0xa5;
    }
    let mut wrong_magic = idx_images(6, 3, 2, |_| 0);
    wrong_magic[2] = 9; // type byte: not unsigned bytes
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "truncated-gz",
            "train-images-idx3-ubyte.gz",
            good[..good.len() / 2].to_vec(),
            "truncated or corrupt gzip",
        ),
        (
            "corrupt-gz",
            "train-images-idx3-ubyte.gz",
            flipped,
            "corrupt gzip",
        ),
        (
            "magic",
            "train-images-idx3-ubyte",
            wrong_magic,
            "wrong magic number",
        ),
        (
            "dims",
            "train-images-idx3-ubyte",
            idx_labels(&[1, 2, 3, 4, 5, 6]),
            "expected 0x00000803",
        ),
        (
            "truncated-idx",
            "t10k-images-idx3-ubyte",
            idx_images(4, 3, 2, |_| 0)[..20].to_vec(),
            "truncated",
        ),
        (
            "counts",
            "train-labels-idx1-ubyte",
            idx_labels(&[0, 1, 2]),
            "3 labels for 6 images",
        ),
        (
            "label-range",
            "t10k-labels-idx1-ubyte",
            idx_labels(&[1, 2, 3, 10]),
            "label 10 is outside 0..10",
        ),
        (
            "zero-sized",
            "train-images-idx3-ubyte",
            idx_images(0, 3, 2, |_| 0),
            "dataset mnist (",
        ),
    ];
    for (tag, file, bytes, needle) in cases {
        let root = temp(tag);
        mnist_with(&root, file, bytes);
        if tag == "zero-sized" {
            std::fs::remove_file(root.join("mnist/train-labels-idx1-ubyte.gz")).unwrap();
            std::fs::write(root.join("mnist/train-labels-idx1-ubyte"), idx_labels(&[])).unwrap();
        }
        assert_training_fails(&root, needle);
        if tag == "zero-sized" {
            assert_training_fails(&root, "its train split has no samples");
        }
        std::fs::remove_dir_all(&root).unwrap();
    }
}

#[test]
fn cifar_files_that_are_not_whole_records_are_one_line_errors() {
    let root = temp("cifar");
    let dir = root.join("cifar10");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "data_batch_1.bin",
        "data_batch_2.bin",
        "data_batch_3.bin",
        "data_batch_4.bin",
        "data_batch_5.bin",
    ] {
        std::fs::write(dir.join(f), cifar_record(1, 0, 0, 0)).unwrap();
    }
    let mut short = cifar_record(2, 0, 0, 0);
    short.pop();
    std::fs::write(dir.join("test_batch.bin"), short).unwrap();
    let root_s = root.to_str().unwrap();
    let args = [
        "train",
        "--dataset",
        "cifar10",
        "--batch",
        "1",
        "--iters",
        "1",
        "--data-dir",
        root_s,
    ];
    assert_one_line_error(&args, "not a whole number of 3073-byte CIFAR-10 records");
    std::fs::write(dir.join("test_batch.bin"), cifar_record(11, 0, 0, 0)).unwrap();
    assert_one_line_error(&args, "label 11");
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn corrupt_checkpoints_are_one_line_errors() {
    let dir = temp("ckpt");
    let model = dir.join("m.safetensors");
    save_circle_model(&model, 1);
    let bytes = std::fs::read(&model).unwrap();
    let write = |name: &str, b: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, b).unwrap();
        p.to_str().unwrap().to_string()
    };
    let truncated = write("truncated.safetensors", &bytes[..bytes.len() - 7]);
    let header_cut = write("header.safetensors", &bytes[..40]);
    let junk = write(
        "junk.safetensors",
        b"PK\x03\x04 a zip file, not a checkpoint",
    );
    let empty = write("empty.safetensors", b"");
    // Another architecture: the header says 9 hidden units, the tensors hold 8 (same length,
    // so the file still parses and only the shape check can catch it).
    let layers: &[u8] = b"affine 2 8; relu; affine 8 2";
    let other = bytes
        .windows(layers.len())
        .position(|w| w == layers)
        .expect("layer list in the header");
    let mut arch = bytes.clone();
    arch[other + 9] = b'9';
    arch[other + 25] = b'9';
    let arch = write("arch.safetensors", &arch);
    for (path, needle) in [
        (&truncated, "not a safetensors checkpoint or truncated"),
        (&header_cut, "not a safetensors checkpoint or truncated"),
        (&junk, "not a safetensors checkpoint or truncated"),
        (&empty, "not a safetensors checkpoint or truncated"),
        (&arch, "tensor 0.weight has shape [8, 2]"),
    ] {
        assert_one_line_error(&["eval", "--model", path], needle);
        assert_one_line_error(&["predict", "--model", path, "--index", "0"], needle);
        assert_one_line_error(&["train", "--epochs", "2", "--resume", path], needle);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
