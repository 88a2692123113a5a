//! The Runs and Draw pages' APIs over HTTP, on `127.0.0.1:0`: a folder with a finished run, a
//! run being written during the test, a group and a malformed log; a drawn stroke classified
//! as `predict --image` classifies the same picture; and no request reading a file outside
//! the folder, whatever it names.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scratchnet::report::training::LOG_COLUMNS;
use scratchnet::serve::Server;
use serde_json::Value;

struct Running {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start(server: Server) -> Running {
        let addr = server.addr();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || server.run(flag).unwrap());
        Running {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// One request: (status, body).
    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        let mut body = raw[end + 4..].to_vec();
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            body = unchunk(&body);
        }
        (status, body)
    }

    fn json(&self, path: &str) -> (u16, Value) {
        let (status, body) = self.request("GET", path, b"");
        let v = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&body)));
        (status, v)
    }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&b[..line]).unwrap().trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&b[line + 2..line + 2 + size]);
        b = &b[line + 2 + size + 2..];
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bind() -> Server {
    Server::bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0).unwrap()
}

/// The run named `name` in the list.
fn run_named<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
}

/// Waits (with a deadline) until the list's run `name` satisfies `ok`; returns it.
fn wait_for_run(server: &Running, name: &str, ok: impl Fn(&Value) -> bool, what: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, list) = server.json("/api/runs");
        assert_eq!(status, 200);
        if let Some(r) = run_named(&list, name)
            && ok(r)
        {
            return r.clone();
        }
        assert!(Instant::now() < deadline, "{what}: {list}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A log row: an epoch's end at `iteration`.
fn epoch_row(epoch: usize, iteration: usize, test_acc: f64) -> String {
    format!("{iteration},0.5,{epoch},0.5,0.9,{test_acc},0.1,1000,all\n")
}

#[test]
fn the_runs_list_shows_finished_running_group_and_malformed_runs_each_as_it_is() {
    let dir = common::temp_dir("runs-list");
    // Finished, with its summary and checkpoint; and a group from compare.
    common::scratchnet()
        .args([
            "train",
            "--dataset",
            "circle",
            "--hidden",
            "8",
            "--epochs",
            "3",
        ])
        .arg("--log")
        .arg(dir.join("done.csv"))
        .arg("--summary-json")
        .arg(dir.join("done.json"))
        .arg("--save")
        .arg(dir.join("done.st"))
        .arg("--quiet")
        .assert()
        .success();
    common::scratchnet()
        .args([
            "compare",
            "--dataset",
            "circle",
            "--hidden",
            "8",
            "--epochs",
            "2",
        ])
        .args(["--vary", "lr=0.001,0.01", "--log"])
        .arg(dir.join("cmp.csv"))
        .assert()
        .success();
    std::fs::write(dir.join("bad.csv"), "this is,not a log\n1,2\n").unwrap();
    let header: Vec<&str> = LOG_COLUMNS.iter().map(|c| c.0).collect();
    let live = dir.join("live.csv");
    std::fs::write(
        &live,
        format!("{}\n{}", header.join(","), epoch_row(1, 10, 0.5)),
    )
    .unwrap();

    let server = Running::start(bind().with_runs(&dir).unwrap());
    let done = wait_for_run(&server, "done", |r| r["state"] == "finished", "done");
    assert_eq!(done["epoch"], 3);
    assert_eq!(done["planned_epochs"], 3);
    assert_eq!(done["checkpoint"], true);
    assert_eq!(done["settings"]["dataset"], "circle");
    assert_eq!(done["settings"]["optimizer"], "adam");
    let summary = common::summary(&dir.join("done.json"));
    assert_eq!(done["members"][0]["test_acc"], {
        let acc = summary["test_acc"].as_f64().unwrap();
        Value::from(format!("{acc:.4}").parse::<f64>().unwrap())
    });

    let bad = wait_for_run(&server, "bad", |_| true, "bad");
    assert_eq!(bad["state"], "unreadable");
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .contains("line 1: the header"),
        "{bad}"
    );

    let cmp = wait_for_run(&server, "cmp", |_| true, "cmp");
    assert_eq!(cmp["group"], true);
    let names: Vec<&str> = cmp["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lr=0.001", "lr=0.01"]);
    let id = cmp["id"].as_u64().unwrap();
    let (status, curves) = server.json(&format!("/api/runs/{id}"));
    assert_eq!(status, 200);
    assert_eq!(curves["series"].as_array().unwrap().len(), 2);
    assert_eq!(curves["series"][1]["epochs"].as_array().unwrap().len(), 2);

    // The live run: rows appended while the server runs are seen; so is a rewrite that
    // shortens it (a new run under the old name), and a half-written row waits.
    let seen = wait_for_run(&server, "live", |r| r["epoch"] == 1, "live at 1");
    assert_eq!(seen["members"][0]["test_acc"], 0.5);
    let writer = {
        let live = live.clone();
        std::thread::spawn(move || {
            for e in 2..=4 {
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&live)
                    .unwrap();
                f.write_all(epoch_row(e, 10 * e, 0.5 + 0.1 * e as f64).as_bytes())
                    .unwrap();
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    wait_for_run(&server, "live", |r| r["epoch"] == 4, "live grows to 4");
    writer.join().unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&live)
        .unwrap();
    f.write_all(b"50,0.4,5,0.4").unwrap(); // no newline yet
    drop(f);
    let r = wait_for_run(&server, "live", |r| r["epoch"] == 4, "half a row waits");
    assert!(r.get("error").is_none(), "{r}");
    std::fs::write(
        &live,
        format!("{}\n{}", header.join(","), epoch_row(1, 10, 0.7)),
    )
    .unwrap();
    let r = wait_for_run(&server, "live", |r| r["epoch"] == 1, "rewritten, re-read");
    assert_eq!(r["members"][0]["test_acc"], 0.7);
    // The others were never disturbed.
    let (_, list) = server.json("/api/runs");
    assert_eq!(run_named(&list, "done").unwrap()["state"], "finished");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn no_request_reads_a_file_outside_the_folder() {
    let base = common::temp_dir("runs-jail");
    let dir = base.join("runs");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let header: Vec<&str> = LOG_COLUMNS.iter().map(|c| c.0).collect();
    let log = format!("{}\n{}", header.join(","), epoch_row(1, 10, 0.5));
    // A secret beside the folder, in a subfolder, and behind links out of it.
    let secret = format!("{}\n{}", header.join(","), epoch_row(1, 10, 0.123456));
    std::fs::write(base.join("secret.csv"), &secret).unwrap();
    std::fs::write(dir.join("sub").join("hidden.csv"), &secret).unwrap();
    std::fs::write(dir.join("ok.csv"), &log).unwrap();
    common::save_circle_model(&base.join("secret.st"), 1);
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(base.join("secret.csv"), dir.join("link.csv")).unwrap();
        std::os::unix::fs::symlink(base.join("secret.st"), dir.join("link.st")).unwrap();
        std::os::unix::fs::symlink(&base, dir.join("up")).unwrap();
    }
    let server = Running::start(bind().with_runs(&dir).unwrap());
    let (_, list) = server.json("/api/runs");
    let names: Vec<&str> = list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ok"], "only the file directly inside: {list}");
    let (_, models) = server.json("/api/models");
    assert_eq!(models["models"].as_array().unwrap().len(), 0, "{models}");
    for path in [
        "/api/runs/1",
        "/api/runs/-1",
        "/api/runs/..%2fsecret.csv",
        "/api/runs/..%2F..%2Fsecret.csv",
        "/api/runs/%2Ftmp%2Fsecret.csv",
        "/api/runs/0/../../secret.csv",
        "/api/runs/../secret.csv",
        "/api/runs//etc/passwd",
        "/api/runs/link",
        "/api/runs/sub%2Fhidden",
        "/api/models/..%2Fsecret.st",
        "/api/models/run-0",
        "/api/models/model",
        "/api/models/%2E%2E%2Fsecret.st/misclassified/0",
        "/runs/../../secret.csv",
        "/%2E%2E/secret.csv",
    ] {
        let (status, body) = server.request("GET", path, b"");
        let text = String::from_utf8_lossy(&body);
        assert!((400..500).contains(&status), "{path}: {status} {text}");
        assert!(!text.contains("0.123456"), "{path} leaked the secret");
    }
    let (status, body) = server.request("POST", "/api/models/..%2Fsecret.st/predict", b"x");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    // The one run there is served.
    let (status, curves) = server.json("/api/runs/0");
    assert_eq!(status, 200);
    assert_eq!(curves["name"], "ok");
    std::fs::remove_dir_all(&base).unwrap();
}

/// A PNG of `w`×`h` grey pixels.
fn png(w: usize, h: usize, pixel: impl Fn(usize, usize) -> u8) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().unwrap();
        let data: Vec<u8> = (0..h)
            .flat_map(|y| (0..w).map(move |x| (x, y)))
            .map(|(x, y)| pixel(x, y))
            .collect();
        writer.write_image_data(&data).unwrap();
    }
    out
}

