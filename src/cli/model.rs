//! `scratchnet eval` and `scratchnet predict`: use a saved checkpoint on a dataset.

use std::path::PathBuf;

use clap::Args;

use crate::checkpoint::{self, Checkpoint};
use crate::cli::datasets::{load_dataset, offline};
use crate::data::picture::{self, Picture, Preparation};
use crate::data::{Dataset, DatasetName, LoadOptions};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::matrix::gemm::dispatch::resolve_threads;
use crate::matrix::half::{self, Rounding};
use crate::nn::Mode;
use crate::nn::shape::{self, Shape};
use crate::nn::spec::LayerSpec;
use crate::report::{Align, Table};
use crate::session::{DataChoice, data_of_checkpoint};

/// Flags shared by the commands that read a model.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// A checkpoint written by `scratchnet train --save`.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Dataset to use [default: the one the model was trained on].
    #[arg(long)]
    pub dataset: Option<String>,
    /// Folder holding the dataset: the only place looked at (as `train --data-dir`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Never download a missing MNIST or Fashion-MNIST (also $SCRATCHNET_OFFLINE=1).
    #[arg(long)]
    pub offline: bool,
    /// CIFAR-10 as 1024 gray values (must match how the model was trained).
    #[arg(long)]
    pub grayscale: bool,
    /// Seed for generated playground data [default: the model's training seed].
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct EvalCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Draw the test images the model gets wrong (the first 60), each with its true and
    /// predicted class, as an SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub misclassified: Option<PathBuf>,
    /// Draw the confusion matrix as an SVG heat map: each (true, predicted) pair a square shaded
    /// by its share of the true class, the count in it.
    #[arg(long, value_name = "FILE.svg")]
    pub confusion: Option<PathBuf>,
    /// Round every weight, bias and batch-norm statistic, and the test images, to the nearest
    /// IEEE float16 first, as the book's half_float_network.py does: what keeping the model
    /// in 16 bits costs. The arithmetic stays f32.
    #[arg(long)]
    pub half: bool,
}

/// How many misclassified images `eval --misclassified` draws.
const MISCLASSIFIED_SHOWN: usize = 60;

#[derive(Debug, Args)]
pub struct PredictCmd {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Index of the test sample to show.
    #[arg(long, default_value_t = 0)]
    pub index: usize,
    /// Draw the first conv layer's activation maps for this sample (after its activation
    /// function, one tile per filter) as an SVG.
    #[arg(long, value_name = "FILE.svg")]
    pub feature_maps: Option<PathBuf>,
    /// Classify a picture of your own (PNG or JPEG) instead of a test sample: a digit on paper
    /// for an MNIST model, a piece of clothing for Fashion-MNIST, a photo for CIFAR-10. It is
    /// prepared as the dataset's samples were (MNIST: light on dark, fitted into 20×20 and
    /// centred by mass) and drawn as the network sees it. No dataset files are needed. Several
    /// files (`--image *.jpg`) give a table of their predictions instead.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with = "index")]
    pub image: Vec<PathBuf>,
    /// With --image: feed the picture as it is, without the dataset's preparation (it must have
    /// the model's input size, e.g. 28×28, light ink on dark for MNIST).
    #[arg(long, requires = "image")]
    pub as_is: bool,
}

/// Loads the model and the dataset it should run on, checking that they fit together.
fn load(args: &ModelArgs) -> Result<(Checkpoint<f32>, Dataset)> {
    let (ckpt, name, options) = open(args)?;
    let ds = load_dataset(name, &options, offline(args.offline))?;
    let (input, classes) = (ckpt.net.input_dim(), ckpt.net.classes());
    if input != ds.input_dim() || classes != ds.classes {
        return Err(Error::Shape {
            op: "model vs dataset",
            expected: format!("{input} features and {classes} classes, as the model has"),
            got: format!(
                "{} with {} features and {} classes",
                ds.name,
                ds.input_dim(),
                ds.classes
            ),
        });
    }
    Ok((ckpt, ds))
}

