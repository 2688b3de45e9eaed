//! Container state on disk: one directory per ID under `--root`, `state.json` written atomically,
//! and a lock so that concurrent commands on one container serialise.
//!
//! The running process is the truth: a state whose pid is gone, or whose pid now belongs to another
//! process (different start time), reports `stopped`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/run/hull";
pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
pub const CONFIG_COPY: &str = "config.json";

#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What hull keeps about a container. The first fields are the runtime-spec state (plus runc's
/// `rootfs`, `created`, `owner`); the rest is hull's own bookkeeping.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    pub pid: i32,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    /// Start time of `pid` (field 22 of /proc/PID/stat), to detect pid reuse.
    #[serde(default)]
    pub start_time: u64,
    /// The container's cgroup, as resolved at create time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_path: Option<String>,
    #[serde(default)]
    pub systemd_cgroup: bool,
    /// Hooks run by later commands, kept here so that `start` and `delete` need not re-read
    /// and re-parse the config.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststart: Vec<oci_spec::runtime::Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub poststop: Vec<oci_spec::runtime::Hook>,
}

impl State {
    /// The runtime-spec state document (what `hull state` prints and hooks get on stdin).
    pub fn spec_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": if self.status == Status::Stopped { 0 } else { self.pid },
            "status": self.status.as_str(),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        });
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        v
    }
}

/// Validate a container ID before any path is built from it (runc's rule: `[\w+\-.]+`, not `.`/`..`).
pub fn validate_id(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid("invalid container id: must not be empty"));
    }
    if id.len() > 1024 {
        return Err(Error::invalid(
            "invalid container id: longer than 1024 bytes",
        ));
    }
    if id == "." || id == ".." {
        return Err(Error::invalid(format!("invalid container id {id:?}")));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')))
    {
        return Err(Error::invalid(format!(
            "invalid container id {id:?}: character {c:?} not allowed (use letters, digits, _ + - .)"
        )));
    }
    Ok(())
}

/// The state root (`--root`).
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: &Path) -> Self {
        Store {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn ensure_root(&self) -> Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(|e| Error::io("create state root", &self.root, e))
    }

    /// Create the directory of a new container, locked. Fails if the ID is taken.
    pub fn create(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        self.ensure_root()?;
        let path = self.root.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::State(format!(
                    "container with id {id} already exists"
                )))
            }
            Err(e) => return Err(Error::io("create state dir", &path, e)),
        }
        ContainerDir::lock(id, path)
    }

    /// Open and lock an existing container's directory.
    pub fn open(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        let path = self.root.join(id);
        if !path.join(STATE_FILE).exists() {
            return Err(Error::State(format!("container {id} does not exist")));
        }
        ContainerDir::lock(id, path)
    }

    /// IDs of every container under the root, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::io("read", &self.root, e)),
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join(STATE_FILE).exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// A container's state directory, held under an exclusive flock for the life of this value.
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    _lock: OwnedFd,
}

impl ContainerDir {
    fn lock(id: &str, path: PathBuf) -> Result<Self> {
        let f = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| Error::io("open state dir", &path, e))?;
        let fd: OwnedFd = f.into();
        // SAFETY: flock on a valid, owned fd.
        let rc = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(Error::io(
                "lock state dir",
                &path,
                std::io::Error::last_os_error(),
            ));
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: fd,
        })
    }

    /// The raw fd holding the lock (the spawned child must close its copy).
    pub fn lock_fd(&self) -> i32 {
        self._lock.as_raw_fd()
    }

    pub fn load(&self) -> Result<State> {
        let p = self.path.join(STATE_FILE);
        let data = fs::read(&p).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::State(format!("container {} does not exist", self.id))
            } else {
                Error::io("read", &p, e)
            }
        })?;
        serde_json::from_slice(&data)
            .map_err(|e| Error::invalid(format!("corrupt state file {}: {e}", p.display())))
    }

    /// Load the state and bring its status up to date with the real process.
    pub fn load_current(&self) -> Result<State> {
        let mut s = self.load()?;
        s.status = current_status(&s, &self.path);
        Ok(s)
    }

    /// Write state.json atomically (temp file + rename).
    pub fn save(&self, s: &State) -> Result<()> {
        let tmp = self.path.join(".state.json.tmp");
        let data = serde_json::to_vec(s).expect("state serialises");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io("write", &tmp, e))?;
        f.write_all(&data)
            .map_err(|e| Error::io("write", &tmp, e))?;
        drop(f);
        let dst = self.path.join(STATE_FILE);
        fs::rename(&tmp, &dst).map_err(|e| Error::io("rename", &dst, e))
    }

    /// Remove the directory and everything in it.
    pub fn remove(self) -> Result<()> {
        fs::remove_dir_all(&self.path).map_err(|e| Error::io("remove state dir", &self.path, e))
    }
}

