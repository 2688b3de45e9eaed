use clap::Parser;
use hull::cli::{Cli, Cmd, CreateFlags};
use hull::container::{self, create::CreateArgs, Store};
use hull::error::{Error, Result};
use hull::logging;

fn create_args(c: CreateFlags, systemd_cgroup: bool) -> CreateArgs {
    CreateArgs {
        systemd_cgroup,
        id: c.id,
        bundle: c.bundle,
        pid_file: c.pid_file,
        console_socket: c.console_socket,
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
        preserve_fds: c.preserve_fds,
    }
}

fn not_supported(verb: &str) -> Result<i32> {
    Err(Error::invalid(format!(
        "{verb}: not supported by this version of hull"
    )))
}

fn dispatch(cli: Cli) -> Result<i32> {
    let store = Store::new(&cli.root);
    match cli.cmd {
        Cmd::Create(c) => {
            container::create::create(&store, &create_args(c, cli.systemd_cgroup))?;
            Ok(0)
        }
        Cmd::Start { id } => container::start::start(&store, &id).map(|_| 0),
        Cmd::Run {
            create,
            detach,
            keep,
        } => container::run::run(
            &store,
            &create_args(create, cli.systemd_cgroup),
            detach,
            keep,
        ),
        Cmd::State { id } => {
            let dir = store.open(&id)?;
            let st = dir.load_current()?;
            let mut v = st.spec_json();
            v["owner"] = "".into();
            println!(
                "{}",
                serde_json::to_string_pretty(&v).expect("state serialises")
            );
            Ok(0)
        }
        Cmd::Kill { all, id, signal } => {
            let sig = container::kill::parse_signal(&signal)?;
            container::kill::kill(&store, &id, sig, all).map(|_| 0)
        }
        Cmd::Delete { force, id } => container::delete::delete(&store, &id, force).map(|_| 0),
        Cmd::List { format, quiet } => {
            print!("{}", container::list::list(&store, &format, quiet)?);
            Ok(0)
        }
        Cmd::Spec { bundle, rootless } => {
            hull::specgen::write_default(&bundle, rootless).map(|_| 0)
        }
        Cmd::Features => {
            println!(
                "{}",
                serde_json::to_string_pretty(&hull::specgen::features()).expect("json")
            );
            Ok(0)
        }
        Cmd::Exec { .. } => not_supported("exec"),
        Cmd::Ps { .. } => not_supported("ps"),
        Cmd::Pause { .. } => not_supported("pause"),
        Cmd::Resume { .. } => not_supported("resume"),
        Cmd::Events { .. } => not_supported("events"),
        Cmd::Update { .. } => not_supported("update"),
        Cmd::Checkpoint { .. } => not_supported("checkpoint"),
        Cmd::Restore { .. } => not_supported("restore"),
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = logging::init(cli.log.as_deref(), cli.log_format == "json", cli.debug) {
        eprintln!("hull: cannot open log file {:?}: {e}", cli.log);
        std::process::exit(1);
    }
    match dispatch(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = e.to_string();
            logging::log(logging::Level::Error, &msg);
            eprintln!("hull: {msg}");
            std::process::exit(1);
        }
    }
}
