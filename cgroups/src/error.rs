use std::path::PathBuf;

/// Every error names the file, field or controller involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("no cgroup filesystem is mounted (checked /proc/self/mountinfo){0}")]
    NoCgroupMount(String),
    #[error("invalid cgroupsPath {path:?}: {reason}")]
    InvalidPath { path: String, reason: String },
    #[error("invalid linux.resources.{field}: {reason}")]
    InvalidValue { field: String, reason: String },
    #[error("linux.resources.{field} needs the {controller} cgroup controller, which this host does not provide ({layout})")]
    MissingController {
        controller: String,
        field: String,
        layout: String,
    },
    #[error("linux.resources.{field} is not supported on {layout}: {reason}")]
    Unsupported {
        field: String,
        layout: String,
        reason: String,
    },
    #[error("bpf({op}) on {path}: {source}{log}")]
    Bpf {
        op: &'static str,
        path: PathBuf,
        log: String,
        #[source]
        source: std::io::Error,
    },
    #[error("timed out after {waited_ms} ms waiting for {what} ({path})")]
    Timeout {
        path: PathBuf,
        what: &'static str,
        waited_ms: u64,
    },
    #[error("signalling pid {pid} of {path}: {source}")]
    Signal {
        pid: i32,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl CgroupError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CgroupError::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn value(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CgroupError::InvalidValue {
            field: field.into(),
            reason: reason.into(),
        }
    }
}