/// Fields of /proc/PID/stat that decide liveness: (state char, start time).
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let data = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &data[data.rfind(')')? + 2..];
    let mut it = rest.split(' ');
    let state = it.next()?.chars().next()?;
    // After the state (field 3), start time is field 22: 18 more fields on.
    let start = it.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether `pid` still is the process that was recorded (alive, same start time, not a zombie).
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    if pid <= 0 {
        return false;
    }
    match proc_stat(pid) {
        Some((st, start)) => st != 'Z' && st != 'X' && (start_time == 0 || start == start_time),
        None => false,
    }
}

fn current_status(s: &State, dir: &Path) -> Status {
    if s.status == Status::Creating {
        return if process_alive(s.pid, s.start_time) {
            Status::Creating
        } else {
            Status::Stopped
        };
    }
    if !process_alive(s.pid, s.start_time) {
        return Status::Stopped;
    }
    if s.status == Status::Paused {
        return Status::Paused;
    }
    if dir.join(EXEC_FIFO).exists() {
        Status::Created
    } else {
        Status::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        for good in ["a", "abc-123", "x_y.z+1", "A.B"] {
            assert!(validate_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0b", "é"] {
            let e = validate_id(bad).unwrap_err().to_string();
            assert!(e.contains("invalid container id"), "{bad}: {e}");
        }
        assert!(validate_id(&"a".repeat(1025)).is_err());
    }

    #[test]
    fn proc_stat_reads_own_process() {
        let (st, start) = proc_stat(std::process::id() as i32).expect("own stat");
        assert!(st != 'Z' && st != 'X', "{st}");
        assert!(start > 0);
        assert!(process_alive(std::process::id() as i32, start));
        assert!(!process_alive(std::process::id() as i32, start + 1));
        assert!(!process_alive(0, 0));
    }

    #[test]
    fn store_create_is_exclusive_and_removable() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(&tmp.path().join("root"));
        let d = store.create("c1").unwrap();
        let st = State {
            oci_version: "1.2.0".into(),
            id: "c1".into(),
            status: Status::Created,
            pid: 0,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "now".into(),
            owner: String::new(),
            annotations: HashMap::new(),
            start_time: 0,
            cgroup_path: None,
            systemd_cgroup: false,
            poststart: vec![],
            poststop: vec![],
        };
        d.save(&st).unwrap();
        drop(d);
        let e = store.create("c1").err().unwrap().to_string();
        assert!(e.contains("already exists"), "{e}");
        assert_eq!(store.ids().unwrap(), vec!["c1".to_string()]);
        let d = store.open("c1").unwrap();
        // pid 0 is never alive: the status is computed as stopped.
        assert_eq!(d.load_current().unwrap().status, Status::Stopped);
        d.remove().unwrap();
        assert!(store.ids().unwrap().is_empty());
        let e = store.open("c1").err().unwrap().to_string();
        assert!(e.contains("does not exist"), "{e}");
    }
}
