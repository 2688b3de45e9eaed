//! cgroup v1 manager (legacy and hybrid hosts): one directory per hierarchy.
use crate::fs;
use crate::stats::Stats;
use crate::v2::{DESTROY_TIMEOUT, FREEZE_TIMEOUT};
use crate::{convert, CgroupError, CgroupManager, CgroupPath, Layout};
use oci_spec::runtime::LinuxResources;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

mod apply;
mod read_stats;

pub struct V1Manager {
    path: CgroupPath,
    /// v1 mount point of each controller, to walk from the hierarchy root (cpuset inheritance).
    mounts: std::collections::BTreeMap<String, PathBuf>,
}

/// USER_HZ as used by cpuacct.stat.
const CLOCK_TICKS: u64 = 100;

impl V1Manager {
    pub fn new(path: &CgroupPath, mounts: std::collections::BTreeMap<String, PathBuf>) -> Self {
        V1Manager {
            path: path.clone(),
            mounts,
        }
    }

    fn dir(&self, ctrl: &str) -> Option<&PathBuf> {
        self.path.v1.get(ctrl)
    }

    /// All distinct directories (controllers sharing a hierarchy share one), plus the cgroup2
    /// twin on hybrid hosts.
    fn all_dirs(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for d in self.path.v1.values().chain(self.path.unified.iter()) {
            if !out.contains(d) {
                out.push(d.clone());
            }
        }
        out
    }

    fn file(&self, ctrl: &str, name: &str, field: &str) -> Result<PathBuf, CgroupError> {
        let missing = |why: String| CgroupError::MissingController {
            controller: ctrl.to_string(),
            field: field.to_string(),
            layout: why,
        };
        let d = self
            .dir(ctrl)
            .ok_or_else(|| missing(format!("cgroup v1: no {ctrl} hierarchy is mounted")))?;
        let p = d.join(name);
        if !fs::exists(&p) {
            return Err(missing(format!(
                "cgroup v1: {} does not exist",
                p.display()
            )));
        }
        Ok(p)
    }

    /// Write `value` to `name`; a file the kernel does not offer is a MissingController error.
    /// No stat beforehand: the open says whether it exists (each path walk through /sys takes
    /// kernfs locks that other containers' mkdir/rmdir and network namespaces contend for).
    fn set(&self, ctrl: &str, name: &str, value: &str, field: &str) -> Result<(), CgroupError> {
        let d = self
            .dir(ctrl)
            .ok_or_else(|| CgroupError::MissingController {
                controller: ctrl.to_string(),
                field: field.to_string(),
                layout: format!("cgroup v1: no {ctrl} hierarchy is mounted"),
            })?;
        let p = d.join(name);
        match fs::write(&p, value) {
            Err(CgroupError::Write { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                Err(CgroupError::MissingController {
                    controller: ctrl.to_string(),
                    field: field.to_string(),
                    layout: format!("cgroup v1: {} does not exist", p.display()),
                })
            }
            r => r,
        }
    }

    /// A fresh cpuset cgroup has empty cpus/mems and refuses tasks: copy them down from the
    /// parents, from the hierarchy root to `dir`.
    fn init_cpuset(&self) -> Result<(), CgroupError> {
        let (Some(dir), Some(root)) = (self.dir("cpuset"), self.mounts.get("cpuset")) else {
            return Ok(());
        };
        let Ok(rel) = dir.strip_prefix(root) else {
            return Ok(());
        };
        let mut parent = root.clone();
        for comp in rel.components() {
            let cur = parent.join(comp);
            for f in ["cpuset.cpus", "cpuset.mems"] {
                let mine = fs::read(&cur.join(f))?;
                if mine.trim().is_empty() {
                    let theirs = fs::read(&parent.join(f))?;
                    fs::write(&cur.join(f), theirs.trim())?;
                }
            }
            parent = cur;
        }
        Ok(())
    }

    fn freezer_state(&self) -> Result<String, CgroupError> {
        Ok(
            fs::read(&self.file("freezer", "freezer.state", "freezer")?)?
                .trim()
                .to_string(),
        )
    }
}

impl CgroupManager for V1Manager {
    fn create(&self) -> Result<(), CgroupError> {
        for d in self.all_dirs() {
            // Usually the parent exists: one mkdir; create_dir_all only when it does not.
            match fs::create_dir(&d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(_) => fs::mkdir_p(&d)?,
            }
        }
        self.init_cpuset()
    }

