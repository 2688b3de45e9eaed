//! The `hull` binary: parse the command line, set up logging, run the verb (all in `hull::cli`),
//! and turn the result into an exit code and an error line.

use hull::cli::Cmd;
use hull::logging;

fn main() {
    let cli = hull::cli::parse_or_exit();
    // Before hull opens anything (the log file first): none of its fds may take a number that
    // goes to the container (--preserve-fds, and LISTEN_FDS for create/run).
    let listen = || {
        hull::process::listen_fds(
            std::env::var("LISTEN_PID").ok().as_deref(),
            std::env::var("LISTEN_FDS").ok().as_deref(),
            std::process::id(),
        )
    };
    match &cli.cmd {
        Cmd::Create(c) | Cmd::Run { create: c, .. } => {
            hull::guard::reserve_fds(listen().saturating_add(c.preserve_fds))
        }
        Cmd::Exec(e) => hull::guard::reserve_fds(e.preserve_fds),
        _ => {}
    }
    if let Err(e) = logging::init(cli.log.as_deref(), cli.log_format == "json", cli.debug) {
        eprintln!("hull: cannot open log file {:?}: {e}", cli.log);
        std::process::exit(1);
    }
    match hull::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = e.to_string();
            logging::log(logging::Level::Error, &msg);
            eprintln!("hull: {msg}");
            std::process::exit(1);
        }
    }
}
