//! The local web app, `scratchnet serve`: the TensorFlow Playground on our engine.
//!
//! - [`routes`]: the page (compiled into the binary: HTML, CSS and hand-written canvas
//!   JavaScript, nothing fetched from anywhere else) and the job API it drives.
//! - [`jobs`]: the training jobs, each a [`crate::playground::PlaygroundRun`] on its own
//!   `std::thread` through [`crate::job`] — never on the server's thread.
//!
//! The server is axum on a single-threaded tokio runtime: a few routes and a stream per open
//! page need no more, and the cores stay with the trainers. Its connections are bounded here,
//! where axum's own `serve` does not bound them: at most [`MAX_CONNECTIONS`] at once (more are
//! closed on arrival), request headers within [`MAX_HEADER_BYTES`] and read within
//! [`HEADER_TIMEOUT`] (a client that trickles them is cut off), bodies within
//! [`routes::MAX_BODY`].

pub mod draw;
pub mod jobs;
pub mod routes;
pub mod runs;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};
use crate::runs::RunsFolder;
use draw::Models;
use jobs::Jobs;
use runs::Runs;

/// Connections served at once; one more is closed as soon as it is accepted.
pub const MAX_CONNECTIONS: usize = 256;
/// The most bytes of request line and headers read before a request is refused (431).
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// A bound server, not yet serving: [`Server::addr`] is the real address (`--port 0` picks a
/// free port).
pub struct Server {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    runs: Option<RunsFolder>,
    model: Option<PathBuf>,
}

impl Server {
    /// Binds `host:port`.
    pub fn bind(host: IpAddr, port: u16) -> Result<Self> {
        let listener = std::net::TcpListener::bind((host, port)).map_err(|e| {
            Error::Config(format!(
                "cannot listen on {}: {e}{}",
                SocketAddr::new(host, port),
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    "; another program has that port: pass --port 0 for a free one"
                } else {
                    ""
                }
            ))
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::Config(format!("cannot set up the listening socket: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot read the listening address: {e}")))?;
        Ok(Server {
            listener,
            addr,
            runs: None,
            model: None,
        })
    }

    /// Shows the runs in `dir` on the Runs page (and its checkpoints on the Draw page).
    pub fn with_runs(mut self, dir: &Path) -> Result<Self> {
        self.runs = Some(RunsFolder::open(dir)?);
        Ok(self)
    }

    /// Offers the checkpoint at `path` on the Draw page; it is loaded and checked now.
    pub fn with_model(mut self, path: &Path) -> Result<Self> {
        let models = Models::new(Arc::new(Runs::new(None)), Some(path.to_path_buf()));
        models.check()?;
        self.model = Some(path.to_path_buf());
        Ok(self)
    }

    /// The address it listens on (the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Serves until `stop` is raised (checked every 100 ms), then stops every job and returns.
    pub fn run(self, stop: Arc<AtomicBool>) -> Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Config(format!("cannot start the server's runtime: {e}")))?;
        let jobs = Arc::new(Jobs::default());
        let runs = Arc::new(Runs::new(self.runs));
        let app = routes::App {
            jobs: Arc::clone(&jobs),
            models: Arc::new(Models::new(Arc::clone(&runs), self.model)),
            runs,
        };
        let result = runtime.block_on(serve(self.listener, app, stop));
        jobs.stop_all();
        result
    }
}

async fn serve(
    listener: std::net::TcpListener,
    app: routes::App,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let listener = TcpListener::from_std(listener)
        .map_err(|e| Error::Config(format!("cannot serve on the socket: {e}")))?;
    let app = routes::router(app);
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors, a connection reset before accept: keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = tick.tick() => {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            drop(stream); // over the bound: closed at once
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let mut http = hyper::server::conn::http1::Builder::new();
            http.timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEADER_BYTES);
            // Errors are a client's (garbage, a dropped connection): nothing to report.
            let _ = http.serve_connection(TokioIo::new(stream), service).await;
            drop(permit);
        });
    }
}

/// Whether `host` is reachable only from this machine.
pub fn is_loopback(host: IpAddr) -> bool {
    host.is_loopback()
}