/// `predict --model M --image P`'s probabilities, as printed (four decimals).
fn predict_image(model: &Path, picture: &Path) -> Vec<String> {
    let out = common::stdout_of(
        common::scratchnet()
            .args(["predict", "--model"])
            .arg(model)
            .arg("--image")
            .arg(picture),
    );
    out.lines()
        .filter_map(|l| {
            let (label, rest) = l.trim().split_once(": ")?;
            label.parse::<usize>().ok()?;
            Some(rest.split_whitespace().next()?.to_string())
        })
        .collect()
}

#[test]
fn a_drawn_stroke_gets_the_probabilities_predict_image_gives_the_same_picture() {
    let dir = common::temp_dir("draw-predict");
    let data = dir.join("data");
    common::write_small_mnist(&data, 28, 28);
    let model = dir.join("m.st");
    common::scratchnet()
        .args(["train", "--dataset", "mnist", "--data-dir"])
        .arg(&data)
        .args(["--hidden", "16", "--epochs", "3", "--batch", "2", "--quiet"])
        .args(["--optimizer", "sgd", "--lr", "0.5", "--save"])
        .arg(&model)
        .assert()
        .success();
    let server = Running::start(bind().with_model(&model).unwrap());
    let (_, info) = server.json("/api/models/model");
    assert_eq!(info["dataset"], "mnist");
    assert_eq!(info["drawable"], true);
    assert_eq!(info["labels"].as_array().unwrap().len(), 10);
    assert_eq!(info["first_layer"]["tiles"].as_array().unwrap().len(), 16);
    // A vertical stroke and a slanted one, white on black, as the canvas draws them.
    for (name, stroke) in [
        (
            "vertical",
            Box::new(|x: usize, y: usize| (130..150).contains(&x) && (50..230).contains(&y))
                as Box<dyn Fn(usize, usize) -> bool>,
        ),
        (
            "slant",
            Box::new(|x: usize, y: usize| {
                (x as i64 - y as i64).abs() < 12 && (40..240).contains(&y)
            }),
        ),
    ] {
        let picture = png(280, 280, |x, y| if stroke(x, y) { 255 } else { 0 });
        let file = dir.join(format!("{name}.png"));
        std::fs::write(&file, &picture).unwrap();
        let (status, body) = server.request("POST", "/api/models/model/predict", &picture);
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let p: Value = serde_json::from_slice(&body).unwrap();
        let served: Vec<String> = p["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| format!("{:.4}", v.as_f64().unwrap()))
            .collect();
        assert_eq!(served, predict_image(&model, &file), "{name}");
        assert_eq!(p["size"], serde_json::json!([28, 28]));
        let sum: f64 = p["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum();
        assert!((sum - 1.0).abs() < 1e-4);
    }
    // Not a picture, an empty one, and one over the size limit: a 4xx with the reason.
    let (status, body) = server.request("POST", "/api/models/model/predict", b"GIF89a....");
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("neither a PNG nor a JPEG"));
    let blank = png(50, 50, |_, _| 0);
    let (status, body) = server.request("POST", "/api/models/model/predict", &blank);
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    let huge = vec![0u8; scratchnet::serve::draw::MAX_PICTURE_BYTES + 1];
    let (status, _) = server.request("POST", "/api/models/model/predict", &huge);
    assert_eq!(status, 413);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_refuses_a_missing_folder_and_a_model_that_is_not_of_images() {
    let dir = common::temp_dir("serve-bad-flags");
    common::assert_one_line_error(
        &["serve", "--port", "0", "--runs", "/nonexistent/runs"],
        "--runs /nonexistent/runs",
    );
    let circle = dir.join("circle.st");
    common::save_circle_model(&circle, 1);
    common::assert_one_line_error(
        &["serve", "--port", "0", "--model", circle.to_str().unwrap()],
        "needs a model of images",
    );
    common::assert_one_line_error(
        &["train", "--dataset", "circle", "--epochs", "1", "--serve"],
        "--log",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_search_log_is_a_group_of_its_trials() {
    let dir = common::temp_dir("runs-search");
    common::scratchnet()
        .args([
            "search",
            "--dataset",
            "circle",
            "--hidden",
            "8",
            "--epochs",
            "2",
        ])
        .args(["--trials", "3", "--log"])
        .arg(dir.join("search.csv"))
        .assert()
        .success();
    let server = Running::start(bind().with_runs(&dir).unwrap());
    let r = wait_for_run(&server, "search", |_| true, "search");
    assert_eq!(r["group"], true, "{r}");
    let members = r["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{r}");
    assert!(
        members
            .iter()
            .all(|m| m["epoch"] == 2 && m["name"].as_str().unwrap().starts_with("trial "))
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_cifar_model_is_offered_for_upload_with_its_class_names() {
    let dir = common::temp_dir("draw-cifar");
    let data = dir.join("data");
    common::write_tiny_cifar(&data);
    let model = dir.join("c.st");
    common::scratchnet()
        .args(["train", "--dataset", "cifar10", "--data-dir"])
        .arg(&data)
        .args([
            "--hidden", "8", "--epochs", "1", "--batch", "10", "--quiet", "--save",
        ])
        .arg(&model)
        .assert()
        .success();
    let server = Running::start(bind().with_model(&model).unwrap());
    let (status, info) = server.json("/api/models/model");
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["drawable"], false, "a photo is uploaded, not drawn");
    assert_eq!(info["labels"][3], "3 (cat)");
    assert_eq!(info["shape"], serde_json::json!([3, 32, 32]));
    let photo = png(64, 48, |x, y| ((x * 4 + y * 2) % 256) as u8);
    let (status, body) = server.request("POST", "/api/models/model/predict", &photo);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let p: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(p["probabilities"].as_array().unwrap().len(), 10);
    assert_eq!(p["size"], serde_json::json!([32, 32]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn train_serve_shows_its_own_run_and_stops_cleanly_on_sigterm_once_done() {
    use std::io::BufRead;
    let dir = common::temp_dir("train-serve");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scratchnet"))
        .args([
            "train",
            "--dataset",
            "circle",
            "--hidden",
            "8",
            "--epochs",
            "30",
        ])
        .arg("--log")
        .arg(dir.join("mine.csv"))
        .args(["--serve", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("train printed the page's URL").unwrap();
        if let Some(rest) = line.strip_prefix("watch this run at ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/runs"),
        "{url}"
    );
    // The run is done when train says the page stays up.
    for line in lines.by_ref() {
        if line.unwrap().starts_with("the page stays up at") {
            break;
        }
    }
    let addr: SocketAddr = url["http://".len()..url.len() - "/runs".len()]
        .parse()
        .unwrap();
    let server = Running {
        addr,
        stop: Arc::new(AtomicBool::new(false)),
        thread: None,
    };
    let r = wait_for_run(&server, "mine", |r| r["epoch"] == 30, "its 30 epochs");
    assert_eq!(r["members"][0]["epoch"], 30);
    let (status, page) = server.request("GET", "/runs", b"");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&page).contains("id=\"runs-table\""));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "a finished run stopped after: success"
    );
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_conv_model_shows_its_filters_and_every_conv_layers_feature_maps() {
    let dir = common::temp_dir("draw-cnn");
    let data = dir.join("data");
    common::write_small_mnist(&data, 28, 28);
    let model = dir.join("cnn.st");
    common::scratchnet()
        .args(["train", "--dataset", "mnist", "--data-dir"])
        .arg(&data)
        .args([
            "--layers",
            "conv:4:5x5,relu,maxpool:2,conv:3:3x3,affine:8,relu",
        ])
        .args(["--epochs", "1", "--batch", "2", "--quiet", "--save"])
        .arg(&model)
        .assert()
        .success();
    let server = Running::start(bind().with_model(&model).unwrap());
    let (status, info) = server.json("/api/models/model");
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["convolutional"], true);
    assert_eq!(info["first_layer"]["size"], serde_json::json!([5, 5]));
    assert_eq!(info["first_layer"]["tiles"].as_array().unwrap().len(), 4);
    let picture = png(280, 280, |x, y| {
        if (130..150).contains(&x) && (50..230).contains(&y) {
            255
        } else {
            0
        }
    });
    let (status, body) = server.request("POST", "/api/models/model/predict", &picture);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let p: Value = serde_json::from_slice(&body).unwrap();
    let maps = p["maps"].as_array().unwrap();
    assert_eq!(maps.len(), 2, "one entry per conv layer: {maps:?}");
    assert_eq!(maps[0]["size"], serde_json::json!([4, 24, 24]));
    assert!(
        maps[0]["layer"].as_str().unwrap().contains("relu"),
        "{}",
        maps[0]["layer"]
    );
    assert_eq!(maps[1]["size"], serde_json::json!([3, 10, 10]));
    for m in maps {
        let [c, h, w] = [0, 1, 2].map(|i| m["size"][i].as_u64().unwrap() as usize);
        let tiles = m["maps"].as_array().unwrap();
        assert_eq!(tiles.len(), c);
        for t in tiles {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(t.as_str().unwrap())
                .unwrap();
            assert_eq!(bytes.len(), h * w);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
