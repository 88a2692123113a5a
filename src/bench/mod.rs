//! Measurement: the machine's FMA peak and GEMM throughput, as library calls the CLI, the
//! `cargo bench` harness and tests share. Formatting lives in `report` (feature `train`).

pub mod environment;
pub mod gemm;
pub mod peak;
pub mod stream;
