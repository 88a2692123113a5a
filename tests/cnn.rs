//! Convolution, pooling and whole convolutional networks: forward passes against the
//! definitions, backward passes against central-difference numerical gradients (f64, relative
//! error below 1e-6), and results bit-identical for any thread count.

mod common;

use rand::RngExt;
use scratchnet::Matrix as M;
use scratchnet::gradcheck;
use scratchnet::nn::conv::Conv2d;
use scratchnet::nn::im2col::Window;
use scratchnet::nn::init::Init;
use scratchnet::nn::network::Network;
use scratchnet::nn::pool::{Pool2d, PoolKind};
use scratchnet::nn::shape::Shape;
use scratchnet::nn::softmax_with_loss::Targets;
use scratchnet::nn::spec::LayerSpec;
use scratchnet::nn::{Layer, Mode};

const MAX_REL_ERROR: f64 = 1e-6;

fn win(c: usize, h: usize, w: usize, kh: usize, kw: usize, stride: usize, pad: usize) -> Window {
    Window {
        c,
        h,
        w,
        kh,
        kw,
        stride,
        pad,
    }
}

/// The convolution by its definition: out[n][co][oy][ox] = b[co] + Σ w[co][ci][ky][kx] ·
/// x[n][ci][oy·s + ky − p][ox·s + kx − p], padding reading zeros.
fn conv_reference(x: &M<f64>, win: &Window, w: &M<f64>, b: &[f64]) -> M<f64> {
    let (oh, ow) = (win.out_h().unwrap(), win.out_w().unwrap());
    let c_out = w.rows();
    M::from_fn(x.rows(), c_out * oh * ow, |n, o| {
        let (co, oy, ox) = (o / (oh * ow), o / ow % oh, o % ow);
        let mut sum = b[co];
        for ci in 0..win.c {
            for ky in 0..win.kh {
                for kx in 0..win.kw {
                    let iy = (oy * win.stride + ky) as isize - win.pad as isize;
                    let ix = (ox * win.stride + kx) as isize - win.pad as isize;
                    if iy < 0 || ix < 0 || iy as usize >= win.h || ix as usize >= win.w {
                        continue;
                    }
                    let xv = x.get(n, (ci * win.h + iy as usize) * win.w + ix as usize);
                    sum += w.get(co, (ci * win.kh + ky) * win.kw + kx) * xv;
                }
            }
        }
        sum
    })
}

fn geometries() -> Vec<Window> {
    vec![
        win(1, 6, 6, 3, 3, 1, 0),
        win(2, 5, 7, 3, 3, 1, 1),
        win(3, 6, 5, 2, 3, 2, 1),
        win(2, 7, 7, 5, 5, 1, 2),
        win(1, 8, 8, 3, 3, 3, 0),
        win(2, 4, 4, 1, 1, 1, 0),
        win(1, 5, 5, 5, 5, 1, 0),
        // Stride 1 runs the shifted lowering: a non-square kernel, a padding of kernel − 1
        // (its transpose has none), and one of a whole kernel (left to im2col).
        win(2, 6, 5, 2, 3, 1, 1),
        win(1, 4, 4, 3, 3, 1, 2),
        win(1, 4, 3, 2, 2, 1, 2),
        // Forced into the Winograd domain, 3×3 stride-1 layers take F(4×4) tiles where 4
        // divides the output's sides (6×6 → 4×4 forward, 4×4 pad 2's dx, 8×8 both ways) and
        // F(2×2) elsewhere.
        win(2, 8, 8, 3, 3, 1, 1),
    ]
}

fn conv_layer(win: Window, c_out: usize, seed: u64) -> Conv2d<f64> {
    let mut rng = common::rng(seed);
    let w = M::random_normal(c_out, win.col_rows(), 0.0, 0.5, &mut rng);
    let mut layer = Conv2d::new(win, w, 1);
    for (i, b) in layer.b.as_mut_slice().iter_mut().enumerate() {
        *b = 0.1 * i as f64 - 0.05;
    }
    layer
}

