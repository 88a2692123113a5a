//! The TensorFlow-Playground data sets: two classes of points in the square [-4, 4]²,
//! generated from a seed (no files). Noise, when asked for, jitters each point by N(0, noise²)
//! after its label is fixed, so noisy points may cross the boundary as in the Playground.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{Dataset, DatasetName};
use crate::matrix::{Matrix, gaussian_pair};

/// Training and held-out test points per set.
pub const TRAIN: usize = 1000;
pub const TEST: usize = 500;

/// Radius² of the circle's inside: x² + y² ≤ 2 is class 1.
pub const CIRCLE_R2: f64 = 2.0;

/// One labelled point.
fn sample(name: DatasetName, rng: &mut StdRng) -> (f64, f64, usize) {
    use std::f64::consts::{PI, TAU};
    match name {
        DatasetName::Circle => {
            // Half inside (r < 1.2), half in a ring outside (1.7 < r < 4), like the
            // Playground's disc and ring: the boundary r = √2 ≈ 1.41 runs through the gap.
            let label = usize::from(rng.random_bool(0.5));
            let r = if label == 1 {
                rng.random_range(0.0..1.2)
            } else {
                rng.random_range(1.7..4.0)
            };
            let a = rng.random_range(0.0..TAU);
            (r * a.cos(), r * a.sin(), label)
        }
        DatasetName::Xor => {
            // Quadrants, kept 0.3 away from the axes (the Playground's padding).
            let mut coord = || {
                let v = rng.random_range(0.3..4.0);
                if rng.random_bool(0.5) { v } else { -v }
            };
            let (x, y) = (coord(), coord());
            (x, y, usize::from(x * y > 0.0))
        }
        DatasetName::Gauss => {
            let label = usize::from(rng.random_bool(0.5));
            let c = if label == 1 { 2.0 } else { -2.0 };
            let (x, y) = gaussian_pair(rng);
            (c + x, c + y, label)
        }
        DatasetName::Spiral => {
            // Two interleaved arms: r grows to 4 while the angle turns 1.75 times.
            let label = usize::from(rng.random_bool(0.5));
            let s: f64 = rng.random_range(0.0..1.0);
            let r = 4.0 * s;
            let t = 1.75 * TAU * s + if label == 1 { PI } else { 0.0 };
            (r * t.sin(), r * t.cos(), label)
        }
        _ => unreachable!("only playground sets are generated"),
    }
}

fn points(name: DatasetName, n: usize, noise: f64, rng: &mut StdRng) -> (Matrix<f32>, Vec<usize>) {
    let mut x = Vec::with_capacity(2 * n);
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        let (mut px, mut py, label) = sample(name, rng);
        if noise > 0.0 {
            let (nx, ny) = gaussian_pair(rng);
            px += noise * nx;
            py += noise * ny;
        }
        x.push(px.clamp(-4.0, 4.0) as f32);
        x.push(py.clamp(-4.0, 4.0) as f32);
        t.push(label);
    }
    (Matrix::from_vec(n, 2, x).expect("2 values per point"), t)
}

/// A playground set with `n_train` training and `n_test` test points.
pub fn generate(
    name: DatasetName,
    n_train: usize,
    n_test: usize,
    noise: f64,
    seed: u64,
) -> Dataset {
    // Mixed into the seed so playground data and weight init never share a random stream.
    let mut rng = StdRng::seed_from_u64(seed ^ 0x005e_ed0f_b1a7);
    let (x_train, t_train) = points(name, n_train, noise, &mut rng);
    let (x_test, t_test) = points(name, n_test, noise, &mut rng);
    Dataset {
        name,
        x_train,
        t_train,
        x_test,
        t_test,
        classes: 2,
        image_shape: None,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_seeded_balanced_and_in_range() {
        for name in [
            DatasetName::Circle,
            DatasetName::Xor,
            DatasetName::Gauss,
            DatasetName::Spiral,
        ] {
            let a = generate(name, 400, 100, 0.0, 7);
            let b = generate(name, 400, 100, 0.0, 7);
            assert_eq!(a.x_train, b.x_train, "{name} not reproducible");
            assert_ne!(a.x_train, generate(name, 400, 100, 0.0, 8).x_train);
            assert!(
                a.x_train
                    .as_slice()
                    .iter()
                    .all(|v| (-4.0..=4.0).contains(v))
            );
            let ones = a.t_train.iter().filter(|&&t| t == 1).count();
            assert!(
                (150..250).contains(&ones),
                "{name}: {ones} of 400 in class 1"
            );
        }
        let c = generate(DatasetName::Circle, 500, 0, 0.0, 1);
        for i in 0..500 {
            let (x, y) = (c.x_train.get(i, 0) as f64, c.x_train.get(i, 1) as f64);
            assert_eq!(
                c.t_train[i] == 1,
                x * x + y * y <= CIRCLE_R2,
                "point {x},{y}"
            );
        }
    }
}
