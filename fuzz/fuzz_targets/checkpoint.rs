//! Checkpoint loading: safetensors header, metadata, layer list, every tensor's shape/dtype.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scratchnet::checkpoint;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let _ = checkpoint::load_bytes::<f32>(data, Path::new("fuzz-input"), 1);
});
