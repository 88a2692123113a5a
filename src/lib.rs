//! # scratchnet
//!
//! Neural networks from scratch, in Rust, fast: the "deep learning from scratch" course
//! (TwoLayerNet, MultiLayerNet, backprop vs numerical gradients, SGD…Adam, batch norm, MNIST)
//! rebuilt on an owned matrix engine whose matrix multiply is a ladder of kernels:
//!
//! | rung | what changes | typical f32 GFLOP/s here (n = 1024, 1 thread) |
//! | --- | --- | --- |
//! | `naive` | the textbook i-j-k loop | see docs/gemm.md |
//! | `reordered` | i-k-j: unit stride, auto-vectorised | |
//! | `blocked` | cache blocking (MC/KC/NC loops) | |
//! | `packed` | packed panels + portable register-tile microkernel | |
//! | `simd` | AVX2+FMA 6×16 microkernel | |
//! | `threaded` | row bands across `std::thread` workers | |
//!
//! The numeric core ([`matrix`]) has no dependencies. `unsafe` is denied crate-wide and allowed
//! only in the AVX2 microkernel module, where each block states why it is sound.

#![deny(unsafe_code)]

pub mod atomic_write;
pub mod bench;
pub mod cli;
pub mod error;
pub mod matrix;
pub mod report;

pub use error::{Error, Result};
pub use matrix::gemm::{Gemm, Kernel};
pub use matrix::{Float, MatMut, MatRef, Matrix};
