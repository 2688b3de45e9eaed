//! hull's error type. Every variant keeps what failed: the field, the path or the syscall, and
//! callers match on the variant (the kind), never on the message text. The messages themselves
//! keep runc's wording where engines read them ("does not exist", "already exists", "not running").

use crate::container::status::Status;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a config field, a flag, an ID. `field` names it (empty when the message already
    /// starts with the field's name, as `Error::invalid` callers write it).
    #[error("{}", field_msg(field, msg))]
    Invalid { field: String, msg: String },
    /// A file operation failed on `path`.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A system call failed.
    #[error("{op}: {errno}")]
    Sys {
        op: String,
        errno: nix::errno::Errno,
    },
    /// No container with this ID under the state root.
    #[error("container {id} does not exist")]
    NotFound { id: String },
    /// The ID is taken. `half_created`: by a container whose create never finished (its creator
    /// died): `hull delete -f ID` finishes the cleanup.
    #[error("container with id {id} already exists{}", if *half_created {
        format!(" (half-created: run `hull delete -f {id}`)")
    } else {
        String::new()
    })]
    AlreadyExists { id: String, half_created: bool },
    /// `verb` refused because the container is in `status` (runc's stateTransitionError).
    #[error("{}", wrong_state_msg(id, verb, *status))]
    WrongState {
        id: String,
        verb: &'static str,
        status: Status,
    },
    /// The container lacks something `verb` needs (its cgroup, its saved config).
    #[error("{}", missing_msg(id, verb, what))]
    Missing {
        id: String,
        verb: &'static str,
        what: &'static str,
    },
    /// The init died (or reported an error) while `start` released it.
    #[error("{0}")]
    StartFailed(String),
    /// The init did not die after SIGKILL within the timeout.
    #[error("container {id}: init {pid} did not die after SIGKILL")]
    Unkillable { id: String, pid: i32 },
    /// state.json exists but cannot be parsed.
    #[error("corrupt state file {}: {msg}", path.display())]
    CorruptState { path: PathBuf, msg: String },
    /// The container's init process reported a failure during setup.
    #[error("container init failed at {step}: {msg}")]
    Child { step: String, msg: String },
    #[error("linux.resources / cgroupsPath: {0}")]
    Cgroup(#[from] hull_cgroups::CgroupError),
    #[error("linux.seccomp: {0}")]
    Seccomp(#[from] hull_seccomp::SeccompError),
}

fn field_msg(field: &str, msg: &str) -> String {
    if field.is_empty() {
        msg.to_string()
    } else {
        format!("{field}: {msg}")
    }
}

/// The wording runc (and hull before typed errors) used for each refused transition.
fn wrong_state_msg(id: &str, verb: &str, st: Status) -> String {
    match (verb, st) {
        ("start", Status::Stopped) => format!("cannot start container {id}: container has stopped"),
        ("delete", s) => format!("cannot delete container {id} that is not stopped: {s}"),
        ("kill" | "events", _) => format!("container {id} is not running"),
        ("pause", s) => format!(
            "cannot pause container {id}: container is {s} (only a running or created container can be paused)"
        ),
        ("resume", s) => format!("cannot resume container {id}: container is {s} (not paused)"),
        ("exec in", Status::Paused) => format!(
            "cannot exec in container {id}: container is paused (use --ignore-paused to override)"
        ),
        (verb, s) => format!("cannot {verb} container {id}: container is {s}"),
    }
}

fn missing_msg(id: &str, verb: &str, what: &str) -> String {
    match (verb, what) {
        ("pause" | "resume", "cgroup") => {
            format!("container {id}: has no cgroup to freeze (created without cgroups)")
        }
        ("events", "cgroup") => format!("container {id} has no cgroup: no stats to report"),
        ("update", "cgroup") => format!("cannot update container {id}: it has no cgroup"),
        (_, "config") => {
            format!("container {id}: its saved config.json is missing or unreadable")
        }
        (verb, what) => format!("cannot {verb} container {id}: it has no {what}"),
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Bad input, the message naming the field (e.g. "process.env[0]: contains a NUL byte").
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid {
            field: String::new(),
            msg: msg.into(),
        }
    }
    /// Bad input in `field` (shown as "field: msg").
    pub fn field(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            msg: msg.into(),
        }
    }
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            op,
            path: path.into(),
            source,
        }
    }
    pub fn sys(op: impl Into<String>, errno: nix::errno::Errno) -> Self {
        Error::Sys {
            op: op.into(),
            errno,
        }
    }
    pub fn not_found(id: &str) -> Self {
        Error::NotFound { id: id.to_string() }
    }
    pub fn wrong_state(id: &str, verb: &'static str, status: Status) -> Self {
        Error::WrongState {
            id: id.to_string(),
            verb,
            status,
        }
    }
    pub fn missing(id: &str, verb: &'static str, what: &'static str) -> Self {
        Error::Missing {
            id: id.to_string(),
            verb,
            what,
        }
    }
    /// True for "no such container" (what `delete -f` of a missing container ignores).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}

/// Attach the name of the failing syscall to a nix result.
pub trait SysContext<T> {
    fn sys(self, op: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn sys(self, op: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(op(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_the_wording_engines_read() {
        assert_eq!(
            Error::not_found("c1").to_string(),
            "container c1 does not exist"
        );
        let e = Error::AlreadyExists {
            id: "c1".into(),
            half_created: false,
        };
        assert_eq!(e.to_string(), "container with id c1 already exists");
        let e = Error::AlreadyExists {
            id: "c1".into(),
            half_created: true,
        };
        assert_eq!(
            e.to_string(),
            "container with id c1 already exists (half-created: run `hull delete -f c1`)"
        );
        assert_eq!(
            Error::wrong_state("c1", "kill", Status::Stopped).to_string(),
            "container c1 is not running"
        );
        assert_eq!(
            Error::wrong_state("c1", "start", Status::Stopped).to_string(),
            "cannot start container c1: container has stopped"
        );
        assert_eq!(
            Error::wrong_state("c1", "start", Status::Running).to_string(),
            "cannot start container c1: container is running"
        );
        assert_eq!(
            Error::wrong_state("c1", "delete", Status::Running).to_string(),
            "cannot delete container c1 that is not stopped: running"
        );
        assert_eq!(
            Error::field("process.cwd", "must be absolute").to_string(),
            "process.cwd: must be absolute"
        );
        assert_eq!(Error::invalid("x: y").to_string(), "x: y");
        assert!(Error::not_found("a").is_not_found());
        assert!(!Error::wrong_state("a", "kill", Status::Stopped).is_not_found());
    }
}
