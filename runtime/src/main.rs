//! The `hull` binary: parse the command line, set up logging, run the verb (all in `hull::cli`),
//! and turn the result into an exit code and an error line.

use hull::logging;

fn main() {
    let cli = hull::cli::parse_or_exit();
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
