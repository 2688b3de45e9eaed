//! cgroup v2 manager: writes cgroupfs files directly.
use crate::devices;
use crate::fs;
use crate::stats::{self, Stats};
use crate::{convert, CgroupError, CgroupManager, CgroupPath};
use oci_spec::runtime::LinuxResources;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub(crate) const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const DESTROY_TIMEOUT: Duration = Duration::from_secs(5);

pub struct V2Manager {
    path: CgroupPath,
    dir: PathBuf,
    /// cgroup2 mount point (the top of the hierarchy, for enabling controllers down to `dir`).
    root: PathBuf,
}

impl V2Manager {
    pub fn new(path: &CgroupPath, root: PathBuf) -> Result<Self, CgroupError> {
        let dir = path
            .unified
            .clone()
            .ok_or_else(|| CgroupError::InvalidPath {
                path: path.inner.clone(),
                reason: "has no cgroup2 directory".into(),
            })?;
        Ok(V2Manager {
            path: path.clone(),
            dir,
            root,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Write a controller file; a missing file means the controller is not enabled/available.
    fn set(&self, name: &str, value: &str, field: &str) -> Result<(), CgroupError> {
        let p = self.file(name);
        if !fs::exists(&p) {
            return Err(CgroupError::MissingController {
                controller: name.split('.').next().unwrap_or(name).to_string(),
                field: field.to_string(),
                layout: format!("cgroup v2: {} does not exist", p.display()),
            });
        }
        fs::write(&p, value)
    }

    fn open_fd(&self, flags: libc::c_int) -> Result<OwnedFd, CgroupError> {
        let c = std::ffi::CString::new(self.dir.as_os_str().as_bytes()).map_err(|_| {
            CgroupError::InvalidPath {
                path: self.dir.display().to_string(),
                reason: "contains NUL".into(),
            }
        })?;
        // SAFETY: c is a valid NUL-terminated path; open returns a new fd or -1.
        let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(CgroupError::io(&self.dir, std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor owned by nobody else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    fn events(&self) -> Result<std::collections::BTreeMap<String, u64>, CgroupError> {
        fs::read_flat_keyed(&self.file("cgroup.events"))
    }

    fn apply_memory(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        let Some(m) = res.memory() else { return Ok(()) };
        if m.check_before_update() == Some(true) {
            if let Some(l) = m.limit().filter(|l| *l > 0) {
                let cur = fs::read_u64_or0(&self.file("memory.current"))?;
                if (l as u64) < cur {
                    return Err(CgroupError::value(
                        "memory.limit",
                        format!("{l} is below the current usage {cur} (checkBeforeUpdate)"),
                    ));
                }
            }
        }
        let swap = convert::swap_to_v2(m.swap(), m.limit())
            .map_err(|e| CgroupError::value("memory.swap", e))?;
        // Lowering memory.max below usage first would reclaim into swap; write swap first
        // when it grows, as in v1 the order matters only for memsw; v2 files are independent.
        if let Some(s) = swap {
            let p = self.file("memory.swap.max");
            if fs::exists(&p) {
                fs::write(&p, &s)?;
            } else if s != "max" {
                return Err(CgroupError::MissingController {
                    controller: "memory (swap accounting)".into(),
                    field: "memory.swap".into(),
                    layout: format!("cgroup v2: {} does not exist", p.display()),
                });
            }
        }
        if let Some(l) = m.limit().filter(|l| *l != 0) {
            self.set("memory.max", &convert::limit_str(l), "memory.limit")?;
        }
        if let Some(r) = m.reservation().filter(|r| *r != 0) {
            self.set("memory.low", &convert::limit_str(r), "memory.reservation")?;
        }
        Ok(())
    }

    fn apply_cpu(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        let Some(c) = res.cpu() else { return Ok(()) };
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            self.set(
                "cpu.weight",
                &convert::shares_to_weight(s).to_string(),
                "cpu.shares",
            )?;
        }
        if let Some(v) = convert::cpu_max(
            c.quota().filter(|q| *q != 0),
            c.period().filter(|p| *p != 0),
        ) {
            self.set("cpu.max", &v, "cpu.quota")?;
        }
        if let Some(b) = c.burst() {
            self.set("cpu.max.burst", &b.to_string(), "cpu.burst")?;
        }
        if let Some(i) = c.idle() {
            self.set("cpu.idle", &i.to_string(), "cpu.idle")?;
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            self.set("cpuset.cpus", cpus, "cpu.cpus")?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            self.set("cpuset.mems", mems, "cpu.mems")?;
        }
        Ok(())
    }

    fn apply_io(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        let Some(b) = res.block_io() else {
            return Ok(());
        };
        let bfq = fs::exists(&self.file("io.bfq.weight"));
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            if bfq {
                // BFQ takes the v1 range (1..1000) as is.
                self.set("io.bfq.weight", &w.to_string(), "blockIO.weight")?;
            } else {
                let v = convert::blkio_weight_to_io_weight(w.into());
                self.set("io.weight", &v.to_string(), "blockIO.weight")?;
            }
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                let (file, v) = if bfq {
                    ("io.bfq.weight", u64::from(w))
                } else {
                    ("io.weight", convert::blkio_weight_to_io_weight(w.into()))
                };
                self.set(
                    file,
                    &format!("{}:{} {v}", d.major(), d.minor()),
                    "blockIO.weightDevice",
                )?;
            }
        }
        let throttles = [
            (
                b.throttle_read_bps_device(),
                "rbps",
                "blockIO.throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps_device(),
                "wbps",
                "blockIO.throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops_device(),
                "riops",
                "blockIO.throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops_device(),
                "wiops",
                "blockIO.throttleWriteIOPSDevice",
            ),
        ];
        for (list, key, field) in throttles {
            for d in list.iter().flatten() {
                let rate = if d.rate() == 0 {
                    "max".to_string()
                } else {
                    d.rate().to_string()
                };
                self.set(
                    "io.max",
                    &format!("{}:{} {key}={rate}", d.major(), d.minor()),
                    field,
                )?;
            }
        }
        Ok(())
    }

    fn apply_devices(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        let Some(rules) = res.devices() else {
            return Ok(());
        };
        let rules = devices::rules_from_oci(rules)?;
        let prog = devices::compile(&rules);
        let fd = self.open_fd(libc::O_RDONLY)?;
        let prog_fd = devices::load(&prog, &self.dir)?;
        devices::attach_replacing(&fd, &prog_fd, &self.dir)
    }
}

impl CgroupManager for V2Manager {
    fn create(&self) -> Result<(), CgroupError> {
        let rel = self
            .dir
            .strip_prefix(&self.root)
            .map_err(|_| CgroupError::InvalidPath {
                path: self.dir.display().to_string(),
                reason: format!("is not under the cgroup2 mount {}", self.root.display()),
            })?;
        let mut cur = self.root.clone();
        for comp in rel.components() {
            enable_controllers(&cur)?;
            cur.push(comp);
            match fs::create_dir(&cur) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(CgroupError::io(&cur, e)),
            }
        }
        Ok(())
    }

    fn apply(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        self.apply_memory(res)?;
        self.apply_cpu(res)?;
        if let Some(p) = res.pids() {
            if p.limit() != 0 {
                self.set("pids.max", &convert::limit_str(p.limit()), "pids.limit")?;
            }
        }
        self.apply_io(res)?;
        for h in res.hugepage_limits().iter().flatten() {
            self.set(
                &format!("hugetlb.{}.max", h.page_size()),
                &convert::limit_str(h.limit()),
                "hugepageLimits",
            )?;
        }
        if let Some(n) = res.network() {
            if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                return Err(CgroupError::Unsupported {
                    field: "network".into(),
                    layout: "cgroup v2".into(),
                    reason: "net_cls/net_prio exist only in cgroup v1".into(),
                });
            }
        }
        for (dev, r) in res.rdma().iter().flatten() {
            self.set("rdma.max", &crate::rdma_line(dev, r), "rdma")?;
        }
        self.apply_devices(res)?;
        for (k, v) in res.unified().iter().flatten() {
            crate::validate::check_unified_key(k)?;
            let p = self.file(k);
            if !fs::exists(&p) {
                return Err(CgroupError::value(
                    format!("unified.{k}"),
                    format!("{} does not exist (controller not enabled?)", p.display()),
                ));
            }
            fs::write(&p, v)?;
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        fs::write(&self.file("cgroup.procs"), &pid.to_string())
    }

    fn open_dir_fd(&self) -> Option<OwnedFd> {
        self.open_fd(libc::O_PATH).ok()
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        fs::write(&self.file("cgroup.freeze"), "1")?;
        fs::wait_for(&self.dir, "cgroup.events frozen 1", FREEZE_TIMEOUT, || {
            Ok(self.events()?.get("frozen") == Some(&1))
        })
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        fs::write(&self.file("cgroup.freeze"), "0")?;
        fs::wait_for(&self.dir, "cgroup.events frozen 0", FREEZE_TIMEOUT, || {
            Ok(self.events()?.get("frozen") != Some(&1))
        })
    }

    fn is_frozen(&self) -> Result<bool, CgroupError> {
        Ok(self.events()?.get("frozen") == Some(&1))
    }

    fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let mut v = Vec::new();
        fs::pids_recursive(&self.dir, &mut v)?;
        Ok(v)
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let mut s = Stats::default();
        let cpu = fs::read_flat_keyed(&self.file("cpu.stat"))?;
        let g =
            |m: &std::collections::BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
        s.cpu.usage.total = g(&cpu, "usage_usec") * 1000;
        s.cpu.usage.user = g(&cpu, "user_usec") * 1000;
        s.cpu.usage.kernel = g(&cpu, "system_usec") * 1000;
        s.cpu.throttling.periods = g(&cpu, "nr_periods");
        s.cpu.throttling.throttled_periods = g(&cpu, "nr_throttled");
        s.cpu.throttling.throttled_time = g(&cpu, "throttled_usec") * 1000;

        let raw = fs::read_flat_keyed(&self.file("memory.stat"))?;
        s.memory.cache = g(&raw, "file");
        s.memory.usage.usage = fs::read_u64_or0(&self.file("memory.current"))?;
        s.memory.usage.limit = fs::read_u64_or0(&self.file("memory.max"))?;
        s.memory.usage.max = fs::read_u64_or0(&self.file("memory.peak"))?;
        let ev = fs::read_flat_keyed(&self.file("memory.events"))?;
        s.memory.usage.failcnt = g(&ev, "max");
        s.memory.swap.usage = fs::read_u64_or0(&self.file("memory.swap.current"))?;
        s.memory.swap.limit = fs::read_u64_or0(&self.file("memory.swap.max"))?;
        s.memory.swap.max = fs::read_u64_or0(&self.file("memory.swap.peak"))?;
        s.memory.raw = raw;

        s.pids.current = fs::read_u64_or0(&self.file("pids.current"))?;
        let lim = fs::read_u64_or0(&self.file("pids.max"))?;
        s.pids.limit = if lim == u64::MAX { 0 } else { lim };

        if let Some(t) = fs::read_opt(&self.file("io.stat"))? {
            let (bytes, ios) = stats::parse_io_stat_v2(&t);
            s.blkio.io_service_bytes_recursive = bytes;
            s.blkio.io_serviced_recursive = ios;
        }
        for size in stats::hugetlb_sizes(&self.dir, ".max") {
            let base = format!("hugetlb.{size}");
            let ev = fs::read_flat_keyed(&self.file(&format!("{base}.events")))?;
            s.hugetlb.insert(
                size,
                stats::Hugetlb {
                    usage: fs::read_u64_or0(&self.file(&format!("{base}.current")))?,
                    max: 0,
                    failcnt: g(&ev, "max"),
                },
            );
        }
        Ok(s)
    }

    fn oom_kill_count(&self) -> Result<u64, CgroupError> {
        let p = self.file("memory.events");
        if !fs::exists(&p) {
            return Err(CgroupError::MissingController {
                controller: "memory".into(),
                field: "memory (OOM events)".into(),
                layout: format!("cgroup v2: {} does not exist", p.display()),
            });
        }
        Ok(fs::read_flat_keyed(&p)?
            .get("oom_kill")
            .copied()
            .unwrap_or(0))
    }

    fn kill_all(&self, signal: i32) -> Result<(), CgroupError> {
        let kill = self.file("cgroup.kill");
        if signal == libc::SIGKILL && fs::exists(&kill) {
            return fs::write(&kill, "1");
        }
        // Freeze so no process forks between listing and signalling, then thaw to deliver.
        let frozen = self.freeze().is_ok();
        let r = self
            .pids()
            .and_then(|p| fs::signal_pids(&self.dir, &p, signal));
        if frozen {
            self.thaw()?;
        }
        r
    }

    fn destroy(&self) -> Result<(), CgroupError> {
        fs::remove_tree(&self.dir, Instant::now() + DESTROY_TIMEOUT)?;
        if self.path.systemd {
            fs::remove_empty_slices(&self.dir, Some(&self.root));
        }
        Ok(())
    }

    fn path(&self) -> &CgroupPath {
        &self.path
    }
}

/// Enable in `dir`'s cgroup.subtree_control every controller `dir` has (runc does the same), so
/// that children get their interface files. Controllers that cannot be enabled (for instance a
/// threaded subtree) are skipped; apply() names the missing file later if one is needed.
pub(crate) fn enable_controllers(dir: &Path) -> Result<(), CgroupError> {
    let avail = fs::read(&dir.join("cgroup.controllers"))?;
    let enabled = fs::read(&dir.join("cgroup.subtree_control"))?;
    let missing: Vec<&str> = avail
        .split_whitespace()
        .filter(|c| !enabled.split_whitespace().any(|e| e == *c))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let ctl = dir.join("cgroup.subtree_control");
    let all: String = missing.iter().map(|c| format!("+{c} ")).collect();
    if fs::write(&ctl, all.trim_end()).is_err() {
        for c in missing {
            let _ = fs::write(&ctl, &format!("+{c}"));
        }
    }
    Ok(())
}
