//! Datasets: MNIST and Fashion-MNIST (IDX), CIFAR-10 (binary batches), and the generated 2-D
//! playground sets. Everything loads into [`Dataset`]: features in [0, 1] (images) or [-4, 4]
//! (playground) as `f32` rows, labels as class indices.

pub mod augment;
pub mod cifar;
#[cfg(feature = "download")]
pub mod download;
pub mod idx;
pub mod locate;
#[cfg(feature = "picture")]
pub mod picture;
pub mod playground;
#[cfg(feature = "download")]
pub mod sources;

use std::path::PathBuf;

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::error::{Error, Result, Setting};
use crate::matrix::Matrix;

/// The datasets scratchnet knows. Serialised as its CLI name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "train", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "train", serde(try_from = "String", into = "String"))]
pub enum DatasetName {
    /// LeCun et al.'s handwritten digits: 60,000 + 10,000 grey 28×28 images, 10 classes.
    Mnist,
    /// Zalando's articles of clothing, in MNIST's format and sizes.
    FashionMnist,
    /// Krizhevsky's 32×32 colour photos, 50,000 + 10,000, 10 classes.
    Cifar10,
    /// Generated: a disc of one class inside a ring of the other (the Playground's circle).
    Circle,
    /// Generated: the four quadrants, classes by the sign of x₁·x₂.
    Xor,
    /// Generated: two Gaussian clouds.
    Gauss,
    /// Generated: two interleaved spirals.
    Spiral,
}

impl DatasetName {
    /// Every dataset, the files first and then the generated sets.
    pub const ALL: [DatasetName; 7] = [
        DatasetName::Mnist,
        DatasetName::FashionMnist,
        DatasetName::Cifar10,
        DatasetName::Circle,
        DatasetName::Xor,
        DatasetName::Gauss,
        DatasetName::Spiral,
    ];

    /// The CLI name, also the folder name under a data directory.
    pub fn name(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Cifar10 => "cifar10",
            DatasetName::Circle => "circle",
            DatasetName::Xor => "xor",
            DatasetName::Gauss => "gauss",
            DatasetName::Spiral => "spiral",
        }
    }

    /// Whether the data is generated from the seed rather than read from files.
    pub fn is_generated(self) -> bool {
        matches!(
            self,
            DatasetName::Circle | DatasetName::Xor | DatasetName::Gauss | DatasetName::Spiral
        )
    }

    /// The shape (channels, height, width) of the set's images as its files hold them, `None`
    /// for points. CIFAR-10 `grayscale` is one plane, as the loader makes it.
    pub fn image_shape(self, grayscale: bool) -> Option<(usize, usize, usize)> {
        match self {
            DatasetName::Mnist | DatasetName::FashionMnist => Some((1, 28, 28)),
            DatasetName::Cifar10 => Some((if grayscale { 1 } else { 3 }, 32, 32)),
            _ => None,
        }
    }

    /// What each class index stands for, where the index alone does not say (MNIST's classes
    /// are the digits themselves; the playground's are inside and outside).
    pub fn class_names(self) -> Option<&'static [&'static str]> {
        match self {
            DatasetName::FashionMnist => Some(&[
                "T-shirt/top",
                "trouser",
                "pullover",
                "dress",
                "coat",
                "sandal",
                "shirt",
                "sneaker",
                "bag",
                "ankle boot",
            ]),
            DatasetName::Cifar10 => Some(&[
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ]),
            _ => None,
        }
    }
}

impl std::fmt::Display for DatasetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DatasetName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        DatasetName::ALL
            .into_iter()
            .find(|d| d.name() == s.to_ascii_lowercase())
            .ok_or_else(|| {
                let names: Vec<_> = DatasetName::ALL.iter().map(|d| d.name()).collect();
                Error::Config(format!(
                    "unknown dataset '{s}': choose one of {}",
                    names.join(", ")
                ))
            })
    }
}

impl TryFrom<String> for DatasetName {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<DatasetName> for String {
    fn from(d: DatasetName) -> String {
        d.name().to_string()
    }
}

/// A train/test split ready for training.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Which dataset this is.
    pub name: DatasetName,
    /// Training inputs, one sample per row (pixels in [0, 1], or a point's coordinates).
    pub x_train: Matrix<f32>,
    /// The class of each training row.
    pub t_train: Vec<usize>,
    /// Test inputs, as `x_train`.
    pub x_test: Matrix<f32>,
    /// The class of each test row.
    pub t_test: Vec<usize>,
    /// Number of classes (the output layer's width).
    pub classes: usize,
    /// (channels, height, width) for image data, for drawing samples.
    pub image_shape: Option<(usize, usize, usize)>,
    /// Where the files were found (`None` for generated data).
    pub source: Option<PathBuf>,
}

