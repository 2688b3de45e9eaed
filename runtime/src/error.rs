//! hull's error type. Every variant keeps what failed: the field, the path or the syscall.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a config field, a flag, an ID. The message names the field.
    #[error("{0}")]
    Invalid(String),
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
    /// The container is in the wrong state for the operation, or does not exist.
    #[error("{0}")]
    State(String),
    /// The container's init process reported a failure during setup.
    #[error("container init failed at {step}: {msg}")]
    Child { step: String, msg: String },
    #[error("linux.resources / cgroupsPath: {0}")]
    Cgroup(#[from] hull_cgroups::CgroupError),
    #[error("linux.seccomp: {0}")]
    Seccomp(#[from] hull_seccomp::SeccompError),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
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
