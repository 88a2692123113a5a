//! Dataset loaders on small files the tests write themselves: IDX (raw and gzip), CIFAR-10
//! binary batches, the lookup order, and every kind of corruption.

mod common;

use std::path::PathBuf;

use common::{cifar_record, gz, idx_images, idx_labels, write_tiny_mnist};
use scratchnet::data::{self, DatasetName, LoadOptions, cifar, idx, locate};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scratchnet-data-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn loads_gzip_and_raw_idx_scaled_to_unit_range() {
    let root = temp_dir("ok");
    write_tiny_mnist(&root.join("mnist"));
    let ds = data::load(
        DatasetName::Mnist,
        &LoadOptions {
            data_dir: Some(root.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ds.x_train.shape(), (6, 6));
    assert_eq!(ds.x_test.shape(), (4, 6));
    assert_eq!(ds.t_train, vec![0, 1, 2, 3, 4, 9]);
    assert_eq!(ds.image_shape, Some((1, 3, 2)));
    assert_eq!(ds.x_train.get(1, 0), 42.0 / 255.0);
    assert_eq!(ds.x_test.get(0, 0), 1.0);
    assert_eq!(ds.source.as_deref(), Some(root.join("mnist").as_path()));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_gzip_file_of_several_members_reads_whole() {
    // `gzip -c a >> f; gzip -c b >> f` is one valid .gz whose content is a then b.
    let root = temp_dir("multigz");
    let dir = root.join("mnist");
    write_tiny_mnist(&dir);
    let images = idx_images(6, 3, 2, |i| (i * 7 % 256) as u8);
    let (head, tail) = images.split_at(20);
    let mut two = gz(head);
    two.extend(gz(tail));
    std::fs::write(dir.join("train-images-idx3-ubyte.gz"), two).unwrap();
    let ds = data::load(
        DatasetName::Mnist,
        &LoadOptions {
            data_dir: Some(root.clone()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ds.x_train.shape(), (6, 6));
    assert_eq!(ds.x_train.get(5, 5), (35.0 * 7.0 % 256.0) / 255.0);
    std::fs::remove_dir_all(&root).unwrap();
}

fn expect_format_error(bytes: Vec<u8>, labels: bool, needle: &str) {
    let dir = temp_dir("bad");
    let path = dir.join("file");
    std::fs::write(&path, bytes).unwrap();
    let err = if labels {
        idx::read_labels(&path).unwrap_err()
    } else {
        idx::read_images(&path).map(|_| ()).unwrap_err()
    };
    let msg = err.to_string();
    assert!(msg.contains(needle), "'{needle}' not in: {msg}");
    assert!(msg.contains(path.to_str().unwrap()), "path missing: {msg}");
    assert!(!msg.contains('\n'));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn corrupt_idx_files_are_clear_errors() {
    let good = idx_images(2, 2, 2, |i| i as u8);
    let mut wrong_magic = good.clone();
    wrong_magic[3] = 1;
    expect_format_error(wrong_magic, false, "wrong magic number 0x00000801");
    expect_format_error(good[..good.len() - 3].to_vec(), false, "truncated");
    expect_format_error(good[..9].to_vec(), false, "truncated IDX header");
    expect_format_error(vec![0, 0], false, "shorter than an IDX header");
    let mut extra = good.clone();
    extra.push(0);
    expect_format_error(extra, false, "file has 9");
    expect_format_error(idx_labels(&[1, 2]), false, "expected 0x00000803");
    expect_format_error(good.clone(), true, "expected 0x00000801");
    let zipped = gz(&good);
    expect_format_error(
        zipped[..zipped.len() / 2].to_vec(),
        false,
        "truncated or corrupt gzip",
    );
    let mut flipped = zipped.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xff;
    flipped[mid + 1] ^= 0xff;
    let dir = temp_dir("flip");
    let p = dir.join("x.gz");
    std::fs::write(&p, &flipped).unwrap();
    assert!(
        idx::read_images(&p).is_err(),
        "a corrupted gzip stream must not load"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mismatched_counts_and_bad_labels_are_rejected() {
    let dir = temp_dir("mismatch");
    std::fs::write(dir.join("i"), idx_images(3, 2, 2, |_| 1)).unwrap();
    std::fs::write(dir.join("l"), idx_labels(&[1, 2])).unwrap();
    let err = idx::read_split(&dir.join("i"), &dir.join("l"), 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 labels for 3 images"), "{err}");
    std::fs::write(dir.join("l"), idx_labels(&[1, 2, 10])).unwrap();
    let err = idx::read_split(&dir.join("i"), &dir.join("l"), 10)
        .unwrap_err()
        .to_string();
    assert!(err.contains("label 10 is outside 0..10"), "{err}");
    // A zero-sized dataset loads as files but is refused as a dataset.
    let root = temp_dir("empty");
    let m = root.join("mnist");
    write_tiny_mnist(&m);
    std::fs::write(m.join("t10k-images-idx3-ubyte"), idx_images(0, 3, 2, |_| 0)).unwrap();
    std::fs::write(m.join("t10k-labels-idx1-ubyte"), idx_labels(&[])).unwrap();
    let err = data::load(
        DatasetName::Mnist,
        &LoadOptions {
            data_dir: Some(root.clone()),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no samples"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn cifar_batches_in_colour_and_grayscale() {
    let dir = temp_dir("cifar");
    for (i, f) in cifar::TRAIN_FILES.iter().enumerate() {
        let mut bytes = cifar_record(i as u8, 255, 0, 0);
        bytes.extend(cifar_record(9, 0, 255, 0));
        std::fs::write(dir.join(f), bytes).unwrap();
    }
    std::fs::write(dir.join(cifar::TEST_FILE), cifar_record(3, 0, 0, 255)).unwrap();
    let ds = cifar::load_dir(&dir, false).unwrap();
    assert_eq!(ds.x_train.shape(), (10, 3072));
    assert_eq!(ds.t_train[..4], [0, 9, 1, 9]);
    assert_eq!((ds.x_train.get(0, 0), ds.x_train.get(0, 1024)), (1.0, 0.0));
    let gray = cifar::load_dir(&dir, true).unwrap();
    assert_eq!(gray.x_train.shape(), (10, 1024));
    assert!((gray.x_train.get(0, 5) - 0.299).abs() < 1e-6);
    assert!((gray.x_test.get(0, 5) - 0.114).abs() < 1e-6);
    assert_eq!(gray.image_shape, Some((1, 32, 32)));

    let path = dir.join(cifar::TEST_FILE);
    let err = cifar::parse_batch(&vec![0; 3072], &path, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a whole number of 3073-byte"), "{err}");
    let err = cifar::parse_batch(&[], &path, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("0 bytes"), "{err}");
    let err = cifar::parse_batch(&cifar_record(10, 0, 0, 0), &path, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("label 10"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_dataset_names_every_place_searched() {
    let empty = temp_dir("missing");
    let env = empty.join("env-root");
    // A place the user names is the only place looked at: --data-dir over the variable, the
    // variable over the defaults, never a fall-back from one to the next.
    let named = locate::candidates_with(DatasetName::Cifar10, Some(&empty), Some(&env));
    assert_eq!(named, [empty.join("cifar10"), empty.clone()]);
    let from_env = locate::candidates_with(DatasetName::Cifar10, None, Some(&env));
    assert_eq!(from_env, [env.join("cifar10"), env.clone()]);
    let searched = locate::candidates_with(DatasetName::Cifar10, None, None);
    assert_eq!(
        searched,
        [
            PathBuf::from("datasets/cifar10"),
            PathBuf::from("/usr/share/datasets/cifar10")
        ]
    );
    let searched = [named, searched].concat();
    let err = locate::find_in(DatasetName::Cifar10, searched)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("dataset cifar10 not found; looked in: "),
        "{err}"
    );
    assert!(err.contains(empty.to_str().unwrap()) && err.contains("/usr/share/datasets/cifar10"));
    assert!(err.contains("data_batch_1.bin"), "{err}");
    assert!(!err.contains('\n'));
    assert!(
        locate::hint(DatasetName::FashionMnist).contains("apt-get install dataset-fashion-mnist")
    );
    // --data-dir may also hold the files directly.
    write_tiny_mnist(&empty);
    assert_eq!(
        locate::find(DatasetName::Mnist, Some(&empty)).unwrap(),
        empty
    );
    std::fs::remove_dir_all(&empty).unwrap();
}
