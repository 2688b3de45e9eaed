//! The small lifecycle verbs: `start`, `kill`, `delete`, `pause`, `resume`.

use super::table::{switch, Verb};
use crate::container::{self, Store};
use crate::error::Result;

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
