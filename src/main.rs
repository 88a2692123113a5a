//! The `scratchnet` binary: parse the command line, run it, print any error as one line.

use clap::Parser;

fn main() {
    let cli = scratchnet::cli::Cli::parse();
    let result = scratchnet::cli::run(cli);
    // Printing never panics (see `output`): a reader that went away is not an error, any other
    // failure to write standard output (a full disk) is, once the run has written its files.
    let result = result.and_then(|()| scratchnet::output::stdout_error().map_or(Ok(()), Err));
    if let Err(err) = result {
        match err {
            // Not a failure of the program: say what was kept, exit as shells expect.
            scratchnet::Error::Interrupted { .. } => eprintln!("{err}"),
            _ => eprintln!("error: {err}"),
        }
        std::process::exit(err.exit_code());
    }
}
