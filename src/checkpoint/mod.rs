//! Checkpoints in safetensors, laid out so PyTorch loads them straight into the equivalent
//! `torch.nn.Sequential` of `Linear`, `Conv2d`, `MaxPool2d`/`AvgPool2d`, `Flatten`,
//! `BatchNorm1d`, dropout and activation modules:
//!
//! - tensor names are PyTorch's `state_dict` keys: `0.weight`, `0.bias`, `1.running_mean`, …
//!   (the index is the layer's position in the sequence; activations, pooling, flatten and
//!   dropout have none);
//! - an affine weight is stored `[out, in]` as `nn.Linear` keeps it (our `W` is `[in, out]`, so
//!   it is transposed on save and on load); a conv weight `[out, in, kh, kw]` as `nn.Conv2d`
//!   keeps it (our `W` is that array, read as `out × in·kh·kw`); batch norm also gets
//!   `num_batches_tracked`;
//! - the header metadata carries the layer list (`layers`), input size (and `input_shape`,
//!   `CxHxW`, for a network of images), class count, precision, scratchnet version, and
//!   whatever the caller adds (dataset, progress).
//!
//! Files are written atomically (temporary file, sync, rename). Loading checks every tensor's
//! presence, dtype and shape and names the offender.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, View};

use crate::error::{Error, Result};
use crate::matrix::Float;
use crate::nn::init::Init;
use crate::nn::network::{Loss, Network};
use crate::nn::shape::Shape;
use crate::nn::spec::{LayerSpec, MAX_LAYERS, memory_estimate};
use crate::output::write_output;

mod training;

pub use training::{TRAIN_STATE_VERSION, load_training, save_training};

/// The `format` metadata value of a scratchnet checkpoint.
pub const FORMAT: &str = "scratchnet-mlp";

/// Name prefix of the optimizer-state tensors in a training checkpoint.
pub const OPTIMIZER_PREFIX: &str = "optimizer.";

