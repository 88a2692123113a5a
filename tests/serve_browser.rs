//! The Playground page in a real headless Chromium, trained by a real server: the page itself
//! must show the epochs advancing and the test loss falling. Each wait is for the condition
//! checked, with a deadline; none is a sleep standing in for it.
//!
//! With `SCRATCHNET_SCREENSHOTS=DIR` the screenshots are also written to DIR (docs/img was
//! made so); otherwise they go to a temporary folder and are only checked to be pictures.

#[path = "common/browser.rs"]
mod browser;
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use browser::{Browser, Page};
use scratchnet::data::DatasetName;
use scratchnet::serve::Server;

/// A server on a free loopback port, stopped when dropped.
struct Running {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start() -> Running {
        Running::with(Server::bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0).unwrap())
    }

    fn with(server: Server) -> Running {
        let url = server.url();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || server.run(flag).unwrap());
        Running {
            url,
            stop,
            thread: Some(thread),
        }
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

const SHOW: &str = "JSON.stringify({epoch: document.querySelector('#iter-number').textContent, \
    test: document.querySelector('#loss-test').textContent, \
    message: document.querySelector('#message').textContent})";

fn epoch_above(n: u64) -> String {
    format!("+document.querySelector('#iter-number').textContent.replace(/,/g, '') > {n}")
}

fn test_loss_below(x: f64) -> String {
    format!(
        "(() => {{ const t = document.querySelector('#loss-test').textContent; \
         return t !== '–' && +t < {x}; }})()"
    )
}

fn screenshot(b: &mut Browser, page: &Page, name: &str, dir: &std::path::Path) {
    let path = dir.join(name);
    b.screenshot(page, &path);
    let png = std::fs::read(&path).unwrap();
    assert!(png.len() > 10_000 && png.starts_with(b"\x89PNG"), "{name}");
    if let Ok(keep) = std::env::var("SCRATCHNET_SCREENSHOTS") {
        std::fs::copy(&path, PathBuf::from(keep).join(name)).unwrap();
    }
}

