//! Choosing a network: the textbook's MLP (`--hidden`…), the book's SimpleConvNet and
//! DeepConvNet (`--net simple-cnn | deep-cnn`), or any stack written out (`--layers SPEC`).
//!
//! The `--layers` grammar, items separated by commas (the output affine layer and the softmax
//! loss are added for the dataset's classes):
//!
//! ```text
//!   conv:FILTERS:KHxKW[:sSTRIDE][:pPAD]   e.g. conv:30:5x5, conv:16:3x3:s1:p1, conv:8:3
//!   maxpool:SIZE[:sSTRIDE][:pPAD]         stride defaults to SIZE
//!   avgpool:SIZE[:sSTRIDE][:pPAD]
//!   affine:UNITS   relu   sigmoid   tanh   dropout:P   batchnorm   flatten
//! ```
//!
//! A `flatten` is inserted before the first affine layer that receives an image, and before
//! the output layer, so the layer list (and a checkpoint's module indices) is exactly the
//! `nn.Sequential` PyTorch would run.

use super::shape::{self, Shape};
use super::spec::LayerSpec;
use crate::error::{Error, Result};

/// Which network a run trains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Architecture {
    /// The textbook's multi-layer perceptron, from `--hidden`, `--activation`, `--batchnorm`…
    Mlp,
    /// The book's SimpleConvNet (chapter 7).
    SimpleCnn,
    /// The book's DeepConvNet (chapter 8).
    DeepCnn,
    /// A `--layers` stack.
    Layers(String),
}

impl Architecture {
    /// The `--net` name (`mlp`, `simple-cnn`, `deep-cnn`) or `layers`.
    pub fn name(&self) -> &'static str {
        match self {
            Architecture::Mlp => "mlp",
            Architecture::SimpleCnn => "simple-cnn",
            Architecture::DeepCnn => "deep-cnn",
            Architecture::Layers(_) => "layers",
        }
    }

    /// Whether the network needs its input as images.
    pub fn is_convolutional(&self) -> bool {
        !matches!(self, Architecture::Mlp)
    }

    /// The layer list for `input` rows and `classes` classes (not for [`Architecture::Mlp`],
    /// whose list comes from its own flags).
    pub fn layer_specs(&self, input: Shape, classes: usize) -> Result<Vec<LayerSpec>> {
        match self {
            Architecture::Mlp => Err(Error::Config(
                "the MLP's layers come from --hidden and its flags".into(),
            )),
            Architecture::SimpleCnn => build(
                "conv:30:5x5,relu,maxpool:2,affine:100,relu",
                input,
                classes,
                "--net simple-cnn",
            ),
            Architecture::DeepCnn => {
                let mut specs = build(
                    "conv:16:3x3:p1,relu,conv:16:3x3:p1,relu,maxpool:2,\
                     conv:32:3x3:p1,relu,conv:32:3x3:p2,relu,maxpool:2,\
                     conv:64:3x3:p1,relu,conv:64:3x3:p1,relu,maxpool:2,\
                     affine:50,relu,dropout:0.5",
                    input,
                    classes,
                    "--net deep-cnn",
                )?;
                // The book ends DeepConvNet with dropout after the output layer too.
                specs.push(LayerSpec::Dropout { ratio: 0.5 });
                Ok(specs)
            }
            Architecture::Layers(spec) => build(spec, input, classes, "--layers"),
        }
    }
}

impl std::str::FromStr for Architecture {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mlp" => Ok(Architecture::Mlp),
            "simple-cnn" => Ok(Architecture::SimpleCnn),
            "deep-cnn" => Ok(Architecture::DeepCnn),
            other => Err(Error::Config(format!(
                "unknown --net '{other}': choose mlp, simple-cnn or deep-cnn (or give --layers)"
            ))),
        }
    }
}

