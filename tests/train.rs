//! Training end to end: convergence on the playground circle, determinism across thread
//! counts, divergence detection, and — on real MNIST, found through the normal lookup
//! (CI sets SCRATCHNET_DATA and SCRATCHNET_REQUIRE_DATA) — a short run that must reach a real
//! accuracy; without the data, those tests say they skipped.

mod common;

use scratchnet::data::augment::Augment;
use scratchnet::data::{self, DatasetName};
use scratchnet::nn::init::Init;
use scratchnet::nn::network::Network;
use scratchnet::nn::spec::{Activation, MlpSpec};
use scratchnet::optim::{Optimizer, OptimizerConfig};
use scratchnet::train::{self, Event, History, Length, Sampling, TrainConfig, TrainData};
use scratchnet::{Error, Matrix};

fn spec(input: usize, hidden: &[usize], classes: usize, activation: Activation) -> MlpSpec {
    MlpSpec {
        input,
        hidden: hidden.to_vec(),
        classes,
        activation,
        init: activation.default_init(),
        batchnorm: false,
        dropout: None,
        weight_decay: 0.0,
    }
}

fn run(
    spec: &MlpSpec,
    opt: OptimizerConfig,
    data: &TrainData<f32>,
    cfg: &TrainConfig,
    threads: usize,
) -> Result<History, Error> {
    let mut net = Network::<f32>::mlp(spec, cfg.seed, threads)?;
    let mut optimizer = Optimizer::new(opt);
    train::train(&mut net, &mut optimizer, data, cfg, |_| {})
}

