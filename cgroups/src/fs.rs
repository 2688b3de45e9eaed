//! Small cgroupfs helpers: every error keeps the path.
use crate::CgroupError;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Where the cgroup hierarchies are mounted in the usual layouts.
pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Paths below /sys/fs/cgroup are walked from one O_PATH descriptor of it, opened once per
/// process: a full path walk revalidates the sysfs dentries of `/sys/fs` under a kernfs lock
/// that every new network namespace takes to add its sysfs entries, so parallel container
/// starts contended on it (perf sched: hull blocked in kernfs_dop_revalidate). The descriptor
/// is close-on-exec; `None` (no /sys/fs/cgroup) means plain paths.
fn root_fd() -> Option<i32> {
    static ROOT: OnceLock<Option<OwnedFd>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let c = CString::new(CGROUP_ROOT).ok()?;
        // SAFETY: open(2) of a NUL-terminated path; the result is checked before use.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        // SAFETY: fd is a descriptor we just opened and own.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    })
    .as_ref()
    .map(|f| f.as_raw_fd())
}

/// `path` as (descriptor of /sys/fs/cgroup, relative path) when it lies below it.
fn below_root(path: &Path) -> Option<(i32, CString)> {
    let rel = path.strip_prefix(CGROUP_ROOT).ok()?;
    if rel.as_os_str().is_empty() || path.components().any(|c| c.as_os_str() == "..") {
        return None;
    }
    Some((root_fd()?, CString::new(rel.as_os_str().as_bytes()).ok()?))
}

fn cpath(path: &Path) -> std::io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(ErrorKind::InvalidInput))
}

fn check(r: libc::c_int) -> std::io::Result<libc::c_int> {
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// open(2) a cgroup file (`flags` | O_CLOEXEC), walked from /sys/fs/cgroup's descriptor.
pub fn open(path: &Path, flags: libc::c_int) -> std::io::Result<std::fs::File> {
    let flags = flags | libc::O_CLOEXEC;
    let fd = match below_root(path) {
        // SAFETY: openat(2) with a valid directory fd and a NUL-terminated relative path.
        Some((dirfd, rel)) => check(unsafe { libc::openat(dirfd, rel.as_ptr(), flags) })?,
        // SAFETY: open(2) of a NUL-terminated path.
        None => check(unsafe { libc::open(cpath(path)?.as_ptr(), flags) })?,
    };
    // SAFETY: fd was just opened and is owned by the File from here on.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// mkdir(2) of one cgroup directory (mode 0755).
pub fn create_dir(path: &Path) -> std::io::Result<()> {
    match below_root(path) {
        // SAFETY: mkdirat(2) with a valid directory fd and a NUL-terminated relative path.
        Some((dirfd, rel)) => check(unsafe { libc::mkdirat(dirfd, rel.as_ptr(), 0o755) }),
        // SAFETY: mkdir(2) of a NUL-terminated path.
        None => check(unsafe { libc::mkdir(cpath(path)?.as_ptr(), 0o755) }),
    }
    .map(|_| ())
}

/// rmdir(2) of one cgroup directory.
pub fn remove_dir(path: &Path) -> std::io::Result<()> {
    match below_root(path) {
        Some((dirfd, rel)) => {
            // SAFETY: unlinkat(2) with a valid directory fd and a NUL-terminated relative path.
            check(unsafe { libc::unlinkat(dirfd, rel.as_ptr(), libc::AT_REMOVEDIR) })
        }
        // SAFETY: rmdir(2) of a NUL-terminated path.
        None => check(unsafe { libc::rmdir(cpath(path)?.as_ptr()) }),
    }
    .map(|_| ())
}

/// Whether `path` exists (faccessat F_OK).
pub fn exists(path: &Path) -> bool {
    match below_root(path) {
        // SAFETY: faccessat(2) with a valid directory fd and a NUL-terminated relative path.
        Some((dirfd, rel)) => unsafe { libc::faccessat(dirfd, rel.as_ptr(), libc::F_OK, 0) == 0 },
        None => path.exists(),
    }
}

fn read_string(path: &Path) -> std::io::Result<String> {
    let mut s = String::new();
    open(path, libc::O_RDONLY)?.read_to_string(&mut s)?;
    Ok(s)
}

/// Write `value` to a cgroup file in a single write(2), as the kernel expects.
pub fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    let r = open(path, libc::O_WRONLY).and_then(|mut f| f.write_all(value.as_bytes()));
    r.map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

/// Two rule files (an allow and a deny file, as v1 devices), each opened on first use and kept
/// open: one write(2) per rule, without a path walk per rule.
pub struct RuleFiles {
    paths: [PathBuf; 2],
    open: [Option<std::fs::File>; 2],
}

impl RuleFiles {
    pub fn new(allow: PathBuf, deny: PathBuf) -> Self {
        RuleFiles {
            paths: [allow, deny],
            open: [None, None],
        }
    }

    /// Write `line` to the allow file (`allow`) or the deny file, in a single write(2).
    pub fn write(&mut self, allow: bool, line: &str) -> Result<(), CgroupError> {
        let i = usize::from(!allow);
        let path = &self.paths[i];
        let err = |source| CgroupError::Write {
            path: path.clone(),
            value: line.to_string(),
            source,
        };
        if self.open[i].is_none() {
            let f = open(path, libc::O_WRONLY).map_err(err)?;
            self.open[i] = Some(f);
        }
        let f = self.open[i].as_mut().expect("opened above");
        match f.write(line.as_bytes()) {
            Ok(n) if n == line.len() => Ok(()),
            Ok(n) => Err(err(std::io::Error::other(format!(
                "short write: {n} of {} bytes",
                line.len()
            )))),
            Err(e) => Err(err(e)),
        }
    }
}

pub fn read(path: &Path) -> Result<String, CgroupError> {
    read_string(path).map_err(|e| CgroupError::io(path, e))
}

/// Ok(None) when the file does not exist.
pub fn read_opt(path: &Path) -> Result<Option<String>, CgroupError> {
    match read_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CgroupError::io(path, e)),
    }
}