impl Dataset {
    /// Features per sample.
    pub fn input_dim(&self) -> usize {
        self.x_train.cols()
    }

    /// The files this dataset was read from (none for generated data).
    pub fn files(&self) -> Vec<PathBuf> {
        self.source
            .as_deref()
            .map_or_else(Vec::new, |dir| locate::files(self.name, dir))
    }

    /// The first `samples` training samples (all of them for `None`) split at random into a
    /// training part and a validation part of ⌊`fraction` · samples⌋, which takes the test
    /// set's place — as the book's `hyperparameter_optimization.py` does with
    /// `shuffle_dataset` and `validation_rate`. Hyper-parameters chosen on it never see the
    /// test set. The split is a function of `seed`.
    pub fn hold_out(&self, samples: Option<usize>, fraction: f64, seed: u64) -> Result<Dataset> {
        let n = samples.map_or(self.x_train.rows(), |k| k.min(self.x_train.rows()));
        if !(fraction > 0.0 && fraction < 1.0) {
            return Err(Error::invalid(
                Setting::Validation,
                format!("must be a share between 0 and 1, e.g. 0.2, not {fraction}"),
            ));
        }
        let held = (n as f64 * fraction) as usize;
        if held == 0 || held == n {
            return Err(Error::invalid(
                Setting::Validation,
                format!(
                    "{fraction} of {n} training samples leaves {held} for validation and {} for \
                     training; each needs at least one",
                    n - held
                ),
            ));
        }
        let mut order: Vec<usize> = (0..n).collect();
        // Mixed into the seed so the split never shares a stream with init or batch order.
        order.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x7a1d_a7e5_u64));
        let (val, train) = order.split_at(held);
        let labels = |idx: &[usize]| idx.iter().map(|&i| self.t_train[i]).collect::<Vec<_>>();
        Ok(Dataset {
            name: self.name,
            x_train: self.x_train.select_rows(train),
            t_train: labels(train),
            x_test: self.x_train.select_rows(val),
            t_test: labels(val),
            classes: self.classes,
            image_shape: self.image_shape,
            source: self.source.clone(),
        })
    }

    /// Checks the invariants every loader promises, so a bad file cannot reach training.
    pub fn validate(&self) -> Result<()> {
        let origin = self
            .source
            .as_ref()
            .map_or("generated".to_string(), |p| p.display().to_string());
        let fail = |what: String| {
            Err(Error::Data {
                dataset: self.name.to_string(),
                origin: origin.clone(),
                what,
            })
        };
        for (split, x) in [("train", &self.x_train), ("test", &self.x_test)] {
            if x.rows() == 0 {
                return fail(format!("its {split} split has no samples"));
            }
        }
        if self.x_train.rows() != self.t_train.len() || self.x_test.rows() != self.t_test.len() {
            return fail("image and label counts differ".into());
        }
        if self.x_train.cols() != self.x_test.cols() {
            return fail("train and test samples have different sizes".into());
        }
        if let Some(&bad) = self
            .t_train
            .iter()
            .chain(&self.t_test)
            .find(|&&t| t >= self.classes)
        {
            return fail(format!("label {bad} is outside 0..{}", self.classes));
        }
        Ok(())
    }
}

/// Options for loading a dataset.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--data-dir`: searched first.
    pub data_dir: Option<PathBuf>,
    /// CIFAR-10 as 1024 gray values instead of 3072 colour values.
    pub grayscale: bool,
    /// Seed for the generated playground sets.
    pub seed: u64,
    /// Gaussian noise (standard deviation) added to playground points.
    pub noise: f64,
}

/// Finds and loads `name` (or generates it, for the playground sets).
pub fn load(name: DatasetName, opts: &LoadOptions) -> Result<Dataset> {
    let ds = match name {
        DatasetName::Mnist | DatasetName::FashionMnist => {
            let dir = locate::find(name, opts.data_dir.as_deref())?;
            idx::load_dir(name, &dir)?
        }
        DatasetName::Cifar10 => {
            let dir = locate::find(name, opts.data_dir.as_deref())?;
            cifar::load_dir(&dir, opts.grayscale)?
        }
        DatasetName::Circle | DatasetName::Xor | DatasetName::Gauss | DatasetName::Spiral => {
            playground::generate(
                name,
                playground::TRAIN,
                playground::TEST,
                opts.noise,
                opts.seed,
            )
        }
    };
    ds.validate()?;
    Ok(ds)
}
