//! Dropout (Srivastava et al., 2014), in the textbook's non-inverted form.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{Layer, Mode};
use crate::matrix::{Float, Matrix};

/// Train mode zeroes each activation with probability `ratio`; eval mode scales by
/// `1 − ratio` so expectations match.
///
/// Each train-mode pass draws its mask from a generator seeded by (layer seed, pass number), so
/// the whole random state is one counter: a checkpoint stores it and a resumed run draws the
/// same masks as an uninterrupted one.
#[derive(Debug)]
pub struct Dropout {
    /// The share of units dropped in training, in [0, 1).
    pub ratio: f64,
    seed: u64,
    /// Train-mode forward passes so far.
    pub calls: u64,
    mask: Vec<bool>,
}

impl Dropout {
    /// A dropout layer dropping `ratio` of its inputs, its masks drawn from `seed`.
    pub fn new(ratio: f64, seed: u64) -> Self {
        Dropout {
            ratio,
            seed,
            calls: 0,
            mask: Vec::new(),
        }
    }
}

impl<T: Float> Layer<T> for Dropout {
    fn forward(&mut self, x: &Matrix<T>, out: &mut Matrix<T>, mode: Mode) {
        // x: N × d → out: N × d. Train mode caches mask (N·d booleans, true = kept).
        out.ensure_shape(x.rows(), x.cols());
        match mode {
            Mode::Train => {
                self.mask.clear();
                let ratio = self.ratio;
                let mut rng = StdRng::seed_from_u64(
                    self.seed ^ self.calls.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                );
                self.calls += 1;
                self.mask
                    .extend((0..x.len()).map(|_| rng.random::<f64>() > ratio));
                for ((o, &v), &keep) in out
                    .as_mut_slice()
                    .iter_mut()
                    .zip(x.as_slice())
                    .zip(&self.mask)
                {
                    *o = if keep { v } else { T::ZERO };
                }
            }
            Mode::Eval => {
                let keep = T::from_f64(1.0 - self.ratio);
                for (o, &v) in out.as_mut_slice().iter_mut().zip(x.as_slice()) {
                    *o = v * keep;
                }
            }
        }
    }

    fn rng_calls(&mut self) -> Option<&mut u64> {
        Some(&mut self.calls)
    }

    fn dropout_mask(&self) -> Option<&[bool]> {
        Some(&self.mask)
    }

    fn backward(
        &mut self,
        _x: &Matrix<T>,
        _out: &Matrix<T>,
        dout: &Matrix<T>,
        dx: Option<&mut Matrix<T>>,
    ) {
        // dx = dout where the mask kept the unit.
        if let Some(dx) = dx {
            dx.ensure_shape(dout.rows(), dout.cols());
            for ((d, &g), &keep) in dx
                .as_mut_slice()
                .iter_mut()
                .zip(dout.as_slice())
                .zip(&self.mask)
            {
                *d = if keep { g } else { T::ZERO };
            }
        }
    }
}
