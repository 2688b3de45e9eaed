//! The runc-compatible command line.
//!
//! A small table-driven parser: each verb is a [`Verb`] (its flags, positional arguments and an
//! optional trailing command), parsed into [`Cli`]. hull used clap at first; clap built its whole
//! command tree on every call, which was about 440k of the 935k instructions of a `hull state`
//! and 400 KiB of the binary (see the README's performance section). The tables also give the
//! help text.
//!
//! Accepted like runc (urfave/cli + Go's flag package) and like engines call it:
//! `--flag value`, `--flag=value`, Go-style single-dash long flags (`-root DIR`), short flags
//! (`-d`, `-b DIR`, `-bDIR`, clustered booleans `-dt`), `--bool=true|false`, `--` to end the
//! flags. Global flags go before the verb, and (except `--rootless`) may also follow it. Flags may
//! follow positional arguments, except in the trailing command of `exec` and `ps`, which is taken
//! verbatim.

use std::path::PathBuf;

/// What a flag takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A switch: `--debug`, `--debug=false`.
    Bool,
    /// One value; a repeated flag keeps the last.
    Value,
    /// A value that may be repeated; every occurrence is kept.
    Multi,
}

#[derive(Debug)]
struct Flag {
    long: &'static str,
    short: Option<char>,
    kind: Kind,
    default: Option<&'static str>,
    /// The only values accepted (empty: any).
    choices: &'static [&'static str],
    /// Empty: hidden from the help.
    help: &'static str,
}

const fn switch(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        kind: Kind::Bool,
        default: None,
        choices: &[],
        help,
    }
}

const fn value(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        kind: Kind::Value,
        default: None,
        choices: &[],
        help,
    }
}

const fn multi(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        kind: Kind::Multi,
        default: None,
        choices: &[],
        help,
    }
}

const fn with_default(mut f: Flag, default: &'static str) -> Flag {
    f.default = Some(default);
    f
}

const fn one_of(mut f: Flag, choices: &'static [&'static str]) -> Flag {
    f.choices = choices;
    f
}

#[derive(Debug)]
struct Verb {
    name: &'static str,
    about: &'static str,
    /// The verb's flags, in groups (`run` = `create`'s + its own).
    flags: &'static [&'static [Flag]],
    /// Positional arguments in order; a name ending in `?` is optional.
    args: &'static [&'static str],
    /// Name of the trailing command (everything after the positionals, taken verbatim).
    rest: Option<&'static str>,
    hidden: bool,
}

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
    // Accepted for runc compatibility; checkpointing is not supported.
    value("criu", None, ""),
];

/// Global flags that may not follow the verb (`spec --rootless` is the verb's own switch).
const GLOBAL_BEFORE_VERB_ONLY: &[&str] = &["rootless"];

const CREATE_FLAGS: &[Flag] = &[
    with_default(
        value("bundle", Some('b'), "Path to the bundle directory"),
        ".",
    ),
    value(
        "pid-file",
        None,
        "File to write the container init's pid to",
    ),
    value(
        "console-socket",
        None,
        "Unix socket that receives the pty master when process.terminal is true",
    ),
    switch(
        "no-pivot",
        None,
        "Do not use pivot_root (MS_MOVE + chroot instead)",
    ),
    switch(
        "no-new-keyring",
        None,
        "Do not create a new session keyring for the container",
    ),
    with_default(
        value(
            "preserve-fds",
            None,
            "Pass N extra fds (3 .. 3+N-1) to the container",
        ),
        "0",
    ),
];

/// `run` takes `create`'s flags and these.
const RUN_FLAGS: &[Flag] = &[
    switch(
        "detach",
        Some('d'),
        "Detach: return once the container runs",
    ),
    switch("keep", None, "Keep the container after it exits"),
];

const EXEC_FLAGS: &[Flag] = &[
    value(
        "console-socket",
        None,
        "AF_UNIX socket that receives the pty master (with --tty)",
    ),
    value("cwd", None, "Working directory in the container"),
    multi(
        "env",
        Some('e'),
        "Set an environment variable (KEY=VALUE); repeatable",
    ),
    switch(
        "tty",
        Some('t'),
        "Allocate a pseudo-TTY (needs --console-socket)",
    ),
    value("user", Some('u'), "UID (format: <uid>[:<gid>])"),
    multi(
        "additional-gids",
        Some('g'),
        "Additional gids; repeatable or comma-separated",
    ),
    value(
        "process",
        Some('p'),
        "Path to a process.json (replaces the command and the other process flags)",
    ),
    switch("detach", Some('d'), "Detach: return once the process runs"),
    value("pid-file", None, "File to write the process id to"),
    value(
        "process-label",
        None,
        "SELinux label for the process (an error where SELinux is not enabled, as runc)",
    ),
    value(
        "apparmor",
        None,
        "AppArmor profile for the process (an error where AppArmor is not enabled, as runc)",
    ),
    switch(
        "no-new-privs",
        None,
        "Set no_new_privileges for the process",
    ),
    multi(
        "cap",
        Some('c'),
        "Add a capability (bounding, effective, permitted); repeatable",
    ),
    with_default(
        value(
            "preserve-fds",
            None,
            "Pass N extra fds (3 .. 3+N-1) to the process",
        ),
        "0",
    ),
    multi(
        "cgroup",
        None,
        "Run the process in an existing sub-cgroup: [<controller>:]<path>; repeatable",
    ),
    switch(
        "ignore-paused",
        None,
        "Allow exec in a paused container (the process starts frozen)",
    ),
];

