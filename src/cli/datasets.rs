//! `scratchnet download` and `scratchnet datasets`: fetch verified data, and show what is where.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::data::download::Verification;
use crate::data::{DatasetName, download, locate};
use crate::error::Result;

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

pub fn download(cmd: DownloadCmd) -> Result<()> {
    let name: DatasetName = cmd.name.parse()?;
    download::source(name)?; // reject non-downloadable names before touching the network
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg:24} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut progress = |(file, done, total): download::Progress<'_>| {
        bar.set_message(file.to_string());
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(done);
    };
    let written = download::download(name, &cmd.dir, cmd.mirror.as_deref(), &mut progress)?;
    bar.finish_and_clear();
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
