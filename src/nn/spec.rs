//! What a network is made of, as data: the layer list ([`LayerSpec`]) that the CLI parses, the
//! builder consumes and a checkpoint stores; the textbook's MLP ([`MlpSpec`]); and what can be
//! said about a layer list without building it (its description, its memory).

use super::init::Init;
use super::shape::Shape;
use crate::error::{Error, Result, Setting};

/// Rows per forward pass when evaluating a whole dataset: big enough for the GEMM to use every
/// thread, small enough that activations stay a few MiB.
pub const EVAL_BATCH: usize = 5000;

/// The hidden layers' nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// 1 / (1 + e⁻ˣ).
    Sigmoid,
    /// tanh x.
    Tanh,
}

impl Activation {
    /// The name the CLI and checkpoints use: `relu`, `sigmoid`, `tanh`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
        }
    }

    /// The textbook's pairing: He for ReLU, Xavier for sigmoid and tanh.
    pub fn default_init(self) -> Init {
        match self {
            Activation::Relu => Init::He,
            Activation::Sigmoid | Activation::Tanh => Init::Xavier,
        }
    }

    fn spec(self) -> LayerSpec {
        match self {
            Activation::Relu => LayerSpec::Relu,
            Activation::Sigmoid => LayerSpec::Sigmoid,
            Activation::Tanh => LayerSpec::Tanh,
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "relu" => Ok(Activation::Relu),
            "sigmoid" => Ok(Activation::Sigmoid),
            "tanh" => Ok(Activation::Tanh),
            _ => Err(Error::Config(format!(
                "unknown activation '{s}': choose relu, sigmoid or tanh"
            ))),
        }
    }
}

/// One layer of a network as the CLI parses it, the builder consumes it and a checkpoint
/// stores it. Adding a layer kind here makes every `match` on it fail to compile until the
/// builder and the checkpoint handle it too.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    /// `nn.Linear(n_in, n_out)`: X·W + b.
    Affine {
        /// Inputs per row.
        n_in: usize,
        /// Outputs per row.
        n_out: usize,
    },
    /// `nn.BatchNorm1d(dim)`.
    BatchNorm {
        /// Features normalised.
        dim: usize,
    },
    /// `nn.ReLU()`.
    Relu,
    /// `nn.Sigmoid()`.
    Sigmoid,
    /// `nn.Tanh()`.
    Tanh,
    /// `nn.Dropout(ratio)`.
    Dropout {
        /// The share dropped in training.
        ratio: f64,
    },
    /// `nn.Conv2d(c_in, c_out, (kh, kw), stride, pad)`.
    Conv {
        /// Input channels.
        c_in: usize,
        /// Output channels (filters).
        c_out: usize,
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
        /// Step between windows.
        stride: usize,
        /// Zero padding on every side.
        pad: usize,
    },
    /// `nn.MaxPool2d(size, stride, pad)`.
    MaxPool {
        /// Window side.
        size: usize,
        /// Step between windows.
        stride: usize,
        /// Padding on every side (ignored by the maximum).
        pad: usize,
    },
    /// `nn.AvgPool2d(size, stride, pad)` (padding counted in the mean, PyTorch's default).
    AvgPool {
        /// Window side.
        size: usize,
        /// Step between windows.
        stride: usize,
        /// Zero padding on every side.
        pad: usize,
    },
    /// `nn.Flatten()`: an image batch becomes a batch of vectors.
    Flatten,
}

