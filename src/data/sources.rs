//! What each downloadable dataset is, as published: its files with their sizes and SHA-256
//! (of the decompressed content for MNIST and Fashion-MNIST, of the archive for CIFAR-10), and
//! the mirrors that serve them. The fetching itself is in [`download`](super::download).

use super::{DatasetName, cifar};
use crate::error::{Error, Result};

/// One file of a dataset: its name on disk (decompressed), its name on the mirror, the
/// SHA-256 of its decompressed content and that content's size in bytes. A mirror may serve
/// it gzipped or raw; either way no more than `size` bytes (plus gzip's few bytes of framing)
/// are accepted, so a mirror that announces or sends more is refused before it fills memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// The file's name in the dataset folder.
    pub name: &'static str,
    /// Its name on the mirrors (often gzipped).
    pub remote: &'static str,
    /// SHA-256 of the file as kept (after gunzipping), hex.
    pub sha256: &'static str,
    /// Its exact size in bytes as kept.
    pub size: u64,
}

impl FileSpec {
    /// The most bytes a mirror may send for this file: its size, and gzip's worst-case
    /// overhead on incompressible data (5 bytes per 32 KiB block plus the header).
    pub fn max_download(&self) -> u64 {
        self.size + self.size / 4096 + 1024
    }
}

const MNIST: [FileSpec; 4] = [
    FileSpec {
        name: "train-images-idx3-ubyte",
        remote: "train-images-idx3-ubyte.gz",
        sha256: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        size: 47040016,
    },
    FileSpec {
        name: "train-labels-idx1-ubyte",
        remote: "train-labels-idx1-ubyte.gz",
        sha256: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        size: 60008,
    },
    FileSpec {
        name: "t10k-images-idx3-ubyte",
        remote: "t10k-images-idx3-ubyte.gz",
        sha256: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        size: 7840016,
    },
    FileSpec {
        name: "t10k-labels-idx1-ubyte",
        remote: "t10k-labels-idx1-ubyte.gz",
        sha256: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        size: 10008,
    },
];

const FASHION_MNIST: [FileSpec; 4] = [
    FileSpec {
        name: "train-images-idx3-ubyte",
        remote: "train-images-idx3-ubyte.gz",
        sha256: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        size: 47040016,
    },
    FileSpec {
        name: "train-labels-idx1-ubyte",
        remote: "train-labels-idx1-ubyte.gz",
        sha256: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        size: 60008,
    },
    FileSpec {
        name: "t10k-images-idx3-ubyte",
        remote: "t10k-images-idx3-ubyte.gz",
        sha256: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        size: 7840016,
    },
    FileSpec {
        name: "t10k-labels-idx1-ubyte",
        remote: "t10k-labels-idx1-ubyte.gz",
        sha256: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        size: 10008,
    },
];

/// A dataset published as one `.tar.gz`: the archive's SHA-256 as published, and the members
/// kept from its `folder`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveSpec {
    /// The archive's name on the mirrors.
    pub remote: &'static str,
    /// SHA-256 of the archive, hex.
    pub sha256: &'static str,
    /// The archive's exact size in bytes: nothing larger is accepted.
    pub size: u64,
    /// The folder inside the archive that holds the members.
    pub folder: &'static str,
    /// The files kept from it; anything else in the archive is skipped.
    pub members: &'static [&'static str],
}

/// The binary version of CIFAR-10. The archive's SHA-256 (170,052,171 bytes) is the one that
/// dataset libraries in several languages pin; its authors publish only an MD5
/// (c32a1d4ab5d03f1284b67883e8d87530).
const CIFAR10: ArchiveSpec = ArchiveSpec {
    remote: "cifar-10-binary.tar.gz",
    sha256: "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd",
    size: 170_052_171,
    folder: "cifar-10-batches-bin",
    // The files the loader reads, plus the class names.
    members: &[
        cifar::TRAIN_FILES[0],
        cifar::TRAIN_FILES[1],
        cifar::TRAIN_FILES[2],
        cifar::TRAIN_FILES[3],
        cifar::TRAIN_FILES[4],
        cifar::TEST_FILE,
        "batches.meta.txt",
    ],
};

/// The manifest written beside unpacked archive members, in `sha256sum` format.
pub const MANIFEST: &str = "SHA256SUMS";

/// How a dataset is published, and so how it is fetched and verified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source<'a> {
    /// One `.gz` per file, each checked by the SHA-256 of its decompressed content.
    Files(&'a [FileSpec]),
    /// One `.tar.gz`, checked as published, whose members are unpacked.
    Archive(&'a ArchiveSpec),
}

/// How a downloadable dataset is published; an error for generated datasets.
pub fn source(name: DatasetName) -> Result<Source<'static>> {
    match name {
        DatasetName::Mnist => Ok(Source::Files(&MNIST)),
        DatasetName::FashionMnist => Ok(Source::Files(&FASHION_MNIST)),
        DatasetName::Cifar10 => Ok(Source::Archive(&CIFAR10)),
        other => Err(Error::Config(format!(
            "{other} is generated from --seed and needs no download"
        ))),
    }
}

/// The environment variable naming a mirror to try before the canonical ones, for every
/// download (a local copy, a company cache).
pub const MIRROR_ENV: &str = "SCRATCHNET_MIRROR";

/// A base URL with the trailing `/` the file names are appended to.
pub fn base_url(m: &str) -> String {
    if m.ends_with('/') {
        m.to_string()
    } else {
        format!("{m}/")
    }
}

/// The mirrors tried, first choice first: `$SCRATCHNET_MIRROR` if set, then the canonical
/// public ones. CIFAR-10 has no second public mirror of the binary archive; `--mirror` or
/// `$SCRATCHNET_MIRROR` points at one you host.
pub fn mirrors(name: DatasetName) -> Vec<String> {
    let mut out: Vec<String> = std::env::var(MIRROR_ENV)
        .ok()
        .filter(|m| !m.trim().is_empty())
        .map(|m| base_url(m.trim()))
        .into_iter()
        .collect();
    out.extend(canonical_mirrors(name));
    out
}

/// The canonical public mirrors of `name`.
fn canonical_mirrors(name: DatasetName) -> Vec<String> {
    let list: &[&str] = match name {
        DatasetName::Mnist => &[
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ],
        DatasetName::FashionMnist => &[
            "https://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ],
        DatasetName::Cifar10 => &["https://www.cs.toronto.edu/~kriz/"],
        _ => &[],
    };
    list.iter().map(|s| s.to_string()).collect()
}
