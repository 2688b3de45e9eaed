//! The runc-compatible command line: a thin layer over the library. `parse` turns the arguments
//! into a [`Cli`] (one [`Cmd`] per verb), [`run`] calls into `crate::container` for it. One file
//! per verb (or per group of small verbs) holds its flag table and that call.
//!
//! A small table-driven parser (`table`, `parse`, `help`): each verb is a `Verb` (its flags,
//! positional arguments and an optional trailing command). hull used clap at first; clap built
//! its whole command tree on every call, which was about 440k of the 935k instructions of a
//! `hull state` and 400 KiB of the binary (see the README's performance section). The tables
//! also give the help text.
//!
//! Accepted like runc (urfave/cli + Go's flag package) and like engines call it:
//! `--flag value`, `--flag=value`, Go-style single-dash long flags (`-root DIR`), short flags
//! (`-d`, `-b DIR`, `-bDIR`, clustered booleans `-dt`), `--bool=true|false`, `--` to end the
//! flags. Global flags go before the verb, and (except `--rootless`) may also follow it. Flags may
//! follow positional arguments, except in the trailing command of `exec` and `ps`, which is taken
//! verbatim.

mod checkpoint;
mod create;
mod exec;
mod help;
mod lifecycle;
mod parse;
mod query;
mod spec;
mod table;
#[cfg(test)]
mod tests;
mod update;

pub use crate::container::update::UpdateArgs;
pub use create::CreateFlags;
pub use exec::ExecFlags;
pub use table::UsageError;

use crate::container::Store;
use crate::error::Result;
use parse::{Scan, Tables};
use std::path::PathBuf;
use table::{get, one_of, switch, value, with_default, Flag, Matches, Verb};

const GLOBAL: &[Flag] = &[
    with_default(
        value("root", None, "Root directory for container state"),
        crate::container::state::DEFAULT_ROOT,
    ),
    value("log", None, "Log file (default: stderr)"),
    one_of(
        with_default(
            value("log-format", None, "Log format: text or json"),
            "text",
        ),
        &["text", "json"],
    ),
    switch("debug", None, "Enable debug logging"),
    switch(
        "systemd-cgroup",
        None,
        "Use the systemd cgroup driver (cgroupsPath as slice:prefix:name)",
    ),
    one_of(
        with_default(
            value("rootless", None, "Rootless mode: true, false or auto"),
            "auto",
        ),
        &["true", "false", "auto"],
    ),
    value(
        "criu",
        None,
        "Path to the criu binary (checkpoint, restore)",
    ),
];

/// Global flags that may not follow the verb (`spec --rootless` is the verb's own switch).
const GLOBAL_BEFORE_VERB_ONLY: &[&str] = &["rootless"];

/// Every verb, in the order the help lists them.
const VERBS: &[Verb] = &[
    create::CREATE,
    lifecycle::START,
    create::RUN,
    query::STATE,
    lifecycle::KILL,
    lifecycle::DELETE,
    query::LIST,
    spec::SPEC,
    spec::FEATURES,
    exec::EXEC,
    query::PS,
    lifecycle::PAUSE,
    lifecycle::RESUME,
    query::EVENTS,
    update::UPDATE,
    checkpoint::CHECKPOINT,
    checkpoint::RESTORE,
];

const TABLES: Tables = Tables {
    global: GLOBAL,
    before_verb_only: GLOBAL_BEFORE_VERB_ONLY,
    verbs: VERBS,
};

/// The parsed command line.
#[derive(Debug)]
pub struct Cli {
    /// Root directory for container state.
    pub root: PathBuf,
    /// Log file (default: stderr).
    pub log: Option<String>,
    /// Log format: text or json.
    pub log_format: String,
    pub debug: bool,
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto.
    pub rootless: String,
    /// The criu binary (default: `criu` on PATH).
    pub criu: Option<String>,
    pub cmd: Cmd,
}