#[test]
fn the_page_trains_the_circle_the_spiral_and_a_regression_in_the_browser() {
    let Some(mut b) = Browser::launch() else {
        return;
    };
    let server = Running::start();
    let shots = common::temp_dir("serve-shots");

    // The bar: the circle, from a Playground link, past loss 0.1 within 15 s of wall time.
    let page = b.open(&format!("{}#dataset=circle&play=true", server.url));
    b.wait_for(
        &page,
        &epoch_above(0),
        Duration::from_secs(15),
        "epochs advance",
        SHOW,
    );
    b.wait_for(
        &page,
        &test_loss_below(0.1),
        Duration::from_secs(15),
        "circle test loss below 0.1",
        SHOW,
    );
    // Every hidden neuron has its picture and the links their weights.
    let drawn = b.eval(
        &page,
        "document.querySelectorAll('.neuron canvas').length === 6 && \
         document.querySelectorAll('#links path.link').length === 2*4 + 4*2 + 2*1 && \
         document.querySelector('#command').textContent.startsWith('scratchnet playground')",
    );
    assert_eq!(drawn, serde_json::json!(true), "{}", b.eval(&page, SHOW));
    screenshot(&mut b, &page, "serve-circle.png", &shots);

    // Pause: the epoch stops moving; one step moves it by exactly one.
    b.eval(
        &page,
        "document.querySelector('#play-pause-button').click()",
    );
    let epoch = || "+document.querySelector('#iter-number').textContent.replace(/,/g, '')";
    let settled = format!(
        "(async () => {{ let a = {e}; for (;;) {{ await new Promise(r => setTimeout(r, 300)); \
         const b = {e}; if (a === b) return b; a = b; }} }})()",
        e = epoch()
    );
    let paused = b.call(
        Some(&page),
        "Runtime.evaluate",
        serde_json::json!({ "expression": settled, "awaitPromise": true, "returnByValue": true }),
    )["result"]["value"]
        .as_f64()
        .unwrap();
    b.eval(&page, "document.querySelector('#next-step-button').click()");
    b.wait_for(
        &page,
        &format!("{} === {}", epoch(), paused + 1.0),
        Duration::from_secs(10),
        "one step is one epoch",
        SHOW,
    );

    // The spiral with six hidden layers of 8 and x₁, x₂, sin x₁, sin x₂.
    let spiral = b.open(&format!(
        "{}#dataset=spiral&networkShape=8,8,8,8,8,8&x=true&y=true&sinX=true&sinY=true\
         &learningRate=0.03&activation=tanh&seed=7&play=true",
        server.url
    ));
    b.wait_for(
        &spiral,
        &test_loss_below(0.1),
        Duration::from_secs(120),
        "spiral test loss below 0.1",
        SHOW,
    );
    screenshot(&mut b, &spiral, "serve-spiral.png", &shots);

    // A regression: the multi-Gaussian surface.
    let reg = b.open(&format!(
        "{}#problem=regression&regDataset=reg-gauss&networkShape=8,8&activation=tanh\
         &learningRate=0.03&showTestData=true&play=true",
        server.url
    ));
    b.wait_for(
        &reg,
        &test_loss_below(0.1),
        Duration::from_secs(30),
        "regression test loss below 0.1",
        SHOW,
    );
    b.wait_for(
        &reg,
        &test_loss_below(0.02),
        Duration::from_secs(60),
        "regression fits",
        SHOW,
    );
    screenshot(&mut b, &reg, "serve-regression.png", &shots);

    // Bad settings from a link: the server's one-line reason, shown on the page.
    let bad = b.open(&format!("{}#networkShape=4,9", server.url));
    b.wait_for(
        &bad,
        "document.querySelector('#message').textContent.includes('at most 8 neurons')",
        Duration::from_secs(10),
        "the server's message on the page",
        SHOW,
    );

    // A paced link: the page shows its speed and the epochs come no faster than it.
    let opened = std::time::Instant::now();
    let slow = b.open(&format!("{}#dataset=circle&speed=3&play=true", server.url));
    b.wait_for(
        &slow,
        &epoch_above(1),
        Duration::from_secs(10),
        "a paced page advances",
        SHOW,
    );
    let epoch = b
        .eval(
            &slow,
            "+document.querySelector('#iter-number').textContent.replace(/,/g, '')",
        )
        .as_f64()
        .unwrap();
    let bound = 3.0 * opened.elapsed().as_secs_f64() + 1.0;
    assert!(epoch <= bound, "epoch {epoch} within {bound}");
    assert_eq!(
        b.eval(&slow, "document.querySelector('#speed').value"),
        serde_json::json!("3")
    );
    std::fs::remove_dir_all(&shots).unwrap();
}

const RUNS: &str = "JSON.stringify([...document.querySelectorAll('#runs-table tbody tr')]\
    .map(r => r.innerText.replace(/\\s+/g, ' ')))";

/// The text of the Runs page's cell `class` in run `name`'s row ('' when there is none yet).
fn cell(name: &str, class: &str) -> String {
    format!(
        "(document.querySelector('#runs-table tr[data-name=\"{name}\"] .{class}') || \
         {{textContent: ''}}).textContent"
    )
}

