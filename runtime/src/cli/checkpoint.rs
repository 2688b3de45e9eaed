//! `checkpoint` and `restore`: runc's flags, and the calls into `container::checkpoint` /
//! `container::restore` (which talk to CRIU).

use super::table::{
    get, multi, one_of, path, string, switch, value, with_default, Flag, Matches, UsageError, Verb,
};
use crate::container::checkpoint::{
    parse_cg_mode, parse_empty_ns, parse_page_server, CheckpointArgs, CriuFlags,
};
use crate::container::restore::RestoreArgs;
use crate::container::{self, Store};
use crate::error::Result;
use std::path::PathBuf;

const CG_MODES: &[&str] = &["soft", "full", "strict", "ignore"];

/// Flags both verbs take.
const COMMON: &[Flag] = &[
    with_default(
        value("image-path", None, "Directory of the CRIU images"),
        "checkpoint",
    ),
    value(
        "work-path",
        None,
        "Directory for CRIU's work files and log (default: the image path)",
    ),
    switch("tcp-established", None, "Allow open TCP connections"),
    switch("ext-unix-sk", None, "Allow external unix sockets"),
    switch("shell-job", None, "Allow shell jobs"),
    switch("file-locks", None, "Handle file locks"),
    switch(
        "lazy-pages",
        None,
        "Use userfaultfd to restore memory lazily",
    ),
    switch("auto-dedup", None, "Deduplicate memory pages in the images"),
    multi(
        "empty-ns",
        None,
        "Create this namespace, but do not restore its properties (e.g. network)",
    ),
    one_of(
        value(
            "manage-cgroups-mode",
            None,
            "cgroups mode: soft (default), full, strict or ignore",
        ),
        CG_MODES,
    ),
];

const CHECKPOINT_FLAGS: &[Flag] = &[
    value(
        "parent-path",
        None,
        "Directory of the previous (pre-dump) images, relative to the image path",
    ),
    switch(
        "leave-running",
        None,
        "Leave the container running after the checkpoint",
    ),
    value(
        "status-fd",
        None,
        "fd to write a 0 byte to when the lazy-pages server is ready",
    ),
    value(
        "page-server",
        None,
        "ADDRESS:PORT of a CRIU page server to send the memory to",
    ),
    switch(
        "pre-dump",
        None,
        "Dump only the memory (iterative migration); the container keeps running",
    ),
];

const RESTORE_FLAGS: &[Flag] = &[
    with_default(
        value("bundle", Some('b'), "Path to the bundle directory"),
        ".",
    ),
    value(
        "console-socket",
        None,
        "Unix socket that receives the pty master when process.terminal is true",
    ),
    switch(
        "detach",
        Some('d'),
        "Detach: return once the container is restored",
    ),
    value("pid-file", None, "File to write the restored init's pid to"),
    switch(
        "no-subreaper",
        None,
        "Do not become a subreaper for the restored process",
    ),
    switch(
        "no-pivot",
        None,
        "Accepted for runc compatibility (CRIU restores the root)",
    ),
    value(
        "lsm-profile",
        None,
        "LSM profile to restore the process with (TYPE:NAME)",
    ),
    value(
        "lsm-mount-context",
        None,
        "SELinux mount context for the restored mounts",
    ),
];

pub(super) const CHECKPOINT: Verb = Verb {
    name: "checkpoint",
    about: "Checkpoint a running container with CRIU",
    flags: &[COMMON, CHECKPOINT_FLAGS],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) const RESTORE: Verb = Verb {
    name: "restore",
    about: "Restore a container from a CRIU checkpoint",
    flags: &[COMMON, RESTORE_FLAGS],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

fn usage(e: crate::error::Error) -> UsageError {
    UsageError(e.to_string())
}

fn common(m: &Matches, flags: &[&'static [Flag]]) -> std::result::Result<CriuFlags, UsageError> {
    Ok(CriuFlags {
        image_path: PathBuf::from(get(m, flags, "image-path")),
        work_path: path(m, "work-path"),
        tcp_established: m.on("tcp-established"),
        ext_unix_sk: m.on("ext-unix-sk"),
        shell_job: m.on("shell-job"),
        file_locks: m.on("file-locks"),
        lazy_pages: m.on("lazy-pages"),
        auto_dedup: m.on("auto-dedup"),
        empty_ns: parse_empty_ns(&m.all("empty-ns")).map_err(usage)?,
        manage_cgroups_mode: m
            .last("manage-cgroups-mode")
            .map(parse_cg_mode)
            .transpose()
            .map_err(usage)?,
        criu: None,
    })
}

pub(super) fn checkpoint_flags(m: &Matches) -> std::result::Result<CheckpointArgs, UsageError> {
    let status_fd = match m.last("status-fd") {
        None => None,
        Some(v) => Some(v.parse::<i32>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            UsageError(format!(
                "invalid value {v:?} for --status-fd: expected an fd number"
            ))
        })?),
    };
    Ok(CheckpointArgs {
        id: m.args[0].clone(),
        common: common(m, CHECKPOINT.flags)?,
        parent_path: path(m, "parent-path"),
        leave_running: m.on("leave-running"),
        pre_dump: m.on("pre-dump"),
        status_fd,
        page_server: m
            .last("page-server")
            .map(parse_page_server)
            .transpose()
            .map_err(usage)?,
    })
}

pub(super) fn restore_flags(m: &Matches) -> std::result::Result<RestoreArgs, UsageError> {
    Ok(RestoreArgs {
        id: m.args[0].clone(),
        common: common(m, RESTORE.flags)?,
        bundle: PathBuf::from(get(m, RESTORE.flags, "bundle")),
        console_socket: path(m, "console-socket"),
        detach: m.on("detach"),
        pid_file: path(m, "pid-file"),
        no_subreaper: m.on("no-subreaper"),
        no_pivot: m.on("no-pivot"),
        lsm_profile: string(m, "lsm-profile"),
        lsm_mount_context: string(m, "lsm-mount-context"),
        systemd_cgroup: false,
    })
}

pub(super) fn checkpoint(
    store: &Store,
    mut a: CheckpointArgs,
    criu: Option<String>,
) -> Result<i32> {
    a.common.criu = criu;
    container::checkpoint::checkpoint(store, &a).map(|_| 0)
}

pub(super) fn restore(
    store: &Store,
    mut a: RestoreArgs,
    criu: Option<String>,
    systemd_cgroup: bool,
) -> Result<i32> {
    a.common.criu = criu;
    a.systemd_cgroup = systemd_cgroup;
    container::restore::restore(store, &a)
}
