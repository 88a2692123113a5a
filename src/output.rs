//! Writing the files a user names, without ever destroying what the name points at.
//!
//! A path on the command line may name a regular file, nothing yet, a symlink, a device
//! (`/dev/null`, `/dev/stdout`), a FIFO or a directory. Only the first two may be replaced, and
//! replacing must be atomic, so a reader (or a crash) sees the old content or the new, never
//! half of each. So [`write_output`]:
//!
//! - follows a symlink to its target and writes there, keeping the link;
//! - writes *through* anything that is not a regular file (a device, a FIFO): it is opened and
//!   written, never renamed over (doing so as root would replace `/dev/null` for the machine);
//! - replaces a regular file by writing a temporary file beside it, syncing it, giving it the
//!   old file's permissions and renaming it over (rename within a directory is atomic on POSIX);
//! - treats `-` as standard output, where a flag writes text.
//!
//! [`check_outputs`] runs before any work: each output must be writable, and no two outputs —
//! nor an output and an input — may be one file, compared by identity (device and inode) or by
//! canonical path, so `./x`, `x` and a link to `x` are one file.
//!
//! Standard output itself goes through [`print()`]: a reader that goes away (`| head`) is the
//! reader's choice, so printing stops quietly and the run goes on to write its files; any other
//! failure (`> /dev/full`) is remembered and reported once, as one error line, at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

/// The name that means standard output for flags that write text.
pub const STDOUT: &str = "-";

/// Whether `path` is `-`, standard output.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == STDOUT
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::io(path, source)
}

/// Symlinks followed at most, as the kernel's own limit (ELOOP) does.
const MAX_LINKS: usize = 40;

/// Where the bytes for an output path go.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Destination {
    /// `-`.
    Stdout,
    /// Opened and written as it is, never replaced: a character device or FIFO, or anything
    /// reached through `/dev` or `/proc` (`/dev/stdout` is a link to `/proc/self/fd/1`, which
    /// may point at a pipe, a terminal or the file a shell redirected to; replacing that file
    /// would cut the shell's redirection).
    Through(PathBuf),
    /// A regular file (or nothing yet) at this real path, links followed: replaced atomically.
    Replace(PathBuf),
    Directory,
    /// A disk: writing a checkpoint over it would destroy it, so it is refused.
    BlockDevice,
}

/// True for a path that lies in the kernel's own trees, where links are magic.
fn in_kernel_tree(path: &Path) -> bool {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    abs.starts_with("/dev") || abs.starts_with("/proc")
}

fn metadata_if_any(path: &Path) -> Result<Option<std::fs::Metadata>> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(path)(e)),
    }
}

#[cfg(unix)]
fn is_block_device(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    m.file_type().is_block_device()
}

#[cfg(not(unix))]
fn is_block_device(_: &std::fs::Metadata) -> bool {
    false
}

fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

fn destination(path: &Path) -> Result<Destination> {
    if is_stdout(path) {
        return Ok(Destination::Stdout);
    }
    // Follow the last component's links by hand, so a dangling link names the file to create
    // and a link into /dev or /proc is noticed before going further.
    let mut current = path.to_path_buf();
    let mut through_kernel = in_kernel_tree(&current);
    let mut hops = 0;
    while !through_kernel && is_symlink(&current) {
        if hops == MAX_LINKS {
            return Err(Error::Config(format!(
                "cannot write {}: more than {MAX_LINKS} symbolic links to follow",
                path.display()
            )));
        }
        hops += 1;
        let target = std::fs::read_link(&current).map_err(io_err(&current))?;
        current = match current.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
        through_kernel = in_kernel_tree(&current);
    }
    // Through /dev or /proc the kernel resolves the rest (its links are not plain paths).
    let meta = metadata_if_any(if through_kernel { path } else { &current })?;
    Ok(match meta {
        Some(m) if m.is_dir() => Destination::Directory,
        Some(m) if is_block_device(&m) => Destination::BlockDevice,
        _ if through_kernel => Destination::Through(path.to_path_buf()),
        Some(m) if !m.is_file() => Destination::Through(current),
        _ => Destination::Replace(current),
    })
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Writes `bytes` to the output `path` as the module doc says: `-` is standard output, links
/// are followed, devices and FIFOs written through, regular files replaced atomically with
/// their permissions kept. On error nothing at `path` has changed (for a regular file) and no
/// temporary file is left behind.
pub fn write_output(path: &Path, bytes: &[u8]) -> Result<()> {
    match destination(path)? {
        Destination::Stdout => {
            write_stdout(bytes);
            Ok(())
        }
        Destination::Directory => Err(Error::Config(format!(
            "cannot write {}: it is a directory; name a file",
            path.display()
        ))),
        Destination::BlockDevice => Err(Error::Config(format!(
            "refusing to write {}: it is a block device (a disk), not a file",
            path.display()
        ))),
        Destination::Through(target) => {
            // No create, no truncate: a device or FIFO is used as it is; a file behind
            // /dev/stdout is appended to, as the stream it stands for.
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&target)
                .map_err(io_err(path))?;
            f.write_all(bytes).map_err(io_err(path))?;
            f.flush().map_err(io_err(path))
        }
        Destination::Replace(target) => replace_atomically(&target, bytes).map_err(io_err(path)),
    }
}

