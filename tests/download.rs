//! Dataset downloads against a small HTTP server on 127.0.0.1 run inside the test: success,
//! fallback after a 404, checksum mismatch, and a connection dropped mid-file, for per-file
//! `.gz` datasets and for a `.tar.gz` archive like CIFAR-10's. A failure must leave nothing
//! under the final names.

mod common;

use std::io::{Read, Write};

use common::gz;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use scratchnet::data::download::{self, ArchiveSpec, FileSpec, Source, Verification};

const CONTENT: &[u8] = b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03";

/// The request path of the HTTP request read from `s` (`/` if it cannot be read).
fn request_path(s: &mut std::net::TcpStream) -> String {
    let mut req = Vec::new();
    let mut buf = [0u8; 1024];
    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    let line = String::from_utf8_lossy(&req);
    line.split_whitespace().nth(1).unwrap_or("/").to_string()
}

/// Serves requests until the test ends: `/ok/…` the gzipped CONTENT, `/bad/…` other bytes,
/// `/drop/…` half of the body after promising all of it, anything else 404.
fn serve() -> String {
    serve_body(gz(CONTENT))
}

/// As [`serve`], with `body` served under `/ok/` and `/drop/`.
fn serve_body(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut s) = stream else { continue };
            let path = request_path(&mut s);
            let reply = |s: &mut std::net::TcpStream, status: &str, body: &[u8], send: usize| {
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body[..send]);
            };
            if path.starts_with("/ok/") {
                reply(&mut s, "200 OK", &body, body.len());
            } else if path.starts_with("/bad/") {
                let other = gz(b"something else entirely");
                reply(&mut s, "200 OK", &other, other.len());
            } else if path.starts_with("/drop/") {
                reply(&mut s, "200 OK", &body, body.len() / 2);
            } else {
                reply(&mut s, "404 Not Found", b"no", 2);
            }
        }
    });
    format!("http://{addr}")
}

fn spec() -> FileSpec {
    FileSpec {
        name: "t10k-labels-idx1-ubyte",
        remote: "t10k-labels-idx1-ubyte.gz",
        sha256: Box::leak(download::sha256_hex(CONTENT).into_boxed_str()),
        size: CONTENT.len() as u64,
    }
}

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scratchnet-dl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that a download failed saying `needle` and "nothing was written", and that `dir`
/// holds nothing; removes `dir`.
fn assert_failed_cleanly(result: scratchnet::Result<Vec<PathBuf>>, dir: &Path, needle: &str) {
    let err = result.unwrap_err().to_string();
    assert!(err.contains(needle), "'{needle}' not in: {err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert!(entries(dir).is_empty(), "left {:?}", entries(dir));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn downloads_verifies_and_skips_what_is_already_there() {
    let base = serve();
    let dir = temp("ok");
    let mut seen = 0;
    let written = download::download_files(&[spec()], &[format!("{base}/ok/")], &dir, &mut |_| {
        seen += 1
    })
    .unwrap();
    assert_eq!(written, vec![dir.join(spec().name)]);
    assert_eq!(
        std::fs::read(&written[0]).unwrap(),
        CONTENT,
        "stored decompressed"
    );
    assert!(seen > 0, "progress was reported");
    assert!(download::verify_file(&dir, &spec()).unwrap());
    let again =
        download::download_files(&[spec()], &[format!("{base}/ok/")], &dir, &mut |_| {}).unwrap();
    assert!(again.is_empty(), "a verified file is not fetched again");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn falls_back_to_the_next_mirror_after_a_404() {
    let base = serve();
    let dir = temp("fallback");
    let mirrors = [format!("{base}/missing/"), format!("{base}/ok/")];
    let written = download::download_files(&[spec()], &mirrors, &dir, &mut |_| {}).unwrap();
    assert_eq!(written.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn failures_leave_nothing_behind_and_say_why() {
    let base = serve();
    for (route, needle) in [
        ("bad", "checksum mismatch"),
        ("drop", "connection dropped"),
        ("missing", "404"),
    ] {
        let dir = temp(route);
        let result =
            download::download_files(&[spec()], &[format!("{base}/{route}/")], &dir, &mut |_| {});
        assert_failed_cleanly(result, &dir, needle);
    }
}

#[test]
fn generated_datasets_are_refused_and_the_real_ones_have_sources() {
    use scratchnet::data::DatasetName;
    assert!(
        download::source(DatasetName::Circle)
            .unwrap_err()
            .to_string()
            .contains("generated")
    );
    assert!(matches!(
        download::source(DatasetName::Mnist).unwrap(),
        Source::Files(f) if f.len() == 4
    ));
    assert!(matches!(
        download::source(DatasetName::Cifar10).unwrap(),
        Source::Archive(a) if a.members.len() == 7 && a.sha256.len() == 64
    ));
}

/// A CIFAR-like archive: two wanted members in `batches/`, one unwanted beside them, one
/// wanted name outside the folder (must be ignored: only `<folder>/<member>` counts).
fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, bytes) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, *bytes).unwrap();
    }
    gz(&b.into_inner().unwrap())
}