#[test]
fn the_runs_page_follows_a_run_as_it_trains_and_draw_reads_a_stroke_with_its_model() {
    let Some(data) = common::real_data(DatasetName::Mnist) else {
        return;
    };
    let Some(mut b) = Browser::launch() else {
        return;
    };
    let dir = common::temp_dir("serve-runs-page");
    let shots = common::temp_dir("serve-runs-shots");
    // A finished run with its summary, and a group, for the page to show beside it.
    common::scratchnet()
        .args([
            "train",
            "--dataset",
            "circle",
            "--hidden",
            "30,5,10",
            "--epochs",
            "20",
        ])
        .args(["--quiet", "--log"])
        .arg(dir.join("circle.csv"))
        .arg("--summary-json")
        .arg(dir.join("circle.json"))
        .assert()
        .success();
    common::scratchnet()
        .args([
            "compare",
            "--dataset",
            "circle",
            "--hidden",
            "30,5,10",
            "--epochs",
            "20",
        ])
        .args(["--optimizer", "sgd", "--lr", "0.03", "--batch", "10"])
        .args(["--vary", "activation=sigmoid,relu", "--log"])
        .arg(dir.join("activations.csv"))
        .assert()
        .success();
    let server = Running::with(
        Server::bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)
            .unwrap()
            .with_runs(&dir)
            .unwrap(),
    );
    let page = b.open(&format!("{}runs", server.url));
    b.wait_for(
        &page,
        &format!("{} !== ''", cell("circle", "test-acc")),
        Duration::from_secs(10),
        "the finished run's last test accuracy",
        RUNS,
    );
    let summary = common::summary(&dir.join("circle.json"));
    let acc = format!("{:.4}", summary["test_acc"].as_f64().unwrap());
    assert_eq!(
        b.eval(&page, &cell("circle", "test-acc")),
        serde_json::json!(acc)
    );

    // The bar: T3 on MNIST trained with --log into the folder while the page is open; the
    // page shows its name and an epoch count that grows. Its checkpoint is the Draw page's.
    let mut train = std::process::Command::new(env!("CARGO_BIN_EXE_scratchnet"))
        .args(["train", "--dataset", "mnist", "--data-dir"])
        .arg(&data)
        .args([
            "--hidden",
            "100,50",
            "--init",
            "std:0.01",
            "--optimizer",
            "sgd",
            "--lr",
            "0.1",
        ])
        .args([
            "--batch",
            "100",
            "--iters",
            "10000",
            "--sampling",
            "random",
            "--quiet",
        ])
        .arg("--log")
        .arg(dir.join("t3.csv"))
        .arg("--save")
        .arg(dir.join("t3.st"))
        .spawn()
        .unwrap();
    let epoch = cell("t3", "epoch");
    b.wait_for(
        &page,
        &format!("+{epoch} >= 1"),
        Duration::from_secs(60),
        "t3 appears with its first epoch",
        RUNS,
    );
    let first = b.eval(&page, &format!("+{epoch}")).as_f64().unwrap();
    b.wait_for(
        &page,
        &format!("+{epoch} > {first}"),
        Duration::from_secs(60),
        "t3's epoch count grows while it trains",
        RUNS,
    );
    assert!(train.wait().unwrap().success());
    b.wait_for(
        &page,
        &format!("+{epoch} === 17 && {} !== ''", cell("t3", "test-acc")),
        Duration::from_secs(20),
        "t3's 17 epochs and its last test accuracy",
        RUNS,
    );
    b.wait_for(
        &page,
        "document.querySelectorAll('#run-legend > span').length >= 4",
        Duration::from_secs(10),
        "every run in the legend",
        RUNS,
    );
    screenshot(&mut b, &page, "serve-runs.png", &shots);

    // Draw: the T3 checkpoint, a vertical stroke by pointer events, predicted as 1.
    let draw = b.open(&format!("{}draw", server.url));
    const DRAW: &str = "JSON.stringify({prediction: document.querySelector('#prediction').textContent, \
        bars: document.querySelectorAll('#bars .bar').length, \
        message: document.querySelector('#message').textContent, \
        models: document.querySelector('#model-select').innerText})";
    b.wait_for(
        &draw,
        "document.querySelectorAll('#first-layer canvas').length === 100",
        Duration::from_secs(20),
        "the model's first layer drawn",
        DRAW,
    );
    b.eval(
        &draw,
        "(() => { const c = document.querySelector('#draw-canvas'); \
         const r = c.getBoundingClientRect(); \
         const at = (type, y) => c.dispatchEvent(new PointerEvent(type, {bubbles: true, \
           pointerId: 1, pointerType: 'mouse', clientX: r.left + 140 * r.width / 280, \
           clientY: r.top + y * r.height / 280})); \
         at('pointerdown', 50); for (let y = 55; y <= 230; y += 5) at('pointermove', y); \
         at('pointerup', 230); })()",
    );
    b.wait_for(
        &draw,
        "document.querySelectorAll('#bars .bar').length === 10 && \
         document.querySelector('#prediction').textContent === '1' && \
         document.querySelectorAll('#input-pixels canvas').length === 1",
        Duration::from_secs(10),
        "a vertical stroke predicted as 1, with its bars and the input seen",
        DRAW,
    );
    b.eval(&draw, "document.querySelector('#load-wrong').click()");
    b.wait_for(
        &draw,
        "document.querySelectorAll('#misclassified .item').length > 0",
        Duration::from_secs(30),
        "the misclassified test images",
        DRAW,
    );
    screenshot(&mut b, &draw, "serve-draw.png", &shots);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&shots).unwrap();
}
