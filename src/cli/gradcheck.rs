//! `scratchnet gradcheck`: the textbook's gradient check on real data — backprop against the
//! central-difference numerical gradient — and what each costs per step.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use crate::cli::datasets::{load_dataset, offline};
use crate::cli::{Precision, progress_bar};
use crate::data::{self, DatasetName, LoadOptions};
use crate::error::{Error, Result};
use crate::gradcheck::{self, ParamCheck};
use crate::matrix::Float;
use crate::matrix::gemm::dispatch::resolve_threads;
use crate::memory;
use crate::nn::cnn::Architecture;
use crate::nn::init::Init;
use crate::nn::network::Network;
use crate::nn::shape::Shape;
use crate::nn::softmax_with_loss::Targets;
use crate::nn::spec::{Activation, MlpSpec, describe_layers, memory_estimate};
use crate::report::{Align, Table};

#[derive(Debug, Args)]
pub struct GradcheckCmd {
    /// mnist, fashion-mnist, cifar10 or a playground set.
    #[arg(long, default_value = "mnist")]
    pub dataset: String,
    /// Folder holding the dataset: the only place looked at (as `train --data-dir`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Never download a missing MNIST or Fashion-MNIST (also $SCRATCHNET_OFFLINE=1).
    #[arg(long)]
    pub offline: bool,
    /// Hidden width of the checked network (input-hidden-classes, as the textbook's TwoLayerNet).
    #[arg(long, default_value_t = 50)]
    pub hidden: usize,
    /// Check the book's SimpleConvNet (`simple-cnn`) instead of the TwoLayerNet.
    #[arg(long, value_name = "NAME", conflicts_with = "hidden")]
    pub net: Option<String>,
    /// Values checked per parameter tensor, spread evenly over it [default: all for the
    /// TwoLayerNet, 200 for a CNN, whose 434 K parameters would take minutes].
    #[arg(long, value_name = "N")]
    pub per_tensor: Option<usize>,
    /// Training samples in the agreement check (the textbook uses 3).
    #[arg(long, default_value_t = 3)]
    pub samples: usize,
    /// Batch size for timing one numerical-gradient step against one backprop step.
    #[arg(long, default_value_t = 100)]
    pub timing_batch: usize,
    /// Skip the timing (a numerical step on 784-50-10 takes tens of seconds).
    #[arg(long)]
    pub no_timing: bool,
    /// Precision of both the check and the timing (the textbook's numpy uses float64).
    #[arg(long, value_enum, default_value_t = Precision::F64)]
    pub precision: Precision,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// GEMM threads [default: $SCRATCHNET_THREADS or all cores].
    #[arg(long)]
    pub threads: Option<usize>,
}

/// The agreement table.
pub fn table(checks: &[ParamCheck]) -> Table {
    let mut t = Table::new(&[
        ("param", Align::Left),
        ("shape", Align::Left),
        ("mean |bp − num|", Align::Right),
        ("max |bp − num|", Align::Right),
        ("rel error", Align::Right),
    ]);
    for c in checks {
        t.push(vec![
            c.name.clone(),
            format!("{}×{}", c.shape.0, c.shape.1),
            format!("{:.3e}", c.mean_abs_diff),
            format!("{:.3e}", c.max_abs_diff),
            format!("{:.3e}", c.rel_error),
        ]);
    }
    t
}

pub fn run(cmd: GradcheckCmd) -> Result<()> {
    let name: DatasetName = cmd.dataset.parse()?;
    if cmd.samples == 0 || cmd.hidden == 0 || cmd.timing_batch == 0 {
        return Err(Error::Config(
            "--samples, --hidden and --timing-batch must be at least 1".into(),
        ));
    }
    let threads = resolve_threads(cmd.threads)?;
    let ds = load_dataset(
        name,
        &LoadOptions {
            data_dir: cmd.data_dir.clone(),
            seed: cmd.seed,
            ..LoadOptions::default()
        },
        offline(cmd.offline),
    )?;
    match cmd.precision {
        Precision::F32 => run_typed::<f32>(&cmd, &ds, threads),
        Precision::F64 => run_typed::<f64>(&cmd, &ds, threads),
    }
}

/// `gradcheck --net simple-cnn`: the agreement check on a CNN, on a sample of each tensor.
fn run_cnn<T: Float>(cmd: &GradcheckCmd, ds: &data::Dataset, threads: usize) -> Result<()> {
    let arch: Architecture = cmd.net.as_deref().unwrap_or("simple-cnn").parse()?;
    if arch != Architecture::SimpleCnn {
        return Err(Error::Config(format!(
            "gradcheck --net {}: only simple-cnn is checked here (deep-cnn's dropout draws a new \
             mask on every forward pass, which a numerical gradient cannot follow)",
            arch.name()
        )));
    }
    let input = Shape::of_input(ds.input_dim(), ds.image_shape);
    if !matches!(input, Shape::Image { .. }) {
        return Err(Error::Config(format!(
            "gradcheck --net simple-cnn needs images; {} has rows of {} values",
            ds.name,
            ds.input_dim()
        )));
    }
    let specs = arch.layer_specs(input, ds.classes)?;
    memory::check(
        "the network simple-cnn",
        memory_estimate(&specs, input, cmd.samples, std::mem::size_of::<T>()),
    )?;
    let mut net = Network::<T>::with_input(specs, input, Init::Std(0.01), 0.0, cmd.seed, threads)?;
    let n = cmd.samples.min(ds.x_train.rows());
    let idx: Vec<usize> = (0..n).collect();
    let x = ds.x_train.select_rows(&idx).cast::<T>();
    let t = &ds.t_train[..n];
    let per_tensor = cmd.per_tensor.unwrap_or(200);
    crate::outln!(
        "gradient check: SimpleConvNet ({}) on the first {n} {} training samples, {}, h = 1e-6, \
         biases drawn in ±0.1, {per_tensor} values per tensor",
        describe_layers(net.specs()),
        ds.name,
        T::NAME,
    );
    // With zero biases, every window of MNIST's black border computes exactly z = 0: ReLU's
    // kink, where the central difference reads ½ and backprop 0. So the check starts from
    // biases drawn in ±0.1, and steps by h = 1e-6 instead of 1e-4, so fewer of the 52 K
    // pre-activations lie within a step of the kink (each one crossed is an honest
    // disagreement of the two methods, not an error of backprop).
    let h = 1e-6;
    let mut state = cmd.seed;
    net.visit_params(&mut |_, p| {
        if p.name == "bias" {
            for v in p.value.iter_mut() {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                let unit = (state >> 11) as f64 / (1u64 << 53) as f64;
                *v = T::from_f64((unit - 0.5) * 0.2);
            }
        }
    });
    let checks = gradcheck::check_sampled(&mut net, &x, Targets::Labels(t), per_tensor, h)?;
    verdict(&checks, true)
}