/// Loads the model and works out which dataset it runs on and how that set is to be loaded:
/// from the flags, else from what the checkpoint records of its training.
fn open(args: &ModelArgs) -> Result<(Checkpoint<f32>, DatasetName, LoadOptions)> {
    let threads = resolve_threads(args.threads)?;
    let ckpt = checkpoint::load::<f32>(&args.model, threads)?;
    let dataset = args.dataset.as_deref().map(str::parse).transpose()?;
    let wanted = DataChoice {
        dataset,
        data_dir: args.data_dir.clone(),
        grayscale: args.grayscale,
        seed: args.seed,
    };
    let (name, options) = data_of_checkpoint(&ckpt.metadata, &args.model, &wanted)?;
    Ok((ckpt, name, options))
}

/// One grey value per pixel of an image row (CHW planes), as a picture's (see
/// [`picture::luminance`]): `predict` draws the image this way and `eval --misclassified` its
/// tiles, so the two pictures of one image agree.
fn grey(row: &[f32], (channels, h, w): (usize, usize, usize)) -> Vec<f32> {
    picture::luminance(row, channels, h * w)
}

pub fn eval(cmd: EvalCmd) -> Result<()> {
    let (mut ckpt, mut ds) = load(&cmd.model)?;
    if cmd.half {
        let mut model = Rounding::default();
        ckpt.net
            .visit_params(&mut |_, p| model = model.merge(half::round_slice(p.value)));
        ckpt.net
            .visit_buffers(&mut |_, _, v| model = model.merge(half::round_slice(v)));
        let images = half::round_slice(ds.x_test.as_mut_slice());
        crate::outln!(
            "float16: {} of {} model values rounded (largest relative change {:.1e}; {} below \
             {:.1e}, where float16 keeps fewer bits), {} flushed to 0, {} beyond ±{}; {} of {} \
             test input values rounded",
            model.changed,
            model.values,
            model.max_relative,
            model.subnormal,
            half::MIN_NORMAL,
            model.flushed,
            model.overflowed,
            half::MAX,
            images.changed,
            images.values
        );
    }
    // Every output checked before the evaluation: none may be the model or another output.
    let outputs: Vec<crate::output::Named> = [
        ("--misclassified", &cmd.misclassified),
        ("--confusion", &cmd.confusion),
    ]
    .into_iter()
    .filter_map(|(flag, path)| path.as_deref().map(|p| crate::output::Named::new(flag, p)))
    .collect();
    crate::output::check_outputs(
        &outputs,
        &[crate::output::Named::new("--model", &cmd.model.model)],
        &[],
    )?;
    if cmd.misclassified.is_some() && ds.image_shape.is_none() {
        return Err(Error::Config(format!(
            "--misclassified draws images; {} has 2-D points (see `scratchnet playground`)",
            ds.name
        )));
    }
    let x: &Matrix<f32> = &ds.x_test;
    // Confusion matrix, filled during the same pass: rows are true classes, columns predicted.
    let k = ds.classes;
    let mut counts = vec![vec![0usize; k]; k];
    let (mut seen, mut wrong) = (0usize, Vec::new());
    let (loss, acc) = ckpt.net.evaluate_with(x, &ds.t_test, |pred, truth| {
        for (i, (&p, &t)) in pred.iter().zip(truth).enumerate() {
            counts[t][p] += 1;
            if p != t && wrong.len() < MISCLASSIFIED_SHOWN {
                wrong.push((seen + i, t, p));
            }
        }
        seen += pred.len();
    })?;
    if let Some(path) = &cmd.misclassified {
        let (c, h, w) = ds.image_shape.expect("checked above");
        let tiles = wrong
            .iter()
            .map(|&(i, _, _)| {
                grey(x.row(i), (c, h, w))
                    .into_iter()
                    .map(f64::from)
                    .collect()
            })
            .collect();
        let errors = counts
            .iter()
            .enumerate()
            .map(|(t, r)| r.iter().sum::<usize>() - r[t]);
        let grid = crate::report::tiles::TileGrid {
            title: format!(
                "true → predicted; the first {} of {} test images it gets wrong",
                wrong.len(),
                errors.sum::<usize>()
            ),
            captions: wrong
                .iter()
                .map(|&(_, t, p)| format!("{t} → {p}"))
                .collect(),
            tiles,
            range: Some((0.0, 1.0)),
        };
        let heading = format!(
            "{} on {}: accuracy {acc:.4}",
            cmd.model.model.display(),
            ds.name
        );
        let svg = crate::report::tiles::render(&heading, &[grid], h, w, 12);
        crate::output::write_output(path, svg.as_bytes())?;
    }
    crate::outln!(
        "{} on {} test samples of {}: loss {loss:.4}, accuracy {acc:.4}",
        cmd.model.model.display(),
        x.rows(),
        ds.name
    );
    crate::out!("{}", confusion_table(&counts, ds.name).to_text());
    if let Some(path) = &cmd.confusion {
        let heading = format!(
            "{} on {}: accuracy {acc:.4}",
            cmd.model.model.display(),
            ds.name
        );
        let labels: Vec<String> = (0..k).map(|c| class_label(ds.name, c)).collect();
        let svg = crate::report::confusion::render(&heading, &counts, &labels);
        crate::output::write_output(path, svg.as_bytes())?;
    }
    Ok(())
}