/// The Playground setting: circle data and batch order from seed 3, Adam lr 0.01, batch 10,
/// ReLU, one thread.
fn circle_run(hidden: &[usize], epochs: usize) -> History {
    let ds = common::generated(DatasetName::Circle, 3);
    let cfg = TrainConfig {
        batch: 10,
        length: Length::Epochs(epochs),
        sampling: Sampling::Shuffle,
        seed: 3,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    let opt = OptimizerConfig::from_name("adam", Some(0.01)).unwrap();
    let data = TrainData::<f32>::from_dataset(&ds);
    run(&spec(2, hidden, 2, Activation::Relu), opt, &data, &cfg, 1).unwrap()
}

#[test]
fn playground_circle_reaches_99_percent() {
    let h = circle_run(&[30, 5, 10], 30);
    let last = h.epochs.last().unwrap();
    assert!(
        last.test_acc >= 0.99,
        "circle test accuracy {}",
        last.test_acc
    );
    // And the loss went down.
    assert!(h.epochs[0].loss > last.loss);
}

#[test]
fn a_linear_model_cannot_learn_the_circle() {
    let h = circle_run(&[], 20);
    assert!(h.epochs.last().unwrap().test_acc < 0.8);
}

#[test]
fn results_are_bit_identical_whatever_the_thread_count() {
    // Big enough that the GEMMs split across threads (500×300×300 per forward layer).
    let mut rng = common::rng(9);
    let x: Matrix<f32> = common::uniform_matrix(1500, 300, &mut rng);
    let t: Vec<usize> = (0..1500).map(|i| (i * 7 + i / 13) % 5).collect();
    let data = TrainData {
        x_train: x.rows_range(0, 1000),
        t_train: t[..1000].to_vec(),
        x_test: x.rows_range(1000, 1500),
        t_test: t[1000..].to_vec(),
        image_shape: None,
    };
    let cfg = TrainConfig {
        batch: 500,
        length: Length::Iters(6),
        sampling: Sampling::Random,
        seed: 5,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    let mut s = spec(300, &[300, 64], 5, Activation::Tanh);
    s.batchnorm = true;
    s.dropout = Some(0.2);
    let opt = OptimizerConfig::from_name("momentum", None).unwrap();
    let one = run(&s, opt, &data, &cfg, 1).unwrap();
    for threads in [2, 3] {
        let many = run(&s, opt, &data, &cfg, threads).unwrap();
        assert_eq!(
            one.final_loss.to_bits(),
            many.final_loss.to_bits(),
            "{threads} threads"
        );
        for (a, b) in one.epochs.iter().zip(&many.epochs) {
            assert_eq!(a.loss.to_bits(), b.loss.to_bits());
            assert_eq!(a.test_acc, b.test_acc);
        }
    }
    // A different seed does change the run (the assertion above could fail).
    let other = run(
        &s,
        opt,
        &data,
        &TrainConfig {
            seed: 6,
            ..cfg.clone()
        },
        1,
    )
    .unwrap();
    assert_ne!(one.final_loss.to_bits(), other.final_loss.to_bits());
}

/// Every learnable value and every optimizer slot, as bits, in visit order.
fn bits_of<T: scratchnet::matrix::Float>(net: &mut Network<T>, opt: &Optimizer<T>) -> Vec<u64> {
    let mut bits = Vec::new();
    net.visit_params(&mut |_, p| bits.extend(p.value.iter().map(|v| v.to_f64().to_bits())));
    for slot in opt.state.slots.iter().flatten() {
        bits.extend(slot.iter().map(|v| v.to_f64().to_bits()));
    }
    bits.push(opt.state.step);
    bits
}

/// Trains an MLP on `threads` threads, splitting its first layer whenever it has two.
fn split_run<T: scratchnet::matrix::Float>(
    s: &MlpSpec,
    opt: OptimizerConfig,
    data: &TrainData<T>,
    cfg: &TrainConfig,
    threads: usize,
) -> (History, Vec<u64>, u64) {
    let mut net = Network::<T>::mlp(s, cfg.seed, threads).unwrap();
    net.set_split_min_macs(0);
    let mut optimizer = Optimizer::new(opt);
    let history = train::train(&mut net, &mut optimizer, data, cfg, |_| {}).unwrap();
    let bits = bits_of(&mut net, &optimizer);
    (history, bits, net.split_steps())
}

#[test]
fn a_first_layer_split_between_two_threads_trains_to_the_bits_of_one() {
    // 37 inputs → 23 (odd, and cut where split::caller_columns says) → 11 → 5 classes;
    // 120 rows in batches of 16: a ragged last batch of 8, and a run that ends mid-epoch.
    let mut rng = common::rng(21);
    let x: Matrix<f32> = common::uniform_matrix(170, 37, &mut rng);
    let t: Vec<usize> = (0..170).map(|i| (i * 3 + i / 7) % 5).collect();
    let data = TrainData {
        x_train: x.rows_range(0, 120),
        t_train: t[..120].to_vec(),
        x_test: x.rows_range(120, 170),
        t_test: t[120..].to_vec(),
        image_shape: None,
    };
    let cfg = TrainConfig {
        batch: 16,
        length: Length::Iters(19),
        sampling: Sampling::Shuffle,
        seed: 4,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    let mut s = spec(37, &[23, 11], 5, Activation::Relu);
    s.dropout = Some(0.1);
    for name in ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"] {
        let opt = OptimizerConfig::from_name(name, None).unwrap();
        let (one, one_bits, unsplit) = split_run(&s, opt, &data, &cfg, 1);
        let (two, two_bits, split) = split_run(&s, opt, &data, &cfg, 2);
        assert_eq!(unsplit, 0, "{name}: one thread never splits");
        assert_eq!(
            split, 19,
            "{name}: every step of the two-thread run was split"
        );
        assert_eq!(one_bits, two_bits, "{name}: weights and optimizer state");
        assert_eq!(one.losses, two.losses, "{name}: every batch loss");
        assert_eq!(
            one.epochs.len(),
            3,
            "two epochs of 8 steps and 3 of a third"
        );
        for (a, b) in one.epochs.iter().zip(&two.epochs) {
            assert_eq!(a.loss.to_bits(), b.loss.to_bits(), "{name}");
            assert_eq!(
                (a.train_acc, a.test_acc),
                (b.train_acc, b.test_acc),
                "{name}"
            );
        }
    }
    // In f64, with random batches.
    let data64 = TrainData::<f64> {
        x_train: data.x_train.cast(),
        t_train: data.t_train.clone(),
        x_test: data.x_test.cast(),
        t_test: data.t_test.clone(),
        image_shape: None,
    };
    let random = TrainConfig {
        sampling: Sampling::Random,
        ..cfg.clone()
    };
    let adam = OptimizerConfig::from_name("adam", None).unwrap();
    let (_, one_bits, _) = split_run(&s, adam, &data64, &random, 1);
    let (_, two_bits, split) = split_run(&s, adam, &data64, &random, 2);
    assert_eq!(split, 19);
    assert_eq!(one_bits, two_bits, "f64 Adam");
    // Weight decay's penalty would sum in another order: such a network is never split.
    s.weight_decay = 0.01;
    let (_, _, split) = split_run(&s, adam, &data64, &random, 2);
    assert_eq!(split, 0);
}

#[test]
fn evaluating_on_the_first_samples_changes_no_step_and_ends_on_all_of_them() {
    let ds = common::generated(DatasetName::Circle, 3);
    let data = TrainData::<f32>::from_dataset(&ds);
    let s = spec(2, &[8], 2, Activation::Relu);
    let opt = OptimizerConfig::from_name("adam", Some(0.01)).unwrap();
    let full = TrainConfig {
        batch: 10,
        length: Length::Epochs(3),
        sampling: Sampling::Shuffle,
        seed: 3,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    let head = 7;
    let sampled = TrainConfig {
        eval_samples: Some(head),
        ..full.clone()
    };
    let a = run(&s, opt, &data, &full, 1).unwrap();
    let mut net = Network::<f32>::mlp(&s, sampled.seed, 1).unwrap();
    let mut optimizer = Optimizer::new(opt);
    // Each epoch announces its evaluation, and on how many samples, before reporting it.
    let mut order = Vec::new();
    let b = train::train(&mut net, &mut optimizer, &data, &sampled, |e| match e {
        Event::Evaluating { samples } => order.push(samples),
        Event::Epoch(_) => order.push(0),
        Event::Step { .. } => {}
    })
    .unwrap();
    let everything = data.x_train.rows() + data.x_test.rows();
    assert_eq!(order, [2 * head, 0, 2 * head, 0, everything, 0]);
    // The same steps: the evaluation reads the network, never the batches or the weights.
    assert_eq!(a.losses, b.losses);
    assert_eq!(a.final_loss.to_bits(), b.final_loss.to_bits());
    let (last_a, last_b) = (a.epochs.last().unwrap(), b.epochs.last().unwrap());
    assert_eq!(
        last_b.eval_samples, None,
        "the last epoch is evaluated on all samples"
    );
    assert_eq!(
        (last_a.train_acc, last_a.test_acc),
        (last_b.train_acc, last_b.test_acc)
    );
    // Epochs 1 and 2: the network after that epoch, on the first 7 samples of each set.
    for (e, rec) in b.epochs[..2].iter().enumerate() {
        assert_eq!(rec.eval_samples, Some(head));
        let upto = TrainConfig {
            length: Length::Epochs(e + 1),
            eval_samples: None,
            ..full.clone()
        };
        let mut net = Network::<f32>::mlp(&s, upto.seed, 1).unwrap();
        let mut optimizer = Optimizer::new(opt);
        train::train(&mut net, &mut optimizer, &data, &upto, |_| {}).unwrap();
        let on_head = |net: &mut Network<f32>, x: &Matrix<f32>, t: &[usize]| {
            net.accuracy(&x.rows_range(0, head), &t[..head]).unwrap()
        };
        assert_eq!(
            rec.train_acc,
            on_head(&mut net, &data.x_train, &data.t_train)
        );
        assert_eq!(rec.test_acc, on_head(&mut net, &data.x_test, &data.t_test));
    }
    // A count that covers both sets is the full evaluation; 0 is refused.
    let all = TrainConfig {
        eval_samples: Some(data.x_train.rows().max(data.x_test.rows())),
        ..full.clone()
    };
    let c = run(&s, opt, &data, &all, 1).unwrap();
    let accs = |h: &History| -> Vec<_> {
        h.epochs
            .iter()
            .map(|r| (r.train_acc, r.test_acc, r.eval_samples))
            .collect()
    };
    assert_eq!(accs(&c), accs(&a));
    let zero = TrainConfig {
        eval_samples: Some(0),
        ..full
    };
    let err = run(&s, opt, &data, &zero, 1).unwrap_err();
    assert!(err.to_string().contains("at least 1"), "{err}");
}

#[test]
fn training_on_the_first_samples_is_training_on_a_set_of_only_them() {
    let ds = common::generated(DatasetName::Circle, 5);
    let whole = TrainData::<f32>::from_dataset(&ds);
    let k = 37;
    let head = TrainData::<f32>::from_dataset_head(&ds, Some(k));
    assert_eq!((head.x_train.rows(), head.t_train.len()), (k, k));
    assert_eq!(head.x_train, whole.x_train.rows_range(0, k));
    assert_eq!(head.x_test, whole.x_test, "the test set stays whole");
    let s = spec(2, &[8], 2, Activation::Relu);
    let opt = OptimizerConfig::from_name("sgd", Some(0.1)).unwrap();
    let all = TrainConfig {
        batch: 10,
        length: Length::Epochs(3),
        sampling: Sampling::Shuffle,
        seed: 5,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    let first = TrainConfig {
        train_samples: Some(k),
        ..all.clone()
    };
    // The whole set with the setting, the head without it, the head with it: one run.
    let a = run(&s, opt, &whole, &first, 1).unwrap();
    let b = run(&s, opt, &head, &all, 1).unwrap();
    let c = run(&s, opt, &head, &first, 1).unwrap();
    let figures = |h: &History| {
        let epochs: Vec<_> = h
            .epochs
            .iter()
            .map(|r| (r.iterations, r.loss, r.train_acc, r.test_acc))
            .collect();
        (epochs, h.losses.clone(), h.final_loss.to_bits())
    };
    assert_eq!(figures(&a), figures(&b));
    assert_eq!(figures(&b), figures(&c));
    // 37 samples in batches of 10: four steps an epoch, and the training accuracy is a count
    // of those 37 (the test set has hundreds of points).
    assert_eq!(a.iterations, 12);
    for r in &a.epochs {
        let right = r.train_acc * k as f64;
        assert!((right - right.round()).abs() < 1e-9, "{}", r.train_acc);
    }
    // Unlike a run on everything.
    let d = run(&s, opt, &whole, &all, 1).unwrap();
    assert_ne!(d.iterations, a.iterations);
    // Zero, more samples than there are, and a batch larger than the head are refused.
    let bad = |train_samples: usize, batch: usize| {
        let cfg = TrainConfig {
            train_samples: Some(train_samples),
            batch,
            ..all.clone()
        };
        run(&s, opt, &whole, &cfg, 1).unwrap_err().to_string()
    };
    assert!(bad(0, 10).contains("at least 1"), "{}", bad(0, 10));
    let n = whole.x_train.rows();
    let more = bad(n + 1, 10);
    assert!(
        more.contains(&format!("the {n} training samples")),
        "{more}"
    );
    assert!(bad(5, 10).contains("larger than the 5"), "{}", bad(5, 10));
}

#[test]
fn a_huge_learning_rate_stops_with_a_divergence_error() {
    let ds = common::generated(DatasetName::Spiral, 1);
    let data = TrainData::<f32>::from_dataset(&ds);
    let cfg = TrainConfig {
        batch: 50,
        length: Length::Epochs(50),
        sampling: Sampling::Shuffle,
        seed: 1,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    let mut s = spec(2, &[64, 64], 2, Activation::Relu);
    s.init = Init::Std(1.0);
    let opt = OptimizerConfig::from_name("sgd", Some(1e4)).unwrap();
    let err = run(&s, opt, &data, &cfg, 1).unwrap_err();
    assert!(matches!(err, Error::Diverged { .. }), "{err}");
    assert!(err.to_string().contains("smaller learning rate"));
}

#[test]
fn every_optimizer_lowers_the_loss() {
    let ds = common::generated(DatasetName::Gauss, 2);
    let data = TrainData::<f32>::from_dataset(&ds);
    let cfg = TrainConfig {
        batch: 20,
        length: Length::Epochs(10),
        sampling: Sampling::Shuffle,
        seed: 2,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    for name in ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"] {
        let opt = OptimizerConfig::from_name(name, None).unwrap();
        let h = run(&spec(2, &[8], 2, Activation::Sigmoid), opt, &data, &cfg, 1).unwrap();
        assert!(
            h.epochs[9].loss < h.epochs[0].loss,
            "{name}: {:?}",
            h.epochs
        );
        assert!(
            h.epochs[9].test_acc > 0.9,
            "{name}: {}",
            h.epochs[9].test_acc
        );
    }
}

/// Real MNIST found by [`common::real_data`], or `None` (the test then says it skipped).
fn real_mnist() -> Option<data::Dataset> {
    common::real_dataset(DatasetName::Mnist)
}

/// Real MNIST through the project's normal lookup. Without the data this test says it skipped
/// (and fails under SCRATCHNET_REQUIRE_DATA=1, which CI sets, pointing SCRATCHNET_DATA at
/// ../shared/datasets).
#[test]
fn mnist_short_run_reaches_95_percent() {
    let Some(ds) = real_mnist() else {
        return;
    };
    assert_eq!(
        (ds.x_train.rows(), ds.x_test.rows(), ds.input_dim()),
        (60000, 10000, 784)
    );
    let data = TrainData::<f32>::from_dataset(&ds);
    let cfg = TrainConfig {
        batch: 100,
        length: Length::Iters(600),
        sampling: Sampling::Shuffle,
        seed: 1,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    let mut s = spec(784, &[100, 50], 10, Activation::Relu);
    s.batchnorm = true;
    let opt = OptimizerConfig::from_name("adam", None).unwrap();
    let mut steps = 0;
    let mut net = Network::<f32>::mlp(&s, cfg.seed, 2).unwrap();
    let mut optimizer = Optimizer::new(opt);
    let h = train::train(&mut net, &mut optimizer, &data, &cfg, |e| {
        if let Event::Step { .. } = e {
            steps += 1;
        }
    })
    .unwrap();
    assert_eq!(steps, 600);
    let acc = h.epochs.last().unwrap().test_acc;
    assert!(acc >= 0.95, "one epoch of BN + Adam reached only {acc}");
}

/// The course's "learning rate 10" run: with a stable log-sum-exp the loss stays finite while
/// the weights blow up, so the trainer must recognise the explosion itself. (He init: with
/// std 0.01 the same run instead kills every ReLU and stalls at chance, loss ln 10.)
#[test]
fn mnist_with_learning_rate_10_stops_as_diverged() {
    let Some(ds) = real_mnist() else {
        return;
    };
    let data = TrainData::<f32>::from_dataset(&ds);
    let cfg = TrainConfig {
        batch: 100,
        length: Length::Iters(600),
        sampling: Sampling::Random,
        seed: 42,
        eval_samples: None,
        train_samples: None,
        augment: Augment::default(),
    };
    let s = spec(784, &[100, 50], 10, Activation::Relu);
    let opt = OptimizerConfig::from_name("sgd", Some(10.0)).unwrap();
    let err = run(&s, opt, &data, &cfg, 1).unwrap_err();
    assert!(matches!(err, Error::Diverged { epoch: 1, .. }), "{err}");
}
