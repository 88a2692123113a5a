//! The TensorFlow-Playground data sets: two classes of points in the square [-4, 4]²,
//! generated from a seed (no files). Noise, when asked for, jitters each point by N(0, noise²)
//! after its label is fixed, so noisy points may cross the boundary as in the Playground.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::{Dataset, DatasetName};
use crate::error::{Error, Result};
use crate::matrix::{Matrix, gaussian_pair};

/// Training and held-out test points per set.
pub const TRAIN: usize = 1000;
/// Test points of every classification set (as many as training points).
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

/// The TensorFlow Playground's problems: its four classification sets (the generators above)
/// and its two regressions, each a target in [-1, 1] over the same square.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaneSet {
    /// Two classes, as targets −1 and +1: circle, xor, gauss or spiral.
    Classify(DatasetName),
    /// The target is (x₁ + x₂) / 8: a tilted plane, from −1 at (−4, −4) to 1 at (4, 4).
    Plane,
    /// Six bumps of alternating sign in two rows; the target is the strongest bump's value.
    MultiGauss,
}

impl PlaneSet {
    /// Every set, in the Playground's order.
    pub const ALL: [PlaneSet; 6] = [
        PlaneSet::Classify(DatasetName::Circle),
        PlaneSet::Classify(DatasetName::Xor),
        PlaneSet::Classify(DatasetName::Gauss),
        PlaneSet::Classify(DatasetName::Spiral),
        PlaneSet::Plane,
        PlaneSet::MultiGauss,
    ];

    /// The command line's name: the classification sets' own, `plane`, `multi-gauss`.
    pub fn name(self) -> &'static str {
        match self {
            PlaneSet::Classify(d) => d.name(),
            PlaneSet::Plane => "plane",
            PlaneSet::MultiGauss => "multi-gauss",
        }
    }

    /// The set called `name` (the Playground's `reg-plane` and `reg-gauss` too).
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "plane" | "reg-plane" => Ok(PlaneSet::Plane),
            "multi-gauss" | "reg-gauss" => Ok(PlaneSet::MultiGauss),
            _ => match name.parse::<DatasetName>() {
                Ok(d) if d.is_generated() => Ok(PlaneSet::Classify(d)),
                _ => Err(Error::Config(format!(
                    "unknown playground data set '{name}': choose circle, xor, gauss, spiral \
                     (classification), plane or multi-gauss (regression)"
                ))),
            },
        }
    }

    /// Whether the targets are real values rather than two classes.
    pub fn is_regression(self) -> bool {
        !matches!(self, PlaneSet::Classify(_))
    }
}

/// A Playground set: points in [-4, 4]² (n × 2) and one target per point in [-1, 1].
#[derive(Clone, Debug)]
pub struct PlanePoints {
    /// Which set the points are.
    pub set: PlaneSet,
    /// Training points, one (x₁, x₂) per row.
    pub x_train: Matrix<f32>,
    /// Each training point's target: ±1 for a class, the surface's value for a regression.
    pub y_train: Vec<f32>,
    /// Test points, as `x_train`.
    pub x_test: Matrix<f32>,
    /// Each test point's target.
    pub y_test: Vec<f32>,
}

/// The regression target at (x, y).
fn regression_target(set: PlaneSet, x: f64, y: f64) -> f64 {
    match set {
        PlaneSet::Plane => (x + y) / 8.0,
        PlaneSet::MultiGauss => {
            // The Playground's six centres, and the distance at which a bump fades to 0,
            // scaled from its [-6, 6] square to our [-4, 4].
            const S: f64 = 4.0 / 6.0;
            const BUMPS: [(f64, f64, f64); 6] = [
                (-4.0, 2.5, 1.0),
                (0.0, 2.5, -1.0),
                (4.0, 2.5, 1.0),
                (-4.0, -2.5, -1.0),
                (0.0, -2.5, 1.0),
                (4.0, -2.5, -1.0),
            ];
            let mut best = 0.0_f64;
            for (cx, cy, sign) in BUMPS {
                let d = ((x - S * cx).powi(2) + (y - S * cy).powi(2)).sqrt();
                let v = sign * (1.0 - d / (2.0 * S)).max(0.0);
                if v.abs() > best.abs() {
                    best = v;
                }
            }
            best
        }
        PlaneSet::Classify(_) => unreachable!("classification sets have labels"),
    }
}

fn regression_points(
    set: PlaneSet,
    n: usize,
    noise: f64,
    rng: &mut StdRng,
) -> (Matrix<f32>, Vec<f32>) {
    let mut x = Vec::with_capacity(2 * n);
    let mut t = Vec::with_capacity(n);
    for _ in 0..n {
        let (mut px, mut py) = (rng.random_range(-4.0..4.0), rng.random_range(-4.0..4.0));
        // As for the classes: the target is fixed first, then the point is jittered.
        t.push(regression_target(set, px, py) as f32);
        if noise > 0.0 {
            let (nx, ny) = gaussian_pair(rng);
            px += noise * nx;
            py += noise * ny;
        }
        x.push(px.clamp(-4.0, 4.0) as f32);
        x.push(py.clamp(-4.0, 4.0) as f32);
    }
    (Matrix::from_vec(n, 2, x).expect("2 values per point"), t)
}

