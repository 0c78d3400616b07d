//! `fave-lock`: parse the command line, run it, and turn the outcome into an exit code. The only place
//! where errors become text.

use std::process::ExitCode;

use clap::Parser;

mod cli;

/// glibc gives each thread that meets a locked arena an arena of its own, up to eight per core, and
/// memory freed in one is not reused by the others: a cold resolve whose heap peaked at 57 MB (heaptrack)
/// held 92 MB resident, 77–80 MB with two arenas (`MALLOC_ARENA_MAX=2`, same wall time). Two suit the
/// runtime's workers on this project's machines; an explicit `MALLOC_ARENA_MAX` still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called before any other thread exists; mallopt only sets an allocator parameter.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

fn main() -> ExitCode {
    let raw: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args = match cli::Cli::try_parse_from(&raw) {
        Ok(args) => args,
        Err(err) => {
            // A usage error under `--format json` is JSON on stdout too (help and version are not
            // errors); clap words it on stderr and exits 2 either way.
            if err.use_stderr() && cli::args_want_json(&raw) {
                let message = err.kind().as_str().unwrap_or("invalid command line");
                let detail = err.render().to_string();
                println!(
                    "{}",
                    cli::error_json(
                        "usage",
                        message,
                        &[detail.trim_end().to_string()],
                        cli::ExitStatus::Error
                    )
                );
            }
            err.exit();
        }
    };
    let json = args.command.wants_json(&raw);
    limit_malloc_arenas();
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
        runtime.block_on(cli::run(args, json))
    }));
    // The resolver's solver threads may still be blocked on requests when a run ends early (an error,
    // a timeout): dropping the runtime would wait for them, and its timers panic when they wake up in
    // a runtime being shut down. Nothing is left to do, so leave them to the process's exit.
    runtime.shutdown_background();
    let Ok(outcome) = outcome else {
        if json {
            let message = "internal error (a bug in fave-lock; nothing was written)";
            println!(
                "{}",
                cli::error_json("internal", message, &[], cli::ExitStatus::Error)
            );
        }
        return cli::ExitStatus::Error.into();
    };
    match outcome {
        Ok(status) => status.into(),
        Err(err) => {
            let status = cli::exit_status_of(&err);
            if json {
                println!("{}", cli::render_error_json(&err, status));
            }
            eprintln!("error: {}", cli::render_error(&err));
            status.into()
        }
    }
}
