//! Checkpoints: exact round trips in both precisions, PyTorch's names and layout, and clear
//! errors for files that are truncated, not safetensors, or from another architecture.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use scratchnet::checkpoint;
use scratchnet::data::augment::Augment;
use scratchnet::data::{self, DatasetName};
use scratchnet::nn::Mode;
use scratchnet::nn::network::Network;
use scratchnet::nn::spec::{Activation, MlpSpec};
use scratchnet::optim::{Optimizer, OptimizerConfig};
use scratchnet::train::{self, Length, Sampling, TrainConfig, TrainData};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scratchnet-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn trained<T: scratchnet::Float>() -> (Network<T>, data::Dataset) {
    let ds = common::generated(DatasetName::Xor, 4);
    let spec = MlpSpec {
        input: 2,
        hidden: vec![12, 6],
        classes: 2,
        activation: Activation::Tanh,
        init: Activation::Tanh.default_init(),
        batchnorm: true,
        dropout: Some(0.1),
        weight_decay: 0.0,
    };
    let mut net = Network::<T>::mlp(&spec, 4, 1).unwrap();
    let mut opt = Optimizer::new(OptimizerConfig::from_name("adam", Some(0.01)).unwrap());
    let cfg = TrainConfig {
        batch: 20,
        length: Length::Epochs(2),
        sampling: Sampling::Shuffle,
        seed: 4,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    train::train(
        &mut net,
        &mut opt,
        &TrainData::<T>::from_dataset(&ds),
        &cfg,
        |_| {},
    )
    .unwrap();
    (net, ds)
}

#[test]
fn round_trip_is_exact_in_both_precisions() {
    let (mut net, ds) = trained::<f32>();
    let path = temp("rt32.safetensors");
    let meta = BTreeMap::from([("dataset".to_string(), "xor".to_string())]);
    checkpoint::save(&mut net, &meta, &path).unwrap();
    let mut loaded = checkpoint::load::<f32>(&path, 1).unwrap();
    let x = ds.x_test.clone();
    let a = net.predict(&x, Mode::Eval).unwrap().clone();
    let b = loaded.net.predict(&x, Mode::Eval).unwrap().clone();
    assert_eq!(a, b, "f32 predictions differ after a round trip");
    assert_eq!(loaded.metadata["dataset"], "xor");
    assert_eq!(loaded.metadata["precision"], "f32");

    let (mut net64, _) = trained::<f64>();
    let path64 = temp("rt64.safetensors");
    checkpoint::save(&mut net64, &BTreeMap::new(), &path64).unwrap();
    let mut back = checkpoint::load::<f64>(&path64, 1).unwrap();
    let x64 = ds.x_test.cast::<f64>();
    assert_eq!(
        net64.predict(&x64, Mode::Eval).unwrap().clone(),
        back.net.predict(&x64, Mode::Eval).unwrap().clone()
    );
}

#[test]
fn layout_matches_pytorch_state_dict() {
    let (mut net, _) = trained::<f32>();
    let path = temp("layout.safetensors");
    checkpoint::save(&mut net, &BTreeMap::new(), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<&str> = st.names();
    names.sort();
    // Sequential: 0 Linear, 1 BatchNorm1d, 2 Tanh, 3 Dropout, 4 Linear, 5 BN, 6 Tanh, 7 Dropout, 8 Linear.
    assert_eq!(
        names,
        [
            "0.bias",
            "0.weight",
            "1.bias",
            "1.num_batches_tracked",
            "1.running_mean",
            "1.running_var",
            "1.weight",
            "4.bias",
            "4.weight",
            "5.bias",
            "5.num_batches_tracked",
            "5.running_mean",
            "5.running_var",
            "5.weight",
            "8.bias",
            "8.weight",
        ]
    );
    assert_eq!(
        st.tensor("0.weight").unwrap().shape(),
        [12, 2],
        "nn.Linear keeps [out, in]"
    );
    assert_eq!(st.tensor("4.weight").unwrap().shape(), [6, 12]);
    assert_eq!(st.tensor("1.running_var").unwrap().dtype(), Dtype::F32);
}

fn write_raw(
    name: &str,
    tensors: Vec<(&str, Vec<usize>, Vec<f32>)>,
    layers: Option<&str>,
) -> PathBuf {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(n, s, v)| {
            (
                n.to_string(),
                s,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    let meta = layers.map(|l| HashMap::from([("layers".to_string(), l.to_string())]));
    let data = safetensors::tensor::serialize(views, meta).unwrap();
    let path = temp(name);
    std::fs::write(&path, data).unwrap();
    path
}

fn load_err(path: &std::path::Path) -> String {
    match checkpoint::load::<f32>(path, 1) {
        Ok(_) => panic!("{} should not load", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let layers = Some("affine 2 3; relu; affine 3 2");
    let good = vec![
        ("0.weight", vec![3, 2], vec![0.0; 6]),
        ("0.bias", vec![3], vec![0.0; 3]),
        ("2.weight", vec![2, 3], vec![0.0; 6]),
        ("2.bias", vec![2], vec![0.0; 2]),
    ];
    assert!(checkpoint::load::<f32>(&write_raw("good.st", good.clone(), layers), 1).is_ok());

    let mut wrong_shape = good.clone();
    wrong_shape[0] = ("0.weight", vec![2, 3], vec![0.0; 6]);
    let err = load_err(&write_raw("shape.st", wrong_shape, layers));
    assert!(
        err.contains("tensor 0.weight has shape [2, 3]") && err.contains("[3, 2]"),
        "{err}"
    );

    let err = load_err(&write_raw("missing.st", good[..3].to_vec(), layers));
    assert!(err.contains("missing tensor 2.bias"), "{err}");

    let err = load_err(&write_raw("nolayers.st", good.clone(), None));
    assert!(err.contains("not a scratchnet checkpoint"), "{err}");

    let err = load_err(&write_raw(
        "arch.st",
        good.clone(),
        Some("affine 2 4; relu; affine 4 2"),
    ));
    assert!(err.contains("0.weight") && err.contains("[4, 2]"), "{err}");

    let mut extra = good.clone();
    extra.push(("9.weight", vec![1], vec![0.0]));
    assert!(load_err(&write_raw("extra.st", extra, layers)).contains("unexpected tensor 9.weight"));

    let full = std::fs::read(write_raw("full.st", good, layers)).unwrap();
    let truncated = temp("truncated.st");
    std::fs::write(&truncated, &full[..full.len() - 5]).unwrap();
    assert!(load_err(&truncated).contains("not a safetensors checkpoint or truncated"));
    let garbage = temp("garbage.st");
    std::fs::write(&garbage, b"this is not a checkpoint at all").unwrap();
    assert!(load_err(&garbage).contains("not a safetensors checkpoint"));
    let err = load_err(&temp("does-not-exist.st"));
    assert!(err.contains("cannot access"), "{err}");
}

/// Stops a run after `stop_at` iterations, saves it, loads it back and finishes it: the result
/// must equal the uninterrupted run bit for bit (weights, optimizer, batch order, dropout
/// masks, batch-norm statistics, the per-epoch history's losses and accuracies).
fn interrupted_equals_uninterrupted(
    sampling: Sampling,
    length: Length,
    stop_at: usize,
    opt_name: &str,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let ds = common::generated(DatasetName::Spiral, 8);
    let data = TrainData::<f32>::from_dataset(&ds);
    let spec = MlpSpec {
        input: 2,
        hidden: vec![16, 8],
        classes: 2,
        activation: Activation::Relu,
        init: Activation::Relu.default_init(),
        batchnorm: true,
        dropout: Some(0.2),
        weight_decay: 0.001,
    };
    let cfg = TrainConfig {
        batch: 64,
        length,
        sampling,
        seed: 8,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    let opt_cfg = OptimizerConfig::from_name(opt_name, None).unwrap();

    let mut whole = Network::<f32>::mlp(&spec, 8, 1).unwrap();
    let mut opt = Optimizer::new(opt_cfg);
    let full = train::train(&mut whole, &mut opt, &data, &cfg, |_| {}).unwrap();

    let mut first = Network::<f32>::mlp(&spec, 8, 1).unwrap();
    let mut opt1 = Optimizer::new(opt_cfg);
    let mut state = train::TrainState::default();
    let stop = AtomicBool::new(false);
    let outcome = train::train_from(&mut first, &mut opt1, &data, &cfg, &mut state, &stop, |e| {
        if let train::Event::Step { iteration, .. } = e
            && iteration == stop_at
        {
            stop.store(true, Ordering::Relaxed);
        }
    })
    .unwrap();
    assert_eq!(outcome, train::Outcome::Interrupted);
    assert_eq!(state.iteration, stop_at);
    let path = temp(&format!("resume-{opt_name}-{stop_at}.safetensors"));
    checkpoint::save_training(&mut first, &opt1, &state, &BTreeMap::new(), &path).unwrap();
    drop(first);

    let mut ckpt = checkpoint::load::<f32>(&path, 2).unwrap();
    // λ reads back as the decimal asked for, not as the f32 nearest to it widened to f64.
    assert_eq!(ckpt.net.weight_decay(), 0.001);
    let (mut opt2, mut state2) = checkpoint::load_training(&path, &mut ckpt).unwrap();
    assert_eq!(state2, state);
    let never = AtomicBool::new(false);
    let outcome = train::train_from(
        &mut ckpt.net,
        &mut opt2,
        &data,
        &cfg,
        &mut state2,
        &never,
        |_| {},
    )
    .unwrap();
    assert_eq!(outcome, train::Outcome::Finished);

    let x = ds.x_test.clone();
    let a = whole.predict(&x, Mode::Eval).unwrap().clone();
    let b = ckpt.net.predict(&x, Mode::Eval).unwrap().clone();
    assert!(
        a.as_slice()
            .iter()
            .zip(b.as_slice())
            .all(|(p, q)| p.to_bits() == q.to_bits()),
        "{opt_name} {sampling:?}: resumed weights differ"
    );
    assert_eq!(
        full.final_loss.to_bits(),
        state2.history.final_loss.to_bits()
    );
    assert_eq!(full.epochs.len(), state2.history.epochs.len());
    for (p, q) in full.epochs.iter().zip(&state2.history.epochs) {
        assert_eq!((p.epoch, p.iterations), (q.epoch, q.iterations));
        assert_eq!(p.loss.to_bits(), q.loss.to_bits(), "epoch {} loss", p.epoch);
        assert_eq!((p.train_acc, p.test_acc), (q.train_acc, q.test_acc));
    }
}

#[test]
fn resumed_runs_end_bit_identical_to_uninterrupted_ones() {
    // Mid-epoch (16 iterations per epoch here) and at an epoch boundary, both samplers,
    // an optimizer with two state slots and one without.
    interrupted_equals_uninterrupted(Sampling::Shuffle, Length::Epochs(4), 21, "adam");
    interrupted_equals_uninterrupted(Sampling::Random, Length::Iters(70), 32, "momentum");
    interrupted_equals_uninterrupted(Sampling::Shuffle, Length::Epochs(3), 16, "sgd");
}

#[test]
fn a_model_only_file_cannot_be_resumed() {
    let (mut net, _) = trained::<f32>();
    let path = temp("model-only.safetensors");
    checkpoint::save(&mut net, &BTreeMap::new(), &path).unwrap();
    let mut ckpt = checkpoint::load::<f32>(&path, 1).unwrap();
    let err = match checkpoint::load_training(&path, &mut ckpt) {
        Ok(_) => panic!("resumed from a model-only file"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("no training state"), "{err}");
}
