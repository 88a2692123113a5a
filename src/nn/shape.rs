//! What flows between layers: a batch is always a `Matrix` of N rows, and each row is either a
//! vector or an image of c×h×w values in NCHW order. [`infer`] walks a layer list from the
//! input's shape, checks that every layer fits what it receives, and says what it passes on.

use super::im2col::Window;
use super::spec::LayerSpec;
use crate::error::{Error, Result};

/// The shape of one row of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A vector of this many features.
    Flat(usize),
    /// An image: channels, height, width (row = c·h·w values, NCHW).
    Image {
        /// Channels.
        c: usize,
        /// Height.
        h: usize,
        /// Width.
        w: usize,
    },
}

impl Shape {
    /// Values per row.
    pub fn len(&self) -> usize {
        match *self {
            Shape::Flat(n) => n,
            Shape::Image { c, h, w } => c.saturating_mul(h).saturating_mul(w),
        }
    }

    /// Whether a row holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `784` or `1×28×28`.
    pub fn describe(&self) -> String {
        match *self {
            Shape::Flat(n) => n.to_string(),
            Shape::Image { c, h, w } => format!("{c}×{h}×{w}"),
        }
    }

    /// The input shape of a dataset: its image shape when it has one, else its width.
    pub fn of_input(features: usize, image: Option<(usize, usize, usize)>) -> Shape {
        match image {
            Some((c, h, w)) if c * h * w == features => Shape::Image { c, h, w },
            _ => Shape::Flat(features),
        }
    }
}

/// The window a convolution or pooling layer slides over an image of `shape`.
pub fn window(spec: &LayerSpec, c: usize, h: usize, w: usize) -> Option<Window> {
    let (kh, kw, stride, pad) = match *spec {
        LayerSpec::Conv {
            kh,
            kw,
            stride,
            pad,
            ..
        } => (kh, kw, stride, pad),
        LayerSpec::MaxPool { size, stride, pad } | LayerSpec::AvgPool { size, stride, pad } => {
            (size, size, stride, pad)
        }
        _ => return None,
    };
    Some(Window {
        c,
        h,
        w,
        kh,
        kw,
        stride,
        pad,
    })
}