fn replace_atomically(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(target);
    let name = target
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let permissions = std::fs::metadata(target).ok().map(|m| m.permissions());
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.flush()?;
        if let Some(p) = permissions {
            f.set_permissions(p)?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// One file a command reads or writes, named by the flag that names it (for messages).
#[derive(Clone, Debug)]
pub struct Named<'a> {
    /// The flag that names the file, for messages (`--log`).
    pub flag: &'a str,
    /// The file.
    pub path: &'a Path,
}

impl<'a> Named<'a> {
    /// `path`, named by `flag`.
    pub fn new(flag: &'a str, path: &'a Path) -> Self {
        Named { flag, path }
    }
}

/// A file's identity: (device, inode) when it exists, else its canonical path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Identity {
    Inode(u64, u64),
    Path(PathBuf),
    /// Standard output, a device or a FIFO: writing there replaces nothing, so sharing it is
    /// allowed (two flags may both print to the terminal).
    Shared,
}

fn identity(path: &Path) -> Result<Identity> {
    match destination(path)? {
        Destination::Stdout | Destination::Through(_) => Ok(Identity::Shared),
        Destination::Directory | Destination::BlockDevice => Ok(Identity::Path(path.to_path_buf())),
        Destination::Replace(target) => match std::fs::metadata(&target) {
            Ok(m) => Ok(inode(&m).unwrap_or_else(|| {
                Identity::Path(std::fs::canonicalize(&target).unwrap_or(target.clone()))
            })),
            Err(_) => {
                let dir = parent_dir(&target);
                let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
                Ok(Identity::Path(match target.file_name() {
                    Some(n) => dir.join(n),
                    None => dir,
                }))
            }
        },
    }
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    Some(Identity::Inode(m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn inode(_: &std::fs::Metadata) -> Option<Identity> {
    None
}

/// [`check_outputs`] for a command whose only inputs are a dataset's files: `outputs` pairs
/// each output flag with its path, if given.
pub fn check_outputs_beside_data(
    outputs: &[(&str, Option<&Path>)],
    data_files: &[PathBuf],
) -> Result<()> {
    let inputs: Vec<Named<'_>> = data_files
        .iter()
        .map(|f| Named::new("the dataset file", f))
        .collect();
    let outputs: Vec<Named<'_>> = outputs
        .iter()
        .filter_map(|&(flag, p)| p.map(|p| Named::new(flag, p)))
        .collect();
    check_outputs(&outputs, &inputs, &[])
}

/// Checks, before a run starts, that every output can be written where it points (its folder
/// exists, it is not a directory or a disk) and that no output is another output or an input.
/// Standard output (`-`), devices and FIFOs may be shared: writing through them replaces
/// nothing. The flag pairs in `may_share` may name one file on purpose (`--resume r.st --save
/// r.st` continues a checkpoint in place: it is read whole before it is atomically replaced).
pub fn check_outputs(
    outputs: &[Named<'_>],
    inputs: &[Named<'_>],
    may_share: &[(&str, &str)],
) -> Result<()> {
    let mut seen: Vec<(&Named<'_>, Identity, bool)> = Vec::new();
    for input in inputs {
        seen.push((input, identity(input.path)?, false));
    }
    for out in outputs {
        match destination(out.path)? {
            Destination::Directory => {
                return Err(Error::Config(format!(
                    "{} {}: is a directory; name a file",
                    out.flag,
                    out.path.display()
                )));
            }
            Destination::BlockDevice => {
                return Err(Error::Config(format!(
                    "{} {}: is a block device (a disk); refusing to write it",
                    out.flag,
                    out.path.display()
                )));
            }
            Destination::Replace(target) => {
                let dir = parent_dir(&target);
                if !dir.is_dir() {
                    return Err(Error::Config(format!(
                        "{} {}: directory {} does not exist",
                        out.flag,
                        out.path.display(),
                        dir.display()
                    )));
                }
            }
            Destination::Stdout | Destination::Through(_) => {}
        }
        let id = identity(out.path)?;
        if id != Identity::Shared {
            let allowed = |other: &Named<'_>| {
                may_share.iter().any(|&(a, b)| {
                    (a, b) == (out.flag, other.flag) || (b, a) == (out.flag, other.flag)
                })
            };
            if let Some((other, _, is_output)) = seen
                .iter()
                .find(|(other, i, _)| *i == id && !allowed(other))
            {
                let role = if *is_output { "output" } else { "input" };
                return Err(Error::Config(format!(
                    "{} {} and {} {} are the same file: writing one would destroy the {role}; \
                     give them different paths",
                    out.flag,
                    out.path.display(),
                    other.flag,
                    other.path.display()
                )));
            }
        }
        seen.push((out, id, true));
    }
    Ok(())
}

/// Set once standard output's reader has gone away: nothing more is printed.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);
/// The first failure writing standard output other than a closed pipe, reported at the end.
static STDOUT_ERROR: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// Writes to standard output; see the module doc for what happens when that fails.
pub fn write_stdout(bytes: &[u8]) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let mut slot = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert(e);
        }
    }
}

/// Formats and writes to standard output (what `print!` does, without its panic).
pub fn print(args: std::fmt::Arguments<'_>) {
    write_stdout(args.to_string().as_bytes());
}

/// The error that writing standard output hit, if any (a closed pipe is not one).
pub fn stdout_error() -> Option<Error> {
    let mut slot = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
    slot.take().map(|source| Error::Io {
        path: PathBuf::from("standard output"),
        source,
    })
}

/// `println!` through [`print()`](fn@crate::output::print): a closed pipe ends printing, not the run.
#[macro_export]
macro_rules! outln {
    () => { $crate::output::print(format_args!("\n")) };
    ($($arg:tt)*) => {{
        $crate::output::print(format_args!($($arg)*));
        $crate::output::print(format_args!("\n"));
    }};
}

/// `print!` through [`print()`](fn@crate::output::print).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::print(format_args!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("scratchnet-out-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn replaces_content_and_leaves_no_temp_file() {
        let dir = temp_dir("replace");
        let target = dir.join("out.txt");
        write_output(&target, b"one").unwrap();
        write_output(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let missing = dir.join("no-such-dir").join("x.txt");
        let err = write_output(&missing, b"x").unwrap_err().to_string();
        assert!(err.contains("no-such-dir"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn keeps_permissions_and_links() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("links");
        let real = dir.join("real.txt");
        std::fs::write(&real, b"old").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.join("link.txt");
        std::os::unix::fs::symlink("real.txt", &link).unwrap();
        write_output(&link, b"new").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).unwrap(), b"new");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        // A dangling link creates its target.
        let dangling = dir.join("dangling.txt");
        std::os::unix::fs::symlink("created.txt", &dangling).unwrap();
        write_output(&dangling, b"x").unwrap();
        assert_eq!(std::fs::read(dir.join("created.txt")).unwrap(), b"x");
        assert!(
            std::fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refuses_a_directory() {
        let dir = temp_dir("dir");
        let err = write_output(&dir, b"x").unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
        assert!(dir.is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn collisions_are_found_through_dots_and_links() {
        let dir = temp_dir("collide");
        let a = dir.join("a.st");
        std::fs::write(&a, b"ckpt").unwrap();
        let dotted = dir.join(".").join("a.st");
        let err = check_outputs(
            &[Named::new("--log", &dotted)],
            &[Named::new("--resume", &a)],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--log") && err.contains("--resume"), "{err}");
        // Two outputs that do not exist yet.
        let b = dir.join("b.csv");
        let b2 = dir.join("sub").join("..").join("b.csv");
        std::fs::create_dir(dir.join("sub")).unwrap();
        let err = check_outputs(
            &[Named::new("--save", &b), Named::new("--log", &b2)],
            &[],
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("--save") && err.contains("--log"), "{err}");
        // Distinct files pass; standard output may be shared.
        let c = dir.join("c.svg");
        let dash = Path::new(STDOUT);
        check_outputs(
            &[
                Named::new("--plot", &c),
                Named::new("--log", dash),
                Named::new("--summary-json", dash),
            ],
            &[Named::new("--resume", &a)],
            &[],
        )
        .unwrap();
        // A pair the command allows: continuing a checkpoint in place.
        check_outputs(
            &[Named::new("--save", &a)],
            &[Named::new("--resume", &a)],
            &[("--save", "--resume")],
        )
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
