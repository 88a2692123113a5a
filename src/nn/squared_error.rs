//! Half the squared error, averaged over the batch: the output layer of a regression, and of the
//! TensorFlow Playground's networks, whose single output unit (tanh for two classes, linear for
//! a regression) is trained against targets in [-1, 1].

use crate::error::{Error, Result};
use crate::matrix::{Float, Matrix};
use crate::nn::softmax_with_loss::Targets;

/// `loss = (1/N) Σₙ ½ Σ_j (y[n, j] − t[n, j])²`, the textbook's `mean_squared_error` (§4.2.1)
/// averaged over the batch as its cross-entropy is, so learning rates mean the same per sample.
///
/// Backward is `(y − t) / N`, as softmax-with-loss's is: the ½ cancels the square's 2.
#[derive(Debug, Default)]
pub struct SquaredError<T> {
    /// `y − t` of the last forward pass: N × outputs.
    pub diff: Matrix<T>,
}

impl<T: Float> SquaredError<T> {
    /// A head with nothing remembered yet.
    pub fn new() -> Self {
        SquaredError {
            diff: Matrix::zeros(0, 0),
        }
    }

    /// Caches `y − t`; returns the mean over rows of ½‖y − t‖². Only [`Targets::Values`] of
    /// `y`'s shape are accepted: class labels have no distance to a real output.
    pub fn forward(&mut self, y: &Matrix<T>, t: Targets<'_, T>) -> Result<T> {
        // y: N × outputs.  Caches diff: N × outputs.
        let Targets::Values(t) = t else {
            return Err(Error::Config(
                "a squared-error output needs target values, not class labels".into(),
            ));
        };
        if t.shape() != y.shape() {
            return Err(Error::shape(
                "SquaredError",
                format!("{}×{} targets", y.rows(), y.cols()),
                format!("{}×{}", t.rows(), t.cols()),
            ));
        }
        self.diff.copy_from(y);
        let mut total = 0.0_f64;
        for (d, &tv) in self.diff.as_mut_slice().iter_mut().zip(t.as_slice()) {
            *d -= tv;
            total += 0.5 * d.to_f64() * d.to_f64();
        }
        Ok(T::from_f64(total / y.rows().max(1) as f64))
    }

    /// `dx = (y − t) / N` into `dx`.
    pub fn backward(&self, dx: &mut Matrix<T>) {
        dx.copy_from(&self.diff);
        dx.scale_in_place(T::ONE / T::from_f64(self.diff.rows().max(1) as f64));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_and_gradient_of_a_known_batch() {
        let y = Matrix::from_vec(2, 1, vec![0.5_f64, -1.0]).unwrap();
        let t = Matrix::from_vec(2, 1, vec![1.0, 1.0]).unwrap();
        let mut l = SquaredError::new();
        // ½(0.25 + 4) / 2
        assert_eq!(l.forward(&y, Targets::Values(&t)).unwrap(), 4.25 / 4.0);
        let mut dx = Matrix::zeros(0, 0);
        l.backward(&mut dx);
        assert_eq!(dx.as_slice(), &[-0.25, -1.0]);
    }

    #[test]
    fn labels_and_wrong_shapes_are_refused() {
        let y = Matrix::<f64>::zeros(3, 1);
        let mut l = SquaredError::new();
        assert!(l.forward(&y, Targets::Labels(&[0, 1, 0])).is_err());
        let t = Matrix::<f64>::zeros(2, 1);
        let err = l.forward(&y, Targets::Values(&t)).unwrap_err().to_string();
        assert!(err.contains("3×1"), "{err}");
    }
}
