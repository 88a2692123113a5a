//! `scratchnet serve` spoken to over HTTP: the page and its assets, a job's stream, its
//! switches, bad settings, and hostile clients (garbage, huge headers, a slow client, hundreds
//! of dropped connections) after which the server still answers and trains. Loopback only.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scratchnet::serve::Server;
use serde_json::{Value, json};

struct Running {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start() -> Running {
        let server = Server::bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0).unwrap();
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

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s
    }

    /// One request on its own connection: (status, body).
    fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
        let mut s = self.connect();
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let body = text
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_string();
        (status, body)
    }

    fn json(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let (status, body) = self.request(method, path, body);
        (status, serde_json::from_str(&body).unwrap_or(Value::Null))
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

/// The Playground's opening state, with `edits` applied.
fn settings(edits: Value) -> String {
    let mut s = json!({
        "dataset": "circle", "regDataset": "reg-plane", "problem": "classification",
        "networkShape": [4, 2], "learningRate": 0.03, "activation": "tanh", "batchSize": 10,
        "noise": 0, "percTrainData": 50, "x": true, "y": true, "xSquared": false,
        "ySquared": false, "xTimesY": false, "sinX": false, "sinY": false,
        "regularization": "none", "regularizationRate": 0, "seed": "3"
    });
    for (k, v) in edits.as_object().unwrap() {
        s[k] = v.clone();
    }
    s.to_string()
}

/// A job's event stream: each `data:` line parsed.
struct Events(BufReader<TcpStream>);

impl Events {
    fn open(server: &Running, id: u64) -> Events {
        let mut s = server.connect();
        write!(
            s,
            "GET /api/jobs/{id}/events HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
        .unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" {
                break;
            }
            if line.to_ascii_lowercase().starts_with("content-type") {
                assert!(line.contains("text/event-stream"), "{line}");
            }
        }
        Events(r)
    }

    fn next(&mut self) -> Value {
        let mut line = String::new();
        loop {
            line.clear();
            assert!(self.0.read_line(&mut line).unwrap() > 0, "the stream ended");
            // Chunked framing: size lines and data lines interleave; take the data lines.
            if let Some(data) = line.trim_end().strip_prefix("data: ") {
                return serde_json::from_str(data).unwrap();
            }
        }
    }
}

#[test]
fn the_page_and_its_assets_load_and_unknown_routes_are_404() {
    let server = Running::start();
    let (status, page) = server.request("GET", "/", None);
    assert_eq!(status, 200);
    for id in [
        "iter-number",
        "loss-train",
        "loss-test",
        "play-pause-button",
        "heatmap",
    ] {
        assert!(page.contains(&format!("id=\"{id}\"")), "#{id} missing");
    }
    // Nothing from anywhere but this server.
    assert!(!page.contains("http://") && !page.contains("https://"));
    let (status, js) = server.request("GET", "/playground.js", None);
    assert_eq!(status, 200);
    assert!(js.contains("EventSource") && !js.contains("https://"));
    assert_eq!(server.request("GET", "/playground.css", None).0, 200);
    let (status, body) = server.json("GET", "/etc/passwd", None);
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("no such page"));
    assert_eq!(
        server.request("GET", "/%2e%2e/%2e%2e/etc/passwd", None).0,
        404
    );
    assert_eq!(server.json("POST", "/api/jobs/99/play", None).0, 404);
    assert_eq!(server.json("GET", "/api/jobs/x/events", None).0, 404);
}

