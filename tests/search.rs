//! Hyper-parameter search: the validation split, and trials that do not depend on how many run
//! at a time.

mod common;

use scratchnet::data::DatasetName;
use scratchnet::data::augment::Augment;
use scratchnet::nn::cnn::Architecture;
use scratchnet::nn::init::Init;
use scratchnet::nn::spec::Activation;
use scratchnet::optim::OptimizerConfig;
use scratchnet::search::{self, LogRange, Space};
use scratchnet::session::Settings;
use scratchnet::train::{Length, Sampling, TrainConfig};

#[test]
fn the_validation_split_is_a_seeded_partition_of_the_training_head() {
    let ds = common::generated(DatasetName::Spiral, 2);
    let split = ds.hold_out(Some(250), 0.2, 7).unwrap();
    assert_eq!((split.x_train.rows(), split.x_test.rows()), (200, 50));
    assert_eq!((split.t_train.len(), split.t_test.len()), (200, 50));
    // Every one of the first 250 training rows lands in exactly one part, with its label; no
    // test row and no later training row is used.
    let mut seen = vec![0; 250];
    for (x, t) in [
        (&split.x_train, &split.t_train),
        (&split.x_test, &split.t_test),
    ] {
        for (r, &label) in t.iter().enumerate() {
            let i = (0..250)
                .find(|&i| ds.x_train.row(i) == x.row(r) && ds.t_train[i] == label)
                .expect("a row of the head");
            seen[i] += 1;
        }
    }
    assert!(seen.iter().all(|&c| c == 1), "{seen:?}");
    // A function of the seed; another seed, another split.
    assert_eq!(ds.hold_out(Some(250), 0.2, 7).unwrap().t_test, split.t_test);
    assert_ne!(ds.hold_out(Some(250), 0.2, 8).unwrap().x_test, split.x_test);
    // Shares that leave a part empty are refused, naming the setting.
    for (n, share) in [(250, 0.0), (250, 1.0), (250, f64::NAN), (3, 0.2)] {
        let e = ds.hold_out(Some(n), share, 7).unwrap_err().to_string();
        assert!(e.contains("validation"), "{n} {share}: {e}");
    }
}

fn settings(threads: usize) -> Settings {
    Settings {
        dataset: DatasetName::Circle,
        load: Default::default(),
        arch: Architecture::Mlp,
        hidden: vec![8],
        activation: Activation::Relu,
        init: Init::He,
        batchnorm: false,
        dropout: None,
        weight_decay: 0.0,
        optimizer: OptimizerConfig::from_name("sgd", None).unwrap(),
        train: TrainConfig {
            batch: 20,
            length: Length::Epochs(3),
            sampling: Sampling::Shuffle,
            seed: 4,
            eval_samples: None,
            train_samples: None,
            augment: Augment::default(),
        },
        threads,
    }
}

#[test]
fn trials_are_the_same_whatever_runs_them_and_keep_their_draws() {
    let ds = common::generated(DatasetName::Circle, 4);
    let split = ds.hold_out(None, 0.2, 4).unwrap();
    let space = Space {
        lr: LogRange::parse("--lr-range", "1e-3..3").unwrap(),
        weight_decay: Some(LogRange::parse("--weight-decay-range", "1e-6..1e-2").unwrap()),
    };
    let draws = search::draws(&space, 7, 4);
    let heard = std::sync::atomic::AtomicUsize::new(0);
    let count = |_: &search::Trial| {
        heard.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    let one = search::run::<f32>(&settings(1), &split, &draws, 1, count).unwrap();
    let two = search::run::<f32>(&settings(2), &split, &draws, 2, count).unwrap();
    assert_eq!(heard.into_inner(), 14, "every trial is reported once");
    let summary = |trials: &[search::Trial]| -> Vec<_> {
        trials
            .iter()
            .map(|t| {
                let h = t.outcome.as_ref().ok();
                (
                    t.index,
                    t.draw,
                    h.map(|h| h.final_loss.to_bits()),
                    t.val_acc(),
                )
            })
            .collect()
    };
    assert_eq!(summary(&one), summary(&two));
    assert_eq!(
        one.iter().map(|t| t.draw).collect::<Vec<_>>(),
        draws,
        "in the order drawn"
    );
    // Each trial trained with its own draw: different learning rates, different losses.
    let losses: Vec<_> = one
        .iter()
        .filter_map(|t| t.outcome.as_ref().ok().map(|h| h.final_loss.to_bits()))
        .collect();
    let mut unique = losses.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), losses.len());
    // The validation accuracy is measured on the held-out part: a multiple of 1/200.
    for t in &one {
        if let Some(acc) = t.val_acc() {
            let k = acc * split.x_test.rows() as f64;
            assert!((k - k.round()).abs() < 1e-9, "{acc}");
        }
    }
    // Ranked best first.
    let ranked = search::ranked(&one);
    let accs: Vec<f64> = ranked
        .iter()
        .map(|t| t.val_acc().unwrap_or(f64::NEG_INFINITY))
        .collect();
    assert!(accs.windows(2).all(|w| w[0] >= w[1]), "{accs:?}");
}
