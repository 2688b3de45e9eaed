//! `create` and `run`: their flag tables, the flags as [`CreateFlags`], and the call into
//! `container::create` / `container::run`.

use super::table::{
    get, path, preserve_fds, switch, value, with_default, Flag, Matches, UsageError, Verb,
};
use crate::container::{self, create::CreateArgs, Store};
use crate::error::Result;
use std::path::PathBuf;

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

pub(super) const CREATE: Verb = Verb {
    name: "create",
    about: "Create a container (its process waits for `start`)",
    flags: &[CREATE_FLAGS],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) const RUN: Verb = Verb {
    name: "run",
    about: "Create and start a container",
    flags: &[CREATE_FLAGS, RUN_FLAGS],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

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

pub(super) fn flags(
    m: &Matches,
    flags: &[&'static [Flag]],
) -> std::result::Result<CreateFlags, UsageError> {
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

fn create_args(c: &CreateFlags, systemd_cgroup: bool) -> CreateArgs {
    CreateArgs {
        systemd_cgroup,
        console_fd: None,
        id: c.id.clone(),
        bundle: c.bundle.clone(),
        pid_file: c.pid_file.clone(),
        console_socket: c.console_socket.clone(),
        no_pivot: c.no_pivot,
        no_new_keyring: c.no_new_keyring,
        preserve_fds: c.preserve_fds,
    }
}

pub(super) fn create(store: &Store, c: &CreateFlags, systemd_cgroup: bool) -> Result<i32> {
    container::create::create(store, &create_args(c, systemd_cgroup))?;
    Ok(0)
}

pub(super) fn run(
    store: &Store,
    c: &CreateFlags,
    systemd_cgroup: bool,
    detach: bool,
    keep: bool,
) -> Result<i32> {
    container::run::run(store, &create_args(c, systemd_cgroup), detach, keep)
}
