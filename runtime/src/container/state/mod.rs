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

pub use super::status::Status;

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

/// Prefix of the directory a new container is assembled in before it is renamed to its ID
/// (`#` is not allowed in IDs, so it can never clash with a container).
const NEW_PREFIX: &str = "#new-";

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

    /// Create the directory of a new container, locked, with `first` (status `creating`) already
    /// in it: the directory is assembled under a temporary name and renamed to the ID without
    /// replacing anything, so no command ever sees the ID without a state.json. Fails with
    /// `AlreadyExists` if the ID is taken (saying so when it is a half-created one).
    pub fn create(&self, first: &State) -> Result<ContainerDir> {
        let id = first.id.as_str();
        validate_id(id)?;
        self.ensure_root()?;
        let path = self.root.join(id);
        if path.symlink_metadata().is_ok() {
            return Err(self.taken(id));
        }
        let tmp = self.root.join(format!(
            "{NEW_PREFIX}{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        ));
        // Root-only (the owner's only, rootless): state.json and the config copy may carry secrets.
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .map_err(|e| Error::io("create state dir", &path, e))?;
        let made = (|| {
            let mut dir = ContainerDir::lock_new(id, tmp.clone())?;
            dir.write_state(first, &path.join(STATE_FILE))?;
            crate::failpoint::hit("create:before-state-rename");
            rename_noreplace(&tmp, &path).map_err(|e| {
                if matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ENOTEMPTY)) {
                    self.taken(id)
                } else {
                    Error::io("create state dir", &path, e)
                }
            })?;
            dir.path = path.clone();
            Ok(dir)
        })();
        if made.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        made
    }

    /// The error for a taken ID: a plain "already exists", or, when its create never finished
    /// (no command holds it, and it has no state.json or one still `creating` without a live
    /// init), the hint to finish the cleanup.
    fn taken(&self, id: &str) -> Error {
        let path = self.root.join(id);
        let half = (|| {
            let f = fs::File::open(&path).ok()?;
            // SAFETY: flock on a valid fd; non-blocking: someone holding it is still at work.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } != 0 {
                return Some(false);
            }
            match fs::read(path.join(STATE_FILE)) {
                Err(_) => Some(true),
                Ok(data) => match serde_json::from_slice::<State>(&data) {
                    Err(_) => Some(true),
                    Ok(s) => Some(s.status == Status::Creating),
                },
            }
        })()
        .unwrap_or(false);
        Error::AlreadyExists {
            id: id.to_string(),
            half_created: half,
        }
    }

    /// Open and lock an existing container's directory (also one without a state.json: a
    /// half-made container that `state` reports and `delete` cleans up).
    pub fn open(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        let path = self.root.join(id);
        // The directory may be removed (or removed and made again) while we wait for the lock:
        // after locking, check that the path still names the directory we hold.
        for _ in 0..8 {
            let dir = match ContainerDir::lock(id, path.clone()) {
                Ok(d) => d,
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound
                        || source.raw_os_error() == Some(libc::ENOTDIR) =>
                {
                    return Err(Error::not_found(id))
                }
                Err(e) => return Err(e),
            };
            match dir.still_current() {
                Some(true) => return Ok(dir),
                Some(false) => continue,
                None => return Err(Error::not_found(id)),
            }
        }
        Err(Error::not_found(id))
    }

    /// IDs of every container under the root (with or without a state.json), sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::io("read", &self.root, e)),
        };
        let mut ids: Vec<String> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| validate_id(n).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Remove the temporary directories of creates whose process died before it renamed them
    /// (they hold only a `creating` state.json: nothing was made on the host yet).
    pub fn sweep_stale(&self) {
        let Ok(rd) = fs::read_dir(&self.root) else {
            return;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(NEW_PREFIX)) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
                continue;
            };
            // SAFETY: kill with signal 0 only checks whether the pid exists.
            let gone = unsafe { libc::kill(pid, 0) } != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            if gone {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
}

/// renameat2(2) of two paths relative to the cwd.
fn renameat2(from: &Path, to: &Path, flags: libc::c_uint) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let f = std::ffi::CString::new(from.as_os_str().as_bytes())?;
    let t = std::ffi::CString::new(to.as_os_str().as_bytes())?;
    // SAFETY: the renameat2 syscall (no libc wrapper in older musl) with two valid
    // NUL-terminated paths relative to the cwd.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            flags,
        )
    } as libc::c_int;
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Put the file `new` in place of `target` atomically (a reader sees the old or the new one,
/// never none). An existing target is swapped with RENAME_EXCHANGE and the old content, now at
/// `new`, unlinked: a plain rename over an existing file makes ext4 (auto_da_alloc) start
/// writeback of the new file at once, a block-device round trip per state change wherever the
/// state root is not a tmpfs. A crash between the two steps leaves only `new`, which the next
/// write truncates and `remove` deletes. Plain rename for a first write or a filesystem
/// without RENAME_EXCHANGE.
fn replace_file(new: &Path, target: &Path) -> std::io::Result<()> {
    match renameat2(new, target, libc::RENAME_EXCHANGE) {
        Ok(()) => match fs::remove_file(new) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EINVAL)) => {
            fs::rename(new, target)
        }
        Err(e) => Err(e),
    }
}

