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
    // A panic is a bug, but never a reason to lose files or to exit with Rust's 101: outputs are only
    // renamed into place at the end of a run, so unwinding drops the staged temp files and leaves every
    // previous file as it was. The hook words the message; the boundary turns it into exit 2.
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: internal error (a bug in fave-lock; nothing was written): {info}\n  \
             please report it with the command that caused it"
        );
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.block_on(cli::run(args))
    }));
    // The resolver's solver threads may still be blocked on requests when a run ends early (an error,
    // a timeout): dropping the runtime would wait for them, and its timers panic when they wake up in
    // a runtime being shut down. Nothing is left to do, so leave them to the process's exit.
    runtime.shutdown_background();
    let Ok(outcome) = outcome else {
        return cli::ExitStatus::Error.into();
    };
    match outcome {
        Ok(status) => status.into(),
        Err(err) => {
            let status = cli::exit_status_of(&err);
            eprintln!("error: {}", cli::render_error(&err));
            status.into()
        }
    }
}