fn archive_spec(published: &[u8]) -> ArchiveSpec {
    ArchiveSpec {
        remote: "data.tar.gz",
        sha256: Box::leak(download::sha256_hex(published).into_boxed_str()),
        size: published.len() as u64,
        folder: "batches",
        members: &["one.bin", "two.txt"],
    }
}

#[test]
fn archives_are_verified_unpacked_and_given_a_manifest() {
    let published = archive(&[
        ("batches/one.bin", b"first member"),
        ("batches/extra.bin", b"not wanted"),
        ("two.txt", b"outside the folder"),
        ("batches/two.txt", b"second member"),
    ]);
    let spec = archive_spec(&published);
    let base = serve_body(published);
    let dir = temp("tar-ok");
    let written =
        download::download_archive(&spec, &[format!("{base}/ok/")], &dir, &mut |_| {}).unwrap();
    assert_eq!(written.len(), 3, "{written:?}");
    assert_eq!(std::fs::read(dir.join("one.bin")).unwrap(), b"first member");
    assert_eq!(
        std::fs::read(dir.join("two.txt")).unwrap(),
        b"second member"
    );
    let mut names = entries(&dir);
    names.sort();
    assert_eq!(names, ["SHA256SUMS", "one.bin", "two.txt"]);
    assert_eq!(
        download::verify(Source::Archive(&spec), &dir),
        Verification::Verified
    );
    let again =
        download::download_archive(&spec, &[format!("{base}/ok/")], &dir, &mut |_| {}).unwrap();
    assert!(again.is_empty(), "a verified archive is not fetched again");

    // A member changed after download no longer verifies.
    std::fs::write(dir.join("two.txt"), b"tampered").unwrap();
    assert_eq!(
        download::verify(Source::Archive(&spec), &dir),
        Verification::Mismatch(vec!["two.txt".into()])
    );
    // Files placed by hand, without a manifest, cannot be verified.
    std::fs::remove_file(dir.join("SHA256SUMS")).unwrap();
    assert!(matches!(
        download::verify(Source::Archive(&spec), &dir),
        Verification::Unverifiable(_)
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn archive_failures_leave_nothing_behind_and_say_why() {
    let published = archive(&[("batches/one.bin", b"only one of two")]);
    let spec = archive_spec(&published);
    let base = serve_body(published);
    let mut wrong = spec;
    wrong.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
    for (i, (spec, route, needle)) in [
        (wrong, "ok", "checksum mismatch"),
        (spec, "drop", "connection dropped"),
        (spec, "missing", "404"),
        (spec, "ok", "archive lacks batches/two.txt"),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = temp(&format!("tar-fail-{i}"));
        let result =
            download::download_archive(&spec, &[format!("{base}/{route}/")], &dir, &mut |_| {});
        assert_failed_cleanly(result, &dir, needle);
    }
}

#[test]
fn the_cli_downloads_cifar10_only_when_the_archive_matches_the_published_checksum() {
    // The server's archive is not the real one, so its SHA-256 cannot match the table.
    let base = serve_body(archive(&[(
        "cifar-10-batches-bin/test_batch.bin",
        &[0u8; 3073],
    )]));
    let root = temp("cli-cifar");
    let out = common::scratchnet()
        .args([
            "download",
            "cifar10",
            "--mirror",
            &format!("{base}/ok/"),
            "--dir",
        ])
        .arg(&root)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("cifar-10-binary.tar.gz"), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(entries(&root.join("cifar10")).is_empty());
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn the_cli_lists_hand_placed_cifar10_as_present_but_unverified() {
    let root = temp("cli-list");
    let dir = root.join("cifar10");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin"]
        .into_iter()
        .chain(["data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"])
    {
        std::fs::write(dir.join(f), [0u8; 3073]).unwrap();
    }
    let stdout = common::stdout_of(
        common::scratchnet()
            .current_dir(&root)
            .env("SCRATCHNET_DATA", &root)
            .args(["datasets", "--data-dir"])
            .arg(&root),
    );
    let line = stdout.lines().find(|l| l.starts_with("cifar10")).unwrap();
    assert!(line.contains("not verified (no SHA256SUMS"), "{line}");
    // MNIST is nowhere it looks (the run's ./datasets is inside the empty root too): the
    // listing says where it looked and how to get it.
    let line = stdout.lines().find(|l| l.starts_with("mnist")).unwrap();
    assert!(line.contains("not found"), "{line}");
    assert!(line.contains(root.to_str().unwrap()), "{line}");
    assert!(line.contains("`scratchnet download mnist`"), "{line}");
    let _ = std::fs::remove_dir_all(&root);
}

/// A mirror that misbehaves the way a hostile or broken one would: `/huge/…` announces a
/// terabyte, `/endless/…` streams without end and without a length, `/silent/…` accepts the
/// connection and says nothing. Each connection gets its own thread; every loop is bounded.
fn serve_hostile() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let path = request_path(&mut s);
                if path.starts_with("/huge/") {
                    let _ = s.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n0123456789",
                    );
                    std::thread::sleep(std::time::Duration::from_millis(500));
                } else if path.starts_with("/endless/") {
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                    let chunk = vec![0x55u8; 1 << 16];
                    // At most 256 MiB, far past any limit; stops when the client hangs up.
                    for _ in 0..4096 {
                        if s.write_all(&chunk).is_err() {
                            break;
                        }
                    }
                } else {
                    // Silent: hold the connection open, then give up.
                    std::thread::sleep(std::time::Duration::from_secs(8));
                }
            });
        }
    });
    format!("http://{addr}")
}

