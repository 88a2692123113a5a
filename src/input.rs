//! Reading a file the user named (`--model`, `--resume`, `--image`) whole into memory, with
//! what a path can point at turned into one-line errors rather than a hang or an abort.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::memory;

/// The bytes of the file at `path`.
///
/// A device is refused: `/dev/zero` and `/dev/urandom` never end, and reading one would fill
/// the memory before anything could say what was wrong. A regular file larger than the memory
/// available is refused before it is read. A pipe (`--model <(…)`) is read as it comes, up to
/// the memory available.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if is_device(&meta) {
        return Err(Error::format(path, "is a device, not a file"));
    }
    if meta.is_dir() {
        return Err(Error::format(path, "is a folder, not a file"));
    }
    let what = format!("reading {}", path.display());
    let available = memory::available();
    if meta.is_file() {
        memory::check_against(&what, Some(meta.len()), available)?;
    }
    let limit = available.unwrap_or(u64::MAX);
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        // A pipe that outgrew the memory (a regular file was checked above).
        memory::check_against(&what, Some(bytes.len() as u64), available)?;
    }
    Ok(bytes)
}

#[cfg(unix)]
fn is_device(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    meta.file_type().is_char_device() || meta.file_type().is_block_device()
}

#[cfg(not(unix))]
fn is_device(_: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_and_devices_and_folders_are_refused() {
        let dir = std::env::temp_dir().join(format!("scratchnet-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.bin");
        std::fs::write(&file, b"bytes").unwrap();
        assert_eq!(read(&file).unwrap(), b"bytes");
        let e = read(&dir).unwrap_err().to_string();
        assert!(e.contains("is a folder"), "{e}");
        #[cfg(unix)]
        for device in ["/dev/zero", "/dev/null"] {
            let e = read(Path::new(device)).unwrap_err().to_string();
            assert!(e.contains("is a device, not a file"), "{e}");
        }
        let e = read(&dir.join("missing")).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
