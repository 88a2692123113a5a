//! Convolutional networks through the binary: `--layers` and `--net`, their one-line errors,
//! checkpoints that evaluate and resume bit for bit, and SimpleConvNet learning real MNIST.

mod common;

use std::path::Path;

use common::{assert_one_line_error, scratchnet, stdout_of, summary, temp_dir, write_tiny_mnist};
use scratchnet::checkpoint;
use scratchnet::data::DatasetName;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A small CNN that fits the tiny 3×2 MNIST images: conv 3 (2×2, pad 1) → 4×3, relu,
/// 2×2 average pool at stride 1 → 3×2, then affine 6, relu, and the output layer.
const LAYERS: &str = "conv:3:2x2:p1,relu,avgpool:2:s1,affine:6,relu";

/// A tiny MNIST in `dir/mnist` and a small CNN trained on it for 3 steps, saved to `dir/m.st`:
/// (the data folder, the checkpoint).
fn tiny_cnn(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let data = dir.join("mnist");
    write_tiny_mnist(&data);
    let model = dir.join("m.st");
    stdout_of(
        scratchnet()
            .args(["train", "--dataset", "mnist", "--data-dir", s(&data)])
            .args([
                "--layers", LAYERS, "--batch", "2", "--iters", "3", "--quiet",
            ])
            .args(["--save", s(&model)]),
    );
    (data, model)
}

