//! Weight initialisation: the scale of the initial weights decides whether activations
//! vanish or explode layer by layer (the textbook's histograms of sigmoid activations).

use rand::Rng;

use crate::error::{Error, Result};
use crate::matrix::{Float, Matrix};

/// How to draw a layer's initial weights, W ~ N(0, σ²). Serialised as its CLI spelling.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "train", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "train", serde(try_from = "String", into = "String"))]
pub enum Init {
    /// A fixed σ (the textbook's `weight_init_std`, e.g. 0.01).
    Std(f64),
    /// σ = √(1 / n_in) (Glorot & Bengio, 2010): keeps variance for sigmoid/tanh.
    Xavier,
    /// σ = √(2 / n_in) (He et al., 2015): compensates for ReLU zeroing half the inputs.
    He,
}

impl Init {
    /// σ for a layer with `n_in` inputs.
    pub fn std(self, n_in: usize) -> f64 {
        match self {
            Init::Std(s) => s,
            Init::Xavier => (1.0 / n_in.max(1) as f64).sqrt(),
            Init::He => (2.0 / n_in.max(1) as f64).sqrt(),
        }
    }

    /// An `n_in`×`n_out` weight matrix.
    pub fn weights<T: Float, R: Rng + ?Sized>(
        self,
        n_in: usize,
        n_out: usize,
        rng: &mut R,
    ) -> Matrix<T> {
        Matrix::random_normal(n_in, n_out, 0.0, self.std(n_in), rng)
    }

    /// The CLI spelling: `he`, `xavier`, `std:0.01`.
    pub fn name(self) -> String {
        match self {
            Init::Std(s) => format!("std:{s}"),
            Init::Xavier => "xavier".into(),
            Init::He => "he".into(),
        }
    }
}

impl std::str::FromStr for Init {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "he" | "relu" => Ok(Init::He),
            "xavier" | "sigmoid" => Ok(Init::Xavier),
            other => match other.strip_prefix("std:").map(str::parse::<f64>) {
                Some(Ok(v)) if v > 0.0 && v.is_finite() => Ok(Init::Std(v)),
                _ => Err(Error::Config(format!(
                    "invalid --init '{s}': use he, xavier or std:SIGMA with SIGMA > 0 (e.g. std:0.01)"
                ))),
            },
        }
    }
}

impl TryFrom<String> for Init {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<Init> for String {
    fn from(i: Init) -> String {
        i.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_scales() {
        assert_eq!("he".parse::<Init>().unwrap(), Init::He);
        assert_eq!("std:0.01".parse::<Init>().unwrap(), Init::Std(0.01));
        assert!("std:-1".parse::<Init>().is_err());
        assert!("std:x".parse::<Init>().is_err());
        assert!("glorot".parse::<Init>().is_err());
        assert!((Init::He.std(50) - 0.2).abs() < 1e-12);
        assert!((Init::Xavier.std(100) - 0.1).abs() < 1e-12);
    }
}