const UPDATE_FLAGS: &[Flag] = &[
    value(
        "resources",
        Some('r'),
        "File with a LinuxResources JSON, or '-' for stdin (the other flags are then ignored)",
    ),
    value(
        "memory",
        None,
        "Memory limit in bytes (suffixes k, m, g allowed)",
    ),
    value(
        "memory-swap",
        None,
        "Memory + swap limit in bytes; -1 for unlimited swap",
    ),
    value("memory-reservation", None, "Memory soft limit in bytes"),
    value(
        "kernel-memory",
        None,
        "Kernel memory limit (ignored with a warning: not supported by the kernel)",
    ),
    value(
        "kernel-memory-tcp",
        None,
        "Kernel TCP buffer memory limit (cgroup v1)",
    ),
    value(
        "cpu-quota",
        None,
        "CPU CFS quota in microseconds per period (-1: no limit)",
    ),
    value("cpu-period", None, "CPU CFS period in microseconds"),
    value("cpu-share", None, "CPU shares (relative weight)"),
    value("cpu-rt-period", None, "CPU realtime period in microseconds"),
    value(
        "cpu-rt-runtime",
        None,
        "CPU realtime runtime in microseconds",
    ),
    value("cpuset-cpus", None, "CPUs to use (e.g. 0-1)"),
    value("cpuset-mems", None, "Memory nodes to use"),
    value("pids-limit", None, "Maximum number of pids"),
    value("blkio-weight", None, "Block IO weight, 10 to 1000"),
    value(
        "l3-cache-schema",
        None,
        "Intel RDT L3 cache schema (not supported: error)",
    ),
    value(
        "mem-bw-schema",
        None,
        "Intel RDT memory bandwidth schema (not supported: error)",
    ),
];

const FORMAT: Flag = one_of(
    with_default(
        value("format", Some('f'), "Output format: table or json"),
        "table",
    ),
    &["table", "json"],
);

const VERBS: &[Verb] = &[
    Verb {
        name: "create",
        about: "Create a container (its process waits for `start`)",
        flags: &[CREATE_FLAGS],
        args: &["container-id"],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "start",
        about: "Start a created container",
        flags: &[],
        args: &["container-id"],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "run",
        about: "Create and start a container",
        flags: &[CREATE_FLAGS, RUN_FLAGS],
        args: &["container-id"],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "state",
        about: "Print the state of a container as JSON",
        flags: &[],
        args: &["container-id"],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "kill",
        about: "Send a signal to a container's init (default SIGTERM)",
        flags: &[&[switch(
            "all",
            Some('a'),
            "Signal every process of the container",
        )]],
        args: &["container-id", "signal?"],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "delete",
        about: "Delete a container",
        flags: &[&[switch("force", Some('f'), "Kill a running container first")]],
        args: &["container-id"],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "list",
        about: "List containers",
        flags: &[&[FORMAT, switch("quiet", Some('q'), "Print only the IDs")]],
        args: &[],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "spec",
        about: "Write a default config.json",
        flags: &[&[
            with_default(
                value("bundle", Some('b'), "Path to the bundle directory"),
                ".",
            ),
            switch("rootless", None, "A spec for a rootless container"),
        ]],
        args: &[],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "features",
        about: "Print the features this runtime supports (runtime-spec features.md)",
        flags: &[],
        args: &[],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "exec",
        about: "Run a process in a running container",
        flags: &[EXEC_FLAGS],
        args: &["container-id"],
        rest: Some("command"),
        hidden: false,
    },
    Verb {
        name: "ps",
        about: "List a container's processes (runs the host's ps; --format json prints the pids)",
        flags: &[&[FORMAT]],
        args: &["container-id"],
        rest: Some("ps-options"),
        hidden: false,
    },
    Verb {
        name: "pause",
        about: "Freeze every process of a container",
        flags: &[],
        args: &["container-id"],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "resume",
        about: "Thaw a paused container",
        flags: &[],
        args: &["container-id"],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "events",
        about: "Print a container's stats and OOM events as JSON, every --interval until it stops",
        flags: &[&[
            with_default(value("interval", None, "Stats collection interval"), "5s"),
            switch("stats", None, "Print the stats once and exit"),
        ]],
        args: &["container-id"],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "update",
        about: "Update a container's resource limits",
        flags: &[UPDATE_FLAGS],
        args: &["container-id"],
        rest: None,
        hidden: false,
    },
    Verb {
        name: "checkpoint",
        about: "Checkpointing is not supported",
        flags: &[],
        args: &[],
        rest: Some("args"),
        hidden: true,
    },
    Verb {
        name: "restore",
        about: "Restoring is not supported",
        flags: &[],
        args: &[],
        rest: Some("args"),
        hidden: true,
    },
];

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
    /// Accepted for runc compatibility; checkpointing is not supported.
    pub criu: Option<String>,
    pub cmd: Cmd,
}

