//! hull-cgroups: cgroup v2 and v1/hybrid managers for every OCI `linux.resources` field.
//!
//! The layout (unified v2, hybrid, legacy v1) is detected at run time: statfs of the usual
//! mount points under /sys/fs/cgroup, or /proc/self/mountinfo where the host mounts them elsewhere;
//! [`resolve_path`] turns `linux.cgroupsPath` into directories the way runc does; [`manager`]
//! gives the [`CgroupManager`] for a resolved (or persisted) [`CgroupPath`]. cgroupfs files are
//! written directly (no cgroups-rs: see docs/cgroups.md for the measured reasons).

mod convert;
pub mod devices;
mod error;
pub mod fs;
pub mod mountinfo;
pub mod path;
pub mod stats;
mod v1;
mod v2;
pub mod validate;

pub use convert::{blkio_weight_to_io_weight, cpu_max, limit_str, shares_to_weight, swap_to_v2};
pub use devices::default_device_rules;
pub use error::CgroupError;
pub use path::CgroupPath;
pub use stats::Stats;
pub use v1::V1Manager;
pub use v2::V2Manager;

use mountinfo::HostCgroups;
use oci_spec::runtime::{LinuxRdma, LinuxResources};
use serde::{Deserialize, Serialize};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// How cgroups are mounted on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Only cgroup2 (e.g. /sys/fs/cgroup is cgroup2).
    Unified,
    /// v1 controller hierarchies plus a cgroup2 mount (usually /sys/fs/cgroup/unified).
    Hybrid,
    /// Only v1 hierarchies.
    Legacy,
}

impl Layout {
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Unified => "cgroup v2 (unified)",
            Layout::Hybrid => "hybrid cgroups (v1 controllers)",
            Layout::Legacy => "cgroup v1 (legacy)",
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

/// Detect the layout (see [`HostCgroups::read`]; /proc/filesystems only for the error hint).
pub fn detect_layout() -> Result<Layout, CgroupError> {
    Ok(HostCgroups::read()?.layout)
}

/// Resolve the OCI `linux.cgroupsPath` the way runc does.
///
/// * absolute: that path in every hierarchy;
/// * relative (and the default, `id`, when None): relative to the caller's own cgroup in each v1
///   hierarchy; on cgroup v2 relative to the parent of the caller's cgroup (as runc's fs2 does);
/// * `systemd = true`: "slice:prefix:name" (default "system.slice:hull:<id>") is mapped to the
///   cgroupfs path systemd would use ("a-b.slice" → "/a.slice/a-b.slice/prefix-name.scope"); no
///   systemd is asked (there is none on hull's hosts), hull creates the directories itself.
///
/// A path whose `..` climbs above its start, a bad systemd form or a root path is an error.
pub fn resolve_path(
    cgroups_path: Option<&str>,
    id: &str,
    systemd: bool,
) -> Result<CgroupPath, CgroupError> {
    let host = HostCgroups::read()?;
    path::resolve_with(&host, cgroups_path, id, systemd)
}

/// See [`CgroupManager::open_self_join`].
#[derive(Default)]
pub struct SelfJoin {
    /// Files the process writes "0" to with [`join_self`] (v1 `tasks`).
    pub files: Vec<(PathBuf, OwnedFd)>,
    /// A hybrid host's cgroup2 (unified) cgroup: an O_PATH fd for clone3(CLONE_INTO_CGROUP),
    /// and its `cgroup.procs` to write "0" to where clone3 could not place the process.
    pub clone_into: Option<(OwnedFd, (PathBuf, OwnedFd))>,
}

impl SelfJoin {
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.clone_into.is_none()
    }
}

/// Open the file through which the calling thread joins the cgroup `dir` ([`join_self`]): v1
/// `tasks`, else (a v2 directory) `cgroup.procs`, which moves the whole process.
pub fn open_join_file(dir: &Path) -> Result<(PathBuf, OwnedFd), CgroupError> {
    let tasks = dir.join("tasks");
    let (path, f) = match fs::open(&tasks, libc::O_WRONLY) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            let procs = dir.join("cgroup.procs");
            let f = fs::open(&procs, libc::O_WRONLY);
            (procs, f)
        }
        r => (tasks, r),
    };
    match f {
        Ok(f) => Ok((path, f.into())),
        Err(source) => Err(CgroupError::Write {
            path,
            value: "0".into(),
            source,
        }),
    }
}

