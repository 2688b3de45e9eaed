//! The small lifecycle verbs — `start`, `kill`, `delete`, `pause`, `resume` — and `checkpoint` /
//! `restore`, which hull accepts only to say they are not supported.

use super::table::{switch, Verb};
use crate::container::{self, Store};
use crate::error::{Error, Result};

pub(super) const START: Verb = Verb {
    name: "start",
    about: "Start a created container",
    flags: &[],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) const KILL: Verb = Verb {
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
};

pub(super) const DELETE: Verb = Verb {
    name: "delete",
    about: "Delete a container",
    flags: &[&[switch("force", Some('f'), "Kill a running container first")]],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) const PAUSE: Verb = Verb {
    name: "pause",
    about: "Freeze every process of a container",
    flags: &[],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) const RESUME: Verb = Verb {
    name: "resume",
    about: "Thaw a paused container",
    flags: &[],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) const CHECKPOINT: Verb = Verb {
    name: "checkpoint",
    about: "Checkpointing is not supported",
    flags: &[],
    args: &[],
    rest: Some("args"),
    hidden: true,
};

pub(super) const RESTORE: Verb = Verb {
    name: "restore",
    about: "Restoring is not supported",
    flags: &[],
    args: &[],
    rest: Some("args"),
    hidden: true,
};

pub(super) fn start(store: &Store, id: &str) -> Result<i32> {
    container::start::start(store, id).map(|_| 0)
}

pub(super) fn kill(store: &Store, id: &str, signal: &str, all: bool) -> Result<i32> {
    let sig = container::kill::parse_signal(signal)?;
    container::kill::kill(store, id, sig, all).map(|_| 0)
}

pub(super) fn delete(store: &Store, id: &str, force: bool) -> Result<i32> {
    container::delete::delete(store, id, force).map(|_| 0)
}

pub(super) fn pause(store: &Store, id: &str) -> Result<i32> {
    container::pause::pause(store, id).map(|_| 0)
}

pub(super) fn resume(store: &Store, id: &str) -> Result<i32> {
    container::pause::resume(store, id).map(|_| 0)
}

pub(super) fn not_supported(verb: &str) -> Result<i32> {
    Err(Error::invalid(format!(
        "{verb}: not supported by this version of hull"
    )))
}
