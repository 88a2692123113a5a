//! Fetching datasets from their public mirrors, verified by SHA-256 before anything is kept.
//!
//! MNIST and Fashion-MNIST are published file by file as `.gz`; the wrappers differ between
//! mirrors but the content must not, so each file is checked by the SHA-256 of its
//! *decompressed* content. CIFAR-10 is published as one `.tar.gz` by its authors only, and the
//! checksum on record everywhere is that of the archive itself, so the archive is checked as
//! downloaded, then its binary batches are unpacked and a `SHA256SUMS` manifest of them is written
//! beside them (the chain of trust: the table here → the archive → the manifest → each file).
//!
//! Everything is downloaded into memory, its length checked against `Content-Length`, and
//! verified; only then is anything written, atomically, under its final name. A failed, short
//! or mismatching download therefore leaves nothing behind, and the next mirror is tried.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::DatasetName;
pub use super::sources::{
    ArchiveSpec, FileSpec, MANIFEST, MIRROR_ENV, Source, base_url, mirrors, source,
};
use crate::error::{Error, Result};
use crate::output::write_output;

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

/// The environment variable that sets the network timeouts, in seconds (default 30).
pub const TIMEOUT_ENV: &str = "SCRATCHNET_NET_TIMEOUT";

/// How long to wait for a connection, and for each read of the response, before giving up on
/// a mirror: a server that accepts and then says nothing must not hang the command forever.
/// The whole download may take longer; only silence is bounded.
pub fn timeout() -> std::time::Duration {
    let secs = std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(30.0);
    std::time::Duration::from_secs_f64(secs)
}

/// Why one mirror did not deliver a file; the next mirror is tried, and if none delivers, the
/// reasons end up, one per mirror, in [`Error::Download`].
#[derive(Debug)]
enum Failure {
    /// The request itself: name resolution, connection, timeout, HTTP status.
    Request(ureq::Error),
    /// The server announced more bytes than the file can have.
    Announced {
        bytes: u64,
        limit: u64,
    },
    /// The server sent more bytes than the file can have.
    Oversized {
        limit: u64,
    },
    /// The body ended (or broke) before it was complete.
    Dropped {
        got: usize,
        of: Option<u64>,
        cause: Option<std::io::Error>,
    },
    Checksum {
        got: String,
        expected: &'static str,
    },
    /// The bytes arrived and verified but are not the archive or gzip they should be.
    Corrupt(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Request(e) => write!(f, "{e}"),
            Failure::Announced { bytes, limit } => write!(
                f,
                "the server announces {bytes} bytes, more than the {limit} this file can have"
            ),
            Failure::Oversized { limit } => {
                write!(
                    f,
                    "the server sent more than the {limit} bytes this file can have"
                )
            }
            Failure::Dropped { got, of, cause } => {
                write!(f, "connection dropped after {got}")?;
                match of {
                    Some(t) => write!(f, " of {t} bytes")?,
                    None => write!(f, " bytes")?,
                }
                match cause {
                    Some(e) => write!(f, " ({e})"),
                    None => Ok(()),
                }
            }
            Failure::Checksum { got, expected } => {
                write!(f, "checksum mismatch: SHA-256 {got}, expected {expected}")
            }
            Failure::Corrupt(what) => write!(f, "{what}"),
        }
    }
}

/// Fetches `url` completely into memory, failing if the body ends before `Content-Length`,
/// if the server announces or sends more than `limit` bytes, or if it goes silent for longer
/// than [`timeout`].
fn fetch(
    url: &str,
    limit: u64,
    progress: &mut dyn FnMut(Progress<'_>),
    label: &str,
) -> std::result::Result<Vec<u8>, Failure> {
    let silence = Some(timeout());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(silence)
        .timeout_recv_response(silence)
        .timeout_per_read(silence)
        .build()
        .into();
    let mut response = agent.get(url).call().map_err(Failure::Request)?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(t) = total.filter(|&t| t > limit) {
        return Err(Failure::Announced { bytes: t, limit });
    }
    let mut reader = response.body_mut().as_reader();
    let mut out = Vec::with_capacity(total.unwrap_or(0).min(limit) as usize);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                return Err(Failure::Dropped {
                    got: out.len(),
                    of: None,
                    cause: Some(e),
                });
            }
        };
        if out.len() as u64 + n as u64 > limit {
            return Err(Failure::Oversized { limit });
        }
        out.extend_from_slice(&buf[..n]);
        progress((label, out.len() as u64, total));
    }
    if let Some(t) = total
        && (out.len() as u64) < t
    {
        return Err(Failure::Dropped {
            got: out.len(),
            of: Some(t),
            cause: None,
        });
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
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut written = Vec::new();
    for spec in specs {
        if verify_file(dir, spec).unwrap_or(false) {
            continue;
        }
        let mut failures = Vec::new();
        let mut done = false;
        for mirror in mirrors {
            let url = format!("{}{}", mirror, spec.remote);
            let result = fetch(&url, spec.max_download(), progress, spec.name).and_then(|bytes| {
                let content = super::idx::decode_maybe_gz(bytes, Path::new(spec.remote))
                    .map_err(|e| Failure::Corrupt(e.to_string()))?;
                let got = sha256_hex(&content);
                if got != spec.sha256 {
                    return Err(Failure::Checksum {
                        got,
                        expected: spec.sha256,
                    });
                }
                Ok(content)
            });
            match result {
                Ok(content) => {
                    let path = dir.join(spec.name);
                    write_output(&path, &content)?;
                    written.push(path);
                    done = true;
                    break;
                }
                Err(e) => failures.push(format!("{url}: {e}")),
            }
        }
        if !done {
            return Err(Error::Download {
                file: spec.name.to_string(),
                attempts: failures,
            });
        }
    }
    Ok(written)
}

