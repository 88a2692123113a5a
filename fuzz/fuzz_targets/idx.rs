//! IDX parsing (images and labels), gzip-wrapped or raw: any bytes give Ok or a clean error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scratchnet::data::idx;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz-input");
    if let Ok(bytes) = idx::decode_maybe_gz(data.to_vec(), path) {
        let _ = idx::parse_images(&bytes, path);
        let _ = idx::parse_labels(&bytes, path);
    }
});
