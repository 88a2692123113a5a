//! An MLP learns the Playground's circle, from a program of your own: the layers, an optimizer
//! and a training loop, with no command line.
//!
//! ```sh
//! cargo run --release --example train_circle
//! ```
//!
//! It needs only the engine and the layers: `default-features = false`.

use scratchnet::data::{self, DatasetName, LoadOptions};
use scratchnet::nn::Mode;
use scratchnet::nn::network::Network;
use scratchnet::nn::softmax_with_loss::Targets;
use scratchnet::nn::spec::{Activation, MlpSpec};
use scratchnet::optim::{Optimizer, OptimizerConfig};

fn main() -> scratchnet::Result<()> {
    // 500 points of two classes, inside and around a circle; a test set beside them.
    let ds = data::load(DatasetName::Circle, &LoadOptions::default())?;
    let spec = MlpSpec {
        input: ds.input_dim(),
        hidden: vec![30, 5, 10],
        classes: ds.classes,
        activation: Activation::Relu,
        init: Activation::Relu.default_init(),
        batchnorm: false,
        dropout: None,
        weight_decay: 0.0,
    };
    let mut net = Network::<f32>::mlp(&spec, 42, 1)?;
    let mut opt = Optimizer::new(OptimizerConfig::from_name("adam", Some(0.01))?);
    let batch = 10;
    for epoch in 1..=20 {
        let mut loss = 0.0;
        for start in (0..ds.x_train.rows()).step_by(batch) {
            let end = (start + batch).min(ds.x_train.rows());
            let x = ds.x_train.rows_range(start, end);
            let t = Targets::Labels(&ds.t_train[start..end]);
            loss += net.gradient(&x, t)?; // forward, loss, backward
            opt.step(&mut net); // W ← W − update(∂L/∂W)
        }
        if epoch % 5 == 0 {
            let acc = net.accuracy(&ds.x_test, &ds.t_test)?;
            let batches = ds.x_train.rows().div_ceil(batch) as f32;
            println!(
                "epoch {epoch:2}: loss {:.4}, test accuracy {acc:.3}",
                loss / batches
            );
        }
    }
    let scores = net.predict(&ds.x_test.rows_range(0, 1), Mode::Eval)?;
    println!("the first test point's class scores: {:?}", scores.row(0));
    Ok(())
}