/// Move the calling thread into the cgroup of `fd` (from [`open_join_file`] or
/// [`CgroupManager::open_self_join`]): write "0", which names the caller. In a single-threaded
/// process (a container init or exec child before execve) that moves the process. Async-signal
/// safe: one write(2), no allocation.
pub fn join_self(fd: std::os::fd::BorrowedFd) -> Result<(), nix::errno::Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: write(2) of one byte from a static buffer to a borrowed fd.
    let n = unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr().cast(), 1) };
    if n == 1 {
        Ok(())
    } else if n < 0 {
        Err(nix::errno::Errno::last())
    } else {
        Err(nix::errno::Errno::EIO)
    }
}

/// A container's cgroup, whatever the layout.
pub trait CgroupManager: Send + Sync {
    /// mkdir -p; v2: enable the available controllers in every ancestor's cgroup.subtree_control.
    fn create(&self) -> Result<(), CgroupError>;
    /// Write every given resource (also used by `hull update`).
    fn apply(&self, res: &LinuxResources) -> Result<(), CgroupError>;
    fn add_process(&self, pid: i32) -> Result<(), CgroupError>;
    /// How a single-threaded process enters this cgroup itself instead of
    /// [`CgroupManager::add_process`] (v1 and hybrid; empty on v2, where clone3 places it).
    /// Moving the calling thread (v1 `tasks`) or being born in the cgroup (CLONE_INTO_CGROUP)
    /// skips the kernel's global threadgroup lock, whose write side waits for an RCU grace
    /// period (milliseconds) after a quiet moment; moving a process by pid takes it.
    fn open_self_join(&self) -> Result<SelfJoin, CgroupError> {
        Ok(SelfJoin::default())
    }
    /// v2: an O_PATH directory fd for clone3(CLONE_INTO_CGROUP); None on v1.
    fn open_dir_fd(&self) -> Option<OwnedFd>;
    /// v2 cgroup.freeze (waits for cgroup.events "frozen 1"); v1 freezer.state FROZEN.
    fn freeze(&self) -> Result<(), CgroupError>;
    fn thaw(&self) -> Result<(), CgroupError>;
    fn is_frozen(&self) -> Result<bool, CgroupError>;
    /// Every process in the cgroup and its descendants.
    fn pids(&self) -> Result<Vec<i32>, CgroupError>;
    /// runc `events --stats` shape.
    fn stats(&self) -> Result<Stats, CgroupError>;
    /// v2 memory.events oom_kill; v1 memory.oom_control oom_kill.
    fn oom_kill_count(&self) -> Result<u64, CgroupError>;
    /// v2 cgroup.kill for SIGKILL where present; else freeze, signal every pid, thaw.
    fn kill_all(&self, signal: i32) -> Result<(), CgroupError>;
    /// Remove the cgroup and its sub-cgroups bottom-up (EBUSY retried for 5 s); idempotent.
    fn destroy(&self) -> Result<(), CgroupError>;
    fn path(&self) -> &CgroupPath;
}

impl std::fmt::Debug for dyn CgroupManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CgroupManager")
            .field("path", self.path())
            .finish()
    }
}

