//! A headless Chromium driven over the DevTools protocol (a WebSocket of JSON commands): just
//! what the web app's tests need — open a page, evaluate JavaScript in it, wait for a
//! condition with a deadline, take a screenshot.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// The browser binary: `SCRATCHNET_CHROMIUM`, else the first of Debian's and others' names.
fn chromium() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("SCRATCHNET_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// Profiles made by this process, for unique folder names.
static PROFILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    next: u64,
    /// The browser's own profile folder, removed when it stops.
    profile: PathBuf,
}

/// A page (a target) of the browser, addressed by its session.
pub struct Page {
    session: String,
}

impl Browser {
    /// Starts a headless Chromium, or returns `None` after saying the test is skipped when there
    /// is none. With `SCRATCHNET_REQUIRE_BROWSER=1` (CI sets it) a missing browser fails.
    pub fn launch() -> Option<Browser> {
        let Some(bin) = chromium() else {
            if std::env::var("SCRATCHNET_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
                panic!("SCRATCHNET_REQUIRE_BROWSER=1 but no Chromium: apt-get install chromium");
            }
            eprintln!("skipped: this test needs Chromium (apt-get install chromium)");
            return None;
        };
        let profile = std::env::temp_dir().join(format!(
            "scratchnet-chromium-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        // The flags keep a headless Chromium off the network: no updates, no sync, no probes.
        let mut child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--window-size=1400,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("Chromium starts");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let ws_url = loop {
            let line = lines
                .next()
                .expect("Chromium printed its DevTools address")
                .unwrap();
            if let Some(rest) = line.split("DevTools listening on ").nth(1) {
                break rest.trim().to_string();
            }
        };
        // Keep draining its stderr, so a chatty browser never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let (ws, _) = tungstenite::connect(ws_url.as_str()).expect("DevTools connects");
        Some(Browser {
            child,
            ws,
            next: 0,
            profile,
        })
    }

    /// Sends `method` (to `page`'s session, or to the browser) and returns its result.
    pub fn call(&mut self, page: Option<&Page>, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(p) = page {
            msg["sessionId"] = json!(p.session);
        }
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let Message::Text(text) = self.ws.read().unwrap() else {
                continue;
            };
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["id"] == json!(id) {
                if let Some(e) = v.get("error") {
                    panic!("{method} failed: {e}");
                }
                return v["result"].clone();
            }
        }
    }

    /// Opens `url` in a new 1400 × 1000 page.
    pub fn open(&mut self, url: &str) -> Page {
        let target = self.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let attached = self.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target["targetId"], "flatten": true }),
        );
        let page = Page {
            session: attached["sessionId"].as_str().unwrap().to_string(),
        };
        self.call(
            Some(&page),
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": false }),
        );
        self.call(Some(&page), "Page.navigate", json!({ "url": url }));
        page
    }

    /// The value of `expr` evaluated in `page`.
    pub fn eval(&mut self, page: &Page, expr: &str) -> Value {
        let r = self.call(
            Some(page),
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true }),
        );
        r["result"]["value"].clone()
    }

    /// Polls `expr` until it is `true`; panics with `what` and the last values of `show` at
    /// the deadline.
    pub fn wait_for(&mut self, page: &Page, expr: &str, within: Duration, what: &str, show: &str) {
        let deadline = Instant::now() + within;
        loop {
            if self.eval(page, expr) == json!(true) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{what}: not within {within:?}; the page shows {}",
                    self.eval(page, show)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of `page`'s viewport, written to `path`.
    pub fn screenshot(&mut self, page: &Page, path: &Path) {
        let shot = self.call(
            Some(page),
            "Page.captureScreenshot",
            json!({ "format": "png" }),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::File::create(path)
            .unwrap()
            .write_all(&png)
            .unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
