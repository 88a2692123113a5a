//! What `--augment` buys: MNIST's test digits moved k pixels right and k down (k = 0…6, the
//! background coming in from the other side), classified by networks trained with and
//! without `--augment shift:3`: a 784-100-50 ReLU MLP (Adam, 5 epochs) and the book's
//! SimpleConvNet (Adam, 3 epochs), seed 1, batch 100. Prints the table and writes the chart
//! to `shifted-digits.svg` (or the path given as the first argument).
//!
//! Run: `SCRATCHNET_DATA=../shared/datasets cargo run --release --example shifted_digits`

#[path = "shared/paper.rs"]
mod paper;

use scratchnet::data::{self, DatasetName, LoadOptions};
use scratchnet::error::Result;
use scratchnet::matrix::Matrix;
use scratchnet::nn::cnn::Architecture;
use scratchnet::nn::init::Init;
use scratchnet::nn::network::Network;
use scratchnet::nn::shape::Shape;
use scratchnet::report::svg::{Legend, LineChart, Series};
use scratchnet::train::Length;

/// MNIST's images.
const IMAGE: Shape = Shape::Image { c: 1, h: 28, w: 28 };

/// The largest move, in pixels on each axis.
const MOST: usize = 6;

/// 28×28 images moved `k` right and `k` down, zeros (MNIST's background) coming in.
fn moved(x: &Matrix<f32>, k: usize) -> Matrix<f32> {
    Matrix::from_fn(x.rows(), 784, |i, j| {
        let (y, col) = (j / 28, j % 28);
        if y < k || col < k {
            0.0
        } else {
            x.get(i, (y - k) * 28 + col - k)
        }
    })
}

fn main() -> Result<()> {
    let ds = data::load(DatasetName::Mnist, &LoadOptions::default())?;
    let tests: Vec<Matrix<f32>> = (0..=MOST).map(|k| moved(&ds.x_test, k)).collect();
    let cnn_specs = Architecture::SimpleCnn.layer_specs(IMAGE, 10)?;
    let mut series = Vec::new();
    print!("| network | --augment |");
    (0..=MOST).for_each(|k| print!(" moved {k} px |"));
    print!("\n| --- | --- |");
    (0..=MOST).for_each(|_| print!(" --: |"));
    println!();
    for (name, epochs) in [("MLP 784-100-50", 5), ("SimpleConvNet", 3)] {
        for augment in ["none", "shift:3"] {
            let mut net = if name == "SimpleConvNet" {
                Network::<f32>::with_input(cnn_specs.clone(), IMAGE, Init::Std(0.01), 0.0, 1, 2)?
            } else {
                Network::<f32>::mlp(&paper::mlp_784_100_50(false), 1, 2)?
            };
            paper::train_adam(&mut net, &ds, Length::Epochs(epochs), augment.parse()?)?;
            print!("| {name} | {augment} |");
            let mut points = Vec::new();
            for (k, x) in tests.iter().enumerate() {
                let acc = net.accuracy(x, &ds.t_test)?;
                print!(" {acc:.4} |");
                points.push((k as f64, acc));
            }
            println!();
            series.push(Series {
                name: format!("{name}, augment {augment}"),
                points,
            });
        }
    }
    let mut chart = LineChart::new(
        "MNIST test digits moved off centre",
        "moved right and down by (px)",
        "test accuracy",
    );
    chart.subtitle = Some(
        "trained with and without --augment shift:3 · MLP 784-100-50 5 epochs, SimpleConvNet 3 \
         epochs · Adam · seed 1"
            .into(),
    );
    chart.y_max = Some(1.0);
    chart.legend = Legend::LowerLeft;
    chart.series = series;
    let path = std::env::args()
        .nth(1)
        .unwrap_or("shifted-digits.svg".into());
    std::fs::write(&path, chart.render()?).map_err(|source| scratchnet::Error::Io {
        path: path.clone().into(),
        source,
    })?;
    println!("chart: {path}");
    Ok(())
}
