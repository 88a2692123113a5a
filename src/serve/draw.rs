//! The Draw page's API: a model, tried by hand.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/models` | the models to pick: `--model`, and every checkpoint in `--runs` |
//! | `GET /api/models/{id}` | its dataset, classes, input shape, and its first layer as pictures (a conv layer's filters, an MLP's weights per unit) |
//! | `POST /api/models/{id}/predict` | body: a PNG or JPEG (the page's canvas, or an upload); answers the class probabilities, the input the model saw and every conv layer's feature maps |
//! | `GET /api/models/{id}/misclassified/{page}` | the test images it gets wrong, 60 a page, with label and prediction |
//!
//! A picture is prepared by `data::picture` exactly as `predict --image` prepares a file: the
//! same decoder, limits and preparation. A model is named by an id this server gave it; the
//! files read are `--model` and the checkpoints [`crate::runs::RunsFolder::scan`] finds, and,
//! for the misclassified images, the model's test set through the normal dataset lookup (never
//! downloaded).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use serde_json::{Value, json};

use super::runs::Runs;
use crate::checkpoint::{self, Checkpoint};
use crate::data::picture::{self, Picture, Preparation};
use crate::data::{self, DatasetName, LoadOptions};
use crate::error::{Error, Result};
use crate::matrix::Matrix;
use crate::nn::Mode;
use crate::nn::shape::{self, Shape};
use crate::nn::spec::LayerSpec;
use crate::session::{DataChoice, data_of_checkpoint};

/// Misclassified images per page (as `eval --misclassified` draws them).
pub const PAGE: usize = 60;
/// The largest picture body accepted: the largest photo a phone makes, about.
pub const MAX_PICTURE_BYTES: usize = 16 << 20;
/// Test images classified at once for the misclassified list.
const CHUNK: usize = 500;

/// A model loaded for the page.
struct Loaded {
    ckpt: Checkpoint<f32>,
    name: String,
    dataset: DatasetName,
    options: LoadOptions,
    how: Preparation,
    shape: (usize, usize, usize),
    /// The test images it gets wrong, once computed.
    wrong: Option<Wrong>,
}

/// The test set's size and (index, label, predicted) of every image the model gets wrong.
type Wrong = (usize, Vec<(usize, usize, usize)>);