/// An owned tensor ready for serialisation.
pub(super) struct Owned {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Owned {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

pub(super) fn float_tensor<T: Float>(shape: Vec<usize>, values: impl Iterator<Item = T>) -> Owned {
    let mut bytes = Vec::new();
    let dtype = if T::NAME == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    };
    for v in values {
        if dtype == Dtype::F32 {
            bytes.extend_from_slice(&(v.to_f64() as f32).to_le_bytes());
        } else {
            bytes.extend_from_slice(&v.to_f64().to_le_bytes());
        }
    }
    Owned {
        dtype,
        shape,
        bytes,
    }
}

/// The PyTorch shape of a parameter: `[out, in]` for affine weights (stored transposed: our
/// `W` is `[in, out]`), `[out, in, kh, kw]` for conv weights (stored as they are: our `W` is
/// that array read as `out × in·kh·kw`), `[n]` otherwise.
fn torch_shape(spec: &LayerSpec, name: &str, shape: (usize, usize)) -> Vec<usize> {
    match *spec {
        LayerSpec::Affine { n_in, n_out } if name == "weight" => vec![n_out, n_in],
        LayerSpec::Conv {
            c_in,
            c_out,
            kh,
            kw,
            ..
        } if name == "weight" => vec![c_out, c_in, kh, kw],
        _ => vec![shape.0 * shape.1],
    }
}

/// The metadata key of a convolutional network's input image shape, `CxHxW`.
pub const INPUT_SHAPE_KEY: &str = "input_shape";

/// The input shape a checkpoint's layer list is fed: the `input_shape` entry (`1x28x28`) for a
/// network of images, else the first affine layer's width.
fn input_of(
    specs: &[LayerSpec],
    metadata: &BTreeMap<String, String>,
    path: &Path,
) -> Result<Shape> {
    let fmt = |what: String| Error::format(path, what);
    let Some(text) = metadata.get(INPUT_SHAPE_KEY) else {
        return match specs.first() {
            Some(LayerSpec::Affine { n_in, .. }) => Ok(Shape::Flat(*n_in)),
            _ => Err(fmt(format!(
                "its layer list starts with '{}' but it has no '{INPUT_SHAPE_KEY}' entry",
                specs.first().map_or(String::new(), |s| s.to_string())
            ))),
        };
    };
    let dims: Vec<usize> = text
        .split('x')
        .map(|d| d.trim().parse::<usize>().ok().filter(|&v| v > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            fmt(format!(
                "metadata '{INPUT_SHAPE_KEY}' is not CxHxW: '{text}'"
            ))
        })?;
    match dims[..] {
        [c, h, w] if crate::memory::product(&[c, h, w]).is_some_and(|n| n <= 1 << 30) => {
            Ok(Shape::Image { c, h, w })
        }
        _ => Err(fmt(format!(
            "metadata '{INPUT_SHAPE_KEY}' is not a plausible CxHxW image: '{text}'"
        ))),
    }
}

/// Writes `net` to `path` with `extra` metadata (dataset, epochs, …) added to the header.
pub fn save<T: Float>(
    net: &mut Network<T>,
    extra: &BTreeMap<String, String>,
    path: &Path,
) -> Result<()> {
    save_with(net, extra, Vec::new(), path)
}

pub(super) fn save_with<T: Float>(
    net: &mut Network<T>,
    extra: &BTreeMap<String, String>,
    more: Vec<(String, Owned)>,
    path: &Path,
) -> Result<()> {
    write_output(path, &encode_with(net, extra, more)?)
}

/// The bytes [`save`] writes: what the web app hands out as a download.
pub fn encode<T: Float>(net: &mut Network<T>, extra: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    encode_with(net, extra, Vec::new())
}

fn encode_with<T: Float>(
    net: &mut Network<T>,
    extra: &BTreeMap<String, String>,
    more: Vec<(String, Owned)>,
) -> Result<Vec<u8>> {
    let specs = net.specs().to_vec();
    let mut tensors: Vec<(String, Owned)> = Vec::new();
    net.visit_params(&mut |i, p| {
        let shape = torch_shape(&specs[i], p.name, p.shape);
        let tensor = if shape.len() == 2 {
            // [in, out] → [out, in]
            let (n_in, n_out) = p.shape;
            let v = &*p.value;
            float_tensor::<T>(
                shape,
                (0..n_out).flat_map(move |o| (0..n_in).map(move |j| v[j * n_out + o])),
            )
        } else {
            float_tensor::<T>(shape, p.value.iter().copied())
        };
        tensors.push((format!("{i}.{}", p.name), tensor));
    });
    net.visit_buffers(&mut |i, name, v| {
        tensors.push((
            format!("{i}.{name}"),
            float_tensor::<T>(vec![v.len()], v.iter().copied()),
        ));
    });
    for (i, spec) in specs.iter().enumerate() {
        if let LayerSpec::BatchNorm { .. } = spec {
            tensors.push((
                format!("{i}.num_batches_tracked"),
                Owned {
                    dtype: Dtype::I64,
                    shape: vec![],
                    bytes: 0i64.to_le_bytes().to_vec(),
                },
            ));
        }
    }
    tensors.extend(more);
    let mut meta: HashMap<String, String> = extra.clone().into_iter().collect();
    meta.insert("format".into(), FORMAT.into());
    meta.insert(
        "scratchnet_version".into(),
        env!("CARGO_PKG_VERSION").into(),
    );
    meta.insert(
        "layers".into(),
        specs
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    );
    meta.insert("input".into(), net.input_dim().to_string());
    if let Shape::Image { c, h, w } = net.input_shape() {
        meta.insert(INPUT_SHAPE_KEY.into(), format!("{c}x{h}x{w}"));
    }
    meta.insert("classes".into(), net.classes().to_string());
    meta.insert("precision".into(), T::NAME.into());
    meta.insert("batchnorm_eps".into(), "1e-6".into());
    // Needed to continue training exactly: the dropout streams and the L2 term.
    meta.insert("network_seed".into(), net.seed().to_string());
    meta.insert("weight_decay".into(), net.weight_decay().to_string());
    if net.loss_kind() != Loss::SoftmaxCrossEntropy {
        meta.insert(LOSS_KEY.into(), net.loss_kind().name().into());
    }
    safetensors::tensor::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
        .map_err(|e| Error::Config(format!("cannot encode the checkpoint: {e}")))
}

/// The metadata entry naming a loss other than softmax with loss (a Playground model's).
pub const LOSS_KEY: &str = "loss";

/// The tensor `name`, which must exist with exactly `shape`.
fn checked_tensor<'a>(
    st: &SafeTensors<'a>,
    name: &str,
    shape: &[usize],
    path: &Path,
) -> Result<safetensors::tensor::TensorView<'a>> {
    let fmt = |what: String| Error::format(path, what);
    let view = st
        .tensor(name)
        .map_err(|_| fmt(format!("missing tensor {name} (shape {shape:?})")))?;
    if view.shape() != shape {
        return Err(fmt(format!(
            "tensor {name} has shape {:?}, this architecture needs {shape:?}",
            view.shape()
        )));
    }
    Ok(view)
}

