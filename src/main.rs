//! The `scratchnet` binary: parse the command line, run it, print any error as one line.

use clap::Parser;

fn main() {
    let cli = scratchnet::cli::Cli::parse();
    if let Err(err) = scratchnet::cli::run(cli) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}
