//! The `scratchnet` binary: parse the command line, run it, print any error as one line.

use clap::Parser;

fn main() {
    // `scratchnet eval … | head` closes stdout early; printing then fails with EPIPE, which
    // `println!` turns into a panic. That is the reader's choice, not an error: exit quietly.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default_hook(info);
    }));

    let cli = scratchnet::cli::Cli::parse();
    if let Err(err) = scratchnet::cli::run(cli) {
        eprintln!("error: {err}");
        std::process::exit(1);
    }
}
