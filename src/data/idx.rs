//! The IDX format of MNIST and Fashion-MNIST, gzip-compressed or raw.
//!
//! Big-endian. A 4-byte magic `0x00 0x00 TYPE NDIM` (TYPE `0x08` = unsigned byte), NDIM
//! 32-bit dimension sizes, then the data row-major. Images: magic 2051 (dims N, 28, 28);
//! labels: magic 2049 (dim N). Every header field is checked against the file's real length,
//! so a truncated or mislabelled file is an error naming the file, never a panic.

use std::io::Read;
use std::path::{Path, PathBuf};

use byteorder::{BigEndian, ReadBytesExt};
use flate2::read::MultiGzDecoder;

use super::{Dataset, DatasetName};
use crate::error::{Error, Result};
use crate::matrix::Matrix;

/// The magic number of an IDX file of unsigned-byte images (3 dimensions).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Largest decompressed IDX file accepted (1 GiB; MNIST's largest is 47 MB).
pub const MAX_DECOMPRESSED: u64 = 1 << 30;
/// The magic number of an IDX file of unsigned-byte labels (1 dimension).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// The four files of a split, by their canonical names (each may also end in `.gz`).
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

fn format_err(path: &Path, what: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// The path of `base` in `dir`: the raw file if present, else `base.gz`.
pub fn file_in(dir: &Path, base: &str) -> Option<PathBuf> {
    let raw = dir.join(base);
    if raw.is_file() {
        return Some(raw);
    }
    let gz = dir.join(format!("{base}.gz"));
    gz.is_file().then_some(gz)
}

/// Reads a file, decompressing it if it starts with the gzip magic (`1f 8b`).
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let bytes = crate::input::read(path)?;
    decode_maybe_gz(bytes, path)
}

/// Decompresses `bytes` if they start with the gzip magic; `path` names them in errors.
pub fn decode_maybe_gz(bytes: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        // A hostile .gz can expand a thousandfold; no real IDX file is near this cap. Every
        // member is read: concatenated gzip streams are one valid file (`gzip -dc` reads them
        // all, and some tools write them).
        MultiGzDecoder::new(&bytes[..])
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut out)
            .map_err(|e| format_err(path, format!("truncated or corrupt gzip data ({e})")))?;
        if out.len() as u64 > MAX_DECOMPRESSED {
            return Err(format_err(
                path,
                format!("decompresses to more than {MAX_DECOMPRESSED} bytes: not an IDX dataset"),
            ));
        }
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// Parses an IDX header: checks the magic and returns the dimensions and the data.
fn parse<'a>(
    bytes: &'a [u8],
    path: &Path,
    magic: u32,
    what: &str,
) -> Result<(Vec<usize>, &'a [u8])> {
    let mut cur = bytes;
    let got = cur
        .read_u32::<BigEndian>()
        .map_err(|_| format_err(path, "shorter than an IDX header (4 bytes)"))?;
    if got != magic {
        return Err(format_err(
            path,
            format!("wrong magic number 0x{got:08x}: expected 0x{magic:08x} for IDX {what}"),
        ));
    }
    let ndim = (magic & 0xff) as usize;
    let mut dims = Vec::with_capacity(ndim);
    for _ in 0..ndim {
        let d = cur
            .read_u32::<BigEndian>()
            .map_err(|_| format_err(path, "truncated IDX header"))?;
        dims.push(d as usize);
    }
    let expected = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    match expected {
        Some(n) if n == cur.len() => Ok((dims, cur)),
        Some(n) => Err(format_err(
            path,
            format!(
                "header promises {n} data bytes ({}), file has {}{}",
                dims.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join("×"),
                cur.len(),
                if cur.len() < n { " (truncated)" } else { "" }
            ),
        )),
        None => Err(format_err(path, "dimensions overflow")),
    }
}

/// Images as rows of pixels scaled to [0, 1], and their (height, width).
pub fn read_images(path: &Path) -> Result<(Matrix<f32>, (usize, usize))> {
    parse_images(&read_maybe_gz(path)?, path)
}

/// [`read_images`] on bytes already in memory (decompressed); `path` names them in errors.
pub fn parse_images(bytes: &[u8], path: &Path) -> Result<(Matrix<f32>, (usize, usize))> {
    let (dims, data) = parse(bytes, path, IMAGES_MAGIC, "images (3 dimensions)")?;
    let (n, h, w) = (dims[0], dims[1], dims[2]);
    let pixels = data.iter().map(|&b| f32::from(b) / 255.0).collect();
    let m = Matrix::from_vec(n, h * w, pixels).map_err(|e| format_err(path, e.to_string()))?;
    Ok((m, (h, w)))
}

/// Labels as class indices.
pub fn read_labels(path: &Path) -> Result<Vec<usize>> {
    parse_labels(&read_maybe_gz(path)?, path)
}

/// [`read_labels`] on bytes already in memory (decompressed).
pub fn parse_labels(bytes: &[u8], path: &Path) -> Result<Vec<usize>> {
    let (_, data) = parse(bytes, path, LABELS_MAGIC, "labels (1 dimension)")?;
    Ok(data.iter().map(|&b| usize::from(b)).collect())
}

/// One split (train or test) of an image dataset.
#[derive(Clone, Debug)]
pub struct Split {
    /// One image per row, pixels scaled to [0, 1].
    pub x: Matrix<f32>,
    /// The label of each row.
    pub t: Vec<usize>,
    /// (height, width) of each image.
    pub image_hw: (usize, usize),
}

/// Reads an image file and its label file, checking that they describe the same samples.
pub fn read_split(images: &Path, labels: &Path, classes: usize) -> Result<Split> {
    let (x, hw) = read_images(images)?;
    let t = read_labels(labels)?;
    if x.rows() != t.len() {
        return Err(format_err(
            labels,
            format!(
                "{} labels for {} images in {}",
                t.len(),
                x.rows(),
                images.display()
            ),
        ));
    }
    if let Some(&bad) = t.iter().find(|&&c| c >= classes) {
        return Err(format_err(
            labels,
            format!("label {bad} is outside 0..{classes}"),
        ));
    }
    Ok(Split { x, t, image_hw: hw })
}

/// Loads MNIST or Fashion-MNIST from a directory holding the four files.
pub fn load_dir(name: DatasetName, dir: &Path) -> Result<Dataset> {
    let path = |i: usize| file_in(dir, FILES[i]).unwrap_or_else(|| dir.join(FILES[i]));
    let train = read_split(&path(0), &path(1), 10)?;
    let test = read_split(&path(2), &path(3), 10)?;
    let (h, w) = train.image_hw;
    if test.image_hw != (h, w) {
        return Err(format_err(
            &path(2),
            format!(
                "test images are {}×{}, train images {h}×{w}",
                test.image_hw.0, test.image_hw.1
            ),
        ));
    }
    Ok(Dataset {
        name,
        x_train: train.x,
        t_train: train.t,
        x_test: test.x,
        t_test: test.t,
        classes: 10,
        image_shape: Some((1, h, w)),
        source: Some(dir.to_path_buf()),
    })
}