/// The confusion matrix (rows the true classes, columns the predicted) with each class's
/// recall (the share of its samples predicted right) at the end of its row and precision (the
/// share of the predictions of it that are right) under its column: where a model fails, by
/// class, as Fashion-MNIST's shirts against T-shirts show.
fn confusion_table(counts: &[Vec<usize>], dataset: DatasetName) -> Table {
    let k = counts.len();
    let share = |right: usize, of: usize| {
        if of == 0 {
            "–".to_string()
        } else {
            format!("{:.3}", right as f64 / of as f64)
        }
    };
    let mut cols: Vec<(String, Align)> = vec![("true \\ pred".into(), Align::Left)];
    cols.extend((0..k).map(|c| (c.to_string(), Align::Right)));
    cols.push(("recall".into(), Align::Right));
    let col_refs: Vec<(&str, Align)> = cols.iter().map(|(s, a)| (s.as_str(), *a)).collect();
    let mut table = Table::new(&col_refs);
    for (t, row) in counts.iter().enumerate() {
        // Rows name their class where the index does not say it (Fashion-MNIST, CIFAR-10).
        let mut cells = vec![class_label(dataset, t)];
        cells.extend(row.iter().map(|c| c.to_string()));
        cells.push(share(row[t], row.iter().sum()));
        table.push(cells);
    }
    let mut precision = vec!["precision".to_string()];
    precision.extend((0..k).map(|p| share(counts[p][p], counts.iter().map(|r| r[p]).sum())));
    precision.push(String::new());
    table.push(precision);
    table
}

