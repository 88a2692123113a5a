//! Fetching datasets from their public mirrors, verified by the SHA-256 of the decompressed
//! content (the `.gz` wrappers differ between mirrors; the content must not).
//!
//! Every file is downloaded into memory, its length checked against `Content-Length`,
//! decompressed and hashed; only a verified file is written, atomically, under its final name.
//! A failed, short or mismatching download therefore leaves nothing behind, and the next mirror
//! is tried.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::DatasetName;
use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};

/// One file of a dataset: its name on disk (decompressed), its name on the mirror, and the
/// SHA-256 of its decompressed content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSpec {
    pub name: &'static str,
    pub remote: &'static str,
    pub sha256: &'static str,
}

const MNIST: [FileSpec; 4] = [
    FileSpec {
        name: "train-images-idx3-ubyte",
        remote: "train-images-idx3-ubyte.gz",
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    },
    FileSpec {
        name: "train-labels-idx1-ubyte",
        remote: "train-labels-idx1-ubyte.gz",
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    },
    FileSpec {
        name: "t10k-images-idx3-ubyte",
        remote: "t10k-images-idx3-ubyte.gz",
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    },
    FileSpec {
        name: "t10k-labels-idx1-ubyte",
        remote: "t10k-labels-idx1-ubyte.gz",
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
];

const FASHION_MNIST: [FileSpec; 4] = [
    FileSpec {
        name: "train-images-idx3-ubyte",
        remote: "train-images-idx3-ubyte.gz",
        sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    },
    FileSpec {
        name: "train-labels-idx1-ubyte",
        remote: "train-labels-idx1-ubyte.gz",
        sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    },
    FileSpec {
        name: "t10k-images-idx3-ubyte",
        remote: "t10k-images-idx3-ubyte.gz",
        sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    },
    FileSpec {
        name: "t10k-labels-idx1-ubyte",
        remote: "t10k-labels-idx1-ubyte.gz",
        sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
];

/// The files and checksums of a downloadable dataset.
pub fn files(name: DatasetName) -> Result<&'static [FileSpec]> {
    match name {
        DatasetName::Mnist => Ok(&MNIST),
        DatasetName::FashionMnist => Ok(&FASHION_MNIST),
        DatasetName::Cifar10 => Err(Error::Config(
            "downloading cifar10 is not supported yet: fetch the binary version \
             (cifar-10-binary.tar.gz) from its authors' page and unpack the *.bin files into \
             datasets/cifar10/"
                .into(),
        )),
        other => Err(Error::Config(format!(
            "{other} is generated from --seed and needs no download"
        ))),
    }
}

/// The canonical public mirrors, first choice first.
pub fn mirrors(name: DatasetName) -> Vec<String> {
    let list: &[&str] = match name {
        DatasetName::Mnist => &[
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ],
        DatasetName::FashionMnist => &[
            "https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ],
        _ => &[],
    };
    list.iter().map(|s| s.to_string()).collect()
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `dir/<spec.name>` (raw or `.gz`) exists and its decompressed content has the
/// expected checksum.
pub fn verify_file(dir: &Path, spec: &FileSpec) -> Result<bool> {
    match super::idx::file_in(dir, spec.name) {
        Some(path) => Ok(sha256_hex(&super::idx::read_maybe_gz(&path)?) == spec.sha256),
        None => Ok(false),
    }
}

/// Progress of a download: (file name, bytes so far, total bytes if the server said).
pub type Progress<'a> = (&'a str, u64, Option<u64>);

/// Fetches `url` completely into memory, failing if the body ends before `Content-Length`.
fn fetch(
    url: &str,
    progress: &mut dyn FnMut(Progress<'_>),
    label: &str,
) -> std::result::Result<Vec<u8>, String> {
    let mut response = ureq::get(url).call().map_err(|e| e.to_string())?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let mut reader = response.body_mut().as_reader();
    let mut out = Vec::with_capacity(total.unwrap_or(0) as usize);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(format!(
                    "connection dropped after {} bytes ({e})",
                    out.len()
                ));
            }
        };
        out.extend_from_slice(&buf[..n]);
        progress((label, out.len() as u64, total));
    }
    if let Some(t) = total {
        if (out.len() as u64) < t {
            return Err(format!(
                "connection dropped after {} of {t} bytes",
                out.len()
            ));
        }
    }
    Ok(out)
}

/// Downloads `specs` from the first mirror that serves each correctly into `dir` (created if
/// needed). Files already present and verified are kept. Returns the files written.
pub fn download_files(
    specs: &[FileSpec],
    mirrors: &[String],
    dir: &Path,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for spec in specs {
        if verify_file(dir, spec).unwrap_or(false) {
            continue;
        }
        let mut failures = Vec::new();
        let mut done = false;
        for mirror in mirrors {
            let url = format!("{}{}", mirror, spec.remote);
            let result = fetch(&url, progress, spec.name).and_then(|bytes| {
                let content = super::idx::decode_maybe_gz(bytes, Path::new(spec.remote))
                    .map_err(|e| e.to_string())?;
                let got = sha256_hex(&content);
                if got != spec.sha256 {
                    return Err(format!(
                        "checksum mismatch: SHA-256 {got}, expected {}",
                        spec.sha256
                    ));
                }
                Ok(content)
            });
            match result {
                Ok(content) => {
                    let path = dir.join(spec.name);
                    write_atomic(&path, &content)?;
                    written.push(path);
                    done = true;
                    break;
                }
                Err(e) => failures.push(format!("{url}: {e}")),
            }
        }
        if !done {
            return Err(Error::Config(format!(
                "download of {} failed, nothing was written: {}",
                spec.name,
                failures.join("; ")
            )));
        }
    }
    Ok(written)
}

/// Downloads dataset `name` into `root/<name>/` from `mirror` (if given) or its canonical
/// mirrors.
pub fn download(
    name: DatasetName,
    root: &Path,
    mirror: Option<&str>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<PathBuf>> {
    let specs = files(name)?;
    let mirrors = match mirror {
        Some(m) if m.ends_with('/') => vec![m.to_string()],
        Some(m) => vec![format!("{m}/")],
        None => mirrors(name),
    };
    download_files(specs, &mirrors, &root.join(name.name()), progress)
}
