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
use scratchnet::serve::Server;

/// A server on a free loopback port, stopped when dropped.
struct Running {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Running {
    fn start() -> Running {
        let server = Server::bind(IpAddr::V4(Ipv4Addr::LOCALHOST), 0).unwrap();
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
    std::fs::remove_dir_all(&shots).unwrap();
}