/// Prints the agreement table and the verdict; a disagreement is an error.
fn verdict(checks: &[ParamCheck], kinks: bool) -> Result<()> {
    crate::out!("{}", table(checks).to_text());
    let worst = checks.iter().map(|c| c.rel_error).fold(0.0, f64::max);
    crate::outln!(
        "largest relative error {worst:.2e}: backprop and the numerical gradient {}",
        if worst < 1e-6 {
            "agree"
        } else if worst < 1e-3 && kinks {
            "agree, but for the few ReLU and max-pool kinks a step crosses"
        } else if worst < 1e-3 {
            "agree to within rounding (expected in f32)"
        } else {
            "DISAGREE"
        }
    );
    // Not a number to read past: a check that fails must fail the command (and a script).
    if worst.is_nan() || worst >= 1e-3 {
        return Err(Error::Config(format!(
            "gradient check failed: backprop and the numerical gradient differ by a relative \
             error of {worst:.2e} (the bound is 1e-3)"
        )));
    }
    Ok(())
}

fn run_typed<T: Float>(cmd: &GradcheckCmd, ds: &data::Dataset, threads: usize) -> Result<()> {
    if cmd.net.is_some() {
        return run_cnn::<T>(cmd, ds, threads);
    }
    let spec = MlpSpec {
        input: ds.input_dim(),
        hidden: vec![cmd.hidden],
        classes: ds.classes,
        activation: Activation::Relu,
        init: Init::Std(0.01),
        batchnorm: false,
        dropout: None,
        weight_decay: 0.0,
    };
    memory::check(
        &format!("--hidden {}", cmd.hidden),
        memory_estimate(
            &spec.layer_specs(),
            crate::nn::shape::Shape::Flat(spec.input),
            cmd.timing_batch,
            std::mem::size_of::<T>(),
        ),
    )?;
    let mut net = Network::<T>::mlp(&spec, cmd.seed, threads)?;
    let n = cmd.samples.min(ds.x_train.rows());
    let idx: Vec<usize> = (0..n).collect();
    let x = ds.x_train.select_rows(&idx).cast::<T>();
    let t = &ds.t_train[..n];
    let sizes = format!("{}-{}-{}", spec.input, cmd.hidden, spec.classes);
    crate::outln!(
        "gradient check: TwoLayerNet {sizes} (relu, W ~ N(0, 0.01²)) on the first {n} {} training samples, {}, h = {}",
        ds.name,
        T::NAME,
        gradcheck::H
    );
    let checks = match cmd.per_tensor {
        Some(k) => gradcheck::check_sampled(&mut net, &x, Targets::Labels(t), k, gradcheck::H)?,
        None => gradcheck::check(&mut net, &x, Targets::Labels(t))?,
    };
    verdict(&checks, false)?;
    if cmd.no_timing {
        return Ok(());
    }

    // Timing: one numerical-gradient step vs one backprop step on a full batch.
    let b = cmd.timing_batch.min(ds.x_train.rows());
    let idx: Vec<usize> = (0..b).collect();
    let xb = ds.x_train.select_rows(&idx).cast::<T>();
    let tb = &ds.t_train[..b];
    let params = net.param_count();
    let backprop_runs = 20;
    net.gradient(&xb, Targets::Labels(tb))?; // warm-up: buffers allocated
    let start = Instant::now();
    for _ in 0..backprop_runs {
        net.gradient(&xb, Targets::Labels(tb))?;
    }
    let backprop = start.elapsed().as_secs_f64() / backprop_runs as f64;
    let bar = progress_bar(
        params as u64,
        true,
        "numerical gradient {bar:30} {pos}/{len} params [{elapsed}<{eta}]",
    );
    let start = Instant::now();
    gradcheck::numerical_gradient(&mut net, &xb, Targets::Labels(tb), |done, _| {
        if done % 256 == 0 {
            bar.set_position(done as u64);
        }
    })?;
    let numerical = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    crate::outln!(
        "one step on {sizes}, batch {b}, {}: numerical gradient {numerical:.2} s ({params} parameters × 2 forward passes), backprop {:.3} ms (mean of {backprop_runs}) — backprop is {:.0}× faster",
        T::NAME,
        backprop * 1e3,
        numerical / backprop
    );
    Ok(())
}
