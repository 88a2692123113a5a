//! CIFAR-10 binary batches, colour and grayscale.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scratchnet::data::cifar;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz-input");
    let _ = cifar::parse_batch(data, path, false);
    let _ = cifar::parse_batch(data, path, true);
});
