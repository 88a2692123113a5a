//! Every layer's backward pass and whole networks against central-difference numerical
//! gradients, in f64, with a stated bound: relative error below 1e-6.

mod common;

use rand::RngExt;
use scratchnet::gradcheck;
use scratchnet::nn::batch_norm::BatchNorm;
use scratchnet::nn::dropout::Dropout;
use scratchnet::nn::graph::{AddLayer, MulLayer};
use scratchnet::nn::init::Init;
use scratchnet::nn::network::{Loss, Network};
use scratchnet::nn::relu::Relu;
use scratchnet::nn::sigmoid::{Sigmoid, sigmoid};
use scratchnet::nn::softmax_with_loss::Targets;
use scratchnet::nn::spec::{Activation, LayerSpec, MlpSpec};
use scratchnet::nn::tanh::Tanh;
use scratchnet::nn::{Layer, Mode};
use scratchnet::{Matrix, Matrix as M};

/// The bound every check must meet.
const MAX_REL_ERROR: f64 = 1e-6;

fn labels(n: usize, classes: usize, seed: u64) -> Vec<usize> {
    let mut rng = common::rng(seed);
    (0..n).map(|_| rng.random_range(0..classes)).collect()
}

fn assert_network_gradients(
    net: &mut Network<f64>,
    x: &Matrix<f64>,
    t: Targets<'_, f64>,
    what: &str,
) {
    let checks = gradcheck::check(net, x, t).unwrap();
    assert!(!checks.is_empty());
    for c in &checks {
        assert!(
            c.rel_error < MAX_REL_ERROR,
            "{what}: {} rel error {:e} (mean |diff| {:e})",
            c.name,
            c.rel_error,
            c.mean_abs_diff
        );
    }
}

fn mlp(hidden: &[usize], activation: Activation, batchnorm: bool, weight_decay: f64) -> MlpSpec {
    MlpSpec {
        input: 5,
        hidden: hidden.to_vec(),
        classes: 3,
        activation,
        init: Init::Std(0.5),
        batchnorm,
        dropout: None,
        weight_decay,
    }
}

#[test]
fn networks_with_each_activation_match_numerical_gradients() {
    let mut rng = common::rng(10);
    let x = M::random_normal(7, 5, 0.0, 1.0, &mut rng);
    let t = labels(7, 3, 11);
    for act in [Activation::Relu, Activation::Sigmoid, Activation::Tanh] {
        let mut net = Network::<f64>::mlp(&mlp(&[6, 4], act, false, 0.0), 1, 1).unwrap();
        assert_network_gradients(&mut net, &x, Targets::Labels(&t), act.name());
    }
}

#[test]
fn network_with_batchnorm_and_weight_decay_matches() {
    let mut rng = common::rng(12);
    let x = M::random_normal(9, 5, 0.5, 2.0, &mut rng);
    let t = labels(9, 3, 13);
    let mut net = Network::<f64>::mlp(&mlp(&[8, 6], Activation::Relu, true, 0.1), 2, 1).unwrap();
    assert_network_gradients(&mut net, &x, Targets::Labels(&t), "bn + decay");
    let mut net = Network::<f64>::mlp(&mlp(&[4], Activation::Tanh, true, 0.05), 3, 1).unwrap();
    assert_network_gradients(&mut net, &x, Targets::Labels(&t), "tanh bn + decay");
}

#[test]
fn linear_model_and_one_hot_targets_match() {
    let mut rng = common::rng(14);
    let x = M::random_normal(6, 5, 0.0, 1.0, &mut rng);
    let t = labels(6, 3, 15);
    let one_hot = M::from_fn(6, 3, |i, j| if t[i] == j { 1.0 } else { 0.0 });
    let mut net = Network::<f64>::mlp(&mlp(&[], Activation::Relu, false, 0.0), 4, 1).unwrap();
    assert_network_gradients(&mut net, &x, Targets::OneHot(&one_hot), "linear one-hot");
    // One-hot and index targets give the same loss.
    let a = net
        .loss(&x, Targets::OneHot(&one_hot), Mode::Train)
        .unwrap();
    let b = net.loss(&x, Targets::Labels(&t), Mode::Train).unwrap();
    assert!((a - b).abs() < 1e-12);
}

