use hull::cli::{Cli, Cmd, CreateFlags, ExecFlags, UpdateFlags};
use hull::container::{self, create::CreateArgs, Store};
use hull::error::{Error, Result};
use hull::logging;

fn create_args(c: CreateFlags, systemd_cgroup: bool) -> CreateArgs {
    CreateArgs {
        systemd_cgroup,
        console_fd: None,
        id: c.id,
        bundle: c.bundle,
        pid_file: c.pid_file,
        console_socket: c.console_socket,
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
        preserve_fds: c.preserve_fds,
    }
}

fn exec_args(e: ExecFlags) -> container::exec::ExecArgs {
    container::exec::ExecArgs {
        id: e.id,
        command: e.command,
        process: e.process,
        env: e.env,
        cwd: e.cwd,
        user: e.user,
        additional_gids: e.additional_gids,
        tty: e.tty,
        console_socket: e.console_socket,
        detach: e.detach,
        pid_file: e.pid_file,
        caps: e.cap,
        no_new_privs: e.no_new_privs,
        preserve_fds: e.preserve_fds,
        ignore_paused: e.ignore_paused,
        cgroups: e.cgroup,
        apparmor: e.apparmor,
        process_label: e.process_label,
    }
}

fn update_args(u: UpdateFlags) -> container::update::UpdateArgs {
    container::update::UpdateArgs {
        id: u.id,
        resources: u.resources,
        memory: u.memory,
        memory_swap: u.memory_swap,
        memory_reservation: u.memory_reservation,
        kernel_memory: u.kernel_memory,
        kernel_memory_tcp: u.kernel_memory_tcp,
        cpu_quota: u.cpu_quota,
        cpu_period: u.cpu_period,
        cpu_share: u.cpu_share,
        cpu_rt_period: u.cpu_rt_period,
        cpu_rt_runtime: u.cpu_rt_runtime,
        cpuset_cpus: u.cpuset_cpus,
        cpuset_mems: u.cpuset_mems,
        pids_limit: u.pids_limit,
        blkio_weight: u.blkio_weight,
        l3_cache_schema: u.l3_cache_schema,
        mem_bw_schema: u.mem_bw_schema,
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
        Cmd::Exec(e) => container::exec::exec(&store, &exec_args(e)),
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => {
            print!("{}", container::ps::ps(&store, &id, &format, &ps_args)?);
            Ok(0)
        }
        Cmd::Pause { id } => container::pause::pause(&store, &id).map(|_| 0),
        Cmd::Resume { id } => container::pause::resume(&store, &id).map(|_| 0),
        Cmd::Events {
            interval,
            stats,
            id,
        } => {
            let iv = container::events::parse_duration(&interval)?;
            container::events::events(&store, &id, stats, iv).map(|_| 0)
        }
        Cmd::Update(u) => container::update::update(&store, &update_args(u)).map(|_| 0),
        Cmd::Checkpoint { .. } => not_supported("checkpoint"),
        Cmd::Restore { .. } => not_supported("restore"),
    }
}

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