fn parse_err(path: &Path, what: &str) -> CgroupError {
    CgroupError::Parse {
        path: path.to_path_buf(),
        reason: format!("unexpected content {what:?}"),
    }
}

/// A single number; "max" reads as u64::MAX.
pub fn parse_u64(path: &Path, s: &str) -> Result<u64, CgroupError> {
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse().map_err(|_| parse_err(path, t))
}

pub fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    parse_u64(path, &read(path)?)
}

/// 0 when the file is absent (a statistic the kernel does not provide).
pub fn read_u64_or0(path: &Path) -> Result<u64, CgroupError> {
    match read_opt(path)? {
        Some(s) => parse_u64(path, &s),
        None => Ok(0),
    }
}

/// "key value" lines (memory.stat, cpu.stat, memory.events, memory.oom_control).
pub fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

pub fn read_flat_keyed(path: &Path) -> Result<BTreeMap<String, u64>, CgroupError> {
    Ok(read_opt(path)?
        .map(|t| parse_flat_keyed(&t))
        .unwrap_or_default())
}

pub fn mkdir_p(dir: &Path) -> Result<(), CgroupError> {
    std::fs::create_dir_all(dir).map_err(|e| CgroupError::io(dir, e))
}

/// Sub-cgroups of `dir` (directories), not recursive.
pub fn children(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(CgroupError::io(dir, e)),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(|e| CgroupError::io(dir, e))?;
        if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(ent.path());
        }
    }
    Ok(out)
}

/// Every pid in `dir` and its descendants (cgroup.procs).
pub fn pids_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    let procs = dir.join("cgroup.procs");
    let Some(text) = read_opt(&procs)? else {
        return Ok(());
    };
    for l in text.lines() {
        let pid: i32 = l.trim().parse().map_err(|_| parse_err(&procs, l))?;
        if !out.contains(&pid) {
            out.push(pid);
        }
    }
    for c in children(dir)? {
        pids_recursive(&c, out)?;
    }
    Ok(())
}

/// rmdir `dir` and its sub-cgroups bottom-up. cgroupfs answers EBUSY both for a directory with
/// sub-cgroups (those are then removed first) and for one whose last process is still exiting
/// (retried with back-off until `deadline`). A directory already gone is fine.
pub fn remove_tree(dir: &Path, deadline: Instant) -> Result<(), CgroupError> {
    let mut delay = Duration::from_millis(1);
    loop {
        match remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY) | Some(libc::ENOTEMPTY)) => {
                let kids = children(dir)?;
                if !kids.is_empty() {
                    for c in kids {
                        remove_tree(&c, deadline)?;
                    }
                    continue;
                }
                if Instant::now() >= deadline {
                    return Err(CgroupError::io(dir, e));
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(CgroupError::io(dir, e)),
        }
    }
}

