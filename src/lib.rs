//! # scratchnet
//!
//! Neural networks from scratch, in Rust, fast: the "deep learning from scratch" course
//! (TwoLayerNet, MultiLayerNet, backprop vs numerical gradients, SGD…Adam, batch norm, MNIST)
//! rebuilt on an owned matrix engine whose matrix multiply is a ladder of kernels:
//!
//! | rung | what changes | f32 GFLOP/s, n = 1024, medians measured here |
//! | --- | --- | --: |
//! | `naive` | the textbook i-j-k loop | 0.25 |
//! | `reordered` | i-k-j: unit stride, auto-vectorised | 10.2 |
//! | `blocked` | cache blocking (MC/KC loops) | 8.0 |
//! | `packed` | packed panels + portable register-tile microkernel | 14.0 |
//! | `simd` | AVX2+FMA 6×16 microkernel | 36.0 (numpy/OpenBLAS: 36.7) |
//! | `threaded` | row bands across `std::thread` workers (2 cores) | 69.8 (numpy: 68.8) |
//!
//! An `avx512` rung (AVX-512F 8×32 kernel) sits between `simd` and `threaded`; on the Zen 3 VM
//! above it runs the `simd` kernel, and its own figures (Zen 4) are in docs/gemm.md.
//!
//! (AMD EPYC Zen 3 VM, FMA peak 41.5 GFLOP/s per core. The first four rows are the medians of
//! one `scratchnet bench gemm` report; `simd` and `threaded` are medians of runs alternated
//! with numpy's `@` in one session, side by side. docs/gemm.md has both, with the commands.)
//!
//! ## From a program of your own
//!
//! With `default-features = false` the crate is the engine and the layers on `rand`, `flate2`
//! and `byteorder` alone; the trainer, checkpoints, downloads, reports, the web app and the
//! command line are features (`train`, `download`, `picture`, `serve`, `cli`), all on by
//! default. A product on a named rung and on `auto` (`examples/gemm.rs` times them):
//!
//! ```
//! use scratchnet::{Gemm, Kernel, Matrix};
//!
//! let a = Matrix::<f32>::from_fn(3, 4, |i, j| (i + j) as f32);
//! let b = Matrix::<f32>::from_fn(4, 2, |i, j| (i * j) as f32);
//! let mut c = Matrix::<f32>::zeros(3, 2);
//! Gemm::new(Kernel::Simd).run(1.0, a.view(), b.view(), 0.0, c.view_mut())?;
//! let mut auto = Matrix::<f32>::zeros(3, 2);
//! Gemm::new(Kernel::Auto).run(1.0, a.view(), b.view(), 0.0, auto.view_mut())?;
//! assert_eq!(c, auto);
//! assert_eq!(c.get(2, 1), (2.0 * 0.0) + (3.0 * 1.0) + (4.0 * 2.0) + (5.0 * 3.0));
//! # Ok::<(), scratchnet::Error>(())
//! ```
//!
//! An MLP trained by hand on the Playground's circle: the layers, an optimizer and a loop
//! (`examples/train_circle.rs` is the same with a report per epoch):
//!
//! ```
//! use scratchnet::data::{self, DatasetName, LoadOptions};
//! use scratchnet::nn::network::Network;
//! use scratchnet::nn::softmax_with_loss::Targets;
//! use scratchnet::nn::spec::{Activation, MlpSpec};
//! use scratchnet::optim::{Optimizer, OptimizerConfig};
//!
//! let ds = data::load(DatasetName::Circle, &LoadOptions::default())?;
//! let spec = MlpSpec {
//!     input: 2, hidden: vec![30, 5, 10], classes: 2,
//!     activation: Activation::Relu, init: Activation::Relu.default_init(),
//!     batchnorm: false, dropout: None, weight_decay: 0.0,
//! };
//! let mut net = Network::<f32>::mlp(&spec, 42, 1)?;
//! let mut adam = Optimizer::new(OptimizerConfig::from_name("adam", Some(0.01))?);
//! for _epoch in 0..20 {
//!     for start in (0..ds.x_train.rows()).step_by(10) {
//!         let end = (start + 10).min(ds.x_train.rows());
//!         let x = ds.x_train.rows_range(start, end);
//!         net.gradient(&x, Targets::Labels(&ds.t_train[start..end]))?;
//!         adam.step(&mut net);
//!     }
//! }
//! assert!(net.accuracy(&ds.x_test, &ds.t_test)? > 0.95);
//! # Ok::<(), scratchnet::Error>(())
//! ```
//!
//! The numeric core ([`matrix`]) depends on one crate only, `rand`, for the random
//! initialisation its callers ask for; the GEMM ladder itself uses nothing outside `std`.
//! `unsafe` is denied crate-wide and allowed only in the AVX2 and AVX-512 microkernel modules,
//! where each block states why it is sound.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod activations;
pub mod bench;
#[cfg(feature = "train")]
pub mod checkpoint;
/// The `scratchnet` binary's command line: clap definitions (their doc comments are the
/// `--help` text) and one module per subcommand. Public so that `src/main.rs` can run it; it is
/// the binary's, not the library's API, and hidden from the docs.
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
pub mod data;
pub mod descend;
pub mod error;
pub mod gradcheck;
pub mod input;
pub mod job;
pub mod matrix;
pub mod memory;
pub mod nn;
pub mod optim;
pub mod output;
#[cfg(feature = "train")]
pub mod playground;
#[cfg(feature = "train")]
pub mod report;
#[cfg(feature = "train")]
pub mod runs;
#[cfg(feature = "train")]
pub mod search;
#[cfg(feature = "serve")]
pub mod serve;
#[cfg(feature = "train")]
pub mod session;
#[cfg(feature = "train")]
pub mod train;
#[cfg(feature = "train")]
pub mod train_job;

pub use error::{Error, Result, Setting};
pub use matrix::gemm::{Gemm, Kernel};
pub use matrix::{Float, MatMut, MatRef, Matrix};