/// The shape after each layer of `specs` fed rows of `input` (`out[i]` is layer i's output),
/// or a one-line error naming the first layer that does not fit and the shapes involved.
pub fn infer(specs: &[LayerSpec], input: Shape) -> Result<Vec<Shape>> {
    let mut shapes = Vec::with_capacity(specs.len());
    let mut cur = input;
    for (i, spec) in specs.iter().enumerate() {
        let bad = |why: String| Error::Config(format!("layer {i} ({spec}): {why}"));
        cur = match (spec, cur) {
            (&LayerSpec::Affine { n_in, n_out }, Shape::Flat(n)) => {
                if n_in != n || n_out == 0 {
                    return Err(bad(format!("takes {n_in} features, gets {n}")));
                }
                Shape::Flat(n_out)
            }
            (&LayerSpec::Affine { .. }, Shape::Image { .. }) => {
                return Err(bad(format!(
                    "gets a {} image: flatten it first",
                    cur.describe()
                )));
            }
            (&LayerSpec::BatchNorm { dim }, Shape::Flat(n)) => {
                if dim != n {
                    return Err(bad(format!("normalises {dim} features, gets {n}")));
                }
                cur
            }
            (&LayerSpec::BatchNorm { .. }, Shape::Image { .. }) => {
                return Err(bad(format!(
                    "batch norm of images (BatchNorm2d) is not supported; it gets a {} image",
                    cur.describe()
                )));
            }
            (&LayerSpec::Conv { c_in, c_out, .. }, Shape::Image { c, h, w }) => {
                if c_in != c || c_out == 0 {
                    return Err(bad(format!(
                        "takes {c_in} channels, gets a {} image",
                        cur.describe()
                    )));
                }
                let win = window(spec, c, h, w).expect("a conv has a window");
                let (Some(oh), Some(ow)) = (win.out_h(), win.out_w()) else {
                    return Err(bad(format!(
                        "a {}×{} kernel (stride {}, padding {}) does not fit a {} image",
                        win.kh,
                        win.kw,
                        win.stride,
                        win.pad,
                        cur.describe()
                    )));
                };
                Shape::Image {
                    c: c_out,
                    h: oh,
                    w: ow,
                }
            }
            (&LayerSpec::MaxPool { size, stride, pad }, Shape::Image { c, h, w })
            | (&LayerSpec::AvgPool { size, stride, pad }, Shape::Image { c, h, w }) => {
                let win = window(spec, c, h, w).expect("a pool has a window");
                if pad > size / 2 {
                    return Err(bad(format!(
                        "padding {pad} is more than half the {size}×{size} window"
                    )));
                }
                let (Some(oh), Some(ow)) = (win.out_h(), win.out_w()) else {
                    return Err(bad(format!(
                        "a {size}×{size} window (stride {stride}, padding {pad}) does not fit a \
                         {} image",
                        cur.describe()
                    )));
                };
                let covered_h = (oh - 1) * stride + size;
                let covered_w = (ow - 1) * stride + size;
                if covered_h != h + 2 * pad || covered_w != w + 2 * pad {
                    return Err(bad(format!(
                        "a {size}×{size} window with stride {stride} does not divide a {} image \
                         (padded {}×{}): it would drop the last {} row(s) and {} column(s)",
                        cur.describe(),
                        h + 2 * pad,
                        w + 2 * pad,
                        h + 2 * pad - covered_h,
                        w + 2 * pad - covered_w
                    )));
                }
                Shape::Image { c, h: oh, w: ow }
            }
            (LayerSpec::Conv { .. } | LayerSpec::MaxPool { .. } | LayerSpec::AvgPool { .. }, _) => {
                return Err(bad(format!(
                    "needs an image, gets a vector of {}",
                    cur.len()
                )));
            }
            (LayerSpec::Flatten, _) => Shape::Flat(cur.len()),
            (
                LayerSpec::Relu | LayerSpec::Sigmoid | LayerSpec::Tanh | LayerSpec::Dropout { .. },
                _,
            ) => cur,
        };
        shapes.push(cur);
    }
    Ok(shapes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(c_in: usize, c_out: usize, k: usize, stride: usize, pad: usize) -> LayerSpec {
        LayerSpec::Conv {
            c_in,
            c_out,
            kh: k,
            kw: k,
            stride,
            pad,
        }
    }

    #[test]
    fn the_books_simple_convnet_has_the_books_shapes() {
        let specs = vec![
            conv(1, 30, 5, 1, 0),
            LayerSpec::Relu,
            LayerSpec::MaxPool {
                size: 2,
                stride: 2,
                pad: 0,
            },
            LayerSpec::Flatten,
            LayerSpec::Affine {
                n_in: 4320,
                n_out: 100,
            },
        ];
        let input = Shape::Image { c: 1, h: 28, w: 28 };
        let shapes = infer(&specs, input).unwrap();
        assert_eq!(
            shapes[0],
            Shape::Image {
                c: 30,
                h: 24,
                w: 24
            }
        );
        assert_eq!(
            shapes[2],
            Shape::Image {
                c: 30,
                h: 12,
                w: 12
            }
        );
        assert_eq!(shapes[4], Shape::Flat(100));
    }

    #[test]
    fn misfits_name_the_layer_and_the_shapes() {
        let input = Shape::Image { c: 1, h: 4, w: 4 };
        let err = infer(&[conv(1, 8, 5, 1, 0)], input)
            .unwrap_err()
            .to_string();
        assert!(err.contains("layer 0") && err.contains("1×4×4"), "{err}");
        let err = infer(&[conv(3, 8, 3, 1, 1)], input)
            .unwrap_err()
            .to_string();
        assert!(err.contains("takes 3 channels"), "{err}");
        let pool = LayerSpec::MaxPool {
            size: 3,
            stride: 3,
            pad: 0,
        };
        let err = infer(&[pool], input).unwrap_err().to_string();
        assert!(err.contains("does not divide"), "{err}");
        let affine = LayerSpec::Affine { n_in: 16, n_out: 2 };
        let err = infer(std::slice::from_ref(&affine), input)
            .unwrap_err()
            .to_string();
        assert!(err.contains("flatten"), "{err}");
        assert!(infer(&[LayerSpec::Flatten, affine], input).is_ok());
    }
}
