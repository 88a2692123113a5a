//! Dataset downloads against a small HTTP server on 127.0.0.1 run inside the test: success,
//! fallback after a 404, checksum mismatch, and a connection dropped mid-file. A failure must
//! leave nothing under the final name.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use scratchnet::data::download::{self, FileSpec};

const CONTENT: &[u8] = b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03";

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Serves requests until the test ends: `/ok/…` the gzipped CONTENT, `/bad/…` other bytes,
/// `/drop/…` half of the body after promising all of it, anything else 404.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut s) = stream else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&req);
            let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
            let body = gz(CONTENT);
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
        let err =
            download::download_files(&[spec()], &[format!("{base}/{route}/")], &dir, &mut |_| {})
                .unwrap_err()
                .to_string();
        assert!(err.contains(needle), "{route}: {err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert!(entries(&dir).is_empty(), "{route} left {:?}", entries(&dir));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn generated_and_unsupported_datasets_are_refused() {
    use scratchnet::data::DatasetName;
    assert!(
        download::files(DatasetName::Circle)
            .unwrap_err()
            .to_string()
            .contains("generated")
    );
    assert!(download::files(DatasetName::Cifar10).is_err());
    assert_eq!(download::files(DatasetName::Mnist).unwrap().len(), 4);
}