impl std::fmt::Display for LayerSpec {
    /// The compact form checkpoints store: `affine 784 100`, `batchnorm 100`, `relu`,
    /// `sigmoid`, `tanh`, `dropout 0.5`, `conv IN OUT KH KW STRIDE PAD`, `maxpool SIZE STRIDE
    /// PAD`, `avgpool SIZE STRIDE PAD`, `flatten`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayerSpec::Affine { n_in, n_out } => write!(f, "affine {n_in} {n_out}"),
            LayerSpec::BatchNorm { dim } => write!(f, "batchnorm {dim}"),
            LayerSpec::Relu => write!(f, "relu"),
            LayerSpec::Sigmoid => write!(f, "sigmoid"),
            LayerSpec::Tanh => write!(f, "tanh"),
            LayerSpec::Dropout { ratio } => write!(f, "dropout {ratio}"),
            LayerSpec::Conv {
                c_in,
                c_out,
                kh,
                kw,
                stride,
                pad,
            } => write!(f, "conv {c_in} {c_out} {kh} {kw} {stride} {pad}"),
            LayerSpec::MaxPool { size, stride, pad } => {
                write!(f, "maxpool {size} {stride} {pad}")
            }
            LayerSpec::AvgPool { size, stride, pad } => {
                write!(f, "avgpool {size} {stride} {pad}")
            }
            LayerSpec::Flatten => write!(f, "flatten"),
        }
    }
}

impl std::str::FromStr for LayerSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        let bad = || Error::Config(format!("invalid layer description '{s}'"));
        let num = |i: usize| {
            parts
                .get(i)
                .and_then(|p| p.parse::<usize>().ok())
                .ok_or_else(bad)
        };
        Ok(match parts.first().copied() {
            Some("affine") if parts.len() == 3 => LayerSpec::Affine {
                n_in: num(1)?,
                n_out: num(2)?,
            },
            Some("batchnorm") if parts.len() == 2 => LayerSpec::BatchNorm { dim: num(1)? },
            Some("relu") if parts.len() == 1 => LayerSpec::Relu,
            Some("sigmoid") if parts.len() == 1 => LayerSpec::Sigmoid,
            Some("tanh") if parts.len() == 1 => LayerSpec::Tanh,
            Some("conv") if parts.len() == 7 => LayerSpec::Conv {
                c_in: num(1)?,
                c_out: num(2)?,
                kh: num(3)?,
                kw: num(4)?,
                stride: num(5)?,
                pad: num(6)?,
            },
            Some("maxpool") if parts.len() == 4 => LayerSpec::MaxPool {
                size: num(1)?,
                stride: num(2)?,
                pad: num(3)?,
            },
            Some("avgpool") if parts.len() == 4 => LayerSpec::AvgPool {
                size: num(1)?,
                stride: num(2)?,
                pad: num(3)?,
            },
            Some("flatten") if parts.len() == 1 => LayerSpec::Flatten,
            Some("dropout") if parts.len() == 2 => LayerSpec::Dropout {
                ratio: parts[1]
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..1.0).contains(r))
                    .ok_or_else(bad)?,
            },
            _ => return Err(bad()),
        })
    }
}

/// The most layers a network may have. The deepest textbook network has a few dozen; the
/// bound keeps a crafted layer list (a million `relu` entries) from allocating gigabytes.
pub const MAX_LAYERS: usize = 1000;

/// The most bytes the activations of one evaluation batch may take: a network whose rows are
/// wide (a CNN's feature maps: 100 K values per image for DeepConvNet) evaluates in batches
/// smaller than [`EVAL_BATCH`] so that 5,000 images never cost gigabytes.
pub const EVAL_BYTES: usize = 256 << 20;

/// Values per row that a forward pass keeps: the input and every layer's output.
pub fn row_values(specs: &[LayerSpec], input: Shape) -> usize {
    let shapes = super::shape::infer(specs, input).unwrap_or_default();
    shapes
        .iter()
        .fold(input.len(), |sum, s| sum.saturating_add(s.len()))
}

/// Rows per evaluation batch for `specs` on `input` in `elem_bytes`-byte values:
/// [`EVAL_BATCH`], or fewer where the activations would pass [`EVAL_BYTES`].
pub fn eval_batch(specs: &[LayerSpec], input: Shape, elem_bytes: usize) -> usize {
    let per_row = row_values(specs, input).saturating_mul(elem_bytes).max(1);
    (EVAL_BYTES / per_row).clamp(1, EVAL_BATCH)
}

