//! `exec`: its flag table, the flags as [`ExecFlags`], and the call into `container::exec`.

use super::table::{
    multi, path, preserve_fds, string, switch, value, with_default, Flag, Matches, UsageError, Verb,
};
use crate::container::{self, Store};
use crate::error::Result;
use std::path::PathBuf;

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

pub(super) const EXEC: Verb = Verb {
    name: "exec",
    about: "Run a process in a running container",
    flags: &[EXEC_FLAGS],
    args: &["container-id"],
    rest: Some("command"),
    hidden: false,
};

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

pub(super) fn flags(m: &Matches) -> std::result::Result<ExecFlags, UsageError> {
    Ok(ExecFlags {
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
        preserve_fds: preserve_fds(m, EXEC.flags)?,
        cgroup: m.all("cgroup"),
        ignore_paused: m.on("ignore-paused"),
        id: m.args[0].clone(),
        command: m.rest.clone(),
    })
}

pub(super) fn exec(store: &Store, e: ExecFlags) -> Result<i32> {
    container::exec::exec(
        store,
        &container::exec::ExecArgs {
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
        },
    )
}
