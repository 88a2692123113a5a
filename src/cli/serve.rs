//! `scratchnet serve`: the local web app — the TensorFlow Playground on our engine.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use clap::Args;

use crate::cli::train::StopSignals;
use crate::error::{Error, Result};
use crate::serve::{Server, is_loopback};

#[derive(Debug, Args)]
pub struct ServeCmd {
    /// The address to listen on. Anything but loopback opens the trainer to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// The port (0: any free one; the URL printed is the real one).
    #[arg(long, default_value_t = 7878)]
    pub port: u16,
    /// A folder of training runs (their --log CSVs, with --summary-json and checkpoints beside
    /// them) to show live on the Runs page, /runs; its checkpoints are offered on /draw. Only
    /// files directly inside it are read.
    #[arg(long, value_name = "DIR")]
    pub runs: Option<PathBuf>,
    /// A checkpoint of an image model to try by hand on the Draw page, /draw.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
}

pub fn run(cmd: ServeCmd) -> Result<()> {
    let mut server = Server::bind(cmd.host, cmd.port)?;
    if let Some(dir) = &cmd.runs {
        server = server.with_runs(dir)?;
    }
    if let Some(path) = &cmd.model {
        server = server.with_model(path)?;
    }
    if !is_loopback(cmd.host) {
        eprintln!(
            "warning: listening on {}: anyone who can reach this machine can start training \
             jobs on it; use the default --host 127.0.0.1 to keep it local",
            cmd.host
        );
    }
    crate::outln!("serving on {} (Ctrl-C stops)", server.url());
    if let Some(dir) = &cmd.runs {
        crate::outln!("the runs in {}: {}runs", dir.display(), server.url());
    }
    if cmd.model.is_some() || cmd.runs.is_some() {
        crate::outln!("try a model by hand: {}draw", server.url());
    }
    // Whoever waits for the URL (a script, a test) must see it now, not when the buffer fills.
    let _ = std::io::stdout().flush();
    let signals = StopSignals::install();
    server.run(std::sync::Arc::clone(&signals.stop))?;
    if signals.stop.load(Ordering::Relaxed) {
        return Err(Error::Interrupted {
            signal: signals.signal(),
            what: "stopped the server and its training jobs".into(),
        });
    }
    Ok(())
}