#[test]
fn a_job_streams_steps_plays_until_the_circle_is_learned_and_is_deleted() {
    let server = Running::start();
    let (status, job) = server.json("POST", "/api/jobs", Some(&settings(json!({}))));
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_u64().unwrap();
    assert_eq!(job["points"]["train"].as_array().unwrap().len(), 250);
    assert_eq!(job["points"]["test"].as_array().unwrap().len(), 250);
    let mut events = Events::open(&server, id);
    let first = events.next();
    assert_eq!(
        (first["type"].as_str(), first["epoch"].as_u64()),
        (Some("snapshot"), Some(0))
    );
    let start_loss = first["lossTest"].as_f64().unwrap();
    // Paused: one step is one epoch.
    assert_eq!(
        server
            .request("POST", &format!("/api/jobs/{id}/step"), None)
            .0,
        204
    );
    assert_eq!(events.next()["epoch"], 1);
    assert_eq!(
        server
            .request("POST", &format!("/api/jobs/{id}/step"), None)
            .0,
        204
    );
    assert_eq!(events.next()["epoch"], 2);
    // Playing: epochs go forward and the test loss falls below 0.1.
    assert_eq!(
        server
            .request("POST", &format!("/api/jobs/{id}/play"), None)
            .0,
        204
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = 2;
    let learned = loop {
        let e = events.next();
        let epoch = e["epoch"].as_u64().unwrap();
        assert!(epoch > last, "epoch {epoch} after {last}");
        last = epoch;
        assert_eq!(e["neurons"].as_array().unwrap().len(), 2);
        if e["lossTest"].as_f64().unwrap() < 0.1 {
            break e;
        }
        assert!(Instant::now() < deadline, "the test loss did not fall: {e}");
    };
    assert!(learned["lossTest"].as_f64().unwrap() < start_loss / 3.0);
    assert_eq!(
        server
            .request("POST", &format!("/api/jobs/{id}/pause"), None)
            .0,
        204
    );
    // The model and the picture download.
    let (status, model) = server.request("GET", &format!("/api/jobs/{id}/model.safetensors"), None);
    assert_eq!(status, 200);
    assert!(model.contains("scratchnet") && model.contains("squared-error"));
    let (status, svg) = server.request("GET", &format!("/api/jobs/{id}/picture.svg"), None);
    assert_eq!(status, 200);
    assert!(svg.contains("<svg") && svg.contains("scratchnet playground"));
    // Reset: the job is gone.
    assert_eq!(
        server.request("DELETE", &format!("/api/jobs/{id}"), None).0,
        204
    );
    assert_eq!(
        server.json("POST", &format!("/api/jobs/{id}/play"), None).0,
        404
    );
}

#[test]
fn bad_settings_are_refused_with_a_one_line_reason() {
    let server = Running::start();
    let cases = [
        (settings(json!({"learningRate": -1})), "learning rate"),
        (
            settings(json!({"networkShape": [4, 9]})),
            "at most 8 neurons",
        ),
        (
            settings(json!({"networkShape": [1, 1, 1, 1, 1, 1, 1]})),
            "at most 6 hidden",
        ),
        (settings(json!({"batchSize": 0})), "batch size"),
        (
            settings(json!({"dataset": "mnist"})),
            "unknown playground data set",
        ),
        (settings(json!({"regularization": "L3"})), "none, l1 or l2"),
        (settings(json!({"optimizer": "lbfgs"})), "unknown optimizer"),
        (
            settings(json!({"evil": "../../etc/passwd"})),
            "unknown field",
        ),
        ("{not json".to_string(), "not valid JSON"),
    ];
    for (body, needle) in cases {
        let (status, reply) = server.json("POST", "/api/jobs", Some(&body));
        assert_eq!(status, 400, "{body}");
        let msg = reply["error"].as_str().unwrap();
        assert!(
            msg.contains(needle) && !msg.contains('\n'),
            "{msg} lacks {needle}"
        );
    }
    let huge = format!("{{\"x\": \"{}\"}}", "a".repeat(64 * 1024));
    assert_eq!(server.request("POST", "/api/jobs", Some(&huge)).0, 413);
    assert_eq!(server.json("POST", "/api/jobs", None).0, 400);
}

#[test]
fn at_most_four_jobs_run_and_an_unwatched_job_stops_by_itself() {
    let server = Running::start();
    let mut ids = Vec::new();
    for _ in 0..4 {
        let (status, job) = server.json("POST", "/api/jobs", Some(&settings(json!({}))));
        assert_eq!(status, 201, "{job}");
        ids.push(job["id"].as_u64().unwrap());
    }
    let (status, reply) = server.json("POST", "/api/jobs", Some(&settings(json!({}))));
    assert_eq!(status, 429);
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("training jobs are running")
    );
    // One is watched; the other three, which nobody streams, stop on their own, and then new
    // jobs may start.
    let mut events = Events::open(&server, ids[0]);
    assert_eq!(events.next()["epoch"], 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    while server
        .json("POST", "/api/jobs", Some(&settings(json!({}))))
        .0
        != 201
    {
        assert!(
            Instant::now() < deadline,
            "jobs nobody watched kept running"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The watched one still trains.
    assert_eq!(
        server
            .request("POST", &format!("/api/jobs/{}/step", ids[0]), None)
            .0,
        204
    );
    assert_eq!(events.next()["epoch"], 1);
}

#[test]
fn hostile_clients_leave_the_server_answering_and_training() {
    let server = Running::start();
    // Garbage instead of HTTP.
    for garbage in [
        &b"\x00\xff\x13garbage\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"HELLO / HTTP/9\r\n\r\n",
    ] {
        let mut s = server.connect();
        s.write_all(garbage).unwrap();
        let mut reply = Vec::new();
        let _ = s.read_to_end(&mut reply);
        let text = String::from_utf8_lossy(&reply);
        assert!(
            reply.is_empty() || text.starts_with("HTTP/1.1 400"),
            "{text}"
        );
    }
    // A header far over the bound.
    let mut s = server.connect();
    let _ = write!(
        s,
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "b".repeat(64 * 1024)
    );
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply);
    assert!(
        reply.is_empty() || text.starts_with("HTTP/1.1 431"),
        "{text}"
    );
    // A slow client: half a request line, then nothing. The server cuts it off.
    let mut slow = server.connect();
    slow.write_all(b"GET / HT").unwrap();
    let began = Instant::now();
    let mut buf = [0u8; 256];
    let n = slow.read(&mut buf).unwrap_or(0);
    assert!(
        n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"),
        "the slow client got {:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    assert!(
        began.elapsed() < Duration::from_secs(15),
        "{:?}",
        began.elapsed()
    );
    // A client that connects and says nothing at all is cut off too.
    let mut silent = server.connect();
    let began = Instant::now();
    assert_eq!(silent.read(&mut buf).unwrap_or(0), 0);
    assert!(began.elapsed() < Duration::from_secs(15));
    // Three hundred connections opened and dropped, some mid-request.
    for i in 0..300 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        if i % 3 == 0 {
            let _ = s.write_all(b"POST /api/jobs HTTP/1.1\r\nContent-Length: 100\r\n\r\n{");
        }
    }
    // Still serving the page, and training.
    assert_eq!(server.request("GET", "/", None).0, 200);
    let (status, job) = server.json("POST", "/api/jobs", Some(&settings(json!({}))));
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_u64().unwrap();
    let mut events = Events::open(&server, id);
    assert_eq!(events.next()["epoch"], 0);
    server.request("POST", &format!("/api/jobs/{id}/step"), None);
    assert_eq!(events.next()["epoch"], 1);
}

#[test]
fn the_command_the_page_shows_gives_the_same_numbers() {
    let server = Running::start();
    let body = settings(json!({
        "dataset": "xor", "networkShape": [5, 3], "activation": "relu", "optimizer": "adam",
        "learningRate": 0.01, "x": true, "y": false, "xTimesY": true, "noise": 10,
        "regularization": "L1", "regularizationRate": 0.001, "percTrainData": 70,
        "seed": "0.12345"
    }));
    let (status, job) = server.json("POST", "/api/jobs", Some(&body));
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_u64().unwrap();
    let mut events = Events::open(&server, id);
    events.next();
    let mut snap = Value::Null;
    for _ in 0..7 {
        server.request("POST", &format!("/api/jobs/{id}/step"), None);
        snap = events.next();
    }
    assert_eq!(snap["epoch"], 7);
    let command = format!("{} --epochs 7", job["command"].as_str().unwrap());
    let args: Vec<&str> = command.split_whitespace().skip(1).collect();
    let out = common::stdout_of(common::scratchnet().args(&args));
    let loss = |what: &str| -> f64 {
        out.split(&format!("{what} loss "))
            .nth(1)
            .and_then(|s| s.split(',').next())
            .unwrap()
            .parse()
            .unwrap()
    };
    let rounded = |v: &Value| {
        format!("{:.4}", v.as_f64().unwrap())
            .parse::<f64>()
            .unwrap()
    };
    assert_eq!(
        loss("train"),
        rounded(&snap["lossTrain"]),
        "{command}\n{out}"
    );
    assert_eq!(loss("test"), rounded(&snap["lossTest"]), "{command}\n{out}");
}

#[test]
fn serve_prints_its_url_at_once_and_stops_on_sigterm() {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin!("scratchnet"))
        .args(["serve", "--port", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let began = Instant::now();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no loopback URL in {line:?}"));
    let addr: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    assert_ne!(addr.port(), 0);
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
    assert!(page.starts_with("HTTP/1.1 200"));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(143));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stopped the server"), "{err}");
    let bad = common::scratchnet()
        .args(["serve", "--host", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid IP address"));
}

#[test]
fn a_paced_job_sends_every_epoch_and_runs_no_faster_than_its_speed() {
    let server = Running::start();
    let (status, job) = server.json(
        "POST",
        "/api/jobs",
        Some(&settings(json!({ "play": true, "speed": 10 }))),
    );
    assert_eq!(status, 201, "{job}");
    let id = job["id"].as_u64().unwrap();
    let start = Instant::now();
    let mut events = Events::open(&server, id);
    // Epoch k cannot be reported before (k − 1) tenths of a second: a bound of the pace.
    let mut epochs = Vec::new();
    while epochs.len() < 8 {
        let ev = events.next();
        let epoch = ev["epoch"].as_u64().unwrap();
        let least = Duration::from_secs_f64(epoch.saturating_sub(1) as f64 / 10.0);
        assert!(
            start.elapsed() >= least,
            "epoch {epoch} after {:?}",
            start.elapsed()
        );
        epochs.push(epoch);
    }
    // Paced, each snapshot is a step or a few on (the stream keeps only the newest, so a
    // stalled reader may miss some, never hundreds as at full speed).
    assert!(
        epochs.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= 10),
        "{epochs:?}"
    );
    // Full speed: hundreds of epochs within a few snapshots.
    assert_eq!(
        server
            .request("POST", &format!("/api/jobs/{id}/pace/max"), None)
            .0,
        204
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while events.next()["epoch"].as_u64().unwrap() < 500 {
        assert!(Instant::now() < deadline, "full speed never came");
    }
    for bad in ["0", "-1", "31", "NaN", "fast"] {
        let (status, body) = server.json("POST", &format!("/api/jobs/{id}/pace/{bad}"), None);
        assert_eq!(status, 400, "{bad}");
        assert!(
            body["error"].as_str().unwrap().contains("epochs a second"),
            "{body}"
        );
    }
    let (status, body) = server.json(
        "POST",
        "/api/jobs",
        Some(&settings(json!({ "speed": 100 }))),
    );
    assert_eq!(status, 400);
    assert!(
        body["error"].as_str().unwrap().contains("speed must be"),
        "{body}"
    );
    assert_eq!(
        server.request("DELETE", &format!("/api/jobs/{id}"), None).0,
        204
    );
}