/// A grayscale image as text, darker pixels as denser characters.
pub fn render_image(pixels: &[f32], width: usize) -> String {
    const SHADES: &[u8] = b" .:-=+*#%@";
    let mut out = String::new();
    for row in pixels.chunks(width.max(1)) {
        let mut line = String::with_capacity(2 * row.len());
        for &p in row {
            let i = ((p.clamp(0.0, 1.0) * (SHADES.len() - 1) as f32).round()) as usize;
            let c = SHADES[i] as char;
            line.push(c);
            line.push(c);
        }
        // Trailing blanks of this row only: a blank row stays a (empty) row, so the picture
        // keeps its height.
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The one input `predict` classifies: a test sample or a prepared picture.
struct Sample {
    /// One row of the model's input.
    x: Matrix<f32>,
    /// The dataset's image shape, `None` for a 2-D point.
    image: Option<(usize, usize, usize)>,
    /// The test sample's class; a picture has none.
    truth: Option<usize>,
    /// What the sample is, for the report ("test sample 3 of mnist", "digit.png").
    what: String,
    dataset: DatasetName,
}

/// Test sample `index` of the model's dataset.
fn test_sample(args: &ModelArgs, index: usize) -> Result<(Checkpoint<f32>, Sample)> {
    let (ckpt, ds) = load(args)?;
    let n = ds.x_test.rows();
    if index >= n {
        return Err(Error::Config(format!(
            "--index {index} is out of range: the {} test set has {n} samples (0..{})",
            ds.name,
            n - 1
        )));
    }
    let sample = Sample {
        x: ds.x_test.rows_range(index, index + 1),
        image: ds.image_shape,
        truth: Some(ds.t_test[index]),
        what: format!("test sample {index} of {}", ds.name),
        dataset: ds.name,
    };
    Ok((ckpt, sample))
}

/// A model with what its pictures need: the dataset it was trained on, how a picture is
/// prepared for it (as the dataset's samples were, or as it is) and into which image shape.
struct PictureModel {
    ckpt: Checkpoint<f32>,
    dataset: DatasetName,
    how: Preparation,
    shape: (usize, usize, usize),
}

fn picture_model(args: &ModelArgs, as_is: bool) -> Result<PictureModel> {
    let (ckpt, name, options) = open(args)?;
    let (how, shape) = picture::for_model(name, options.grayscale, ckpt.net.input_dim(), as_is)?;
    Ok(PictureModel {
        ckpt,
        dataset: name,
        how,
        shape,
    })
}

/// The user's picture at `path`, prepared for the model as its dataset's samples were.
fn picture_sample(
    args: &ModelArgs,
    path: &std::path::Path,
    as_is: bool,
) -> Result<(Checkpoint<f32>, Sample)> {
    let PictureModel {
        ckpt,
        dataset: name,
        how,
        shape,
    } = picture_model(args, as_is)?;
    let row = picture::prepare(&Picture::read(path)?, how, shape)?;
    crate::outln!("{}: prepared {}", path.display(), how.describe());
    let sample = Sample {
        x: Matrix::from_vec(1, row.len(), row)?,
        image: Some(shape),
        truth: None,
        what: path.display().to_string(),
        dataset: name,
    };
    Ok((ckpt, sample))
}

/// `predict --image` with several pictures: each read and prepared (the first that cannot be
/// is the command's one error), then one table of what the model makes of them.
fn predict_pictures(cmd: &PredictCmd) -> Result<()> {
    if cmd.feature_maps.is_some() {
        return Err(Error::Config(format!(
            "--feature-maps draws one sample's maps; give one --image, not {}",
            cmd.image.len()
        )));
    }
    let PictureModel {
        mut ckpt,
        dataset: name,
        how,
        shape,
    } = picture_model(&cmd.model, cmd.as_is)?;
    let mut rows = Vec::new();
    for path in &cmd.image {
        rows.extend(picture::prepare(&Picture::read(path)?, how, shape)?);
    }
    let x = Matrix::from_vec(cmd.image.len(), shape.0 * shape.1 * shape.2, rows)?;
    let probs = ckpt.net.predict(&x, Mode::Eval)?.softmax_rows();
    crate::outln!("{} pictures, prepared {}", cmd.image.len(), how.describe());
    let mut table = Table::new(&[
        ("picture", Align::Left),
        ("predicted", Align::Left),
        ("probability", Align::Right),
        ("next", Align::Left),
        ("probability", Align::Right),
    ]);
    for (i, path) in cmd.image.iter().enumerate() {
        let mut ranked: Vec<(usize, f32)> = probs.row(i).iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (first, second) = (ranked[0], ranked[1.min(ranked.len() - 1)]);
        table.push(vec![
            path.display().to_string(),
            class_label(name, first.0),
            format!("{:.4}", first.1),
            class_label(name, second.0),
            format!("{:.4}", second.1),
        ]);
    }
    crate::out!("{}", table.to_text());
    Ok(())
}

/// "3", or "9 (ankle boot)" where the index alone does not say.
fn class_label(dataset: DatasetName, class: usize) -> String {
    match dataset.class_names().and_then(|names| names.get(class)) {
        Some(name) => format!("{class} ({name})"),
        None => class.to_string(),
    }
}

pub fn predict(cmd: PredictCmd) -> Result<()> {
    let (mut ckpt, sample) = match &cmd.image[..] {
        [] => test_sample(&cmd.model, cmd.index)?,
        [path] => picture_sample(&cmd.model, path, cmd.as_is)?,
        _ => return predict_pictures(&cmd),
    };
    // Which layer's output to draw, checked before any work: the first conv layer's, after
    // the activation that follows it.
    let maps_of = match &cmd.feature_maps {
        None => None,
        Some(path) => {
            let specs = ckpt.net.specs();
            let conv = specs
                .iter()
                .position(|s| matches!(s, LayerSpec::Conv { .. }))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "--feature-maps draws a conv layer's output, and the network in {} has \
                         none",
                        cmd.model.model.display()
                    ))
                })?;
            let shapes = shape::infer(specs, ckpt.net.input_shape())?;
            let shown = match specs.get(conv + 1) {
                Some(LayerSpec::Relu | LayerSpec::Sigmoid | LayerSpec::Tanh) => conv + 1,
                _ => conv,
            };
            crate::output::check_outputs(
                &[crate::output::Named::new("--feature-maps", path)],
                &[crate::output::Named::new("--model", &cmd.model.model)],
                &[],
            )?;
            Some((path, shown, shapes[shown], specs[shown].to_string()))
        }
    };
    let x = &sample.x;
    if let Some(image) = sample.image {
        crate::out!("{}", render_image(&grey(x.row(0), image), image.2));
    } else {
        crate::outln!(
            "point ({:.3}, {:.3})",
            x.get(0, 0),
            x.get(0, 1.min(x.cols() - 1))
        );
    }
    if maps_of.is_some() {
        // The drawn ReLU's output must be materialised, not absorbed by a max pool after it.
        ckpt.net.set_fusion(false);
    }
    let probs = ckpt.net.predict(x, Mode::Eval)?.softmax_rows();
    let predicted = probs.row_argmax()[0];
    let label = |class: usize| class_label(sample.dataset, class);
    match sample.truth {
        Some(truth) => crate::outln!(
            "{}: predicted {}, true {}: {}",
            sample.what,
            label(predicted),
            label(truth),
            if predicted == truth {
                "correct"
            } else {
                "wrong"
            }
        ),
        None => crate::outln!("{}: predicted {}", sample.what, label(predicted)),
    }
    let labels: Vec<String> = (0..probs.cols()).map(label).collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(1);
    for (l, &p) in labels.iter().zip(probs.row(0)) {
        let bar = "█".repeat((p * 40.0).round() as usize);
        crate::outln!("  {l:<width$}: {p:.4} {bar}");
    }
    if let Some((path, layer, Shape::Image { c, h, w }, name)) = maps_of {
        let maps = ckpt.net.layer_output(layer).expect("a forward pass ran");
        let tiles = maps
            .row(0)
            .chunks_exact(h * w)
            .map(|m| m.iter().map(|&v| f64::from(v)).collect())
            .collect();
        let grid = crate::report::tiles::TileGrid {
            title: format!(
                "{c} maps of {h}×{w} (layer {layer}: {name}), each scaled to its own range"
            ),
            tiles,
            captions: (0..c).map(|i| format!("{i}")).collect(),
            range: None,
        };
        let truth = sample
            .truth
            .map_or(String::new(), |t| format!("true {}, ", label(t)));
        let heading = format!("{}: {truth}predicted {}", sample.what, label(predicted));
        let svg = crate::report::tiles::render(&heading, &[grid], h, w, 10);
        crate::output::write_output(path, svg.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confusion_table_ends_rows_with_recall_and_columns_with_precision() {
        // Class 0: 3 right, 1 taken for 1; class 1: 2 right; class 2: never seen, never said.
        let counts = vec![vec![3, 1, 0], vec![0, 2, 0], vec![0, 0, 0]];
        let text = confusion_table(&counts, DatasetName::Mnist).to_text();
        let row = |label: &str| -> Vec<String> {
            let line = text.lines().find(|l| l.starts_with(label)).unwrap();
            line.split_whitespace().map(str::to_string).collect()
        };
        assert_eq!(row("0"), ["0", "3", "1", "0", "0.750"]);
        assert_eq!(row("1"), ["1", "0", "2", "0", "1.000"]);
        assert_eq!(row("2"), ["2", "0", "0", "0", "–"]);
        assert_eq!(row("precision"), ["precision", "1.000", "0.667", "–"]);
        let names = confusion_table(&counts, DatasetName::FashionMnist).to_text();
        assert!(names.contains("1 (trouser)"), "{names}");
    }
}
