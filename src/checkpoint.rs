//! Checkpoints in safetensors, laid out so PyTorch loads them straight into the equivalent
//! `torch.nn.Sequential` of `Linear`, `BatchNorm1d` and activation modules:
//!
//! - tensor names are PyTorch's `state_dict` keys: `0.weight`, `0.bias`, `1.running_mean`, …
//!   (the index is the layer's position in the sequence; activations and dropout have none);
//! - an affine weight is stored `[out, in]` as `nn.Linear` keeps it (our `W` is `[in, out]`, so
//!   it is transposed on save and on load); batch norm also gets `num_batches_tracked`;
//! - the header metadata carries the layer list (`layers`), input size, class count,
//!   precision, scratchnet version, and whatever the caller adds (dataset, progress).
//!
//! Files are written atomically (temporary file, sync, rename). Loading checks every tensor's
//! presence, dtype and shape and names the offender.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, View};

use crate::atomic_write::write_atomic;
use crate::error::{Error, Result};
use crate::matrix::Float;
use crate::nn::init::Init;
use crate::nn::network::{LayerSpec, Network};

/// The `format` metadata value of a scratchnet checkpoint.
pub const FORMAT: &str = "scratchnet-mlp";

/// An owned tensor ready for serialisation.
struct Owned {
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

fn float_tensor<T: Float>(shape: Vec<usize>, values: impl Iterator<Item = T>) -> Owned {
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

/// The PyTorch shape of a parameter: `[out, in]` for affine weights, `[n]` otherwise.
fn torch_shape(spec: &LayerSpec, name: &str, shape: (usize, usize)) -> Vec<usize> {
    match spec {
        LayerSpec::Affine { n_in, n_out } if name == "weight" => vec![*n_out, *n_in],
        _ => vec![shape.0 * shape.1],
    }
}

/// Writes `net` to `path` with `extra` metadata (dataset, epochs, …) added to the header.
pub fn save<T: Float>(
    net: &mut Network<T>,
    extra: &BTreeMap<String, String>,
    path: &Path,
) -> Result<()> {
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
    meta.insert("classes".into(), net.classes().to_string());
    meta.insert("precision".into(), T::NAME.into());
    meta.insert("batchnorm_eps".into(), "1e-6".into());
    let bytes =
        safetensors::tensor::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), Some(meta))
            .map_err(|e| Error::Config(format!("cannot encode the checkpoint: {e}")))?;
    write_atomic(path, &bytes)
}

/// A loaded model and its header metadata.
pub struct Checkpoint<T: Float> {
    pub net: Network<T>,
    pub metadata: BTreeMap<String, String>,
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
        other => Err(Error::Format {
            path: path.to_path_buf(),
            what: format!("tensor {name} has dtype {other:?}, expected F32 or F64"),
        }),
    }
}

/// Loads a checkpoint into a network of precision `T` (f32 and f64 files both load into
/// either), whose GEMMs use up to `threads` threads.
pub fn load<T: Float>(path: &Path, threads: usize) -> Result<Checkpoint<T>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let fmt = |what: String| Error::Format {
        path: path.to_path_buf(),
        what,
    };
    let st = SafeTensors::deserialize(&bytes)
        .map_err(|e| fmt(format!("not a safetensors checkpoint or truncated ({e})")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
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
    let specs = layers
        .split(';')
        .map(|s| s.trim().parse::<LayerSpec>())
        .collect::<Result<Vec<_>>>()
        .map_err(|e| fmt(e.to_string()))?;
    let mut net = Network::<T>::from_specs(specs.clone(), Init::He, 0.0, 0, threads)
        .map_err(|e| fmt(format!("its layer list does not form a network: {e}")))?;

    let mut expected: Vec<String> = Vec::new();
    let mut error: Option<Error> = None;
    let mut fill =
        |name: String, shape: Vec<usize>, dst: &mut [T], transpose: Option<(usize, usize)>| {
            if error.is_some() {
                return;
            }
            expected.push(name.clone());
            let result = (|| -> Result<()> {
                let view = st
                    .tensor(&name)
                    .map_err(|_| fmt(format!("missing tensor {name} (shape {shape:?})")))?;
                if view.shape() != shape.as_slice() {
                    return Err(fmt(format!(
                        "tensor {name} has shape {:?}, this architecture needs {shape:?}",
                        view.shape()
                    )));
                }
                let vals = values_f64(path, &name, view.dtype(), view.data())?;
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
    for name in st.names() {
        let known = expected.iter().any(|e| e == name) || name.ends_with(".num_batches_tracked");
        if !known {
            return Err(fmt(format!(
                "unexpected tensor {name} for layers '{layers}'"
            )));
        }
    }
    Ok(Checkpoint { net, metadata })
}
