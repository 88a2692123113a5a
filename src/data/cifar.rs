//! CIFAR-10, "binary version": `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`,
//! each a sequence of 3073-byte records: 1 label byte, then 1024 red, 1024 green and 1024 blue
//! bytes of a 32×32 image (row-major planes).

use std::path::Path;

use super::{Dataset, DatasetName};
use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// Bytes per record of the binary version: a label byte, then 3 planes of 32×32.
pub const RECORD: usize = 1 + 3 * 1024;
/// The five training batches of the binary version, 10,000 records each.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test batch, 10,000 records.
pub const TEST_FILE: &str = "test_batch.bin";

/// Parses one batch file's bytes into (features, labels). Colour: 3072 values R, G, B planes;
/// grayscale: 1024 values of luma 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601). Scaled to [0, 1].
pub fn parse_batch(bytes: &[u8], path: &Path, grayscale: bool) -> Result<(Vec<f32>, Vec<usize>)> {
    let bad = |what: String| Error::format(path, what);
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(bad(format!(
            "{} bytes is not a whole number of {RECORD}-byte CIFAR-10 records",
            bytes.len()
        )));
    }
    let n = bytes.len() / RECORD;
    let dim = if grayscale { 1024 } else { 3072 };
    let mut x = Vec::with_capacity(n * dim);
    let mut t = Vec::with_capacity(n);
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        let label = usize::from(rec[0]);
        if label >= 10 {
            return Err(bad(format!("record {i} has label {label}, outside 0..10")));
        }
        t.push(label);
        let px = &rec[1..];
        if grayscale {
            for j in 0..1024 {
                let (r, g, b) = (
                    f32::from(px[j]),
                    f32::from(px[1024 + j]),
                    f32::from(px[2048 + j]),
                );
                x.push((0.299 * r + 0.587 * g + 0.114 * b) / 255.0);
            }
        } else {
            x.extend(px.iter().map(|&b| f32::from(b) / 255.0));
        }
    }
    Ok((x, t))
}

fn read_files(dir: &Path, files: &[&str], grayscale: bool) -> Result<(Matrix<f32>, Vec<usize>)> {
    let (mut x, mut t) = (Vec::new(), Vec::new());
    for f in files {
        let path = dir.join(f);
        let bytes = crate::input::read(&path)?;
        let (xb, tb) = parse_batch(&bytes, &path, grayscale)?;
        x.extend(xb);
        t.extend(tb);
    }
    let dim = if grayscale { 1024 } else { 3072 };
    let rows = t.len();
    Ok((Matrix::from_vec(rows, dim, x)?, t))
}

/// Loads the five training batches and the test batch from `dir`.
pub fn load_dir(dir: &Path, grayscale: bool) -> Result<Dataset> {
    let (x_train, t_train) = read_files(dir, &TRAIN_FILES, grayscale)?;
    let (x_test, t_test) = read_files(dir, &[TEST_FILE], grayscale)?;
    Ok(Dataset {
        name: DatasetName::Cifar10,
        x_train,
        t_train,
        x_test,
        t_test,
        classes: 10,
        image_shape: Some((if grayscale { 1 } else { 3 }, 32, 32)),
        source: Some(dir.to_path_buf()),
    })
}