#[test]
fn a_cnn_checkpoint_evaluates_to_its_training_accuracy_and_resumes_bit_for_bit() {
    let dir = temp_dir("cnn-resume");
    let data = dir.join("mnist");
    write_tiny_mnist(&data);
    let run = |iters: usize, extra: &[&str], tag: &str| {
        let json = dir.join(format!("{tag}.json"));
        let mut cmd = scratchnet();
        cmd.args(["train", "--dataset", "mnist", "--data-dir", s(&data)])
            .args([
                "--layers",
                LAYERS,
                "--batch",
                "2",
                "--quiet",
                "--threads",
                "1",
            ])
            .args(["--iters", &iters.to_string(), "--summary-json", s(&json)])
            .args(extra);
        stdout_of(&mut cmd);
        summary(&json)
    };
    let straight = dir.join("straight.st");
    let whole = run(12, &["--save", s(&straight)], "whole");
    assert_eq!(whole["net"], "layers");
    assert_eq!(whole["layers"][0], "conv 1 3 2 2 1 1");
    assert_eq!(whole["layers"][3], "flatten");

    // 5 iterations, saved, then continued to 12: the same model to the last bit.
    let cut = dir.join("cut.st");
    run(5, &["--save", s(&cut)], "first");
    let mut cmd = scratchnet();
    cmd.args(["train", "--data-dir", s(&data), "--resume", s(&cut)])
        .args([
            "--iters",
            "12",
            "--save",
            s(&cut),
            "--quiet",
            "--threads",
            "2",
        ]);
    stdout_of(&mut cmd);
    let tensors = |p: &Path| {
        let bytes = std::fs::read(p).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = st
            .tensors()
            .into_iter()
            .map(|(n, v)| (n, v.shape().to_vec(), v.data().to_vec()))
            .collect();
        named.sort();
        named
    };
    let (a, b) = (tensors(&straight), tensors(&cut));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "tensor {} differs after resuming", x.0);
    }
    // PyTorch's layout: nn.Conv2d's weight is [out, in, kh, kw].
    let conv = a.iter().find(|t| t.0 == "0.weight").unwrap();
    assert_eq!(conv.1, vec![3, 1, 2, 2]);
    let meta = scratchnet::checkpoint::read_metadata(&straight).unwrap();
    assert_eq!(meta["input_shape"], "1x3x2");
    assert!(meta["layers"].starts_with("conv 1 3 2 2 1 1; relu; avgpool 2 1 0; flatten;"));

    // eval on the test set gives the accuracy training reported.
    let out =
        stdout_of(scratchnet().args(["eval", "--model", s(&straight), "--data-dir", s(&data)]));
    let acc = whole["test_acc"].as_f64().unwrap();
    assert!(
        out.contains(&format!("accuracy {acc:.4}")),
        "eval output does not show test accuracy {acc}: {out}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cnn_flags_that_cannot_work_are_one_line_errors() {
    let dir = temp_dir("cnn-errors");
    let data = dir.join("mnist");
    write_tiny_mnist(&data);
    let d = s(&data);
    let base = [
        "train",
        "--dataset",
        "mnist",
        "--data-dir",
        d,
        "--iters",
        "1",
        "--batch",
        "2",
    ];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .chain(extra)
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
    };
    let check = |extra: &[&str], needle: &str| {
        let args = with(extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_one_line_error(&refs, needle);
    };
    check(&["--net", "simple-cnn", "--hidden", "50"], "--hidden");
    check(
        &["--layers", "conv:4:3x3,relu", "--batchnorm"],
        "--batchnorm",
    );
    check(&["--net", "lenet"], "unknown --net 'lenet'");
    // The 3×2 images are too small for SimpleConvNet's 5×5 kernel: the layer and shapes named.
    check(&["--net", "simple-cnn"], "1×3×2");
    check(&["--layers", "conv:4:2x2,maxpool:3"], "item 2 'maxpool:3'");
    check(&["--layers", "conv:4:2x2,wobble"], "item 2 'wobble'");
    assert_one_line_error(
        &["train", "--dataset", "circle", "--net", "deep-cnn"],
        "needs images",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simple_cnn_learns_real_mnist() {
    let Some(dir) = common::real_data(DatasetName::Mnist) else {
        return;
    };
    let tmp = temp_dir("cnn-mnist");
    let json = tmp.join("run.json");
    // One epoch of the book's SimpleConvNet: the book's own code reaches 0.963 after one.
    stdout_of(
        scratchnet()
            .args(["train", "--net", "simple-cnn", "--data-dir"])
            .arg(&dir)
            .args(["--epochs", "1", "--quiet", "--seed", "7"])
            .args(["--summary-json", s(&json)]),
    );
    let j = summary(&json);
    let acc = j["test_acc"].as_f64().unwrap();
    assert!(acc >= 0.955, "SimpleConvNet after one epoch: {acc}");
    assert_eq!(j["init"], "std:0.01");
    assert_eq!(j["optimizer"], "adam");
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn plot_filters_draws_the_first_conv_layer_before_and_after() {
    let dir = temp_dir("cnn-filters");
    let data = dir.join("mnist");
    write_tiny_mnist(&data);
    let svg = dir.join("filters.svg");
    stdout_of(
        scratchnet()
            .args(["train", "--dataset", "mnist", "--data-dir", s(&data)])
            .args([
                "--layers", LAYERS, "--batch", "2", "--iters", "4", "--quiet",
            ])
            .args(["--plot-filters", s(&svg)]),
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("3 filters (2×2)"), "{text}");
    assert!(text.contains("at iteration 0") && text.contains("after iteration 4"));
    // 3 framed filters, twice; each filter's smallest value is its white background, so at
    // most 3 of its 4 values are drawn.
    assert_eq!(text.matches(r##"stroke="#dddddd""##).count(), 2 * 3);
    assert!(
        text.matches("<rect").count() <= 1 + 2 * 3 + 2 * 3 * 3,
        "{text}"
    );
    // An MLP has no filters: refused before training, nothing written.
    let none = dir.join("none.svg");
    assert_one_line_error(
        &[
            "train",
            "--dataset",
            "mnist",
            "--data-dir",
            s(&data),
            "--batch",
            "2",
            "--iters",
            "1",
            "--plot-filters",
            s(&none),
        ],
        "has none",
    );
    assert!(!none.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gradcheck_of_simple_cnn_agrees_on_real_mnist() {
    let Some(dir) = common::real_data(DatasetName::Mnist) else {
        return;
    };
    let out = stdout_of(
        scratchnet()
            .args(["gradcheck", "--net", "simple-cnn", "--data-dir"])
            .arg(&dir),
    );
    assert!(out.contains("0.weight  30×25"), "{out}");
    assert!(out.contains("4.weight  4320×100"), "{out}");
    assert!(out.contains("numerical gradient agree"), "{out}");
    assert_one_line_error(&["gradcheck", "--net", "deep-cnn"], "dropout");
}

#[test]
fn eval_misclassified_draws_the_test_images_the_model_gets_wrong() {
    let dir = temp_dir("cnn-misclassified");
    let (data, model) = tiny_cnn(&dir);
    let svg = dir.join("wrong.svg");
    let out = stdout_of(
        scratchnet()
            .args(["eval", "--model", s(&model), "--data-dir", s(&data)])
            .args(["--misclassified", s(&svg)]),
    );
    // The tiny test set's labels (5–8) never occur in its training set: every image is wrong.
    assert!(out.contains("accuracy 0.0000"), "{out}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("the first 4 of 4 test images it gets wrong"),
        "{text}"
    );
    for truth in 5..=8 {
        assert!(
            text.contains(&format!("{truth} → ")),
            "{truth} missing: {text}"
        );
    }
    // 4 framed tiles, and at most one rect per pixel of their 3×2 beside the page's.
    assert_eq!(text.matches(r##"stroke="#dddddd""##).count(), 4);
    assert!(text.matches("<rect").count() <= 1 + 4 + 4 * 6, "{text}");
    // The model file is an input: writing the picture over it is refused, the file kept.
    let before = std::fs::read(&model).unwrap();
    assert_one_line_error(
        &[
            "eval",
            "--model",
            s(&model),
            "--data-dir",
            s(&data),
            "--misclassified",
            s(&model),
        ],
        "--misclassified",
    );
    assert_eq!(std::fs::read(&model).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn predict_feature_maps_draws_the_first_conv_layer_s_maps() {
    let dir = temp_dir("cnn-maps");
    let (data, model) = tiny_cnn(&dir);
    let svg = dir.join("maps.svg");
    stdout_of(
        scratchnet()
            .args(["predict", "--model", s(&model), "--data-dir", s(&data)])
            .args(["--index", "2", "--feature-maps", s(&svg)]),
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    // conv 3 filters (2×2, pad 1) on 3×2 images: 3 maps of 4×3, after the relu (layer 1).
    assert!(text.contains("3 maps of 4×3 (layer 1: relu)"), "{text}");
    assert!(text.contains("test sample 2 of mnist: true 7"), "{text}");
    assert_eq!(text.matches(r##"stroke="#dddddd""##).count(), 3);
    assert!(text.matches("<rect").count() <= 1 + 3 + 3 * 12, "{text}");
    // An MLP has no conv layer: one line, nothing written.
    let mlp = dir.join("mlp.st");
    stdout_of(
        scratchnet()
            .args(["train", "--dataset", "mnist", "--data-dir", s(&data)])
            .args(["--hidden", "4", "--batch", "2", "--iters", "1", "--quiet"])
            .args(["--save", s(&mlp)]),
    );
    let none = dir.join("none.svg");
    assert_one_line_error(
        &[
            "predict",
            "--model",
            s(&mlp),
            "--data-dir",
            s(&data),
            "--feature-maps",
            s(&none),
        ],
        "has none",
    );
    assert!(!none.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn simple_cnn_runs_on_cifar10_in_colour_and_in_grey() {
    let dir = temp_dir("cnn-cifar");
    let data = dir.join("cifar10");
    common::write_tiny_cifar(&data);
    for grey in [false, true] {
        let json = dir.join("run.json");
        let mut cmd = scratchnet();
        cmd.args([
            "train",
            "--net",
            "simple-cnn",
            "--dataset",
            "cifar10",
            "--data-dir",
        ])
        .arg(&data)
        .args([
            "--batch",
            "10",
            "--iters",
            "4",
            "--quiet",
            "--summary-json",
            s(&json),
        ]);
        if grey {
            cmd.arg("--grayscale");
        }
        stdout_of(&mut cmd);
        let j = summary(&json);
        // 32×32 → conv 5×5 → 28×28 → pool → 14×14 × 30 filters.
        let c = if grey { 1 } else { 3 };
        assert_eq!(j["layers"][0], format!("conv {c} 30 5 5 1 0"));
        assert_eq!(j["layers"][4], "affine 5880 100");
    }
    // DeepConvNet's third pool meets a 9×9 map on 32×32 images: named, not run.
    assert_one_line_error(
        &[
            "train",
            "--net",
            "deep-cnn",
            "--dataset",
            "cifar10",
            "--data-dir",
            s(&data),
            "--batch",
            "10",
        ],
        "64×9×9",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trace_records_the_start_every_batch_and_every_dropout_mask() {
    let dir = temp_dir("cnn-trace");
    let data = dir.join("mnist");
    write_tiny_mnist(&data);
    let trace = dir.join("trace");
    let (steps, batch, units) = (4, 2, 6);
    let train = |extra: &[&str], json: &Path| {
        let mut cmd = scratchnet();
        cmd.args([
            "train",
            "--data-dir",
            s(&data),
            "--iters",
            &steps.to_string(),
        ])
        .args(["--quiet", "--summary-json", s(json)])
        .args(extra);
        stdout_of(&mut cmd);
        summary(json)
    };
    let layers = format!("{LAYERS},dropout:0.5");
    let traced = train(
        &[
            "--dataset",
            "mnist",
            "--batch",
            &batch.to_string(),
            "--layers",
            &layers,
            "--trace",
            s(&trace),
        ],
        &dir.join("traced.json"),
    );

    // One row per step: its number, its loss to the last bit, the batch's sample indices.
    let csv = std::fs::read_to_string(trace.join("steps.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "step,loss,batch");
    assert_eq!(rows.len(), steps + 1);
    for (k, row) in rows[1..].iter().enumerate() {
        let fields: Vec<&str> = row.split(',').collect();
        assert_eq!(fields[0], (k + 1).to_string());
        let loss: f64 = fields[1].parse().unwrap();
        assert!(loss.is_finite() && loss > 0.0, "{row}");
        let indices: Vec<usize> = fields[2].split(' ').map(|i| i.parse().unwrap()).collect();
        assert_eq!(indices.len(), batch);
        assert!(indices.iter().all(|&i| i < 6), "{row}");
    }
    let last: f64 = rows[steps].split(',').nth(1).unwrap().parse().unwrap();
    assert_eq!(last, traced["final_loss"].as_f64().unwrap());
    // Three batches of two cover the six images once per epoch: an epoch's indices are a
    // permutation of them.
    let mut epoch: Vec<usize> = rows[1..4]
        .iter()
        .flat_map(|r| r.split(',').nth(2).unwrap().split(' '))
        .map(|i| i.parse().unwrap())
        .collect();
    epoch.sort_unstable();
    assert_eq!(epoch, [0, 1, 2, 3, 4, 5]);

    // A byte per unit of the dropout layer per sample per step, kept or not, both occurring.
    let masks = std::fs::read(trace.join("masks.bin")).unwrap();
    assert_eq!(masks.len(), steps * batch * units);
    assert!(masks.iter().all(|&m| m <= 1));
    assert!(masks.contains(&0) && masks.contains(&1));

    // init.safetensors is the run before its first step: resumed, it retraces the same run.
    let resumed = train(
        &["--resume", s(&trace.join("init.safetensors"))],
        &dir.join("resumed.json"),
    );
    assert_eq!(resumed["final_loss"], traced["final_loss"]);

    // A trace starts at the first step, so it cannot continue a saved run (clap's usage error).
    let out = scratchnet()
        .args(["train", "--data-dir", s(&data)])
        .args(["--resume", s(&trace.join("init.safetensors"))])
        .args(["--trace", s(&dir.join("again"))])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    assert!(!dir.join("again").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn scratchnet_winograd_chooses_the_direct_lowering_or_f2_tiles() {
    // Two 3×3 layers on 12×12 images; the second has 16 input channels, so it runs in the
    // Winograd domain (F(4×4): 4 divides 12) unless SCRATCHNET_WINOGRAD=0 (the direct
    // lowering) or 2 (F(2×2) tiles). In f64 they sum the same products differently, so the
    // trained weights differ from the default's in their last bits, and each is reproducible.
    // The weights are compared, not the final loss alone: on a machine with a 48 KiB L1 (kc
    // 384) the F(2×2) and F(4×4) runs happened to end at the same loss to the last bit. (F(2×2)'s
    // transforms are exact in binary, and on these images it rounds as the direct sum does:
    // which tile each value asks for is checked in `nn::conv`'s unit test.)
    let dir = temp_dir("cnn-winograd-env");
    let data = dir.join("mnist");
    common::write_small_mnist(&data, 12, 12);
    let run = |env: Option<&str>, tag: &str| {
        let json = dir.join(format!("{tag}.json"));
        let model = dir.join(format!("{tag}.safetensors"));
        let mut cmd = scratchnet();
        if let Some(v) = env {
            cmd.env("SCRATCHNET_WINOGRAD", v);
        }
        cmd.args(["train", "--dataset", "mnist", "--data-dir", s(&data)])
            .args(["--layers", "conv:16:3x3:p1,relu,conv:4:3x3:p1,relu"])
            .args(["--batch", "3", "--iters", "4", "--precision", "f64"])
            .args(["--quiet", "--summary-json", s(&json), "--save", s(&model)]);
        stdout_of(&mut cmd);
        let mut net = checkpoint::load::<f64>(&model, 1).unwrap().net;
        let mut weights = Vec::new();
        net.visit_params(&mut |_, p| weights.extend_from_slice(p.value));
        (summary(&json)["final_loss"].as_f64().unwrap(), weights)
    };
    let winograd = run(None, "winograd");
    let direct = run(Some("0"), "direct");
    let f2 = run(Some("2"), "f2");
    assert_eq!(run(Some("0"), "direct-again"), direct);
    assert_eq!(run(Some("2"), "f2-again"), f2);
    assert_eq!(run(Some("1"), "other-values-keep-it"), winograd);
    for (name, (loss, weights)) in [("0", &direct), ("2", &f2)] {
        assert!(*weights != winograd.1, "{name} changed no weight");
        let worst = weights
            .iter()
            .zip(&winograd.1)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1e-3))
            .fold(0.0, f64::max);
        assert!(
            worst < 1e-9,
            "{name}: weights differ by {worst:e} (relative)"
        );
        assert!(
            (winograd.0 - loss).abs() < 1e-9 * loss.abs(),
            "{name}: loss {loss} vs {}",
            winograd.0
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