#[derive(Debug)]
pub enum Cmd {
    Create(CreateFlags),
    Start {
        id: String,
    },
    Run {
        create: CreateFlags,
        detach: bool,
        keep: bool,
    },
    State {
        id: String,
    },
    Kill {
        all: bool,
        id: String,
        signal: String,
    },
    Delete {
        force: bool,
        id: String,
    },
    List {
        format: String,
        quiet: bool,
    },
    Spec {
        bundle: PathBuf,
        rootless: bool,
    },
    Features,
    Exec(ExecFlags),
    Ps {
        format: String,
        id: String,
        ps_args: Vec<String>,
    },
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    Events {
        interval: String,
        stats: bool,
        id: String,
    },
    Update(UpdateArgs),
    Checkpoint(crate::container::checkpoint::CheckpointArgs),
    Restore(crate::container::restore::RestoreArgs),
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Outcome {
    /// Run a verb.
    Run(Box<Cli>),
    /// Print this text (help, version) to stdout and exit 0.
    Print(String),
}

/// Parse `std::env::args()`; print help/version or a usage error and exit where that is the answer.
pub fn parse_or_exit() -> Cli {
    match parse(std::env::args().skip(1)) {
        Ok(Outcome::Run(cli)) => *cli,
        Ok(Outcome::Print(text)) => {
            print!("{text}");
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("hull: {e}");
            std::process::exit(2);
        }
    }
}

/// Parse the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> std::result::Result<Outcome, UsageError> {
    let toks: Vec<String> = args.into_iter().collect();
    let (global, verb, m) = match parse::scan(&TABLES, &toks)? {
        Scan::Print(text) => return Ok(Outcome::Print(text)),
        Scan::Version => return Ok(Outcome::Print(version_text())),
        Scan::Verb { global, verb, m } => (global, verb, m),
    };
    let cmd = build(verb, &m)?;
    Ok(Outcome::Run(Box::new(Cli {
        root: global
            .last("root")
            .map(PathBuf::from)
            .or_else(crate::rootless::default_root)
            .unwrap_or_else(|| PathBuf::from(crate::container::state::DEFAULT_ROOT)),
        log: global.last("log").map(String::from),
        log_format: get(&global, &[GLOBAL], "log-format"),
        debug: global.on("debug"),
        systemd_cgroup: global.on("systemd-cgroup"),
        rootless: get(&global, &[GLOBAL], "rootless"),
        criu: global.last("criu").map(String::from),
        cmd,
    })))
}

fn build(verb: &Verb, m: &Matches) -> std::result::Result<Cmd, UsageError> {
    let id = || m.args[0].clone();
    Ok(match verb.name {
        "create" => Cmd::Create(create::flags(m, verb.flags)?),
        "start" => Cmd::Start { id: id() },
        "run" => Cmd::Run {
            create: create::flags(m, verb.flags)?,
            detach: m.on("detach"),
            keep: m.on("keep"),
        },
        "state" => Cmd::State { id: id() },
        "kill" => Cmd::Kill {
            all: m.on("all"),
            id: id(),
            signal: m.args.get(1).cloned().unwrap_or_else(|| "SIGTERM".into()),
        },
        "delete" => Cmd::Delete {
            force: m.on("force"),
            id: id(),
        },
        "list" => Cmd::List {
            format: get(m, verb.flags, "format"),
            quiet: m.on("quiet"),
        },
        "spec" => Cmd::Spec {
            bundle: PathBuf::from(get(m, verb.flags, "bundle")),
            rootless: m.on("rootless"),
        },
        "features" => Cmd::Features,
        "exec" => Cmd::Exec(exec::flags(m)?),
        "ps" => Cmd::Ps {
            format: get(m, verb.flags, "format"),
            id: id(),
            ps_args: m.rest.clone(),
        },
        "pause" => Cmd::Pause { id: id() },
        "resume" => Cmd::Resume { id: id() },
        "events" => Cmd::Events {
            interval: get(m, verb.flags, "interval"),
            stats: m.on("stats"),
            id: id(),
        },
        "update" => Cmd::Update(update::flags(m)),
        "checkpoint" => Cmd::Checkpoint(checkpoint::checkpoint_flags(m)?),
        "restore" => Cmd::Restore(checkpoint::restore_flags(m)?),
        other => unreachable!("verb {other} is in VERBS but not built"),
    })
}

fn version_text() -> String {
    format!(
        "hull version {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        crate::container::OCI_VERSION
    )
}

/// Run the verb of a parsed command line; the exit code of the container (`run`, `exec`) or 0.
pub fn run(cli: Cli) -> Result<i32> {
    crate::rootless::set_mode(crate::rootless::resolve(&cli.rootless)?);
    let store = Store::new(&cli.root);
    let systemd = cli.systemd_cgroup;
    match cli.cmd {
        Cmd::Create(c) => create::create(&store, &c, systemd),
        Cmd::Start { id } => lifecycle::start(&store, &id),
        Cmd::Run {
            create,
            detach,
            keep,
        } => create::run(&store, &create, systemd, detach, keep),
        Cmd::State { id } => query::state(&store, &id),
        Cmd::Kill { all, id, signal } => lifecycle::kill(&store, &id, &signal, all),
        Cmd::Delete { force, id } => lifecycle::delete(&store, &id, force),
        Cmd::List { format, quiet } => query::list(&store, &format, quiet),
        Cmd::Spec { bundle, rootless } => spec::spec(&bundle, rootless),
        Cmd::Features => spec::features(),
        Cmd::Exec(e) => exec::exec(&store, e),
        Cmd::Ps {
            format,
            id,
            ps_args,
        } => query::ps(&store, &id, &format, &ps_args),
        Cmd::Pause { id } => lifecycle::pause(&store, &id),
        Cmd::Resume { id } => lifecycle::resume(&store, &id),
        Cmd::Events {
            interval,
            stats,
            id,
        } => query::events(&store, &id, &interval, stats),
        Cmd::Update(u) => update::update(&store, u),
        Cmd::Checkpoint(a) => checkpoint::checkpoint(&store, a, cli.criu),
        Cmd::Restore(a) => checkpoint::restore(&store, a, cli.criu, systemd),
    }
}
