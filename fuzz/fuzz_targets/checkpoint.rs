//! Checkpoint loading: safetensors header, metadata, layer list, every tensor's shape/dtype,
//! then the training state a `--resume` restores (optimizer slots, counters, epoch records).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scratchnet::checkpoint;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz-input");
    if let Ok(mut ckpt) = checkpoint::load_bytes::<f32>(data, path, 1) {
        let _ = checkpoint::load_training(path, &mut ckpt);
    }
});