/// The models the page can pick, loaded on first use.
pub struct Models {
    runs: Arc<Runs>,
    model: Option<PathBuf>,
    loaded: Mutex<HashMap<String, Arc<Mutex<Loaded>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Grey values in [0, 1] (or any range, stretched when `stretch`) as base64 bytes.
fn bytes_b64(values: &[f32], stretch: bool) -> String {
    let (lo, hi) = if stretch {
        values
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
                (l.min(v), h.max(v))
            })
    } else {
        (0.0, 1.0)
    };
    let span = (hi - lo).max(1e-12);
    let bytes: Vec<u8> = values
        .iter()
        .map(|&v| ((v - lo) / span * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn class_label(dataset: DatasetName, class: usize) -> String {
    match dataset.class_names().and_then(|n| n.get(class)) {
        Some(name) => format!("{class} ({name})"),
        None => class.to_string(),
    }
}

impl Models {
    /// The models of `--model` and of the folder in `runs`, none loaded yet.
    pub fn new(runs: Arc<Runs>, model: Option<PathBuf>) -> Self {
        Models {
            runs,
            model,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// Checks `--model` now, so that a wrong one fails the command, not the page.
    pub fn check(&self) -> Result<()> {
        match &self.model {
            Some(p) => self.load("model", p).map(|_| ()),
            None => Ok(()),
        }
    }

    /// `GET /api/models`.
    pub fn list(&self) -> Value {
        let mut models = Vec::new();
        if let Some(p) = &self.model {
            models.push(
                json!({ "id": "model", "name": p.display().to_string(), "source": "--model" }),
            );
        }
        for (id, name, _) in self.runs.checkpoints() {
            models.push(json!({ "id": format!("run-{id}"), "name": name, "source": "--runs" }));
        }
        json!({ "models": models })
    }

    /// The path of model `id`: `model` for `--model`, `run-N` for the folder's N-th.
    fn path_of(&self, id: &str) -> Option<PathBuf> {
        if id == "model" {
            return self.model.clone();
        }
        let n: usize = id.strip_prefix("run-")?.parse().ok()?;
        self.runs.checkpoint(n)
    }

    fn load(&self, id: &str, path: &Path) -> Result<Arc<Mutex<Loaded>>> {
        if let Some(m) = lock(&self.loaded).get(id) {
            return Ok(Arc::clone(m));
        }
        let mut ckpt = checkpoint::load::<f32>(path, 1)?;
        let (dataset, options) = data_of_checkpoint(&ckpt.metadata, path, &DataChoice::default())?;
        let (how, shape) =
            picture::for_model(dataset, options.grayscale, ckpt.net.input_dim(), false).map_err(
                |e| {
                    Error::Config(format!(
                        "{}: the Draw page needs a model of images: {e}",
                        path.display()
                    ))
                },
            )?;
        // Every layer's output materialised, for the feature maps (as predict --feature-maps).
        ckpt.net.set_fusion(false);
        let name = path
            .file_name()
            .map_or(id.to_string(), |n| n.to_string_lossy().into_owned());
        let loaded = Arc::new(Mutex::new(Loaded {
            ckpt,
            name,
            dataset,
            options,
            how,
            shape,
            wrong: None,
        }));
        lock(&self.loaded).insert(id.to_string(), Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Model `id`, loaded; `Ok(None)` when there is no such id.
    fn get(&self, id: &str) -> Result<Option<Arc<Mutex<Loaded>>>> {
        match self.path_of(id) {
            None => Ok(None),
            Some(p) => self.load(id, &p).map(Some),
        }
    }

    /// `GET /api/models/{id}`.
    pub fn info(&self, id: &str) -> Result<Option<Value>> {
        let Some(m) = self.get(id)? else {
            return Ok(None);
        };
        let mut m = lock(&m);
        let m = &mut *m;
        let (c, h, w) = m.shape;
        let specs = m.ckpt.net.specs().to_vec();
        let classes = m.ckpt.net.classes();
        let first = first_layer(&mut m.ckpt, m.shape);
        Ok(Some(json!({
            "id": id,
            "name": m.name,
            "dataset": m.dataset.name(),
            "layers": specs.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "convolutional": specs.iter().any(|s| matches!(s, LayerSpec::Conv { .. })),
            "labels": (0..classes).map(|k| class_label(m.dataset, k)).collect::<Vec<_>>(),
            "shape": [c, h, w],
            // Drawing makes a digit or an article in grey; a CIFAR-10 photo is uploaded.
            "drawable": matches!(m.dataset, DatasetName::Mnist | DatasetName::FashionMnist),
            "preparation": m.how.describe(),
            "first_layer": first,
        })))
    }

    /// `POST /api/models/{id}/predict` with the picture's bytes.
    pub fn predict(&self, id: &str, bytes: &[u8]) -> Result<Option<Value>> {
        let Some(m) = self.get(id)? else {
            return Ok(None);
        };
        let mut m = lock(&m);
        let m = &mut *m;
        let picture = Picture::decode(bytes, Path::new("the picture"))?;
        let row = picture::prepare(&picture, m.how, m.shape)?;
        let (c, h, w) = m.shape;
        let x = Matrix::from_vec(1, row.len(), row)?;
        let probs = m.ckpt.net.predict(&x, Mode::Eval)?.softmax_rows();
        let predicted = probs.row_argmax()[0];
        let maps = feature_maps(&m.ckpt)?;
        Ok(Some(json!({
            "predicted": predicted,
            "label": class_label(m.dataset, predicted),
            "probabilities": probs.row(0),
            "input": bytes_b64(&picture::luminance(x.row(0), c, h * w), false),
            "size": [h, w],
            "maps": maps,
        })))
    }

    /// `GET /api/models/{id}/misclassified/{page}`.
    pub fn misclassified(&self, id: &str, page: usize) -> Result<Option<Value>> {
        let Some(m) = self.get(id)? else {
            return Ok(None);
        };
        let mut m = lock(&m);
        let m = &mut *m;
        let ds = data::load(m.dataset, &m.options)?;
        if ds.input_dim() != m.ckpt.net.input_dim() || ds.classes != m.ckpt.net.classes() {
            return Err(Error::shape(
                "model vs dataset",
                format!("{} inputs, as the model has", m.ckpt.net.input_dim()),
                format!("{} with {}", ds.name, ds.input_dim()),
            ));
        }
        if m.wrong.is_none() {
            let mut wrong = Vec::new();
            let n = ds.x_test.rows();
            for start in (0..n).step_by(CHUNK) {
                let end = (start + CHUNK).min(n);
                let x = ds.x_test.rows_range(start, end);
                let predicted = m.ckpt.net.predict(&x, Mode::Eval)?.row_argmax();
                for (k, &p) in predicted.iter().enumerate() {
                    let label = ds.t_test[start + k];
                    if p != label {
                        wrong.push((start + k, label, p));
                    }
                }
            }
            m.wrong = Some((n, wrong));
        }
        let (total, wrong) = m.wrong.as_ref().expect("computed above");
        let (c, h, w) = m.shape;
        let items: Vec<Value> = wrong
            .iter()
            .skip(page * PAGE)
            .take(PAGE)
            .map(|&(index, label, predicted)| {
                let grey = picture::luminance(ds.x_test.row(index), c, h * w);
                json!({
                    "index": index,
                    "label": class_label(m.dataset, label),
                    "predicted": class_label(m.dataset, predicted),
                    "pixels": bytes_b64(&grey, false),
                })
            })
            .collect();
        Ok(Some(json!({
            "test_images": total,
            "wrong": wrong.len(),
            "accuracy": 1.0 - wrong.len() as f64 / (*total).max(1) as f64,
            "page": page,
            "pages": wrong.len().div_ceil(PAGE),
            "size": [h, w],
            "items": items,
        })))
    }
}

/// The first layer as pictures: a conv layer's filters (the mean over input channels), or an
/// affine layer's weights into each unit, shaped as the image.
fn first_layer(ckpt: &mut Checkpoint<f32>, (c, h, w): (usize, usize, usize)) -> Value {
    let Some(spec) = ckpt.net.specs().first().cloned() else {
        return Value::Null;
    };
    let mut weight: Vec<f32> = Vec::new();
    ckpt.net.visit_params(&mut |i, p| {
        if i == 0 && p.name == "weight" {
            weight = p.value.to_vec();
        }
    });
    let (tiles, th, tw, what): (Vec<Vec<f32>>, usize, usize, String) = match spec {
        LayerSpec::Conv {
            c_in,
            c_out,
            kh,
            kw,
            ..
        } => {
            let area = kh * kw;
            let tiles = weight
                .chunks_exact(c_in * area)
                .take(c_out)
                .map(|f| {
                    (0..area)
                        .map(|k| (0..c_in).map(|ch| f[ch * area + k]).sum::<f32>() / c_in as f32)
                        .collect()
                })
                .collect();
            (
                tiles,
                kh,
                kw,
                format!("the first conv layer's {c_out} filters ({kh}×{kw})"),
            )
        }
        LayerSpec::Affine { n_in, n_out } if n_in == c * h * w => {
            // W is n_in × n_out: unit k's weights are column k, one per input pixel.
            let tiles = (0..n_out)
                .map(|k| {
                    let col: Vec<f32> = (0..n_in).map(|i| weight[i * n_out + k]).collect();
                    picture::luminance(&col, c, h * w)
                })
                .collect();
            (
                tiles,
                h,
                w,
                format!("the first layer's weights into each of its {n_out} units"),
            )
        }
        _ => return Value::Null,
    };
    json!({
        "title": what,
        "size": [th, tw],
        "tiles": tiles.iter().map(|t| bytes_b64(t, true)).collect::<Vec<_>>(),
    })
}

/// Every conv layer's output for the last sample (after its activation, when one follows),
/// each map stretched to its own range.
fn feature_maps(ckpt: &Checkpoint<f32>) -> Result<Vec<Value>> {
    let specs = ckpt.net.specs();
    let shapes = shape::infer(specs, ckpt.net.input_shape())?;
    let mut maps = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        if !matches!(spec, LayerSpec::Conv { .. }) {
            continue;
        }
        let shown = match specs.get(i + 1) {
            Some(LayerSpec::Relu | LayerSpec::Sigmoid | LayerSpec::Tanh) => i + 1,
            _ => i,
        };
        let (Some(out), Shape::Image { c, h, w }) = (ckpt.net.layer_output(shown), shapes[shown])
        else {
            continue;
        };
        maps.push(json!({
            "layer": if shown == i {
                format!("layer {i}: {spec}")
            } else {
                format!("layer {i}: {spec} → {}", specs[shown])
            },
            "size": [c, h, w],
            "maps": out.row(0).chunks_exact(h * w).map(|m| bytes_b64(m, true)).collect::<Vec<_>>(),
        }));
    }
    Ok(maps)
}
