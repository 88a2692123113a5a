//! `cargo bench --bench playground`: what the web app's trainer does between two snapshots —
//! one epoch of the Playground's opening network (the circle's 250 training points, 2-4-2-1
//! tanh, SGD, batches of 10: 25 steps) — and one snapshot (both losses, the output and every
//! neuron over the 40 × 40 grid). One thread, f32. The bar: an epoch under 1 ms, i.e. at least
//! 1000 epochs per second, so the page never waits on the engine.

use criterion::{Criterion, criterion_group, criterion_main};
use scratchnet::data::DatasetName;
use scratchnet::data::playground::{Feature, PlaneSet};
use scratchnet::playground::{PlaygroundRun, PlaygroundSettings};
use scratchnet::serve::jobs::GRID;
use std::time::Duration;

fn playground(c: &mut Criterion) {
    let mut group = c.benchmark_group("playground");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    let spiral = PlaygroundSettings {
        set: PlaneSet::Classify(DatasetName::Spiral),
        hidden: vec![8; 6],
        features: vec![Feature::X1, Feature::X2, Feature::SinX1, Feature::SinX2],
        ..PlaygroundSettings::default()
    };
    for (label, settings) in [
        ("circle 2-4-2-1", PlaygroundSettings::default()),
        ("spiral 4-8x6-1", spiral),
    ] {
        let mut run = PlaygroundRun::new(&settings, GRID).unwrap();
        group.bench_function(format!("epoch, {label}"), |b| {
            b.iter(|| run.train_epoch().unwrap())
        });
        group.bench_function(format!("snapshot, {label}"), |b| {
            b.iter(|| run.snapshot().unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, playground);
criterion_main!(benches);
