//! Where datasets are looked for: only in `--data-dir` when it is given, else only in
//! `$SCRATCHNET_DATA` when it is set, else in `./datasets/<name>/` and then
//! `/usr/share/datasets/<name>/` (where Debian's `dataset-fashion-mnist` package installs). A
//! data directory may hold the files directly or a `<name>/` folder with them.

use std::path::{Path, PathBuf};

use super::{DatasetName, cifar, idx};
use crate::error::{Error, Result};

/// The environment variable naming a folder of datasets.
pub const ENV: &str = "SCRATCHNET_DATA";

/// Whether `dir` holds every file `name` needs.
pub fn has_files(name: DatasetName, dir: &Path) -> bool {
    match name {
        DatasetName::Mnist | DatasetName::FashionMnist => {
            idx::FILES.iter().all(|f| idx::file_in(dir, f).is_some())
        }
        DatasetName::Cifar10 => cifar::TRAIN_FILES
            .iter()
            .chain([&cifar::TEST_FILE])
            .all(|f| dir.join(f).is_file()),
        _ => true,
    }
}

/// The files of `name` that `dir` holds (the ones a loader reads), for checking that no
/// output is about to overwrite them.
pub fn files(name: DatasetName, dir: &Path) -> Vec<PathBuf> {
    match name {
        DatasetName::Mnist | DatasetName::FashionMnist => idx::FILES
            .iter()
            .filter_map(|f| idx::file_in(dir, f))
            .collect(),
        DatasetName::Cifar10 => cifar::TRAIN_FILES
            .iter()
            .chain([&cifar::TEST_FILE])
            .map(|f| dir.join(f))
            .filter(|p| p.is_file())
            .collect(),
        _ => Vec::new(),
    }
}

/// Every directory searched for `name`, in order, with `$SCRATCHNET_DATA` as it is set now.
pub fn candidates(name: DatasetName, data_dir: Option<&Path>) -> Vec<PathBuf> {
    let env = std::env::var_os(ENV).filter(|v| !v.is_empty());
    candidates_with(name, data_dir, env.as_deref().map(Path::new))
}

/// Every directory searched for `name`, given the `--data-dir` and `$SCRATCHNET_DATA` values.
///
/// A place the user names is the only place looked at: `--data-dir` if given, else
/// `$SCRATCHNET_DATA` if set (each as `<place>/<name>/`, then the place itself). Falling back
/// from a named place to another would train on data the user did not choose. Only when the
/// user named nothing are the defaults searched: `./datasets/<name>/`, then the system's.
pub fn candidates_with(
    name: DatasetName,
    data_dir: Option<&Path>,
    env: Option<&Path>,
) -> Vec<PathBuf> {
    match data_dir.or(env) {
        Some(root) => vec![root.join(name.name()), root.to_path_buf()],
        None => vec![
            PathBuf::from("datasets").join(name.name()),
            PathBuf::from("/usr/share/datasets").join(name.name()),
        ],
    }
}

/// Where a dataset that was not found is downloaded to: `<root>/<name>/` for the first place
/// of the lookup that the user chose (`--data-dir`, else `$SCRATCHNET_DATA`, else `./datasets`).
pub fn download_root(data_dir: Option<&Path>) -> PathBuf {
    let env = std::env::var_os(ENV).filter(|v| !v.is_empty());
    match (data_dir, env) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(e)) => PathBuf::from(e),
        (None, None) => PathBuf::from("datasets"),
    }
}

/// The first candidate directory that holds the dataset's files.
pub fn find(name: DatasetName, data_dir: Option<&Path>) -> Result<PathBuf> {
    find_in(name, candidates(name, data_dir))
}

/// The first of `searched` that holds the dataset, or an error listing them all.
pub fn find_in(name: DatasetName, searched: Vec<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = searched.iter().find(|d| has_files(name, d)) {
        return Ok(dir.clone());
    }
    Err(Error::MissingDataset {
        name: name.name().to_string(),
        searched,
        hint: hint(name),
    })
}

/// What to do about a missing dataset.
pub fn hint(name: DatasetName) -> String {
    let get = match name {
        DatasetName::Mnist | DatasetName::FashionMnist | DatasetName::Cifar10 => {
            format!("Get it with `scratchnet download {0}`, or put", name.name())
        }
        _ => "Put".to_string(),
    };
    let files = match name {
        DatasetName::Cifar10 => "the CIFAR-10 binary batches (data_batch_1.bin … test_batch.bin)",
        _ => "the four IDX files (.gz or raw)",
    };
    let debian = if name == DatasetName::FashionMnist {
        " On Debian/Ubuntu: apt-get install dataset-fashion-mnist."
    } else {
        ""
    };
    format!(
        "{get} {files} in datasets/{0}/, or point {ENV} or --data-dir at a folder holding \
         {0}/ (see datasets/README.md).{debian}",
        name.name()
    )
}