/// Bytes a network of `specs` fed rows of `input` needs to train on batches of `batch` rows
/// in precision `T` (values, gradients and two optimizer slots per parameter; activations,
/// their gradients and one cache per layer for the larger of the batch and the evaluation
/// batch; each conv layer's im2col buffers for one image), or `None` when that is too large to count. An
/// estimate to refuse impossible sizes up front, not a budget.
pub fn memory_estimate(
    specs: &[LayerSpec],
    input: Shape,
    batch: usize,
    elem_bytes: usize,
) -> Option<u64> {
    let rows = batch.max(eval_batch(specs, input, elem_bytes)) as u64;
    let shapes = super::shape::infer(specs, input).unwrap_or_default();
    let mut params = 0u64;
    let mut buffers = 0u64;
    // Every layer's output is a rows × width matrix, whatever the layer: a crafted list of a
    // thousand activations after one wide layer costs a thousand such matrices.
    let mut widths = input.len() as u64;
    let mut before = input;
    for (i, spec) in specs.iter().enumerate() {
        match *spec {
            LayerSpec::Affine { n_in, n_out } => {
                params = params
                    .checked_add(crate::memory::product(&[n_in, n_out])?)?
                    .checked_add(n_out as u64)?;
            }
            LayerSpec::BatchNorm { dim } => {
                params = params.checked_add((dim as u64).checked_mul(4)?)?;
            }
            LayerSpec::Conv {
                c_in,
                c_out,
                kh,
                kw,
                ..
            } => {
                params = params
                    .checked_add(crate::memory::product(&[c_out, c_in, kh, kw])?)?
                    .checked_add(c_out as u64)?;
                // One image's col and dcol.
                let positions = shapes.get(i).map_or(0, |s| s.len() / c_out.max(1)) as u64;
                let col = crate::memory::product(&[c_in, kh, kw])?.checked_mul(positions)?;
                buffers = buffers.checked_add(col.checked_mul(2)?)?;
            }
            _ => {}
        }
        let width = shapes.get(i).copied().unwrap_or(before);
        widths = widths.checked_add(width.len() as u64)?;
        before = width;
    }
    let values = params
        .checked_mul(4)?
        .checked_add(rows.checked_mul(widths)?.checked_mul(3)?)?
        .checked_add(buffers)?;
    values.checked_mul(elem_bytes as u64)
}

/// A multi-layer perceptron as the textbook's `MultiLayerNetExtend` describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpSpec {
    /// Inputs per sample.
    pub input: usize,
    /// Hidden layer widths; empty for a linear (softmax-regression) model.
    pub hidden: Vec<usize>,
    /// Output classes.
    pub classes: usize,
    /// The activation after each hidden affine layer (and its batch norm).
    pub activation: Activation,
    /// How the weights start.
    pub init: Init,
    /// Batch normalisation after each hidden affine layer.
    pub batchnorm: bool,
    /// Dropout after each hidden activation, with this ratio.
    pub dropout: Option<f64>,
    /// L2 coefficient λ: ½λ‖W‖² in the loss, λW in the gradient.
    pub weight_decay: f64,
}

impl MlpSpec {
    /// Rejects impossible configurations with a message naming the flag.
    pub fn validate(&self) -> Result<()> {
        if self.input == 0 || self.classes < 2 {
            return Err(Error::Config(format!(
                "a network needs at least 1 input and 2 classes (got {} and {})",
                self.input, self.classes
            )));
        }
        if self.hidden.contains(&0) {
            return Err(Error::invalid(
                Setting::Hidden,
                "must give every layer at least 1 unit",
            ));
        }
        if let Some(p) = self.dropout
            && !(0.0..1.0).contains(&p)
        {
            return Err(Error::invalid(
                Setting::Dropout,
                format!("must be in [0, 1), got {p}"),
            ));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(Error::invalid(
                Setting::WeightDecay,
                format!("must be a finite number ≥ 0, got {}", self.weight_decay),
            ));
        }
        Ok(())
    }