/// After `dir` is gone: rmdir its empty ancestors named "*.slice" (made by hull for a systemd-form
/// path), stopping below `top` (the hierarchy's mount point) or at the first one still in use.
pub fn remove_empty_slices(dir: &Path, top: Option<&Path>) {
    let mut cur = dir.parent();
    while let Some(p) = cur {
        if Some(p) == top
            || !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().ends_with(".slice"))
        {
            break;
        }
        if remove_dir(p).is_err() {
            break;
        }
        cur = p.parent();
    }
}

/// Poll `cond` until true or `timeout` passes.
pub fn wait_for(
    path: &Path,
    what: &'static str,
    timeout: Duration,
    mut cond: impl FnMut() -> Result<bool, CgroupError>,
) -> Result<(), CgroupError> {
    let start = Instant::now();
    let mut delay = Duration::from_micros(200);
    loop {
        if cond()? {
            return Ok(());
        }
        if start.elapsed() >= timeout {
            return Err(CgroupError::Timeout {
                path: path.to_path_buf(),
                what,
                waited_ms: start.elapsed().as_millis() as u64,
            });
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

pub fn signal_pids(dir: &Path, pids: &[i32], signal: i32) -> Result<(), CgroupError> {
    for &pid in pids {
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        let r = unsafe { libc::kill(pid, signal) };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::ESRCH) {
                return Err(CgroupError::Signal {
                    pid,
                    path: dir.to_path_buf(),
                    source: e,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_below_the_cgroup_root_are_walked_from_its_descriptor() {
        let rel = |p: &str| below_root(Path::new(p)).map(|(_, r)| r.into_string().unwrap());
        if root_fd().is_some() {
            assert_eq!(
                rel("/sys/fs/cgroup/memory/x/cgroup.procs").as_deref(),
                Some("memory/x/cgroup.procs")
            );
        }
        assert_eq!(rel("/sys/fs/cgroup"), None);
        assert_eq!(rel("/sys/fs/cgroup/../../etc/passwd"), None);
        assert_eq!(rel("/sys/fs/cgroupx/memory"), None);
        assert_eq!(rel("/tmp/x"), None);
    }

    #[test]
    fn plain_paths_elsewhere() {
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("c");
        assert!(!exists(&sub));
        create_dir(&sub).unwrap();
        assert!(exists(&sub) && sub.is_dir());
        assert_eq!(
            create_dir(&sub).unwrap_err().kind(),
            ErrorKind::AlreadyExists
        );
        write(&sub.join("f"), "x").unwrap_err();
        std::fs::write(sub.join("f"), "").unwrap();
        write(&sub.join("f"), "12").unwrap();
        assert_eq!(read(&sub.join("f")).unwrap(), "12");
        assert_eq!(read_opt(&sub.join("none")).unwrap(), None);
        std::fs::remove_file(sub.join("f")).unwrap();
        remove_dir(&sub).unwrap();
        assert!(!sub.exists());
    }

    #[test]
    fn rule_files_open_once_and_write_each_rule_to_its_file() {
        let d = tempfile::tempdir().unwrap();
        let (allow, deny) = (d.path().join("allow"), d.path().join("deny"));
        std::fs::write(&allow, "").unwrap();
        std::fs::write(&deny, "").unwrap();
        let mut f = RuleFiles::new(allow.clone(), deny.clone());
        f.write(false, "a").unwrap();
        f.write(true, "c 1:3 rwm").unwrap();
        f.write(true, "c 1:5 rwm").unwrap();
        assert_eq!(
            std::fs::read_to_string(&allow).unwrap(),
            "c 1:3 rwmc 1:5 rwm"
        );
        // Removing the file now does not matter: it is not opened again.
        std::fs::remove_file(&allow).unwrap();
        f.write(true, "c 1:7 rwm").unwrap();
        assert_eq!(std::fs::read_to_string(&deny).unwrap(), "a");
        assert!(!allow.exists());

        let mut g = RuleFiles::new(d.path().join("missing"), deny.clone());
        match g.write(true, "a") {
            Err(CgroupError::Write { path, value, .. }) => {
                assert_eq!((path, value.as_str()), (d.path().join("missing"), "a"));
            }
            other => panic!("expected a write error naming the file, got {other:?}"),
        }
    }
}
