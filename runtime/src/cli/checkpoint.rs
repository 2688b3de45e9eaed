//! `checkpoint` (CRIU dump through `crate::container::checkpoint`) and `restore`, whose flags are
//! parsed like runc's but which hull does not implement yet (it says so clearly).

use super::table::{get, multi, switch, value, with_default, Matches, UsageError, Verb};
use crate::container::checkpoint::CheckpointOpts;
use crate::container::Store;
use crate::error::{Error, Result};
use std::path::PathBuf;

pub(super) const CHECKPOINT: Verb = Verb {
    name: "checkpoint",
    about: "Checkpoint a running container with CRIU",
    flags: &[&[
        value(
            "image-path",
            None,
            "Where to write the images (default ./checkpoint)",
        ),
        value(
            "work-path",
            None,
            "Where to write criu's log (default: image path)",
        ),
        with_default(
            value(
                "parent-path",
                None,
                "Previous pre-dump, relative to image path",
            ),
            "",
        ),
        switch(
            "leave-running",
            None,
            "Leave the process running after the dump",
        ),
        switch("tcp-established", None, "Allow open tcp connections"),
        switch("ext-unix-sk", None, "Allow external unix sockets"),
        switch("shell-job", None, "Allow shell jobs"),
        switch(
            "lazy-pages",
            None,
            "Use userfaultfd lazy pages (not supported)",
        ),
        value("status-fd", None, ""),
        value("page-server", None, "ADDRESS:PORT of a criu page server"),
        switch("file-locks", None, "Handle file locks"),
        switch(
            "pre-dump",
            None,
            "Dump memory only, leave the container running",
        ),
        value("manage-cgroups-mode", None, "soft, full, strict or ignore"),
        multi("empty-ns", None, "Namespace not to dump (network, ...)"),
        switch("auto-dedup", None, "Deduplicate images against the parent"),
    ]],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) const RESTORE: Verb = Verb {
    name: "restore",
    about: "Restore a container from a checkpoint (not supported yet)",
    flags: &[&[
        with_default(
            value("bundle", Some('b'), "Path to the bundle directory"),
            ".",
        ),
        value("image-path", None, ""),
        value("work-path", None, ""),
        switch("tcp-established", None, ""),
        switch("ext-unix-sk", None, ""),
        switch("shell-job", None, ""),
        switch("file-locks", None, ""),
        value("manage-cgroups-mode", None, ""),
        switch("detach", Some('d'), ""),
        value("pid-file", None, ""),
        value("console-socket", None, ""),
        switch("no-pivot", None, ""),
        switch("no-subreaper", None, ""),
        multi("empty-ns", None, ""),
        switch("auto-dedup", None, ""),
        switch("lazy-pages", None, ""),
    ]],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) fn flags(m: &Matches) -> std::result::Result<CheckpointOpts, UsageError> {
    let parent = get(m, CHECKPOINT.flags, "parent-path");
    Ok(CheckpointOpts {
        image_path: m
            .last("image-path")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("checkpoint")),
        work_path: m.last("work-path").map(PathBuf::from),
        leave_running: m.on("leave-running"),
        tcp_established: m.on("tcp-established"),
        ext_unix_sk: m.on("ext-unix-sk"),
        shell_job: m.on("shell-job"),
        file_locks: m.on("file-locks"),
        pre_dump: m.on("pre-dump"),
        parent_path: (!parent.is_empty()).then_some(parent),
        manage_cgroups_mode: m.last("manage-cgroups-mode").map(String::from),
        empty_ns: m.all("empty-ns"),
        auto_dedup: m.on("auto-dedup"),
        lazy_pages: m.on("lazy-pages"),
        page_server: m.last("page-server").map(String::from),
        criu: None,
    })
}

pub(super) fn checkpoint(store: &Store, id: &str, o: &CheckpointOpts) -> Result<i32> {
    crate::container::checkpoint::checkpoint(store, id, o).map(|_| 0)
}

pub(super) fn restore(id: &str) -> Result<i32> {
    Err(Error::invalid(format!(
        "restore {id}: not supported by this version of hull (checkpoint is; see docs/checkpoint.md)"
    )))
}
