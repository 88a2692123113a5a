//! Optimizer update rules against hand-computed values, and the textbook's comparison on
//! f(x, y) = x²/20 + y² (every method must approach the minimum at the origin).

use scratchnet::optim::{self, OptimizerConfig};

#[test]
fn single_steps_match_the_formulas() {
    let g = [0.5_f64, -2.0];
    let mut p = [1.0, 1.0];
    optim::sgd(0.1, &mut p, &g);
    assert_eq!(p, [0.95, 1.2]);

    let (mut p, mut v) = ([1.0, 1.0], [0.1, 0.0]);
    optim::momentum(0.1, 0.9, &mut p, &g, &mut v);
    assert!((v[0] - (0.09 - 0.05)).abs() < 1e-15 && (p[0] - 1.04).abs() < 1e-15);
    assert!((v[1] - 0.2).abs() < 1e-15 && (p[1] - 1.2).abs() < 1e-15);

    let (mut p, mut v) = ([1.0, 1.0], [0.0, 0.0]);
    optim::nesterov(0.1, 0.9, &mut p, &g, &mut v);
    // v = −0.05; p = 1 + 0.81·(−0.05) − 1.9·0.1·0.5
    assert!((p[0] - (1.0 - 0.0405 - 0.095)).abs() < 1e-15);

    let (mut p, mut h) = ([1.0, 1.0], [0.0, 0.0]);
    optim::adagrad(0.1, &mut p, &g, &mut h);
    assert_eq!(h, [0.25, 4.0]);
    assert!((p[0] - (1.0 - 0.1 * 0.5 / (0.5 + 1e-7))).abs() < 1e-15);

    let (mut p, mut h) = ([1.0, 1.0], [1.0, 1.0]);
    optim::rmsprop(0.1, 0.99, &mut p, &g, &mut h);
    assert!((h[0] - (0.99 + 0.01 * 0.25)).abs() < 1e-15);

    // Adam's first step moves each parameter by ≈ lr against the sign of its gradient.
    let (mut p, mut m, mut v) = ([1.0, 1.0], [0.0, 0.0], [0.0, 0.0]);
    optim::adam(0.001, 0.9, 0.999, 1, &mut p, &g, &mut m, &mut v);
    // (Off by ε·lr/√v ≈ 6e-9 from the 1e-7 in the denominator.)
    assert!(
        (p[0] - 0.999).abs() < 1e-8 && (p[1] - 1.001).abs() < 1e-8,
        "{p:?}"
    );
}

#[test]
fn every_method_approaches_the_minimum_of_the_textbook_function() {
    // f(x, y) = x²/20 + y², start (−7, 2), the textbook's learning rates.
    let cases = [
        ("sgd", 0.95, 60),
        ("momentum", 0.1, 60),
        ("nesterov", 0.1, 60),
        ("adagrad", 1.5, 60),
        ("rmsprop", 0.3, 200),
        ("adam", 0.3, 60),
    ];
    for (name, lr, steps) in cases {
        let cfg = OptimizerConfig::from_name(name, Some(lr)).unwrap();
        let (mut p, mut s1, mut s2) = ([-7.0_f64, 2.0], [0.0; 2], [0.0; 2]);
        for t in 1..=steps {
            let g = [p[0] / 10.0, 2.0 * p[1]];
            match cfg {
                OptimizerConfig::Sgd { lr } => optim::sgd(lr, &mut p, &g),
                OptimizerConfig::Momentum { lr, momentum } => {
                    optim::momentum(lr, momentum, &mut p, &g, &mut s1)
                }
                OptimizerConfig::Nesterov { lr, momentum } => {
                    optim::nesterov(lr, momentum, &mut p, &g, &mut s1)
                }
                OptimizerConfig::AdaGrad { lr } => optim::adagrad(lr, &mut p, &g, &mut s1),
                OptimizerConfig::RmsProp { lr, decay } => {
                    optim::rmsprop(lr, decay, &mut p, &g, &mut s1)
                }
                OptimizerConfig::Adam { lr, beta1, beta2 } => {
                    optim::adam(lr, beta1, beta2, t, &mut p, &g, &mut s1, &mut s2)
                }
            }
        }
        let f = p[0] * p[0] / 20.0 + p[1] * p[1];
        assert!(f < 0.5, "{name}: ended at {p:?}, f = {f}");
    }
}

#[test]
fn configuration_defaults_and_errors() {
    assert_eq!(
        OptimizerConfig::from_name("adam", None).unwrap().lr(),
        0.001
    );
    assert_eq!(OptimizerConfig::from_name("SGD", None).unwrap().lr(), 0.01);
    assert_eq!(
        OptimizerConfig::from_name("rmsprop", None).unwrap(),
        OptimizerConfig::RmsProp {
            lr: 0.01,
            decay: 0.99
        }
    );
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        // The library names the setting; the command line names the flag that sets it.
        let err = OptimizerConfig::from_name("sgd", Some(bad)).unwrap_err();
        assert!(
            matches!(
                err,
                scratchnet::Error::Invalid {
                    setting: scratchnet::Setting::LearningRate,
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("learning rate must be a positive"),
            "{err}"
        );
        let cli = scratchnet::cli::in_flags(err).to_string();
        assert!(cli.starts_with("--lr must be a positive"), "{cli}");
    }
    assert!(
        OptimizerConfig::from_name("lamb", None)
            .unwrap_err()
            .to_string()
            .contains("unknown optimizer 'lamb'")
    );
}

#[test]
fn moments_of_a_weight_without_gradient_go_to_zero_without_turning_subnormal() {
    // A dead unit's moments decay by β each step; they must jump from the normal range to 0,
    // never sit in the subnormal range where every operation is a slow microcode assist.
    let (mut p, g) = (vec![0.5_f32; 2], vec![0.0_f32; 2]);
    let (mut m, mut v) = (vec![1e-3_f32, -1e-3], vec![1e-36_f32, 1e-36]);
    let mut reached_zero = false;
    for t in 1..=20_000 {
        scratchnet::optim::adam(0.001, 0.9, 0.999, t, &mut p, &g, &mut m, &mut v);
        for x in m.iter().chain(&v) {
            assert!(!x.is_subnormal(), "step {t}: {x:e} is subnormal");
        }
        reached_zero |= m.iter().all(|&x| x == 0.0);
    }
    assert!(reached_zero, "the first moments should decay to exactly 0");
    assert!(
        v.iter().all(|&x| x == 0.0),
        "and the second moments too: {v:?}"
    );
}
