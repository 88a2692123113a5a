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
        // Read, never written: a device never ends, a folder is no file.
        (&"/dev/zero".to_string(), "is a device, not a file"),
        (
            &dir.to_str().unwrap().to_string(),
            "is a folder, not a file",
        ),
    ] {
        assert_one_line_error(&["eval", "--model", path], needle);
        assert_one_line_error(&["predict", "--model", path, "--index", "0"], needle);
        assert_one_line_error(&["train", "--epochs", "2", "--resume", path], needle);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One tensor of a checkpoint being rewritten: name, dtype, shape, little-endian bytes.
struct Tensor {
    name: String,
    dtype: safetensors::Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl safetensors::View for &Tensor {
    fn dtype(&self) -> safetensors::Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Writes `src`'s checkpoint to `dst` after `edit` has changed its tensors and metadata: a
/// crafted file that is valid safetensors, so only scratchnet's own checks can refuse it.
fn craft(
    src: &Path,
    dst: &Path,
    edit: impl FnOnce(&mut Vec<Tensor>, &mut std::collections::HashMap<String, String>),
) -> String {
    let bytes = std::fs::read(src).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    let mut tensors: Vec<Tensor> = st
        .tensors()
        .into_iter()
        .map(|(name, v)| Tensor {
            name,
            dtype: v.dtype(),
            shape: v.shape().to_vec(),
            bytes: v.data().to_vec(),
        })
        .collect();
    edit(&mut tensors, &mut meta);
    let out =
        safetensors::serialize(tensors.iter().map(|t| (t.name.clone(), t)), Some(meta)).unwrap();
    std::fs::write(dst, out).unwrap();
    dst.to_str().unwrap().to_string()
}

#[test]
fn crafted_checkpoints_are_refused_naming_what_is_wrong() {
    let dir = temp("crafted");
    let model = dir.join("m.safetensors");
    // Two epochs of Adam: every parameter has its two moment tensors.
    save_circle_model(&model, 2);
    let resume = |path: &str, needle: &str| {
        assert_one_line_error(&["train", "--epochs", "4", "--resume", path], needle);
    };
    // Optimizer state: a missing slot, a short slot, a slot for no parameter.
    let missing = craft(&model, &dir.join("missing.st"), |t, _| {
        t.retain(|t| t.name != "optimizer.1.1")
    });
    resume(
        &missing,
        "keeps 2 state tensor(s) per parameter, parameter 1 has 1",
    );
    let short = craft(&model, &dir.join("short.st"), |t, _| {
        let slot = t.iter_mut().find(|t| t.name == "optimizer.0.0").unwrap();
        slot.shape = vec![slot.shape[0] - 1];
        slot.bytes.truncate(slot.bytes.len() - 4);
    });
    resume(&short, "tensor optimizer.0.0 has shape");
    let stray = craft(&model, &dir.join("stray.st"), |t, _| {
        t.push(Tensor {
            name: "optimizer.99.0".into(),
            dtype: safetensors::Dtype::F32,
            shape: vec![1],
            bytes: 0f32.to_le_bytes().to_vec(),
        })
    });
    resume(&stray, "tensor optimizer.99.0 matches no parameter");
    // A million activation layers: refused from the header, before building anything.
    let deep = craft(&model, &dir.join("deep.st"), |_, m| {
        let layers = m["layers"].clone() + &"; relu".repeat(1_000_000);
        m.insert("layers".into(), layers);
    });
    let started = std::time::Instant::now();
    assert_one_line_error(&["eval", "--model", &deep], "more than the 1000");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // Non-finite weights: the tensor is named.
    let nan = craft(&model, &dir.join("nan.st"), |t, _| {
        let w = t.iter_mut().find(|t| t.name == "0.weight").unwrap();
        w.bytes[4..8].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    assert_one_line_error(&["eval", "--model", &nan], "tensor 0.weight holds NaN");
    resume(&nan, "tensor 0.weight holds NaN");
    let inf = craft(&model, &dir.join("inf.st"), |t, _| {
        let m = t.iter_mut().find(|t| t.name == "optimizer.0.1").unwrap();
        m.bytes[..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    });
    resume(&inf, "tensor optimizer.0.1 holds inf");
    // Metadata values that are not what they claim: refused naming the field.
    let run_with = |tag: &str, field: &str, value: serde_json::Value| {
        craft(&model, &dir.join(format!("{tag}.st")), |_, m| {
            let mut run: serde_json::Value = serde_json::from_str(&m["run"]).unwrap();
            run["train"][field] = value;
            m.insert("run".into(), run.to_string());
        })
    };
    for (tag, field, value, needle) in [
        (
            "sampling",
            "sampling",
            "zigzag".into(),
            "unknown variant `zigzag`",
        ),
        (
            "seed",
            "seed",
            "abc".into(),
            "invalid type: string \"abc\", expected u64",
        ),
        ("batch", "batch", 0.into(), "'batch' is 0"),
    ] {
        let bad = run_with(tag, field, value);
        resume(&bad, needle);
    }
    let missing_run = craft(&model, &dir.join("norun.st"), |_, m| {
        m.remove("run");
    });
    resume(&missing_run, "no 'run' entry in its metadata");
    let wd = craft(&model, &dir.join("wd.st"), |_, m| {
        m.insert("weight_decay".into(), "-1".into());
    });
    resume(&wd, "'weight_decay' must be a finite number");
    let lr = craft(&model, &dir.join("lr.st"), |_, m| {
        let state = m["train_state"].clone();
        let at = state.find("\"lr\":").unwrap() + 5;
        let end = at + state[at..].find([',', '}']).unwrap();
        m.insert(
            "train_state".into(),
            format!("{}-0.5{}", &state[..at], &state[end..]),
        );
    });
    resume(&lr, "training state 'lr' must be a positive number");
    let seed = run_with("eval-seed", "seed", (-3).into());
    assert_one_line_error(
        &["eval", "--model", &seed],
        "its run settings are invalid: invalid value: integer `-3`",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