/// The manager for `path`'s layout. Works as well on a CgroupPath read back from state.json in
/// another process (no state besides the path is needed).
pub fn manager(path: &CgroupPath) -> Result<Box<dyn CgroupManager>, CgroupError> {
    // Mount points recorded at resolve time; mountinfo only for paths stored without them.
    let mut mounts = path.mounts.clone();
    let wanted = |m: &std::collections::BTreeMap<String, PathBuf>| match path.layout {
        Layout::Unified => m.contains_key(""),
        _ => path.v1.keys().all(|c| m.contains_key(c)),
    };
    if !wanted(&mounts) {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| CgroupError::io("/proc/self/mountinfo", e))?;
        let found = mountinfo::parse_mountinfo(&text)?;
        if let Some(m) = mountinfo::v2_mount(&found) {
            mounts.insert(String::new(), m.mount_point.clone());
        }
        for ctrl in path.v1.keys() {
            if let Some(m) = mountinfo::v1_mount(&found, ctrl) {
                mounts.insert(ctrl.clone(), m.mount_point.clone());
            }
        }
    }
    match path.layout {
        Layout::Unified => {
            let root = mounts
                .remove("")
                .ok_or_else(|| CgroupError::NoCgroupMount(" (no cgroup2 mount)".into()))?;
            Ok(Box::new(V2Manager::new(path, root)?))
        }
        Layout::Hybrid | Layout::Legacy => {
            mounts.remove("");
            Ok(Box::new(V1Manager::new(path, mounts)))
        }
    }
}

/// What `hull create` needs before it clones: validate `res` against the host, resolve the
/// path, create the cgroup and apply the resources. If anything fails after the directories were
/// made they are removed again, so bad input leaves nothing behind. Device rules are applied as
/// given: put [`default_device_rules`] in front of the config's rules first (as runc does).
pub fn prepare(
    res: Option<&LinuxResources>,
    cgroups_path: Option<&str>,
    id: &str,
    systemd: bool,
) -> Result<Box<dyn CgroupManager>, CgroupError> {
    let host = HostCgroups::read()?;
    let path = path::resolve_with(&host, cgroups_path, id, systemd)?;
    if let Some(res) = res {
        validate::validate_with(res, path.layout, &available_on(&host, path.layout)?)?;
    }
    let mgr = manager(&path)?;
    let made = mgr.create().and_then(|()| match res {
        Some(res) => mgr.apply(res),
        None => Ok(()),
    });
    match made {
        Ok(()) => Ok(mgr),
        Err(e) => {
            let _ = mgr.destroy();
            Err(e)
        }
    }
}

/// The controllers this host offers for `layout`.
pub fn available_controllers(layout: Layout) -> Result<validate::Available, CgroupError> {
    available_on(&HostCgroups::read()?, layout)
}

fn available_on(host: &HostCgroups, layout: Layout) -> Result<validate::Available, CgroupError> {
    let v2_root = |host: &HostCgroups| -> Result<Vec<String>, CgroupError> {
        match mountinfo::v2_mount(&host.mounts) {
            Some(m) => Ok(fs::read_opt(&m.mount_point.join("cgroup.controllers"))?
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect()),
            None => Ok(Vec::new()),
        }
    };
    Ok(match layout {
        Layout::Unified => validate::Available {
            controllers: v2_root(host)?,
            v2_extra: Vec::new(),
        },
        Layout::Hybrid => validate::Available {
            controllers: host.v1_controllers(),
            v2_extra: v2_root(host)?,
        },
        Layout::Legacy => validate::Available {
            controllers: host.v1_controllers(),
            v2_extra: Vec::new(),
        },
    })
}

/// Check resources against the host before any process exists: invalid values, or a limit on
/// a controller the host lacks, give an error naming the field / controller.
pub fn validate(res: &LinuxResources, layout: Layout) -> Result<(), CgroupError> {
    validate::validate_with(res, layout, &available_controllers(layout)?)
}

/// rdma.max line: "mlx4_0 hca_handle=2 hca_object=2000" (unset fields are "max").
pub(crate) fn rdma_line(dev: &str, r: &LinuxRdma) -> String {
    let f = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "max".into());
    format!(
        "{dev} hca_handle={} hca_object={}",
        f(r.hca_handles()),
        f(r.hca_objects())
    )
}

/// Where a v1 controller or the cgroup2 hierarchy is mounted (for tools and tests).
pub fn mount_point(controller: Option<&str>) -> Result<Option<PathBuf>, CgroupError> {
    let host = HostCgroups::read()?;
    Ok(match controller {
        None => mountinfo::v2_mount(&host.mounts).map(|m| m.mount_point.clone()),
        Some(c) => mountinfo::v1_mount(&host.mounts, c).map(|m| m.mount_point.clone()),
    })
}

#[cfg(test)]
mod unit_tests;
