//! `fave-lock`: parse the command line, run it, and turn the outcome into an exit code. The only place
//! where errors become text.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return cli::ExitStatus::Error.into();
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(status) => status.into(),
        Err(err) => {
            let status = cli::exit_status_of(&err);
            eprintln!("error: {}", cli::render_error(&err));
            status.into()
        }
    }
}