#[test]
fn conv_forward_matches_the_definition() {
    for (g, win) in geometries().into_iter().enumerate() {
        let mut rng = common::rng(30 + g as u64);
        let x = M::random_normal(3, win.image_len(), 0.0, 1.0, &mut rng);
        // As built (Winograd only from 16 channels), and in the Winograd domain wherever the
        // layer is 3×3 with stride 1, two images per chunk.
        for winograd in [false, true] {
            let mut layer = conv_layer(win, 4, g as u64);
            if winograd {
                layer = layer.with_winograd_from(1, Some(2));
            }
            let mut out = M::zeros(0, 0);
            layer.forward(&x, &mut out, Mode::Train);
            let want = conv_reference(&x, &win, &layer.w, layer.b.as_slice());
            assert_eq!(out.shape(), want.shape());
            for (a, b) in out.as_slice().iter().zip(want.as_slice()) {
                assert!(
                    (a - b).abs() < 1e-12,
                    "{win:?} Winograd {winograd}: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn a_conv_layer_split_over_two_threads_gives_the_bits_of_one() {
    // The split is forced on tiny batches (even and odd counts); forward, dW, db and dx must
    // match one thread's to the bit, for the first layer (no dx) and the others.
    for (g, win) in geometries().into_iter().enumerate() {
        for n in [2, 3, 5] {
            let mut rng = common::rng(90 + g as u64);
            let x = M::random_normal(n, win.image_len(), 0.0, 1.0, &mut rng);
            let base = conv_layer(win, 4, g as u64);
            let dout = M::random_normal(n, 4 * win.positions(), 0.0, 1.0, &mut rng);
            for (first, winograd) in [(false, false), (true, false), (false, true), (true, true)] {
                let layer = |threads: usize| {
                    let mut l = Conv2d::new(win, base.w.clone(), threads).with_split_limits(0, 0);
                    if winograd {
                        l = l.with_winograd_from(1, Some(2));
                    }
                    l.b = base.b.clone();
                    l
                };
                let run = |mut layer: Conv2d<f64>| {
                    let mut out = M::zeros(0, 0);
                    layer.forward(&x, &mut out, Mode::Train);
                    let mut dx = M::zeros(0, 0);
                    layer.backward(&x, &out, &dout, (!first).then_some(&mut dx));
                    let mut all = out.as_slice().to_vec();
                    for m in [&layer.dw, &layer.db, &dx] {
                        all.extend_from_slice(m.as_slice());
                    }
                    all.into_iter().map(f64::to_bits).collect::<Vec<_>>()
                };
                let (one, two) = (run(layer(1)), run(layer(2)));
                assert_eq!(
                    two, one,
                    "{win:?}, {n} images, first layer {first}, Winograd {winograd}"
                );
            }
        }
    }
}

/// Central differences of L = Σ out ⊙ R (R fixed, shaped like the output) with respect to
/// every input value and every parameter, against the layer's backward pass.
fn assert_layer_gradients(make: &dyn Fn() -> Box<dyn Layer<f64>>, x: &M<f64>, what: &str) {
    let mut layer = make();
    let mut out = M::zeros(0, 0);
    layer.forward(x, &mut out, Mode::Train);
    let mut rng = common::rng(40);
    let r = M::random_normal(out.rows(), out.cols(), 0.0, 1.0, &mut rng);
    let objective = |layer: &mut dyn Layer<f64>, input: &M<f64>| {
        let mut o = M::zeros(0, 0);
        layer.forward(input, &mut o, Mode::Train);
        o.as_slice()
            .iter()
            .zip(r.as_slice())
            .map(|(a, b)| a * b)
            .sum::<f64>()
    };
    let mut dx = M::zeros(0, 0);
    layer.forward(x, &mut out, Mode::Train);
    layer.backward(x, &out, &r, Some(&mut dx));
    let h = gradcheck::H;

    // Input gradient.
    let numerical = common::numerical_input_gradient(x, |input| objective(&mut *make(), input));
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

    // Parameter gradients: perturb each value of a fresh layer through visit_params.
    let mut grads: Vec<(String, (usize, usize), Vec<f64>)> = Vec::new();
    layer.visit_params(&mut |p| grads.push((p.name.to_string(), p.shape, p.grad.to_vec())));
    for (t, (name, shape, grad)) in grads.iter().enumerate() {
        let mut numerical = vec![0.0; grad.len()];
        for (i, n) in numerical.iter_mut().enumerate() {
            let at = |delta: f64| {
                let mut probe = make();
                let mut k = 0;
                probe.visit_params(&mut |p| {
                    if k == t {
                        p.value[i] += delta;
                    }
                    k += 1;
                });
                objective(&mut *probe, x)
            };
            *n = (at(h) - at(-h)) / (2.0 * h);
        }
        let checks = gradcheck::compare(
            &[(name.clone(), *shape)],
            std::slice::from_ref(grad),
            &[numerical],
        );
        assert!(
            checks[0].rel_error < MAX_REL_ERROR,
            "{what}: {name} rel error {:e}",
            checks[0].rel_error
        );
    }
    assert!(
        !grads.is_empty() || what.contains("pool"),
        "{what}: no parameters"
    );
}

#[test]
fn conv_backward_matches_numerical_gradients() {
    for (g, win) in geometries().into_iter().enumerate() {
        let mut rng = common::rng(50 + g as u64);
        let x = M::random_normal(2, win.image_len(), 0.0, 1.0, &mut rng);
        let what = format!("conv {win:?}");
        assert_layer_gradients(&|| Box::new(conv_layer(win, 3, g as u64)), &x, &what);
        // Forward, dW and dx in the Winograd domain (3×3 stride-1 geometries), one image per
        // chunk so the two images' sums cross a chunk boundary.
        let what = format!("conv {win:?} in the Winograd domain");
        let wino = || Box::new(conv_layer(win, 3, g as u64).with_winograd_from(1, Some(1)));
        assert_layer_gradients(&|| wino(), &x, &what);
    }
}

/// Inputs whose values are all distinct and at least 0.01 apart, so no max-pool window has a
/// tie within the finite-difference step.
fn distinct(rows: usize, cols: usize, seed: u64) -> M<f64> {
    let mut rng = common::rng(seed);
    let mut order: Vec<usize> = (0..rows * cols).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    M::from_vec(
        rows,
        cols,
        order.iter().map(|&v| v as f64 * 0.01 - 1.0).collect(),
    )
    .unwrap()
}

#[test]
fn pooling_backward_matches_numerical_gradients() {
    let cases = [
        win(2, 4, 4, 2, 2, 2, 0),
        win(3, 6, 6, 3, 3, 3, 0),
        win(1, 5, 5, 3, 3, 1, 1),
        win(2, 6, 6, 2, 2, 2, 1),
        win(1, 7, 7, 3, 3, 2, 1),
    ];
    for (g, w) in cases.into_iter().enumerate() {
        let x = distinct(3, w.image_len(), 60 + g as u64);
        for kind in [PoolKind::Max, PoolKind::Avg] {
            let what = format!("{kind:?} pool {w:?}");
            assert_layer_gradients(&|| Box::new(Pool2d::new(kind, w)), &x, &what);
        }
    }
}

#[test]
fn max_pool_gives_a_tied_window_s_gradient_to_its_first_maximum() {
    // At a tie max() has no derivative: the central difference sees 1/2 for each tied input
    // (raising one moves the max, lowering it does not). Backprop, like PyTorch, routes the
    // whole gradient to the first maximum in scan order — one valid subgradient — so the
    // gradient still sums to dout over each window.
    let w = win(1, 2, 4, 2, 2, 2, 0);
    let x = M::from_vec(1, 8, vec![3.0, 3.0, 1.0, 5.0, 3.0, 2.0, 5.0, 5.0]).unwrap();
    let mut pool = Pool2d::new(PoolKind::Max, w);
    let mut out = M::zeros(0, 0);
    pool.forward(&x, &mut out, Mode::Train);
    assert_eq!(out.as_slice(), &[3.0, 5.0]);
    let dout = M::from_vec(1, 2, vec![1.5, -2.0]).unwrap();
    let mut dx = M::zeros(0, 0);
    pool.backward(&x, &out, &dout, Some(&mut dx));
    assert_eq!(dx.as_slice(), &[1.5, 0.0, 0.0, -2.0, 0.0, 0.0, 0.0, 0.0]);
    // Max pooling over padding never picks the padding, even when every value is negative.
    let padded = win(1, 2, 2, 2, 2, 2, 1);
    let x = M::from_vec(1, 4, vec![-4.0, -3.0, -2.0, -1.0]).unwrap();
    let mut pool = Pool2d::new(PoolKind::Max, padded);
    pool.forward(&x, &mut out, Mode::Train);
    assert_eq!(out.as_slice(), &[-4.0, -3.0, -2.0, -1.0]);
}

fn small_cnn(pool: LayerSpec, dropout: bool) -> Vec<LayerSpec> {
    // 2×6×6 images → conv 3 (3×3, pad 1) → relu → pool → flatten → affine 5 → tanh → affine 3
    let mut specs = vec![
        LayerSpec::Conv {
            c_in: 2,
            c_out: 3,
            kh: 3,
            kw: 3,
            stride: 1,
            pad: 1,
        },
        LayerSpec::Relu,
        pool,
        LayerSpec::Conv {
            c_in: 3,
            c_out: 2,
            kh: 2,
            kw: 1,
            stride: 1,
            pad: 0,
        },
        LayerSpec::Flatten,
        LayerSpec::Affine { n_in: 12, n_out: 5 },
        LayerSpec::Tanh,
        LayerSpec::Affine { n_in: 5, n_out: 3 },
    ];
    if dropout {
        specs.insert(7, LayerSpec::Dropout { ratio: 0.3 });
    }
    specs
}

const IMAGE: Shape = Shape::Image { c: 2, h: 6, w: 6 };

#[test]
fn whole_cnns_match_numerical_gradients() {
    let x = distinct(4, IMAGE.len(), 70);
    let t = [0, 2, 1, 2];
    let pools = [
        LayerSpec::MaxPool {
            size: 2,
            stride: 2,
            pad: 0,
        },
        LayerSpec::AvgPool {
            size: 2,
            stride: 2,
            pad: 0,
        },
    ];
    for pool in pools {
        let specs = small_cnn(pool.clone(), false);
        let mut net = Network::<f64>::with_input(specs, IMAGE, Init::Std(0.5), 0.01, 3, 1).unwrap();
        let checks = gradcheck::check(&mut net, &x, Targets::Labels(&t)).unwrap();
        assert_eq!(
            checks.len(),
            8,
            "{pool}: 3 weighted layers + 1 conv, weight and bias"
        );
        for c in &checks {
            assert!(
                c.rel_error < MAX_REL_ERROR,
                "{pool}: {} rel error {:e}",
                c.name,
                c.rel_error
            );
        }
    }
}

#[test]
fn a_relu_absorbed_by_the_max_pool_after_it_gives_the_same_bits() {
    // Half the inputs negative, so many windows are all-negative (their gradient must vanish)
    // and the 4×4 stride-2 windows overlap and reach into the padding.
    let x = distinct(6, IMAGE.len(), 90);
    let t = [0, 1, 2, 0, 1, 2];
    let pools = [
        LayerSpec::MaxPool {
            size: 2,
            stride: 2,
            pad: 0,
        },
        LayerSpec::MaxPool {
            size: 4,
            stride: 2,
            pad: 1,
        },
    ];
    for pool in pools {
        let run = |fused: bool| {
            let specs = small_cnn(pool.clone(), false);
            let mut net = Network::<f32>::with_input(specs, IMAGE, Init::He, 0.0, 4, 1).unwrap();
            net.set_fusion(fused);
            let x = M::from_fn(x.rows(), x.cols(), |i, j| x.get(i, j) as f32);
            // An evaluation pass of another batch size first: the buffers the shortcuts swap
            // must not leak from one pass into the next.
            let first_two = M::from_fn(2, x.cols(), |i, j| x.get(i + 3, j));
            net.predict(&first_two, Mode::Eval).unwrap();
            let loss = net.gradient(&x, Targets::Labels(&t)).unwrap();
            let mut g = vec![loss];
            net.visit_params(&mut |_, p| g.extend_from_slice(p.grad));
            g.extend_from_slice(net.predict(&x, Mode::Eval).unwrap().as_slice());
            g
        };
        let (fused, apart) = (run(true), run(false));
        assert!(apart.iter().all(|v| v.is_finite()) && apart.iter().any(|&v| v != 0.0));
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&fused), bits(&apart), "{pool}");
    }
}

#[test]
fn cnn_results_are_bit_identical_for_any_thread_count() {
    let x = distinct(5, IMAGE.len(), 80);
    let t = [0, 1, 2, 0, 1];
    let pool = LayerSpec::MaxPool {
        size: 2,
        stride: 2,
        pad: 0,
    };
    let grads = |threads: usize| {
        let specs = small_cnn(pool.clone(), true);
        let mut net = Network::<f64>::with_input(specs, IMAGE, Init::He, 0.0, 9, threads).unwrap();
        let loss = net.gradient(&x, Targets::Labels(&t)).unwrap();
        let mut g = vec![loss];
        net.visit_params(&mut |_, p| g.extend_from_slice(p.grad));
        g
    };
    let one = grads(1);
    assert!(one.iter().all(|v| v.is_finite()) && one.iter().any(|&v| v != 0.0));
    for threads in [2, 3] {
        assert_eq!(grads(threads), one, "{threads} threads");
    }
}

#[test]
fn layer_lists_that_do_not_fit_the_image_are_refused_with_the_layer_named() {
    let err = |specs: Vec<LayerSpec>| {
        Network::<f32>::with_input(specs, IMAGE, Init::He, 0.0, 1, 1)
            .unwrap_err()
            .to_string()
    };
    let too_big = LayerSpec::Conv {
        c_in: 2,
        c_out: 4,
        kh: 7,
        kw: 7,
        stride: 1,
        pad: 0,
    };
    let e = err(vec![too_big]);
    assert!(e.contains("layer 0") && e.contains("2×6×6"), "{e}");
    let e = err(vec![LayerSpec::Affine { n_in: 72, n_out: 3 }]);
    assert!(e.contains("flatten"), "{e}");
    let e = err(vec![
        LayerSpec::MaxPool {
            size: 4,
            stride: 4,
            pad: 0,
        },
        LayerSpec::Flatten,
        LayerSpec::Affine { n_in: 2, n_out: 3 },
    ]);
    assert!(
        e.contains("layer 0") && e.contains("does not divide"),
        "{e}"
    );
    let e = err(vec![LayerSpec::Flatten]);
    assert!(e.contains("Affine"), "{e}");
    // A flat network cannot start with a conv layer without an image shape.
    let specs = vec![too_big_for_flat()];
    let e = Network::<f32>::from_specs(specs, Init::He, 0.0, 1, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("image shape"), "{e}");
}

fn too_big_for_flat() -> LayerSpec {
    LayerSpec::Conv {
        c_in: 1,
        c_out: 1,
        kh: 1,
        kw: 1,
        stride: 1,
        pad: 0,
    }
}

#[test]
fn conv_checkpoint_specs_round_trip_through_their_text_form() {
    for spec in small_cnn(
        LayerSpec::AvgPool {
            size: 2,
            stride: 2,
            pad: 1,
        },
        true,
    ) {
        let text = spec.to_string();
        assert_eq!(text.parse::<LayerSpec>().unwrap(), spec, "{text}");
    }
    assert_eq!(
        "conv 1 30 5 5 1 0".parse::<LayerSpec>().unwrap(),
        LayerSpec::Conv {
            c_in: 1,
            c_out: 30,
            kh: 5,
            kw: 5,
            stride: 1,
            pad: 0
        }
    );
    assert!("conv 1 30 5 5 1".parse::<LayerSpec>().is_err());
    assert!("maxpool 2 x 0".parse::<LayerSpec>().is_err());
}
