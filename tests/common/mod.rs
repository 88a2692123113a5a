//! Helpers shared by the integration tests.
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use scratchnet::{Float, Matrix};

/// A seeded RNG so every failure reproduces.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// A matrix of small integers in [-4, 4]: products and sums of these are exact in f32 up to
/// k ≈ 10⁵, so rungs that sum in different orders must agree bit for bit.
pub fn integer_matrix<T: Float>(rows: usize, cols: usize, rng: &mut StdRng) -> Matrix<T> {
    Matrix::from_fn(rows, cols, |_, _| {
        T::from_f64(rng.random_range(-4i32..=4) as f64)
    })
}

/// A matrix of uniform values in [-1, 1).
pub fn uniform_matrix<T: Float>(rows: usize, cols: usize, rng: &mut StdRng) -> Matrix<T> {
    Matrix::random_uniform(rows, cols, -1.0, 1.0, rng)
}
