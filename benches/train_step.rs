//! `cargo bench --bench train_step`: one training step (gather, forward, backward, update) of
//! the textbook's networks on MNIST-shaped data, under criterion — the number `train --profile`
//! breaks down. T3: 784-100-50-10 ReLU with SGD; M: the same with batch norm and Adam. Batch
//! 100, one thread, f32. The data is random (a step costs the same whatever the pixels are),
//! so the bench needs no dataset.

use criterion::{Criterion, criterion_group, criterion_main};
use rand::SeedableRng;
use rand::rngs::StdRng;
use scratchnet::Matrix;
use scratchnet::nn::init::Init;
use scratchnet::nn::network::Network;
use scratchnet::nn::softmax_with_loss::Targets;
use scratchnet::nn::spec::{Activation, MlpSpec};
use scratchnet::optim::{Optimizer, OptimizerConfig};
use std::time::Duration;

fn step(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(3);
    let n = 6000;
    let x = Matrix::<f32>::random_uniform(n, 784, 0.0, 1.0, &mut rng);
    let t: Vec<usize> = (0..n).map(|i| i % 10).collect();
    // Sixty fixed batches of 100 scattered rows, used in turn: the gather touches rows all over
    // the set, as random sampling does, without timing the sampler.
    let batches: Vec<Vec<usize>> = (0..60)
        .map(|b| (0..100).map(|i| (i * 61 + b * 7919) % n).collect())
        .collect();
    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    for (label, batchnorm, optimizer) in [("T3 sgd", false, "sgd"), ("M bn+adam", true, "adam")] {
        let spec = MlpSpec {
            input: 784,
            hidden: vec![100, 50],
            classes: 10,
            activation: Activation::Relu,
            init: Init::He,
            batchnorm,
            dropout: None,
            weight_decay: 0.0,
        };
        let mut net = Network::<f32>::mlp(&spec, 1, 1).expect("a valid network");
        let mut opt = Optimizer::<f32>::new(OptimizerConfig::from_name(optimizer, None).unwrap());
        let mut which = 0;
        let mut labels = Vec::with_capacity(100);
        group.bench_function(label, |b| {
            b.iter(|| {
                // The trainer's step: gather the batch, forward and backward, update.
                let idx = &batches[which % batches.len()];
                which += 1;
                labels.clear();
                labels.extend(idx.iter().map(|&i| t[i]));
                net.input_mut().gather_rows_from(&x, idx);
                let loss = net
                    .gradient_on_input(Targets::Labels(&labels))
                    .expect("shapes fit");
                opt.step(&mut net);
                loss
            })
        });
    }
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