#[test]
fn squared_error_outputs_and_the_l1_penalty_match() {
    // The Playground's networks: one output unit, tanh (two classes) or linear (regression),
    // trained on ½(y − t)²; and L1's λ·sign(w) beside L2's λw.
    let mut rng = common::rng(16);
    let x = M::random_normal(8, 3, 0.0, 1.0, &mut rng);
    let t = M::random_normal(8, 1, 0.0, 0.5, &mut rng);
    for (tail, l1, l2) in [
        (Some(LayerSpec::Tanh), 0.0, 0.0),
        (None, 0.0, 0.0),
        (Some(LayerSpec::Tanh), 0.05, 0.0),
        (None, 0.02, 0.1),
    ] {
        let mut specs = vec![
            LayerSpec::Affine { n_in: 3, n_out: 5 },
            LayerSpec::Tanh,
            LayerSpec::Affine { n_in: 5, n_out: 1 },
        ];
        specs.extend(tail.clone());
        let mut net = Network::<f64>::from_specs(specs, Init::Std(0.7), l2, 5, 1)
            .unwrap()
            .with_loss(Loss::SquaredError);
        net.set_l1(l1);
        let what = format!("squared error, tanh {}, l1 {l1}, l2 {l2}", tail.is_some());
        assert_network_gradients(&mut net, &x, Targets::Values(&t), &what);
    }
}

/// ∂L/∂x of one layer against the numerical gradient, with L = Σ out ⊙ R for a fixed random
/// R (so ∂L/∂out = R). `make` builds a fresh layer for every forward pass, so layers with state
/// (dropout's RNG) see identical conditions each time.
fn assert_layer_input_gradient(
    make: &dyn Fn() -> Box<dyn Layer<f64>>,
    x: &Matrix<f64>,
    mode: Mode,
    what: &str,
) {
    let mut rng = common::rng(20);
    let r = M::random_normal(x.rows(), x.cols(), 0.0, 1.0, &mut rng);
    let objective = |input: &Matrix<f64>| {
        let mut out = M::zeros(0, 0);
        make().forward(input, &mut out, mode);
        out.as_slice()
            .iter()
            .zip(r.as_slice())
            .map(|(o, w)| o * w)
            .sum::<f64>()
    };
    let mut layer = make();
    let mut out = M::zeros(0, 0);
    layer.forward(x, &mut out, mode);
    let mut dx = M::zeros(0, 0);
    let r_before = r.clone();
    layer.backward(x, &out, &r, Some(&mut dx));
    assert_eq!(r, r_before, "{what}: backward modified dout");
    let numerical = common::numerical_input_gradient(x, objective);
    let checks = gradcheck::compare(
        &[("x".to_string(), x.shape())],
        &[dx.as_slice().to_vec()],
        &[numerical],
    );
    assert!(
        checks[0].rel_error < MAX_REL_ERROR,
        "{what}: dx rel error {:e}",
        checks[0].rel_error
    );
}

#[test]
fn each_layer_input_gradient_matches() {
    let mut rng = common::rng(21);
    // Values kept away from ReLU's kink at 0 so the finite difference never straddles it.
    let x = M::from_fn(6, 4, |_, _| {
        let v: f64 = rng.random_range(0.05..2.0);
        if rng.random_bool(0.5) { v } else { -v }
    });
    assert_layer_input_gradient(&|| Box::new(Relu), &x, Mode::Train, "ReLU");
    assert_layer_input_gradient(&|| Box::new(Sigmoid), &x, Mode::Train, "Sigmoid");
    assert_layer_input_gradient(&|| Box::new(Tanh), &x, Mode::Train, "Tanh");
    assert_layer_input_gradient(
        &|| Box::new(BatchNorm::<f64>::new(4)),
        &x,
        Mode::Train,
        "BatchNorm train",
    );
    assert_layer_input_gradient(
        &|| Box::new(Dropout::new(0.3, 99)),
        &x,
        Mode::Train,
        "Dropout train",
    );
    // The helper weights `out` by an R shaped like x, so Affine gets a square W.
    let w_sq = M::<f64>::random_normal(4, 4, 0.0, 1.0, &mut rng);
    assert_layer_input_gradient(
        &|| Box::new(scratchnet::nn::affine::Affine::new(w_sq.clone(), 1)),
        &x,
        Mode::Train,
        "Affine",
    );
}

