//! The `hull` binary: parse the command line, set up logging, run the verb (all in `hull::cli`),
//! and turn the result into an exit code and an error line.
//!
//! `main` is the C entry itself (`no_main`): Rust's runtime start-up is skipped. It would read
//! `/proc/self/maps` to find the main thread's stack guard and install a stack-overflow handler
//! with its own signal stack (a dozen syscalls, in a process that lives milliseconds); the two
//! things of it hull needs are done here: SIGPIPE ignored (a closed pipe is an error, not death)
//! and fds 0-2 open (/dev/null where the caller closed one, so no file of hull's takes its
//! number). Arguments and the environment still come through std (glibc hands them to std's
//! `.init_array` hook); `std::process::exit` flushes stdout as it always does. Other C libraries
//! (musl) give std the arguments only through its runtime start-up, so there `main` is Rust's.
#![cfg_attr(target_env = "gnu", no_main)]

use hull::cli::Cmd;
use hull::logging;

#[cfg(target_env = "gnu")]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    start_up();
    hull_main()
}

#[cfg(not(target_env = "gnu"))]
fn main() {
    hull_main()
}

/// What Rust's runtime start-up did that hull relies on.
#[cfg(target_env = "gnu")]
fn start_up() {
    // SAFETY: poll on a local array; open/dup2 onto a closed stdio number; signal with SIG_IGN.
    unsafe {
        let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        if libc::poll(fds.as_mut_ptr(), 3, 0) >= 0 {
            for p in fds.iter().filter(|p| p.revents & libc::POLLNVAL != 0) {
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
                if null < 0 {
                    libc::abort();
                }
                if null != p.fd {
                    libc::dup2(null, p.fd);
                    libc::close(null);
                }
            }
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

fn hull_main() -> ! {
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