#[derive(Debug, Clone)]
pub struct CreateFlags {
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    pub id: String,
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
    Update(UpdateFlags),
    Checkpoint {
        rest: Vec<String>,
    },
    Restore {
        rest: Vec<String>,
    },
}

#[derive(Debug, Clone)]
pub struct ExecFlags {
    pub console_socket: Option<PathBuf>,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub tty: bool,
    pub user: Option<String>,
    pub additional_gids: Vec<String>,
    pub process: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub process_label: Option<String>,
    pub apparmor: Option<String>,
    pub no_new_privs: bool,
    pub cap: Vec<String>,
    pub preserve_fds: i32,
    pub cgroup: Vec<String>,
    pub ignore_paused: bool,
    pub id: String,
    pub command: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct UpdateFlags {
    pub resources: Option<PathBuf>,
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub kernel_memory: Option<String>,
    pub kernel_memory_tcp: Option<String>,
    pub cpu_quota: Option<String>,
    pub cpu_period: Option<String>,
    pub cpu_share: Option<String>,
    pub cpu_rt_period: Option<String>,
    pub cpu_rt_runtime: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<String>,
    pub blkio_weight: Option<String>,
    pub l3_cache_schema: Option<String>,
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Outcome {
    /// Run a verb.
    Run(Box<Cli>),
    /// Print this text (help, version) to stdout and exit 0.
    Print(String),
}

/// A command line hull cannot take: the message names the flag, verb or argument.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
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

/// The flags, positional arguments and trailing command of one scope, as given.
#[derive(Default, Debug)]
struct Matches {
    /// (long name, value) in command-line order; booleans hold "true" or "false".
    given: Vec<(&'static str, String)>,
    args: Vec<String>,
    rest: Vec<String>,
}

impl Matches {
    fn last(&self, long: &str) -> Option<&str> {
        self.given
            .iter()
            .rev()
            .find(|(n, _)| *n == long)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, long: &str) -> Vec<String> {
        self.given
            .iter()
            .filter(|(n, _)| *n == long)
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn on(&self, long: &str) -> bool {
        self.last(long) == Some("true")
    }
}

/// Where a flag was found: the verb's own table or the global one.
fn lookup(tables: &[&'static [Flag]], found: impl Fn(&Flag) -> bool) -> Option<&'static Flag> {
    tables.iter().flat_map(|t| t.iter()).find(|f| found(f))
}

fn parse_bool(flag: &Flag, v: &str) -> Result<String, UsageError> {
    match v {
        "true" | "1" => Ok("true".into()),
        "false" | "0" => Ok("false".into()),
        _ => Err(UsageError(format!(
            "invalid value {v:?} for --{}: expected true or false",
            flag.long
        ))),
    }
}

fn check_choice(flag: &Flag, v: &str) -> Result<(), UsageError> {
    if flag.choices.is_empty() || flag.choices.contains(&v) {
        return Ok(());
    }
    Err(UsageError(format!(
        "invalid value {v:?} for --{}: expected one of {}",
        flag.long,
        flag.choices.join(", ")
    )))
}

/// Reads the flags of one scope: the top level (global flags) or a verb (its flags + the globals).
struct Scanner {
    tables: Vec<&'static [Flag]>,
    scope: &'static str,
}

enum Step {
    /// The token (and maybe the next one) was a flag; advance by this many tokens.
    Flag(usize),
    /// `-h` / `--help`.
    Help,
    /// A positional token.
    Positional,
    /// `--`: every later token is positional.
    EndOfFlags,
}

impl Scanner {
    fn unknown(&self, tok: &str) -> UsageError {
        UsageError(format!(
            "unknown flag {tok} for {} (see `hull {}--help`)",
            self.scope,
            if self.scope == "hull" {
                String::new()
            } else {
                format!("{} ", self.scope)
            }
        ))
    }

    /// Read the flag at `toks[i]` into `m`.
    fn step(&self, toks: &[String], i: usize, m: &mut Matches) -> Result<Step, UsageError> {
        let tok = toks[i].as_str();
        if tok == "--" {
            return Ok(Step::EndOfFlags);
        }
        if tok == "-" || !tok.starts_with('-') {
            return Ok(Step::Positional);
        }
        if tok == "-h" || tok == "--help" || tok == "-help" {
            return Ok(Step::Help);
        }
        let body = tok.trim_start_matches('-');
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let double = tok.starts_with("--");
        // Long flag: `--name`, or Go's `-name` when `name` is one of this scope's long flags.
        let long = if double || name.len() > 1 {
            lookup(&self.tables, |f| f.long == name)
        } else {
            None
        };
        if let Some(flag) = long {
            return self.take(flag, inline, toks, i, m);
        }
        if double {
            return Err(self.unknown(tok));
        }
        // Short flags, clustered: `-dt`, `-bDIR`, `-b DIR`.
        let chars: Vec<(usize, char)> = tok.char_indices().skip(1).collect();
        for (pos, c) in chars {
            let flag = lookup(&self.tables, |f| f.short == Some(c))
                .ok_or_else(|| self.unknown(&format!("-{c}")))?;
            if flag.kind == Kind::Bool {
                m.given.push((flag.long, "true".into()));
                continue;
            }
            let rest = &tok[pos + c.len_utf8()..];
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            if !rest.is_empty() {
                return self.take(flag, Some(rest), toks, i, m);
            }
            return self.take(flag, None, toks, i, m);
        }
        Ok(Step::Flag(1))
    }

    fn take(
        &self,
        flag: &'static Flag,
        inline: Option<&str>,
        toks: &[String],
        i: usize,
        m: &mut Matches,
    ) -> Result<Step, UsageError> {
        if flag.kind == Kind::Bool {
            let v = match inline {
                Some(v) => parse_bool(flag, v)?,
                None => "true".into(),
            };
            m.given.push((flag.long, v));
            return Ok(Step::Flag(1));
        }
        let (v, used) = match inline {
            Some(v) => (v.to_string(), 1),
            None => match toks.get(i + 1) {
                Some(v) => (v.clone(), 2),
                None => {
                    return Err(UsageError(format!(
                        "flag --{} of {} needs a value",
                        flag.long, self.scope
                    )))
                }
            },
        };
        check_choice(flag, &v)?;
        m.given.push((flag.long, v));
        Ok(Step::Flag(used))
    }
}

/// Parse the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Outcome, UsageError> {
    let toks: Vec<String> = args.into_iter().collect();
    let top = Scanner {
        tables: vec![GLOBAL],
        scope: "hull",
    };
    let mut global = Matches::default();
    let mut i = 0;
    let verb_at = loop {
        let Some(tok) = toks.get(i) else {
            return Err(UsageError(format!("no command given\n\n{}", help_text())));
        };
        if tok == "-v" || tok == "--version" || tok == "-version" {
            return Ok(Outcome::Print(version_text()));
        }
        match top.step(&toks, i, &mut global)? {
            Step::Flag(n) => i += n,
            Step::Help => return Ok(Outcome::Print(help_text())),
            Step::Positional => break i,
            Step::EndOfFlags => {
                i += 1;
                if i >= toks.len() {
                    return Err(UsageError("no command given".into()));
                }
                break i;
            }
        }
    };
    let name = toks[verb_at].as_str();
    if name == "help" {
        return Ok(Outcome::Print(match toks.get(verb_at + 1) {
            Some(v) => verb_help(find_verb(v)?),
            None => help_text(),
        }));
    }
    let verb = find_verb(name)?;

    // The verb's own flags first, then the globals that may follow a verb.
    let scan = Scanner {
        tables: verb.flags.iter().copied().chain([GLOBAL]).collect(),
        scope: verb.name,
    };
    let mut m = Matches::default();
    let mut i = verb_at + 1;
    let mut flags_ended = false;
    while i < toks.len() {
        let fixed_done = m.args.len() >= verb.args.len();
        if verb.rest.is_some()
            && fixed_done
            && (flags_ended || !m.args.is_empty() || verb.args.is_empty())
        {
            // Trailing command: verbatim (a leading `--` separates it, as in `exec ID -- ls`).
            let mut rest = &toks[i..];
            if rest.first().map(String::as_str) == Some("--") && !flags_ended {
                rest = &rest[1..];
            }
            m.rest.extend(rest.iter().cloned());
            break;
        }
        if flags_ended {
            m.args.push(toks[i].clone());
            i += 1;
            continue;
        }
        match scan.step(&toks, i, &mut m)? {
            Step::Flag(n) => i += n,
            Step::Help => return Ok(Outcome::Print(verb_help(verb))),
            Step::Positional => {
                m.args.push(toks[i].clone());
                i += 1;
            }
            Step::EndOfFlags => {
                flags_ended = true;
                i += 1;
            }
        }
    }
    // Globals given after the verb count as given before it (the later one wins).
    for (name, v) in m.given.iter().filter(|(n, _)| {
        GLOBAL.iter().any(|g| g.long == *n) && lookup(verb.flags, |f| f.long == *n).is_none()
    }) {
        if GLOBAL_BEFORE_VERB_ONLY.contains(name) {
            return Err(scan.unknown(&format!("--{name}")));
        }
        global.given.push((name, v.clone()));
    }
    check_args(verb, &m)?;
    let cmd = build(verb, &m)?;
    Ok(Outcome::Run(Box::new(Cli {
        root: PathBuf::from(get(&global, &[GLOBAL], "root")),
        log: global.last("log").map(String::from),
        log_format: get(&global, &[GLOBAL], "log-format"),
        debug: global.on("debug"),
        systemd_cgroup: global.on("systemd-cgroup"),
        rootless: get(&global, &[GLOBAL], "rootless"),
        criu: global.last("criu").map(String::from),
        cmd,
    })))
}

fn find_verb(name: &str) -> Result<&'static Verb, UsageError> {
    VERBS.iter().find(|v| v.name == name).ok_or_else(|| {
        UsageError(format!(
            "unknown command {name:?} (see `hull --help` for the commands)"
        ))
    })
}

/// The value given for `long`, or its default.
fn get(m: &Matches, tables: &[&'static [Flag]], long: &str) -> String {
    m.last(long)
        .or_else(|| lookup(tables, |f| f.long == long).and_then(|f| f.default))
        .unwrap_or_default()
        .to_string()
}

fn check_args(verb: &Verb, m: &Matches) -> Result<(), UsageError> {
    let required = verb.args.iter().filter(|a| !a.ends_with('?')).count();
    if m.args.len() < required {
        return Err(UsageError(format!(
            "{} needs <{}> (usage: {})",
            verb.name,
            verb.args[m.args.len()].trim_end_matches('?'),
            usage_line(verb)
        )));
    }
    if m.args.len() > verb.args.len() {
        return Err(UsageError(format!(
            "{}: unexpected argument {:?} (usage: {})",
            verb.name,
            m.args[verb.args.len()],
            usage_line(verb)
        )));
    }
    Ok(())
}

fn preserve_fds(m: &Matches, flags: &[&'static [Flag]]) -> Result<i32, UsageError> {
    let v = get(m, flags, "preserve-fds");
    v.parse::<i32>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        UsageError(format!(
            "invalid value {v:?} for --preserve-fds: expected a number of fds"
        ))
    })
}

fn path(m: &Matches, long: &str) -> Option<PathBuf> {
    m.last(long).map(PathBuf::from)
}

fn string(m: &Matches, long: &str) -> Option<String> {
    m.last(long).map(String::from)
}

fn create_flags(m: &Matches, flags: &[&'static [Flag]]) -> Result<CreateFlags, UsageError> {
    Ok(CreateFlags {
        bundle: PathBuf::from(get(m, flags, "bundle")),
        pid_file: path(m, "pid-file"),
        console_socket: path(m, "console-socket"),
        no_pivot: m.on("no-pivot"),
        no_new_keyring: m.on("no-new-keyring"),
        preserve_fds: preserve_fds(m, flags)?,
        id: m.args[0].clone(),
    })
}

fn build(verb: &Verb, m: &Matches) -> Result<Cmd, UsageError> {
    let id = || m.args[0].clone();
    Ok(match verb.name {
        "create" => Cmd::Create(create_flags(m, verb.flags)?),
        "start" => Cmd::Start { id: id() },
        "run" => Cmd::Run {
            create: create_flags(m, verb.flags)?,
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
        "exec" => Cmd::Exec(ExecFlags {
            console_socket: path(m, "console-socket"),
            cwd: string(m, "cwd"),
            env: m.all("env"),
            tty: m.on("tty"),
            user: string(m, "user"),
            additional_gids: m.all("additional-gids"),
            process: path(m, "process"),
            detach: m.on("detach"),
            pid_file: path(m, "pid-file"),
            process_label: string(m, "process-label"),
            apparmor: string(m, "apparmor"),
            no_new_privs: m.on("no-new-privs"),
            cap: m.all("cap"),
            preserve_fds: preserve_fds(m, verb.flags)?,
            cgroup: m.all("cgroup"),
            ignore_paused: m.on("ignore-paused"),
            id: id(),
            command: m.rest.clone(),
        }),
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
        "update" => Cmd::Update(UpdateFlags {
            resources: path(m, "resources"),
            memory: string(m, "memory"),
            memory_swap: string(m, "memory-swap"),
            memory_reservation: string(m, "memory-reservation"),
            kernel_memory: string(m, "kernel-memory"),
            kernel_memory_tcp: string(m, "kernel-memory-tcp"),
            cpu_quota: string(m, "cpu-quota"),
            cpu_period: string(m, "cpu-period"),
            cpu_share: string(m, "cpu-share"),
            cpu_rt_period: string(m, "cpu-rt-period"),
            cpu_rt_runtime: string(m, "cpu-rt-runtime"),
            cpuset_cpus: string(m, "cpuset-cpus"),
            cpuset_mems: string(m, "cpuset-mems"),
            pids_limit: string(m, "pids-limit"),
            blkio_weight: string(m, "blkio-weight"),
            l3_cache_schema: string(m, "l3-cache-schema"),
            mem_bw_schema: string(m, "mem-bw-schema"),
            id: id(),
        }),
        "checkpoint" => Cmd::Checkpoint {
            rest: m.rest.clone(),
        },
        "restore" => Cmd::Restore {
            rest: m.rest.clone(),
        },
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

fn usage_line(verb: &Verb) -> String {
    let mut s = format!("hull {}", verb.name);
    if verb.flags.iter().any(|g| !g.is_empty()) {
        s.push_str(" [flags]");
    }
    for a in verb.args {
        match a.strip_suffix('?') {
            Some(opt) => s.push_str(&format!(" [<{opt}>]")),
            None => s.push_str(&format!(" <{a}>")),
        }
    }
    if let Some(r) = verb.rest {
        s.push_str(&format!(" [<{r}>...]"));
    }
    s
}

fn flag_lines(out: &mut String, flags: &[Flag]) {
    for f in flags.iter().filter(|f| !f.help.is_empty()) {
        let mut left = match f.short {
            Some(c) => format!("  -{c}, --{}", f.long),
            None => format!("      --{}", f.long),
        };
        if f.kind != Kind::Bool {
            left.push_str(" <value>");
        }
        let mut help = f.help.to_string();
        if let Some(d) = f.default {
            help.push_str(&format!(" [default: {d}]"));
        }
        if f.kind == Kind::Multi && !help.contains("repeatable") {
            help.push_str(" (repeatable)");
        }
        out.push_str(&format!("{left:<32} {help}\n"));
    }
}

fn help_text() -> String {
    let mut s = String::from(
        "hull: a fast, runc-compatible OCI container runtime\n\n\
         Usage: hull [global flags] <command> [flags] [arguments]\n\nCommands:\n",
    );
    for v in VERBS.iter().filter(|v| !v.hidden) {
        s.push_str(&format!("  {:<12} {}\n", v.name, v.about));
    }
    s.push_str("\nGlobal flags:\n");
    flag_lines(&mut s, GLOBAL);
    s.push_str(&format!(
        "{:<32} Print this help\n{:<32} Print the version\n",
        "  -h, --help", "  -v, --version"
    ));
    s
}

fn verb_help(verb: &Verb) -> String {
    let mut s = format!("{}\n\nUsage: {}\n", verb.about, usage_line(verb));
    if verb.flags.iter().any(|g| !g.is_empty()) {
        s.push_str("\nFlags:\n");
        for group in verb.flags {
            flag_lines(&mut s, group);
        }
    }
    s.push_str("\nGlobal flags (see `hull --help`) may also follow the command.\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        match parse(args.iter().map(|s| s.to_string())) {
            Ok(Outcome::Run(c)) => *c,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn err(args: &[&str]) -> String {
        match parse(args.iter().map(|s| s.to_string())) {
            Err(e) => e.0,
            other => panic!("{args:?} should fail: {other:?}"),
        }
    }

    fn printed(args: &[&str]) -> String {
        match parse(args.iter().map(|s| s.to_string())) {
            Ok(Outcome::Print(t)) => t,
            other => panic!("{args:?} should print: {other:?}"),
        }
    }

    #[test]
    fn globals_and_defaults() {
        let c = cli(&["state", "x"]);
        assert_eq!(c.root, PathBuf::from("/run/hull"));
        assert_eq!(c.log_format, "text");
        assert_eq!(c.rootless, "auto");
        assert!(!c.debug && !c.systemd_cgroup && c.log.is_none());
        assert!(matches!(c.cmd, Cmd::State { ref id } if id == "x"));

        // As containerd's go-runc and conmon pass them.
        let c = cli(&[
            "--root",
            "/r",
            "--log",
            "/b/log.json",
            "--log-format=json",
            "--systemd-cgroup",
            "--debug",
            "delete",
            "--force",
            "c1",
        ]);
        assert_eq!(c.root, PathBuf::from("/r"));
        assert_eq!(c.log.as_deref(), Some("/b/log.json"));
        assert_eq!(c.log_format, "json");
        assert!(c.debug && c.systemd_cgroup);
        assert!(matches!(c.cmd, Cmd::Delete { force: true, ref id } if id == "c1"));
    }

    #[test]
    fn go_style_single_dash_long_flags_and_bool_values() {
        let c = cli(&["-root", "/r", "-debug=false", "kill", "-all", "c", "KILL"]);
        assert_eq!(c.root, PathBuf::from("/r"));
        assert!(!c.debug);
        assert!(
            matches!(c.cmd, Cmd::Kill { all: true, ref id, ref signal } if id == "c" && signal == "KILL")
        );
        assert!(err(&["--debug=maybe", "list"]).contains("--debug"));
    }

    #[test]
    fn globals_may_follow_the_verb_but_rootless_may_not() {
        let c = cli(&["create", "--root", "/r2", "-b", "/b", "id"]);
        assert_eq!(c.root, PathBuf::from("/r2"));
        let c = cli(&["--root", "/r1", "state", "--root=/r2", "id"]);
        assert_eq!(c.root, PathBuf::from("/r2"), "the later one wins");
        let c = cli(&["--rootless", "true", "spec", "--rootless"]);
        assert_eq!(c.rootless, "true");
        assert!(matches!(c.cmd, Cmd::Spec { rootless: true, .. }));
        assert!(err(&["state", "--rootless", "true", "x"]).contains("--rootless"));
    }

    #[test]
    fn create_and_run_flags() {
        let c = cli(&[
            "create",
            "--bundle",
            "/b",
            "--pid-file=/p",
            "--console-socket",
            "/s",
            "--no-pivot",
            "--no-new-keyring",
            "--preserve-fds",
            "2",
            "c1",
        ]);
        let Cmd::Create(f) = c.cmd else { panic!() };
        assert_eq!(f.bundle, PathBuf::from("/b"));
        assert_eq!(f.pid_file, Some(PathBuf::from("/p")));
        assert_eq!(f.console_socket, Some(PathBuf::from("/s")));
        assert!(f.no_pivot && f.no_new_keyring);
        assert_eq!((f.preserve_fds, f.id.as_str()), (2, "c1"));

        let c = cli(&["run", "-d", "-b/b", "c2", "--keep"]);
        let Cmd::Run {
            create,
            detach,
            keep,
        } = c.cmd
        else {
            panic!()
        };
        assert!(detach && keep);
        assert_eq!(create.bundle, PathBuf::from("/b"));
        assert_eq!(create.bundle, PathBuf::from("/b"));
        let Cmd::Create(f) = cli(&["create", "x"]).cmd else {
            panic!()
        };
        assert_eq!((f.bundle, f.preserve_fds), (PathBuf::from("."), 0));
        assert!(err(&["create", "--preserve-fds", "two", "x"]).contains("--preserve-fds"));
        assert!(err(&["create", "--preserve-fds=-1", "x"]).contains("--preserve-fds"));
    }

    #[test]
    fn exec_takes_the_command_verbatim() {
        let c = cli(&[
            "exec",
            "-t",
            "-e",
            "A=1",
            "--env=B=2",
            "-u",
            "1:2",
            "-g",
            "5",
            "--cap",
            "CAP_KILL",
            "--cgroup",
            "pids:/x",
            "-d",
            "c",
            "sh",
            "-c",
            "echo --root -d",
        ]);
        let Cmd::Exec(e) = c.cmd else { panic!() };
        assert!(e.tty && e.detach);
        assert_eq!(e.env, ["A=1", "B=2"]);
        assert_eq!(e.user.as_deref(), Some("1:2"));
        assert_eq!(e.additional_gids, ["5"]);
        assert_eq!(e.cap, ["CAP_KILL"]);
        assert_eq!(e.cgroup, ["pids:/x"]);
        assert_eq!(e.id, "c");
        assert_eq!(e.command, ["sh", "-c", "echo --root -d"]);
        assert_eq!(
            c.root,
            PathBuf::from("/run/hull"),
            "--root after the command is not ours"
        );

        let Cmd::Exec(e) = cli(&["exec", "c", "--", "ls", "-l"]).cmd else {
            panic!()
        };
        assert_eq!(e.command, ["ls", "-l"]);
        let Cmd::Exec(e) = cli(&["exec", "-dt", "--", "c", "true"]).cmd else {
            panic!()
        };
        assert!(e.detach && e.tty);
        assert_eq!(
            (e.id.as_str(), e.command.as_slice()),
            ("c", &["true".to_string()][..])
        );
        let Cmd::Exec(e) = cli(&["exec", "--process", "/p.json", "--pid-file", "/pid", "c"]).cmd
        else {
            panic!()
        };
        assert_eq!(e.process, Some(PathBuf::from("/p.json")));
        assert!(e.command.is_empty());
    }

    #[test]
    fn update_values_may_start_with_a_dash() {
        let Cmd::Update(u) = cli(&[
            "update",
            "--memory",
            "-1",
            "--cpu-quota=-1",
            "--pids-limit",
            "10",
            "c",
        ])
        .cmd
        else {
            panic!()
        };
        assert_eq!(u.memory.as_deref(), Some("-1"));
        assert_eq!(u.cpu_quota.as_deref(), Some("-1"));
        assert_eq!(u.pids_limit.as_deref(), Some("10"));
        let Cmd::Update(u) = cli(&["update", "-r", "-", "c"]).cmd else {
            panic!()
        };
        assert_eq!(u.resources, Some(PathBuf::from("-")));
    }

    #[test]
    fn other_verbs() {
        assert!(matches!(
            cli(&["kill", "c"]).cmd,
            Cmd::Kill { all: false, ref signal, .. } if signal == "SIGTERM"
        ));
        assert!(matches!(
            cli(&["list", "-q", "--format", "json"]).cmd,
            Cmd::List { quiet: true, ref format } if format == "json"
        ));
        assert!(matches!(cli(&["list"]).cmd, Cmd::List { ref format, .. } if format == "table"));
        let Cmd::Ps {
            format,
            id,
            ps_args,
        } = cli(&["ps", "-f", "json", "c", "-e", "-o", "pid"]).cmd
        else {
            panic!()
        };
        assert_eq!((format.as_str(), id.as_str()), ("json", "c"));
        assert_eq!(ps_args, ["-e", "-o", "pid"]);
        assert!(matches!(
            cli(&["events", "--stats", "--interval", "1s", "c"]).cmd,
            Cmd::Events { stats: true, ref interval, .. } if interval == "1s"
        ));
        assert!(matches!(cli(&["features"]).cmd, Cmd::Features));
        assert!(matches!(cli(&["pause", "c"]).cmd, Cmd::Pause { .. }));
        assert!(matches!(cli(&["resume", "c"]).cmd, Cmd::Resume { .. }));
        assert!(matches!(cli(&["start", "c"]).cmd, Cmd::Start { .. }));
        let Cmd::Checkpoint { rest } = cli(&["checkpoint", "--image-path", "/x", "c"]).cmd else {
            panic!()
        };
        assert_eq!(rest, ["--image-path", "/x", "c"]);
    }

    #[test]
    fn usage_errors_name_what_is_wrong() {
        assert!(err(&["frobnicate"]).contains("\"frobnicate\""));
        assert!(err(&["create"]).contains("<container-id>"));
        assert!(err(&["start", "a", "b"]).contains("\"b\""));
        assert!(err(&["delete", "--bogus", "c"]).contains("--bogus"));
        assert!(err(&["delete", "-z", "c"]).contains("-z"));
        assert!(err(&["create", "c", "--bundle"]).contains("needs a value"));
        assert!(err(&["list", "--format", "yaml"]).contains("table, json"));
        assert!(err(&["--log-format", "xml", "list"]).contains("--log-format"));
        assert!(err(&[]).contains("no command"));
    }

    #[test]
    fn help_and_version() {
        let h = printed(&["--help"]);
        for v in VERBS.iter().filter(|v| !v.hidden) {
            assert!(h.contains(v.name), "{} missing from help", v.name);
        }
        assert!(!h.contains("checkpoint") && h.contains("--root"));
        let h = printed(&["exec", "--help"]);
        assert!(h.contains("--console-socket") && h.contains("<container-id>"));
        assert_eq!(printed(&["help", "kill"]), printed(&["kill", "-h"]));
        let h = printed(&["run", "--help"]);
        assert!(h.contains("--pid-file") && h.contains("--detach"), "{h}");
        // Inside exec's command, --help belongs to the command.
        let Cmd::Exec(e) = cli(&["exec", "c", "ls", "--help"]).cmd else {
            panic!()
        };
        assert_eq!(e.command, ["ls", "--help"]);
        let v = printed(&["--version"]);
        assert!(v.starts_with(&format!("hull version {}", env!("CARGO_PKG_VERSION"))));
        assert_eq!(printed(&["-v"]), v);
    }
}