/// `scratchnet download mnist` from `mirror`, with a one-second network timeout: fails with
/// one line containing `needle`, quickly, leaving no dataset file behind.
fn assert_download_refused(mirror: &str, needle: &str) {
    let dir = temp(&format!("hostile-{}", needle.len()));
    let started = std::time::Instant::now();
    let out = common::scratchnet()
        .args(["download", "mnist", "--dir"])
        .arg(&dir)
        .args(["--mirror", mirror])
        .env(download::TIMEOUT_ENV, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(needle), "'{needle}' not in: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(7),
        "the download must give up on its own, not wait for the server"
    );
    assert!(
        entries(&dir.join("mnist")).is_empty(),
        "{:?}",
        entries(&dir)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_mirror_that_announces_too_much_is_refused_before_reading() {
    let base = serve_hostile();
    assert_download_refused(&format!("{base}/huge/"), "announces 1000000000000 bytes");
}

#[test]
fn a_mirror_that_sends_without_end_is_cut_off_at_the_file_size() {
    let base = serve_hostile();
    assert_download_refused(&format!("{base}/endless/"), "sent more than");
}

#[test]
fn a_mirror_that_says_nothing_times_out() {
    let base = serve_hostile();
    assert_download_refused(&format!("{base}/silent/"), "timeout");
}

/// Serves the files of `dir` by name (`GET /<file>`), 404 for anything else.
fn serve_folder(dir: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut s) = stream else { continue };
            let path = request_path(&mut s);
            let name = path.trim_start_matches('/');
            let body = (!name.contains('/'))
                .then(|| std::fs::read(dir.join(name)).ok())
                .flatten();
            let (status, body) = match body {
                Some(b) => ("200 OK", b),
                None => ("404 Not Found", b"no".to_vec()),
            };
            let head = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(head.as_bytes());
            let _ = s.write_all(&body);
        }
    });
    format!("http://{addr}/")
}

#[test]
fn train_fetches_mnist_on_first_use_into_the_folder_the_user_named() {
    let Some(real) = common::real_data(scratchnet::data::DatasetName::Mnist) else {
        return;
    };
    // A mirror of our own serving the real files, so the published checksums hold.
    let mirror = serve_folder(real);
    let dir = temp("first-use");
    std::fs::create_dir_all(&dir).unwrap();
    // A short MNIST run whose data folder is `dir`.
    let train = || {
        let mut cmd = common::scratchnet();
        cmd.args([
            "train",
            "--dataset",
            "mnist",
            "--hidden",
            "16",
            "--iters",
            "3",
        ])
        .args(["--quiet", "--data-dir"])
        .arg(&dir);
        cmd
    };
    let out = train()
        .env(download::MIRROR_ENV, &mirror)
        .env_remove("SCRATCHNET_OFFLINE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let place = dir.join("mnist");
    assert!(
        stderr.contains(&format!(
            "downloading it (SHA-256 verified) into {}",
            place.display()
        )),
        "{stderr}"
    );
    let mut files = entries(&place);
    files.sort();
    assert_eq!(
        files,
        [
            "t10k-images-idx3-ubyte",
            "t10k-labels-idx1-ubyte",
            "train-images-idx3-ubyte",
            "train-labels-idx1-ubyte"
        ]
    );
    // The second run finds it there and downloads nothing.
    let again = train().arg("--offline").output().unwrap();
    assert!(again.status.success());
    assert!(!String::from_utf8_lossy(&again.stderr).contains("downloading"));
    std::fs::remove_dir_all(&dir).unwrap();
}
