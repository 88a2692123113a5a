//! `scratchnet download` and `scratchnet datasets`: fetch verified data, and show what is where.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::cli::progress_bar;
use crate::data::download::Verification;
use crate::data::{self, Dataset, DatasetName, LoadOptions, download, locate};
use crate::error::{Error, Result};

#[derive(Debug, Args)]
pub struct DownloadCmd {
    /// mnist, fashion-mnist or cifar10.
    pub name: String,
    /// Folder to put `<name>/` in.
    #[arg(long, default_value = "datasets")]
    pub dir: PathBuf,
    /// Fetch from this base URL instead of the canonical mirrors.
    #[arg(long)]
    pub mirror: Option<String>,
}

#[derive(Debug, Args)]
pub struct DatasetsCmd {
    /// Folder searched first, as `train --data-dir`.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Downloads `name` into `root/<name>/` with a progress bar on a terminal.
fn fetch(name: DatasetName, root: &Path, mirror: Option<&str>) -> Result<Vec<PathBuf>> {
    let bar = progress_bar(
        0,
        true,
        "{msg:24} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
    );
    let mut progress = |(file, done, total): download::Progress<'_>| {
        bar.set_message(file.to_string());
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
    };
    let written = download::download(name, root, mirror, &mut progress);
    bar.finish_and_clear();
    written
}

/// The environment variable that forbids downloading on first use, as `--offline` does.
pub const OFFLINE_ENV: &str = "SCRATCHNET_OFFLINE";

/// Whether downloads on first use are forbidden: `--offline`, or `SCRATCHNET_OFFLINE` set to
/// anything but empty or `0`.
pub fn offline(flag: bool) -> bool {
    flag || std::env::var(OFFLINE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Loads `name` as `opts` says. MNIST or Fashion-MNIST found nowhere is fetched first, as
/// PyTorch's and Keras's loaders do: verified, into the first place of the lookup the user
/// chose (`--data-dir`, else `$SCRATCHNET_DATA`, else `./datasets`), saying where — unless
/// `offline`. A failed fetch is one line naming the places searched, the mirrors tried and
/// the command that downloads it.
pub fn load_dataset(name: DatasetName, opts: &LoadOptions, offline: bool) -> Result<Dataset> {
    let fetchable = matches!(name, DatasetName::Mnist | DatasetName::FashionMnist);
    match data::load(name, opts) {
        Err(Error::MissingDataset {
            name: n,
            searched,
            hint,
        }) if fetchable => {
            if offline {
                return Err(Error::MissingDataset {
                    name: n,
                    searched,
                    hint: format!("Offline, so nothing was downloaded. {hint}"),
                });
            }
            let root = locate::download_root(opts.data_dir.as_deref());
            eprintln!(
                "{name} not found; downloading it (SHA-256 verified) into {} …",
                root.join(name.name()).display()
            );
            match fetch(name, &root, None) {
                Ok(_) => {
                    eprintln!(
                        "{name}: downloaded into {}",
                        root.join(name.name()).display()
                    );
                    data::load(name, opts)
                }
                Err(e) => Err(Error::MissingDataset {
                    name: n,
                    searched,
                    hint: format!(
                        "Downloading it failed: {e}. Retry with `scratchnet download {name}` \
                         (--mirror URL or ${} for another mirror), or pass --offline and place \
                         the files yourself (see datasets/README.md).",
                        download::MIRROR_ENV
                    ),
                }),
            }
        }
        other => other,
    }
}

pub fn download(cmd: DownloadCmd) -> Result<()> {
    let name: DatasetName = cmd.name.parse()?;
    download::source(name)?; // reject non-downloadable names before touching the network
    let written = fetch(name, &cmd.dir, cmd.mirror.as_deref())?;
    let dir = cmd.dir.join(name.name());
    if written.is_empty() {
        crate::outln!("{name}: already present and verified in {}", dir.display());
    } else {
        crate::outln!(
            "{name}: {} file(s) downloaded and verified (SHA-256) into {}",
            written.len(),
            dir.display()
        );
    }
    Ok(())
}

pub fn list(cmd: DatasetsCmd) -> Result<()> {
    for name in DatasetName::ALL {
        if name.is_generated() {
            crate::outln!("{:<14} generated from --seed (no files)", name.name());
            continue;
        }
        match locate::find(name, cmd.data_dir.as_deref()) {
            Ok(dir) => {
                let verdict = match download::source(name).map(|s| download::verify(s, &dir)) {
                    Ok(Verification::Verified) => "verified (SHA-256)".to_string(),
                    Ok(Verification::Mismatch(bad)) => {
                        format!("CHECKSUM MISMATCH: {}", bad.join(", "))
                    }
                    Ok(Verification::Unverifiable(why)) => format!("not verified ({why})"),
                    Err(_) => "no checksums on record".to_string(),
                };
                crate::outln!("{:<14} {} — {verdict}", name.name(), dir.display());
            }
            Err(_) => {
                let searched: Vec<String> = locate::candidates(name, cmd.data_dir.as_deref())
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                crate::outln!(
                    "{:<14} not found (searched {}) — get it with `scratchnet download {}`",
                    name.name(),
                    searched.join(", "),
                    name.name()
                );
            }
        }
    }
    Ok(())
}