    fn apply(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        self.apply_memory(res)?;
        self.apply_cpu(res)?;
        if let Some(p) = res.pids() {
            if p.limit() != 0 {
                self.set(
                    "pids",
                    "pids.max",
                    &convert::limit_str(p.limit()),
                    "pids.limit",
                )?;
            }
        }
        self.apply_blkio(res)?;
        for h in res.hugepage_limits().iter().flatten() {
            self.set(
                "hugetlb",
                &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                &h.limit().to_string(),
                "hugepageLimits",
            )?;
        }
        if let Some(n) = res.network() {
            if let Some(id) = n.class_id() {
                self.set(
                    "net_cls",
                    "net_cls.classid",
                    &id.to_string(),
                    "network.classID",
                )?;
            }
            for p in n.priorities().iter().flatten() {
                self.set(
                    "net_prio",
                    "net_prio.ifpriomap",
                    &format!("{} {}", p.name(), p.priority()),
                    "network.priorities",
                )?;
            }
        }
        for (dev, r) in res.rdma().iter().flatten() {
            self.set("rdma", "rdma.max", &crate::rdma_line(dev, r), "rdma")?;
        }
        self.apply_devices(res)?;
        if let Some(u) = res.unified().as_ref().filter(|u| !u.is_empty()) {
            let Some(dir) = self
                .path
                .unified
                .as_ref()
                .filter(|_| self.path.layout == Layout::Hybrid)
            else {
                return Err(CgroupError::Unsupported {
                    field: "unified".into(),
                    layout: "a cgroup v1 host".into(),
                    reason: "unified keys are cgroup v2 files".into(),
                });
            };
            for (k, v) in u {
                crate::validate::check_unified_key(k)?;
                let p = dir.join(k);
                if !fs::exists(&p) {
                    return Err(CgroupError::value(
                        format!("unified.{k}"),
                        format!("{} does not exist on this hybrid host", p.display()),
                    ));
                }
                fs::write(&p, v)?;
            }
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        for d in self.all_dirs() {
            fs::write(&d.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn open_self_join(&self) -> Result<crate::SelfJoin, CgroupError> {
        let mut files = Vec::new();
        for d in self.all_dirs() {
            if Some(&d) != self.path.unified.as_ref() {
                files.push(crate::open_join_file(&d)?);
            }
        }
        let clone_into = match &self.path.unified {
            None => None,
            Some(u) => {
                let dir = fs::open(u, libc::O_PATH | libc::O_DIRECTORY).map_err(|source| {
                    CgroupError::Write {
                        path: u.clone(),
                        value: "(open for clone3)".into(),
                        source,
                    }
                })?;
                Some((dir.into(), crate::open_join_file(u)?))
            }
        };
        Ok(crate::SelfJoin { files, clone_into })
    }

    fn open_dir_fd(&self) -> Option<OwnedFd> {
        None
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        let f = self.file("freezer", "freezer.state", "freezer")?;
        let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
        // Writing FROZEN again while FREEZING retries the freeze of tasks that were busy.
        fs::wait_for(&dir, "freezer.state FROZEN", FREEZE_TIMEOUT, || {
            fs::write(&f, "FROZEN")?;
            Ok(self.freezer_state()? == "FROZEN")
        })
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        let f = self.file("freezer", "freezer.state", "freezer")?;
        let dir = f.parent().map(Path::to_path_buf).unwrap_or_default();
        fs::write(&f, "THAWED")?;
        fs::wait_for(&dir, "freezer.state THAWED", FREEZE_TIMEOUT, || {
            Ok(self.freezer_state()? == "THAWED")
        })
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        Ok(self.freezer_state()? == "FROZEN")
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut v = Vec::new();
        for d in self.all_dirs() {
            fs::pids_recursive(&d, &mut v)?;
        }
        Ok(v)
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        self.read_stats()
    }

    fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        let p = self.file("memory", "memory.oom_control", "memory (OOM events)")?;
        Ok(fs::read_flat_keyed(&p)?
            .get("oom_kill")
            .copied()
            .unwrap_or(0))
    }

    fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        // Hybrid: the processes are also in the cgroup2 twin, whose cgroup.kill (5.14+) kills
        // them all atomically, controllers or not.
        if signal == libc::SIGKILL {
            if let Some(kill) = self.path.unified.as_ref().map(|d| d.join("cgroup.kill")) {
                if fs::exists(&kill) {
                    return fs::write(&kill, "1");
                }
            }
        }
        let frozen = self.freeze().is_ok();
        let dir = self.all_dirs().into_iter().next().unwrap_or_default();
        let r = self.pids().and_then(|p| fs::signal_pids(&dir, &p, signal));
        if frozen {
            self.thaw()?;
        }
        r
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        let deadline = Instant::now() + DESTROY_TIMEOUT;
        let mut first_err = None;
        for d in self.all_dirs() {
            if let Err(e) = fs::remove_tree(&d, deadline) {
                first_err.get_or_insert(e);
            } else if self.path.systemd {
                let top = self
                    .path
                    .mounts
                    .values()
                    .find(|m| d.starts_with(m))
                    .map(PathBuf::as_path);
                fs::remove_empty_slices(&d, top.or(Some(Path::new("/sys/fs/cgroup"))));
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn path(&self) -> &CgroupPath {
        &self.path
    }
}