/// Downloads dataset `name` into `root/<name>/` from `mirror` (if given) or its canonical
/// mirrors. Returns the files written (none when everything was already there and verified).
pub fn download(
    name: DatasetName,
    root: &Path,
    mirror: Option<&str>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<PathBuf>> {
    let source = source(name)?;
    let mirrors = match mirror {
        Some(m) => vec![base_url(m)],
        None => mirrors(name),
    };
    let dir = root.join(name.name());
    match source {
        Source::Files(specs) => download_files(specs, &mirrors, &dir, progress),
        Source::Archive(spec) => download_archive(spec, &mirrors, &dir, progress),
    }
}

/// Downloads `spec`'s archive from the first mirror that serves it with the expected SHA-256,
/// unpacks its members into `dir` and writes the [`MANIFEST`] of their checksums. Skips all of
/// it when the members already verify against a manifest.
pub fn download_archive(
    spec: &ArchiveSpec,
    mirrors: &[String],
    dir: &Path,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Vec<PathBuf>> {
    if verify(Source::Archive(spec), dir) == Verification::Verified {
        return Ok(Vec::new());
    }
    let mut failures = Vec::new();
    let mut members = None;
    for mirror in mirrors {
        let url = format!("{}{}", mirror, spec.remote);
        let result = fetch(&url, spec.size, progress, spec.remote).and_then(|bytes| {
            let got = sha256_hex(&bytes);
            if got != spec.sha256 {
                return Err(Failure::Checksum {
                    got,
                    expected: spec.sha256,
                });
            }
            unpack(spec, bytes)
        });
        match result {
            Ok(m) => {
                members = Some(m);
                break;
            }
            Err(e) => failures.push(format!("{url}: {e}")),
        }
    }
    let Some(members) = members else {
        return Err(Error::Download {
            file: spec.remote.to_string(),
            attempts: failures,
        });
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let manifest: String = members
        .iter()
        .map(|(name, bytes)| format!("{}  {name}\n", sha256_hex(bytes)))
        .collect();
    let mut written = Vec::new();
    let files = members
        .iter()
        .map(|(name, bytes)| (*name, bytes.as_slice()))
        .chain([(MANIFEST, manifest.as_bytes())]);
    for (name, bytes) in files {
        let path = dir.join(name);
        if let Err(e) = write_output(&path, bytes) {
            // All or nothing: a half-unpacked dataset would pass for a whole one.
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
        written.push(path);
    }
    Ok(written)
}

/// The members of a verified `.tar.gz`, read from `<folder>/<member>` entries only. Names come
/// from `spec`, never from the archive, so no entry can write outside the dataset folder.
fn unpack(
    spec: &ArchiveSpec,
    gz: Vec<u8>,
) -> std::result::Result<Vec<(&'static str, Vec<u8>)>, Failure> {
    let corrupt = Failure::Corrupt;
    let tar = super::idx::decode_maybe_gz(gz, Path::new(spec.remote))
        .map_err(|e| corrupt(e.to_string()))?;
    let mut found: Vec<Option<Vec<u8>>> = vec![None; spec.members.len()];
    let mut archive = tar::Archive::new(&tar[..]);
    let entries = archive
        .entries()
        .map_err(|e| corrupt(format!("not a tar archive ({e})")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(format!("corrupt tar archive ({e})")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()
            .map_err(|e| corrupt(format!("corrupt tar entry name ({e})")))?
            .into_owned();
        let Some(k) = spec
            .members
            .iter()
            .position(|m| path == Path::new(spec.folder).join(m))
        else {
            continue;
        };
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| corrupt(format!("corrupt tar entry {} ({e})", path.display())))?;
        found[k] = Some(bytes);
    }
    spec.members
        .iter()
        .zip(found)
        .map(|(m, f)| {
            f.map(|b| (*m, b))
                .ok_or_else(|| corrupt(format!("archive lacks {}/{m}", spec.folder)))
        })
        .collect()
}

/// What `scratchnet datasets` can say of a dataset folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Every file is there and matches its checksum.
    Verified,
    /// These files are missing or do not match their checksum.
    Mismatch(Vec<String>),
    /// The files may well be right, but there is nothing to check them against (why).
    Unverifiable(String),
}

/// Checks the files of `source` in `dir`: against the table for per-file sources, against the
/// [`MANIFEST`] written at download for archives.
pub fn verify(source: Source<'_>, dir: &Path) -> Verification {
    let bad: Vec<String> = match source {
        Source::Files(specs) => specs
            .iter()
            .filter(|spec| !verify_file(dir, spec).unwrap_or(false))
            .map(|spec| spec.name.to_string())
            .collect(),
        Source::Archive(spec) => {
            let Ok(manifest) = std::fs::read_to_string(dir.join(MANIFEST)) else {
                return Verification::Unverifiable(format!(
                    "no {MANIFEST}: placed by hand, not by `scratchnet download`"
                ));
            };
            let recorded = |m: &str| {
                manifest.lines().find_map(|l| {
                    let (hash, name) = l.split_once("  ")?;
                    (name == m).then_some(hash)
                })
            };
            spec.members
                .iter()
                .filter(|m| {
                    let actual = std::fs::read(dir.join(m)).map(|b| sha256_hex(&b));
                    match (recorded(m), actual) {
                        (Some(hash), Ok(actual)) => hash != actual,
                        _ => true,
                    }
                })
                .map(|m| m.to_string())
                .collect()
        }
    };
    if bad.is_empty() {
        Verification::Verified
    } else {
        Verification::Mismatch(bad)
    }
}