    /// The layer sequence: [Affine, BatchNorm?, activation, Dropout?] per hidden layer, then the
    /// output Affine — the order of PyTorch's `nn.Sequential` for the same model.
    pub fn layer_specs(&self) -> Vec<LayerSpec> {
        let mut specs = Vec::new();
        let mut n_in = self.input;
        for &h in &self.hidden {
            specs.push(LayerSpec::Affine { n_in, n_out: h });
            if self.batchnorm {
                specs.push(LayerSpec::BatchNorm { dim: h });
            }
            specs.push(self.activation.spec());
            if let Some(ratio) = self.dropout.filter(|&r| r > 0.0) {
                specs.push(LayerSpec::Dropout { ratio });
            }
            n_in = h;
        }
        specs.push(LayerSpec::Affine {
            n_in,
            n_out: self.classes,
        });
        specs
    }
}

/// The activation of a layer list (its first), or `none` for a linear model.
pub fn activation_of(specs: &[LayerSpec]) -> &'static str {
    specs
        .iter()
        .find_map(|s| match s {
            LayerSpec::Relu => Some("relu"),
            LayerSpec::Sigmoid => Some("sigmoid"),
            LayerSpec::Tanh => Some("tanh"),
            _ => None,
        })
        .unwrap_or("none")
}

/// The affine layers' widths, input first: `[784, 100, 50, 10]`.
pub fn widths(specs: &[LayerSpec]) -> Vec<usize> {
    let mut sizes = Vec::new();
    for s in specs {
        if let LayerSpec::Affine { n_in, n_out } = *s {
            if sizes.is_empty() {
                sizes.push(n_in);
            }
            sizes.push(n_out);
        }
    }
    sizes
}

/// The dropout ratio of a layer list, if it has dropout.
pub fn dropout_of(specs: &[LayerSpec]) -> Option<f64> {
    specs.iter().find_map(|s| match s {
        LayerSpec::Dropout { ratio } => Some(*ratio),
        _ => None,
    })
}

/// Whether a layer list has batch normalisation.
pub fn has_batchnorm(specs: &[LayerSpec]) -> bool {
    specs
        .iter()
        .any(|s| matches!(s, LayerSpec::BatchNorm { .. }))
}

/// `784-100-50-10 relu +bn +dropout 0.5` from an MLP's layer list; a convolutional one is
/// listed layer by layer: `conv 1→30 5×5, relu, maxpool 2, flatten, affine 4320→100, …`.
pub fn describe_layers(specs: &[LayerSpec]) -> String {
    let windowed = |s: &LayerSpec| {
        matches!(
            s,
            LayerSpec::Conv { .. } | LayerSpec::MaxPool { .. } | LayerSpec::AvgPool { .. }
        )
    };
    if specs.iter().any(windowed) {
        let items: Vec<String> = specs
            .iter()
            .map(|s| match *s {
                LayerSpec::Conv {
                    c_in,
                    c_out,
                    kh,
                    kw,
                    stride,
                    pad,
                } => {
                    let mut t = format!("conv {c_in}→{c_out} {kh}×{kw}");
                    if stride != 1 {
                        t.push_str(&format!(" s{stride}"));
                    }
                    if pad != 0 {
                        t.push_str(&format!(" p{pad}"));
                    }
                    t
                }
                LayerSpec::MaxPool { size, .. } => format!("maxpool {size}"),
                LayerSpec::AvgPool { size, .. } => format!("avgpool {size}"),
                LayerSpec::Affine { n_in, n_out } => format!("affine {n_in}→{n_out}"),
                ref other => other.to_string(),
            })
            .collect();
        return items.join(", ");
    }
    let sizes: Vec<String> = widths(specs).iter().map(|s| s.to_string()).collect();
    let mut out = format!("{} {}", sizes.join("-"), activation_of(specs));
    if has_batchnorm(specs) {
        out.push_str(" +bn");
    }
    if let Some(ratio) = dropout_of(specs) {
        out.push_str(&format!(" +dropout {ratio}"));
    }
    out
}