/// rename(2) that fails with EEXIST instead of replacing an (empty) directory at `to`.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    if let Err(e) = renameat2(from, to, libc::RENAME_NOREPLACE) {
        noreplace_fallback(from, to, e)
    } else {
        Ok(())
    }
}

fn noreplace_fallback(from: &Path, to: &Path, e: std::io::Error) -> std::io::Result<()> {
    if e.raw_os_error() != Some(libc::EINVAL) {
        return Err(e);
    }
    // A filesystem without RENAME_NOREPLACE: check, then rename (a plain rename would only
    // replace an empty directory, never a container's).
    if to.symlink_metadata().is_ok() {
        return Err(std::io::Error::from_raw_os_error(libc::EEXIST));
    }
    fs::rename(from, to)
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
        loop {
            // SAFETY: flock on a valid, owned fd.
            let rc = unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(Error::io("lock state dir", &path, e));
            }
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: fd,
        })
    }

    /// Lock a directory this process just made (nobody else can hold it yet).
    fn lock_new(id: &str, path: PathBuf) -> Result<Self> {
        Self::lock(id, path)
    }

    /// Whether `path` still names the locked directory: Some(false) when it was replaced by
    /// another one, None when it is gone.
    fn still_current(&self) -> Option<bool> {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: fstat on our own fd into a zeroed plain-data struct.
        let mut held: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        if unsafe { libc::fstat(self._lock.as_raw_fd(), &mut held) } != 0 || held.st_nlink == 0 {
            return None;
        }
        let now = fs::symlink_metadata(&self.path).ok()?;
        Some(now.ino() == held.st_ino && now.dev() == held.st_dev)
    }

    /// The raw fd holding the lock (the spawned child must close its copy).
    pub fn lock_fd(&self) -> i32 {
        self._lock.as_raw_fd()
    }

    /// The state as written. A directory without a state.json (a create that died before it
    /// wrote one, with an older hull, or a directory made by hand) loads as `creating` with no
    /// pid: it reports `stopped`, and `delete` removes it.
    pub fn load(&self) -> Result<State> {
        let p = self.path.join(STATE_FILE);
        let data = match fs::read(&p) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(self.orphan()),
            Err(e) => return Err(Error::io("read", &p, e)),
        };
        serde_json::from_slice(&data).map_err(|e| Error::CorruptState {
            path: p,
            msg: format!("{e} (run `hull delete -f {}` to remove it)", self.id),
        })
    }

    /// The state of a directory that has none: `creating`, no pid, nothing recorded.
    pub fn orphan(&self) -> State {
        State {
            oci_version: super::OCI_VERSION.into(),
            id: self.id.clone(),
            status: Status::Creating,
            pid: 0,
            bundle: PathBuf::new(),
            rootfs: PathBuf::new(),
            created: String::new(),
            owner: String::new(),
            annotations: HashMap::new(),
            start_time: 0,
            cgroup_path: None,
            systemd_cgroup: false,
            poststart: vec![],
            poststop: vec![],
        }
    }

    /// Load the state and bring its status up to date with the real process.
    pub fn load_current(&self) -> Result<State> {
        let mut s = self.load()?;
        s.status = current_status(&s, &self.path);
        Ok(s)
    }

    /// Write state.json atomically (temp file + rename). A failure (full disk, read-only root)
    /// leaves the previous state.json as it was and no temp file.
    pub fn save(&self, s: &State) -> Result<()> {
        self.write_state(s, &self.path.join(STATE_FILE))
    }

    /// `save`, naming `shown` in errors (the final path while the dir still has its temp name).
    fn write_state(&self, s: &State, shown: &Path) -> Result<()> {
        let tmp = self.path.join(".state.json.tmp");
        let data = serde_json::to_vec(s).expect("state serialises");
        let written = (|| {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&data)?;
            drop(f);
            replace_file(&tmp, &self.path.join(STATE_FILE))
        })();
        written.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            Error::io("write state", shown, e)
        })
    }

    /// Remove the directory and everything in it, state.json last: a delete killed half-way
    /// leaves a directory that still loads (or loads as an orphan) and can be deleted again.
    pub fn remove(self) -> Result<()> {
        let state = self.path.join(STATE_FILE);
        if let Ok(rd) = fs::read_dir(&self.path) {
            for e in rd.flatten() {
                let p = e.path();
                if p == state {
                    continue;
                }
                let r = if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    fs::remove_dir_all(&p)
                } else {
                    fs::remove_file(&p)
                };
                match r {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Error::io("remove", &p, e))
                    }
                    _ => {}
                }
            }
        }
        crate::failpoint::hit("delete:before-state-remove");
        match fs::remove_file(&state) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::io("remove", &state, e))
            }
            _ => {}
        }
        match fs::remove_dir(&self.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::io("remove state dir", &self.path, e))
            }
            _ => Ok(()),
        }
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
mod tests;