#[test]
fn batchnorm_eval_uses_running_statistics() {
    let mut rng = common::rng(22);
    let x = M::random_normal(50, 3, 4.0, 2.0, &mut rng);
    let mut bn = BatchNorm::<f64>::new(3);
    let mut out = M::zeros(0, 0);
    for _ in 0..200 {
        Layer::forward(&mut bn, &x, &mut out, Mode::Train);
    }
    // Train mode output has zero mean per feature; the running mean converged to the batch's.
    for s in out.sum_cols() {
        assert!(s.abs() < 1e-9);
    }
    let mean = x.sum_cols();
    for (r, m) in bn.running_mean.iter().zip(mean) {
        assert!((r - m / 50.0).abs() < 1e-6);
    }
    let mut eval = M::zeros(0, 0);
    Layer::forward(&mut bn, &x, &mut eval, Mode::Eval);
    // With converged statistics eval ≈ train (differs only by ε and 0.9^200).
    for (a, b) in eval.as_slice().iter().zip(out.as_slice()) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
}

#[test]
fn dropout_train_drops_and_eval_scales() {
    let x = M::filled(100, 100, 1.0);
    let mut d = Dropout::new(0.25, 5);
    let mut out = M::zeros(0, 0);
    Layer::<f64>::forward(&mut d, &x, &mut out, Mode::Train);
    let kept = out.as_slice().iter().filter(|&&v| v == 1.0).count() as f64 / 10_000.0;
    assert!((kept - 0.75).abs() < 0.03, "kept {kept}");
    Layer::<f64>::forward(&mut d, &x, &mut out, Mode::Eval);
    assert!(out.as_slice().iter().all(|&v| (v - 0.75).abs() < 1e-12));
}

#[test]
fn sigmoid_is_stable_for_large_inputs() {
    assert_eq!(sigmoid(1000.0_f64), 1.0);
    assert_eq!(sigmoid(-1000.0_f64), 0.0);
    assert!(sigmoid(-100.0_f32) >= 0.0 && sigmoid(100.0_f32) <= 1.0);
    assert!((sigmoid(0.0_f64) - 0.5).abs() < 1e-15);
}

#[test]
fn shopping_example_of_the_computational_graph() {
    // 2 apples at 100 and 3 oranges at 150, tax 1.1: the textbook's figure 5-17.
    let (mut apple_l, mut orange_l, mut tax_l) = (
        MulLayer::default(),
        MulLayer::default(),
        MulLayer::default(),
    );
    let mut add_l = AddLayer;
    let apple_price = apple_l.forward(100.0_f64, 2.0);
    let orange_price = orange_l.forward(150.0, 3.0);
    let all = add_l.forward(apple_price, orange_price);
    let price = tax_l.forward(all, 1.1);
    assert!((price - 715.0).abs() < 1e-9);
    let (dall, dtax) = tax_l.backward(1.0);
    let (dapple_price, dorange_price) = add_l.backward(dall);
    let (dapple, dapple_num) = apple_l.backward(dapple_price);
    let (dorange, dorange_num) = orange_l.backward(dorange_price);
    for (got, want) in [
        (dapple, 2.2),
        (dapple_num, 110.0),
        (dorange, 3.3),
        (dorange_num, 165.0),
        (dtax, 650.0),
    ] {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
}

#[test]
fn explicit_layer_lists_are_validated() {
    let bad = vec![
        LayerSpec::Affine { n_in: 4, n_out: 3 },
        LayerSpec::Affine { n_in: 5, n_out: 2 },
    ];
    assert!(Network::<f32>::from_specs(bad, Init::He, 0.0, 1, 1).is_err());
    let bad_bn = vec![
        LayerSpec::Affine { n_in: 4, n_out: 3 },
        LayerSpec::BatchNorm { dim: 4 },
    ];
    assert!(Network::<f32>::from_specs(bad_bn, Init::He, 0.0, 1, 1).is_err());
    let mut spec = mlp(&[0], Activation::Relu, false, 0.0);
    assert!(Network::<f32>::mlp(&spec, 1, 1).is_err());
    spec.hidden = vec![3];
    spec.dropout = Some(1.0);
    assert!(Network::<f32>::mlp(&spec, 1, 1).is_err());
    let mut net = Network::<f32>::mlp(&mlp(&[3], Activation::Relu, false, 0.0), 1, 1).unwrap();
    let err = net
        .predict(&M::zeros(2, 7), Mode::Eval)
        .unwrap_err()
        .to_string();
    assert!(err.contains("5 features") && err.contains("2×7"), "{err}");
    let err = net
        .loss(&M::zeros(2, 5), Targets::Labels(&[0, 3]), Mode::Eval)
        .unwrap_err()
        .to_string();
    assert!(err.contains("label 3"), "{err}");
}