/// Only the header metadata of a checkpoint: the file is read (safetensors checks the header
/// against the whole buffer) but no tensor is decoded and no network built.
pub fn read_metadata(path: &Path) -> Result<BTreeMap<String, String>> {
    let bytes = crate::input::read(path)?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| {
        Error::format(
            path,
            format!("not a safetensors checkpoint or truncated ({e})"),
        )
    })?;
    Ok(header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect())
}

/// A loaded model and its header metadata.
pub struct Checkpoint<T: Float> {
    /// The model, rebuilt from its layer list and weights.
    pub net: Network<T>,
    /// The file's metadata: the run record and the entries for people and PyTorch scripts.
    pub metadata: BTreeMap<String, String>,
    /// The optimizer-state tensors (`optimizer.<k>.<slot>` → shape, values), decoded with the
    /// rest of the file so [`load_training`] does not read it again.
    pub(super) optimizer: BTreeMap<String, (Vec<usize>, Vec<T>)>,
}

fn values_f64(path: &Path, name: &str, dtype: Dtype, data: &[u8]) -> Result<Vec<f64>> {
    match dtype {
        Dtype::F32 => Ok(data
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .collect()),
        Dtype::F64 => Ok(data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")))
            .collect()),
        other => Err(Error::format(
            path,
            format!("tensor {name} has dtype {other:?}, expected F32 or F64"),
        )),
    }
}

/// [`values_f64`], refusing NaN and infinities: a model with them would evaluate as a
/// plausible but meaningless one, and training would resume into NaN.
pub(super) fn finite_values(
    path: &Path,
    name: &str,
    dtype: Dtype,
    data: &[u8],
) -> Result<Vec<f64>> {
    let vals = values_f64(path, name, dtype, data)?;
    match vals.iter().position(|v| !v.is_finite()) {
        None => Ok(vals),
        Some(i) => Err(Error::format(
            path,
            format!(
                "tensor {name} holds {} at element {i}: not a usable model",
                vals[i]
            ),
        )),
    }
}

/// Loads a checkpoint into a network of precision `T` (f32 and f64 files both load into
/// either), whose GEMMs use up to `threads` threads.
pub fn load<T: Float>(path: &Path, threads: usize) -> Result<Checkpoint<T>> {
    let bytes = crate::input::read(path)?;
    load_bytes(&bytes, path, threads)
}