/// Parses `spec` (the grammar above) for rows of `input`, checking each item against the
/// shape it receives, and appends the output layer for `classes`. Errors are one line naming
/// `flag`, the item and the shapes.
pub fn build(spec: &str, input: Shape, classes: usize, flag: &str) -> Result<Vec<LayerSpec>> {
    let mut specs = Vec::new();
    let mut cur = input;
    let items: Vec<&str> = spec.split(',').map(str::trim).collect();
    if items.iter().all(|i| i.is_empty()) {
        return Err(Error::Config(format!(
            "{flag}: give at least one layer, e.g. conv:30:5x5,relu,maxpool:2,affine:100,relu"
        )));
    }
    for (n, item) in items.iter().enumerate() {
        let fail = |why: String| Error::Config(format!("{flag}: item {} '{item}': {why}", n + 1));
        let layer = parse_item(item).map_err(&fail)?;
        // A vector layer after an image: flatten first, as the book's networks do.
        if matches!(layer, Item::Affine(_) | Item::BatchNorm) && matches!(cur, Shape::Image { .. })
        {
            specs.push(LayerSpec::Flatten);
            cur = Shape::Flat(cur.len());
        }
        let concrete = match layer {
            Item::Affine(n_out) => LayerSpec::Affine {
                n_in: cur.len(),
                n_out,
            },
            Item::BatchNorm => LayerSpec::BatchNorm { dim: cur.len() },
            Item::Conv {
                c_out,
                kh,
                kw,
                stride,
                pad,
            } => {
                let Shape::Image { c, .. } = cur else {
                    return Err(fail(format!(
                        "a conv layer needs an image, it gets a vector of {}",
                        cur.len()
                    )));
                };
                LayerSpec::Conv {
                    c_in: c,
                    c_out,
                    kh,
                    kw,
                    stride,
                    pad,
                }
            }
            Item::Layer(spec) => spec,
        };
        // The geometry check, with the item named rather than a layer index.
        let out = shape::infer(std::slice::from_ref(&concrete), cur).map_err(|e| {
            let msg = e.to_string();
            let why = msg.split_once("): ").map_or(msg.as_str(), |(_, w)| w);
            fail(why.to_string())
        })?;
        cur = out[0];
        specs.push(concrete);
    }
    if matches!(cur, Shape::Image { .. }) {
        specs.push(LayerSpec::Flatten);
        cur = Shape::Flat(cur.len());
    }
    specs.push(LayerSpec::Affine {
        n_in: cur.len(),
        n_out: classes,
    });
    Ok(specs)
}

/// One `--layers` item before the shapes are known.
enum Item {
    Conv {
        c_out: usize,
        kh: usize,
        kw: usize,
        stride: usize,
        pad: usize,
    },
    Affine(usize),
    BatchNorm,
    /// A layer complete without the input shape.
    Layer(LayerSpec),
}

