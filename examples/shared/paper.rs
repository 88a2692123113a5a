//! Test images turned into somebody's pictures, and the networks that classify them: shared
//! by `examples/paper_digits.rs` (experiment 19's tables), `examples/shifted_digits.rs`
//! (experiment 20's) and `tests/picture.rs` (which holds experiment 19's figures). Each uses a
//! part of it.
#![allow(dead_code)]

use rand::RngExt;
use rand::rngs::StdRng;
use scratchnet::data::Dataset;
use scratchnet::data::augment::Augment;
use scratchnet::data::picture::{self, Picture, Preparation};
use scratchnet::error::Result;
use scratchnet::matrix::Matrix;
use scratchnet::nn::network::Network;
use scratchnet::nn::spec::{Activation, MlpSpec};
use scratchnet::optim::{Optimizer, OptimizerConfig};
use scratchnet::train::{self, Length, Sampling, TrainConfig, TrainData};

/// The side of the sheet a picture is drawn on.
pub const SHEET: usize = 200;

/// How many times larger than the dataset's image the picture is.
pub const SCALE: usize = 5;

/// A grey square picture of `side` × `side`.
fn square(side: usize, planes: Vec<f32>) -> Picture {
    Picture {
        channels: 1,
        height: side,
        width: side,
        planes,
    }
}

/// Every picture prepared `how` for a 28×28 network, one row each.
pub fn prepare_all(
    pictures: impl IntoIterator<Item = Picture>,
    how: Preparation,
) -> Result<Matrix<f32>> {
    let (mut rows, mut n) = (Vec::new(), 0);
    for p in pictures {
        rows.extend(picture::prepare(&p, how, (1, 28, 28))?);
        n += 1;
    }
    Matrix::from_vec(n, 784, rows)
}

/// A 28×28 image (light on dark) as dark ink on a light, uneven `SHEET`×`SHEET` sheet (grey
/// 0.88–0.96, pixel by pixel), `SCALE` times larger, at a random place.
pub fn on_paper(image: &[f32], rng: &mut StdRng) -> Picture {
    let room = SHEET - 28 * SCALE;
    let (top, left) = (rng.random_range(0..=room), rng.random_range(0..=room));
    let planes = (0..SHEET * SHEET)
        .map(|p| {
            let (y, x) = (
                (p / SHEET).wrapping_sub(top),
                (p % SHEET).wrapping_sub(left),
            );
            let ink = if y < 28 * SCALE && x < 28 * SCALE {
                image[(y / SCALE) * 28 + x / SCALE]
            } else {
                0.0
            };
            (0.92 + rng.random_range(-0.04..0.04)) * (1.0 - ink)
        })
        .collect();
    square(SHEET, planes)
}

/// [`on_paper`] under uneven light: the sheet lit `1 − fall` times as brightly at one edge as
/// at the opposite one, falling evenly in between, from a random direction (a desk lamp to one
/// side). Ink and paper dim alike, since what a camera sees is reflectance times light.
pub fn on_lit_paper(image: &[f32], fall: f32, rng: &mut StdRng) -> Picture {
    let sheet = on_paper(image, rng);
    let angle = rng.random_range(0.0..std::f32::consts::TAU);
    let (dx, dy) = (angle.cos(), angle.sin());
    // The projection onto the light's direction, 0 at the brightest corner, 1 at the dimmest.
    let along = |y: usize, x: usize| {
        let (u, v) = (x as f32 / (SHEET - 1) as f32, y as f32 / (SHEET - 1) as f32);
        (u * dx + v * dy - dx.min(0.0) - dy.min(0.0)) / (dx.abs() + dy.abs())
    };
    let planes = sheet
        .planes
        .iter()
        .enumerate()
        .map(|(p, v)| v * (1.0 - fall * along(p / SHEET, p % SHEET)))
        .collect();
    square(SHEET, planes)
}

/// A 28×28 image (light on dark) written with a thinner pen: `PEN_SCALE` times larger, dark
/// ink (0.1) where the image is above one half and stays so within `thinner` pixels (a square
/// erosion: the strokes lose `thinner` pixels on each side, `thinner / PEN_SCALE` of the
/// image's pixels), on paper of 0.92.
pub fn with_thinner_pen(image: &[f32], thinner: usize) -> Picture {
    let side = 28 * PEN_SCALE;
    let inked: Vec<bool> = (0..side * side)
        .map(|p| image[(p / side / PEN_SCALE) * 28 + (p % side) / PEN_SCALE] > 0.5)
        .collect();
    // All inked within `thinner` across, then within `thinner` down.
    let window = |i: usize, n: usize| i.saturating_sub(thinner)..(i + thinner + 1).min(n);
    let kept = |i: usize, n: usize| i >= thinner && i + thinner < n;
    let across: Vec<bool> = (0..side * side)
        .map(|p| {
            let (y, x) = (p / side, p % side);
            kept(x, side) && window(x, side).all(|xx| inked[y * side + xx])
        })
        .collect();
    let planes = (0..side * side)
        .map(|p| {
            let (y, x) = (p / side, p % side);
            let ink = kept(y, side) && window(y, side).all(|yy| across[yy * side + x]);
            if ink { 0.1 } else { 0.92 }
        })
        .collect();
    square(side, planes)
}

/// How many times larger than the dataset's image a [`with_thinner_pen`] picture is.
pub const PEN_SCALE: usize = 10;

/// The 784-100-50 ReLU MLP the examples train, He-initialised.
pub fn mlp_784_100_50(batchnorm: bool) -> MlpSpec {
    MlpSpec {
        input: 784,
        hidden: vec![100, 50],
        classes: 10,
        activation: Activation::Relu,
        init: Activation::Relu.default_init(),
        batchnorm,
        dropout: None,
        weight_decay: 0.0,
    }
}

/// Trains `net` on `ds` with Adam at its default rate, shuffled batches of 100, seed 1, each
/// image moved by `augment` as it is drawn. Each epoch but the last is evaluated on the first
/// 1,000 samples only, which changes no weight.
pub fn train_adam(
    net: &mut Network<f32>,
    ds: &Dataset,
    length: Length,
    augment: Augment,
) -> Result<()> {
    let cfg = TrainConfig {
        batch: 100,
        length,
        sampling: Sampling::Shuffle,
        seed: 1,
        eval_samples: Some(1000),
        train_samples: None,
        augment,
    };
    let mut optimizer = Optimizer::new(OptimizerConfig::from_name("adam", None)?);
    train::train(
        net,
        &mut optimizer,
        &TrainData::from_dataset(ds),
        &cfg,
        |_| {},
    )?;
    Ok(())
}

/// A [`mlp_784_100_50`] (seed 1, two threads) trained by [`train_adam`], its images as they
/// are.
pub fn trained_mlp(ds: &Dataset, length: Length, batchnorm: bool) -> Result<Network<f32>> {
    let mut net = Network::<f32>::mlp(&mlp_784_100_50(batchnorm), 1, 2)?;
    train_adam(&mut net, ds, length, Augment::default())?;
    Ok(net)
}