/// `set` with `n_train` training and `n_test` test points, from `seed`. The classification
/// sets are [`generate`]'s points, with class 1 as +1 and class 0 as −1.
pub fn generate_plane(
    set: PlaneSet,
    n_train: usize,
    n_test: usize,
    noise: f64,
    seed: u64,
) -> PlanePoints {
    match set {
        PlaneSet::Classify(name) => {
            let ds = generate(name, n_train, n_test, noise, seed);
            let signs = |t: &[usize]| t.iter().map(|&c| if c == 1 { 1.0 } else { -1.0 }).collect();
            PlanePoints {
                set,
                y_train: signs(&ds.t_train),
                y_test: signs(&ds.t_test),
                x_train: ds.x_train,
                x_test: ds.x_test,
            }
        }
        _ => {
            let mut rng = StdRng::seed_from_u64(seed ^ 0x005e_ed0f_b1a7);
            let (x_train, y_train) = regression_points(set, n_train, noise, &mut rng);
            let (x_test, y_test) = regression_points(set, n_test, noise, &mut rng);
            PlanePoints {
                set,
                x_train,
                y_train,
                x_test,
                y_test,
            }
        }
    }
}

/// An input feature computed from a point (x₁, x₂): the Playground's input column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// x₁ itself.
    X1,
    /// x₂ itself.
    X2,
    /// x₁².
    X1Squared,
    /// x₂².
    X2Squared,
    /// x₁·x₂.
    X1X2,
    /// sin x₁.
    SinX1,
    /// sin x₂.
    SinX2,
}

impl Feature {
    /// Every feature, in the Playground's order.
    pub const ALL: [Feature; 7] = [
        Feature::X1,
        Feature::X2,
        Feature::X1Squared,
        Feature::X2Squared,
        Feature::X1X2,
        Feature::SinX1,
        Feature::SinX2,
    ];

    /// The command line's name.
    pub fn name(self) -> &'static str {
        match self {
            Feature::X1 => "x1",
            Feature::X2 => "x2",
            Feature::X1Squared => "x1sq",
            Feature::X2Squared => "x2sq",
            Feature::X1X2 => "x1x2",
            Feature::SinX1 => "sinx1",
            Feature::SinX2 => "sinx2",
        }
    }

    /// The feature named `name` on the command line.
    pub fn from_name(name: &str) -> Result<Self> {
        Feature::ALL
            .into_iter()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown feature '{name}': choose from x1, x2, x1sq, x2sq, x1x2, sinx1, sinx2"
                ))
            })
    }

    /// The feature's value at (x₁, x₂).
    pub fn at(self, x1: f32, x2: f32) -> f32 {
        match self {
            Feature::X1 => x1,
            Feature::X2 => x2,
            Feature::X1Squared => x1 * x1,
            Feature::X2Squared => x2 * x2,
            Feature::X1X2 => x1 * x2,
            Feature::SinX1 => x1.sin(),
            Feature::SinX2 => x2.sin(),
        }
    }
}

/// The rows of `points` (n × 2) as the columns `features` make of them (n × features).
pub fn expand(points: &Matrix<f32>, features: &[Feature]) -> Matrix<f32> {
    Matrix::from_fn(points.rows(), features.len(), |r, c| {
        features[c].at(points.get(r, 0), points.get(r, 1))
    })
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

    #[test]
    fn plane_sets_have_targets_in_range_and_classes_as_signs() {
        for set in PlaneSet::ALL {
            let p = generate_plane(set, 300, 100, 0.1, 3);
            assert_eq!((p.x_train.rows(), p.y_train.len()), (300, 300));
            assert_eq!((p.x_test.rows(), p.y_test.len()), (100, 100));
            assert!(
                p.y_train.iter().all(|v| (-1.0..=1.0).contains(v)),
                "{set:?}"
            );
            if set.is_regression() {
                assert!(p.y_train.iter().any(|&v| v > 0.3) && p.y_train.iter().any(|&v| v < -0.3));
            } else {
                assert!(p.y_train.iter().all(|&v| v == 1.0 || v == -1.0));
            }
            assert_eq!(PlaneSet::from_name(set.name()).unwrap(), set);
        }
        let c = generate_plane(PlaneSet::Classify(DatasetName::Circle), 50, 0, 0.0, 9);
        let d = generate(DatasetName::Circle, 50, 0, 0.0, 9);
        assert_eq!(c.x_train, d.x_train, "the CLI's circle, point for point");
        let plane = generate_plane(PlaneSet::Plane, 20, 0, 0.0, 1);
        for i in 0..20 {
            let (x, y) = (plane.x_train.get(i, 0), plane.x_train.get(i, 1));
            assert!((plane.y_train[i] - (x + y) / 8.0).abs() < 1e-6);
        }
        assert!((regression_target(PlaneSet::MultiGauss, 0.0, 5.0 / 3.0) + 1.0).abs() < 1e-12);
        assert!(PlaneSet::from_name("mnist").is_err());
        assert_eq!(
            PlaneSet::from_name("reg-gauss").unwrap(),
            PlaneSet::MultiGauss
        );
    }

    #[test]
    fn features_expand_each_point() {
        let pts = Matrix::from_vec(1, 2, vec![2.0_f32, -3.0]).unwrap();
        let x = expand(&pts, &Feature::ALL);
        assert_eq!(
            x.as_slice(),
            &[2.0, -3.0, 4.0, 9.0, -6.0, 2.0_f32.sin(), (-3.0_f32).sin()]
        );
        for f in Feature::ALL {
            assert_eq!(Feature::from_name(f.name()).unwrap(), f);
        }
        assert!(
            Feature::from_name("cosx1")
                .unwrap_err()
                .to_string()
                .contains("sinx2")
        );
    }
}