fn parse_item(item: &str) -> std::result::Result<Item, String> {
    let parts: Vec<&str> = item.split(':').collect();
    let positive = |s: &str, what: &str| {
        s.parse::<usize>()
            .ok()
            .filter(|&v| v > 0)
            .ok_or_else(|| format!("{what} '{s}' is not a positive integer"))
    };
    // Trailing `sN` / `pN` options of conv and pooling layers.
    let options = |rest: &[&str], default_stride: usize| {
        let (mut stride, mut pad) = (default_stride, 0);
        for opt in rest {
            if let Some(v) = opt.strip_prefix('s') {
                stride = positive(v, "stride")?;
            } else if let Some(v) = opt.strip_prefix('p') {
                pad = v
                    .parse::<usize>()
                    .map_err(|_| format!("padding '{v}' is not a whole number"))?;
            } else {
                return Err(format!(
                    "unknown option '{opt}': use sSTRIDE or pPAD, e.g. s1, p1"
                ));
            }
        }
        Ok((stride, pad))
    };
    match parts[..] {
        ["conv", filters, kernel, ref rest @ ..] => {
            let (kh, kw) = match kernel.split_once(['x', '×']) {
                Some((h, w)) => (positive(h, "kernel height")?, positive(w, "kernel width")?),
                None => {
                    let k = positive(kernel, "kernel size")?;
                    (k, k)
                }
            };
            let (stride, pad) = options(rest, 1)?;
            Ok(Item::Conv {
                c_out: positive(filters, "filter count")?,
                kh,
                kw,
                stride,
                pad,
            })
        }
        [kind @ ("maxpool" | "avgpool"), size, ref rest @ ..] => {
            let size = positive(size, "pool size")?;
            let (stride, pad) = options(rest, size)?;
            Ok(Item::Layer(if kind == "maxpool" {
                LayerSpec::MaxPool { size, stride, pad }
            } else {
                LayerSpec::AvgPool { size, stride, pad }
            }))
        }
        ["affine", units] => Ok(Item::Affine(positive(units, "unit count")?)),
        ["dropout", p] => p
            .parse::<f64>()
            .ok()
            .filter(|r| (0.0..1.0).contains(r))
            .map(|ratio| Item::Layer(LayerSpec::Dropout { ratio }))
            .ok_or_else(|| format!("dropout ratio '{p}' is not in [0, 1)")),
        ["batchnorm"] => Ok(Item::BatchNorm),
        ["relu"] => Ok(Item::Layer(LayerSpec::Relu)),
        ["sigmoid"] => Ok(Item::Layer(LayerSpec::Sigmoid)),
        ["tanh"] => Ok(Item::Layer(LayerSpec::Tanh)),
        ["flatten"] => Ok(Item::Layer(LayerSpec::Flatten)),
        _ => Err(
            "not a layer: use conv:F:KHxKW[:sS][:pP], maxpool:S, avgpool:S, affine:N, relu, \
             sigmoid, tanh, dropout:P, batchnorm or flatten"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MNIST: Shape = Shape::Image { c: 1, h: 28, w: 28 };

    #[test]
    fn simple_cnn_is_the_books_simple_convnet() {
        let specs = Architecture::SimpleCnn.layer_specs(MNIST, 10).unwrap();
        let text: Vec<String> = specs.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            text,
            [
                "conv 1 30 5 5 1 0",
                "relu",
                "maxpool 2 2 0",
                "flatten",
                "affine 4320 100",
                "relu",
                "affine 100 10"
            ]
        );
    }

    #[test]
    fn deep_cnn_is_the_books_deep_convnet() {
        let specs = Architecture::DeepCnn.layer_specs(MNIST, 10).unwrap();
        let convs: Vec<String> = specs
            .iter()
            .filter(|s| matches!(s, LayerSpec::Conv { .. }))
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            convs,
            [
                "conv 1 16 3 3 1 1",
                "conv 16 16 3 3 1 1",
                "conv 16 32 3 3 1 1",
                "conv 32 32 3 3 1 2",
                "conv 32 64 3 3 1 1",
                "conv 64 64 3 3 1 1"
            ]
        );
        let tail: Vec<String> = specs[specs.len() - 7..]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            tail,
            [
                "maxpool 2 2 0",
                "flatten",
                "affine 1024 50",
                "relu",
                "dropout 0.5",
                "affine 50 10",
                "dropout 0.5"
            ]
        );
    }

    #[test]
    fn layers_grammar_fills_in_shapes_and_names_bad_items() {
        let specs = build(
            "conv:8:3x2:s2:p1,tanh,avgpool:2:s1,batchnorm",
            MNIST,
            3,
            "--layers",
        )
        .unwrap();
        assert_eq!(specs[0].to_string(), "conv 1 8 3 2 2 1");
        // 28 + 2 − 3 → 13 + 1 = 14 rows, 28 + 2 − 2 → 14 + 1 = 15 columns; pool 2 stride 1.
        assert_eq!(specs[2].to_string(), "avgpool 2 1 0");
        assert_eq!(specs[3], LayerSpec::Flatten);
        assert_eq!(specs[4].to_string(), format!("batchnorm {}", 8 * 13 * 14));
        assert_eq!(
            specs.last().unwrap().to_string(),
            format!("affine {} 3", 8 * 13 * 14)
        );
        let err = |s: &str| build(s, MNIST, 10, "--layers").unwrap_err().to_string();
        let e = err("conv:8:29x29");
        assert!(
            e.contains("item 1 'conv:8:29x29'") && e.contains("1×28×28"),
            "{e}"
        );
        let e = err("conv:8:5,maxpool:5");
        assert!(
            e.contains("item 2") && e.contains("does not divide") && e.contains("8×24×24"),
            "{e}"
        );
        let e = err("affine:10,conv:3:3");
        assert!(e.contains("needs an image"), "{e}");
        assert!(err("pool:2").contains("not a layer"));
        assert!(err("conv:0:3").contains("filter count"));
        assert!(err("conv:4:3:q1").contains("unknown option"));
        assert!(err("dropout:1.5").contains("[0, 1)"));
        assert!(err("").contains("at least one layer"));
    }
}
