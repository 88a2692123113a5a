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
//! The numeric core ([`matrix`]) depends on one crate only, `rand`, for the random
//! initialisation its callers ask for; the GEMM ladder itself uses nothing outside `std`.
//! `unsafe` is denied crate-wide and allowed only in the AVX2 and AVX-512 microkernel modules,
//! where each block states why it is sound.

#![deny(unsafe_code)]

pub mod activations;
pub mod bench;
pub mod checkpoint;
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
pub mod playground;
pub mod report;
pub mod runs;
pub mod search;
pub mod serve;
pub mod session;
pub mod train;
pub mod train_job;

pub use error::{Error, Result, Setting};
pub use matrix::gemm::{Gemm, Kernel};
pub use matrix::{Float, MatMut, MatRef, Matrix};