/// [`load`] on the bytes of a checkpoint already in memory; `path` names it in errors.
pub fn load_bytes<T: Float>(bytes: &[u8], path: &Path, threads: usize) -> Result<Checkpoint<T>> {
    let fmt = |what: String| Error::format(path, what);
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| fmt(format!("not a safetensors checkpoint or truncated ({e})")))?;
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| fmt(format!("unreadable safetensors header ({e})")))?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let layers = metadata.get("layers").ok_or_else(|| {
        fmt("not a scratchnet checkpoint: no 'layers' entry in its metadata".into())
    })?;
    // Bounded before anything is parsed or built: a header may list a million layers.
    let count = layers.split(';').count();
    if count > MAX_LAYERS {
        return Err(fmt(format!(
            "its layer list has {count} entries, more than the {MAX_LAYERS} a network may have"
        )));
    }
    let specs = layers
        .split(';')
        .map(|s| s.trim().parse::<LayerSpec>())
        .collect::<Result<Vec<_>>>()
        .map_err(|e| fmt(e.to_string()))?;
    // Check every tensor's shape against the layer list *before* building the network: the
    // sizes in a hostile header must not decide how much memory we allocate, the file's real
    // tensors (already bounds-checked by safetensors) must.
    for (i, spec) in specs.iter().enumerate() {
        let wanted: Vec<(String, Vec<usize>)> = match *spec {
            LayerSpec::Affine { n_in, n_out } => vec![
                (format!("{i}.weight"), vec![n_out, n_in]),
                (format!("{i}.bias"), vec![n_out]),
            ],
            LayerSpec::Conv {
                c_in,
                c_out,
                kh,
                kw,
                ..
            } => vec![
                (format!("{i}.weight"), vec![c_out, c_in, kh, kw]),
                (format!("{i}.bias"), vec![c_out]),
            ],
            LayerSpec::BatchNorm { dim } => ["weight", "bias", "running_mean", "running_var"]
                .iter()
                .map(|n| (format!("{i}.{n}"), vec![dim]))
                .collect(),
            _ => Vec::new(),
        };
        for (name, shape) in wanted {
            checked_tensor(&st, &name, &shape, path)?;
        }
    }
    let number = |key: &str| -> Result<Option<f64>> {
        match metadata.get(key) {
            None => Ok(None),
            Some(v) => v
                .parse::<f64>()
                .map(Some)
                .map_err(|_| fmt(format!("metadata '{key}' is not a number: '{v}'"))),
        }
    };
    let weight_decay = number("weight_decay")?.unwrap_or(0.0);
    if !(weight_decay >= 0.0 && weight_decay.is_finite()) {
        return Err(fmt(format!(
            "metadata 'weight_decay' must be a finite number ≥ 0, not {weight_decay}"
        )));
    }
    let input = input_of(&specs, &metadata, path)?;
    let last_affine = specs.iter().rev().find_map(|s| match s {
        LayerSpec::Affine { n_out, .. } => Some(*n_out),
        _ => None,
    });
    for (key, actual) in [("input", Some(input.len())), ("classes", last_affine)] {
        let Some(v) = metadata.get(key) else { continue };
        let stated: usize = v
            .parse()
            .map_err(|_| fmt(format!("metadata '{key}' is not an integer: '{v}'")))?;
        if actual.is_some_and(|a| a != stated) {
            return Err(fmt(format!(
                "metadata '{key}' says {stated}, its layer list says {}",
                actual.unwrap_or(0)
            )));
        }
    }
    // The tensors bound the weights; the activations of every layer are bounded here, by
    // what evaluating a batch would allocate.
    crate::memory::check(
        &format!("the network in {}", path.display()),
        memory_estimate(&specs, input, 1, std::mem::size_of::<T>()),
    )?;
    let seed = match metadata.get("network_seed") {
        None => 0,
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| fmt(format!("metadata 'network_seed' is not an integer: '{v}'")))?,
    };
    let mut net =
        Network::<T>::with_input(specs.clone(), input, Init::He, weight_decay, seed, threads)
            .map_err(|e| fmt(format!("its layer list does not form a network: {e}")))?;
    let loss = match metadata.get(LOSS_KEY).map(String::as_str) {
        None => Loss::SoftmaxCrossEntropy,
        Some(name) if name == Loss::SquaredError.name() => Loss::SquaredError,
        Some(other) => {
            return Err(fmt(format!(
                "its '{LOSS_KEY}' is '{other}', not a loss this version knows"
            )));
        }
    };
    net = net.with_loss(loss);

    let mut expected: Vec<String> = Vec::new();
    let mut error: Option<Error> = None;
    let mut fill =
        |name: String, shape: Vec<usize>, dst: &mut [T], transpose: Option<(usize, usize)>| {
            if error.is_some() {
                return;
            }
            expected.push(name.clone());
            let result = (|| -> Result<()> {
                let view = checked_tensor(&st, &name, &shape, path)?;
                let vals = finite_values(path, &name, view.dtype(), view.data())?;
                match transpose {
                    Some((n_in, n_out)) => {
                        for o in 0..n_out {
                            for j in 0..n_in {
                                dst[j * n_out + o] = T::from_f64(vals[o * n_in + j]);
                            }
                        }
                    }
                    None => dst
                        .iter_mut()
                        .zip(&vals)
                        .for_each(|(d, &v)| *d = T::from_f64(v)),
                }
                Ok(())
            })();
            if let Err(e) = result {
                error = Some(e);
            }
        };
    net.visit_params(&mut |i, p| {
        let shape = torch_shape(&specs[i], p.name, p.shape);
        let transpose = (shape.len() == 2).then_some(p.shape);
        fill(format!("{i}.{}", p.name), shape, p.value, transpose);
    });
    net.visit_buffers(&mut |i, name, v| {
        let len = v.len();
        fill(format!("{i}.{name}"), vec![len], v, None);
    });
    if let Some(e) = error {
        return Err(e);
    }
    let mut optimizer = BTreeMap::new();
    for name in st.names() {
        if name.starts_with(OPTIMIZER_PREFIX) {
            let view = st
                .tensor(name)
                .map_err(|e| fmt(format!("tensor {name}: {e}")))?;
            let vals = finite_values(path, name, view.dtype(), view.data())?;
            let vals = vals.into_iter().map(T::from_f64).collect();
            optimizer.insert(name.to_string(), (view.shape().to_vec(), vals));
        } else if !(expected.iter().any(|e| e == name) || name.ends_with(".num_batches_tracked")) {
            return Err(fmt(format!(
                "unexpected tensor {name} for layers '{layers}'"
            )));
        }
    }
    Ok(Checkpoint {
        net,
        metadata,
        optimizer,
    })
}
