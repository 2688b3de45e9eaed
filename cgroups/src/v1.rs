//! cgroup v1 manager (legacy and hybrid hosts): one directory per hierarchy.
use crate::devices;
use crate::fs;
use crate::stats::{self, Stats};
use crate::v2::{DESTROY_TIMEOUT, FREEZE_TIMEOUT};
use crate::{convert, CgroupError, CgroupManager, CgroupPath, Layout};
use oci_spec::runtime::LinuxResources;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

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

    fn apply_memory(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        let Some(m) = res.memory() else { return Ok(()) };
        let limit = m.limit().filter(|l| *l != 0);
        // Without swap accounting there is no memsw file; "unlimited" then needs no write.
        let memsw_exists = self
            .dir("memory")
            .is_some_and(|d| fs::exists(&d.join("memory.memsw.limit_in_bytes")));
        let swap = m.swap().filter(|s| *s != 0 && (*s != -1 || memsw_exists));
        if m.check_before_update() == Some(true) {
            if let Some(l) = limit.filter(|l| *l > 0) {
                let cur =
                    fs::read_u64(&self.file("memory", "memory.usage_in_bytes", "memory.limit")?)?;
                if (l as u64) < cur {
                    return Err(CgroupError::value(
                        "memory.limit",
                        format!("{l} is below the current usage {cur} (checkBeforeUpdate)"),
                    ));
                }
            }
        }
        // memsw must stay >= mem at every step: when the new memsw is above the current mem
        // limit... simplest correct order: try mem then memsw; on EINVAL do memsw first.
        let set_mem = |v: i64| {
            self.set(
                "memory",
                "memory.limit_in_bytes",
                &v.to_string(),
                "memory.limit",
            )
        };
        let set_sw = |v: i64| {
            self.set(
                "memory",
                "memory.memsw.limit_in_bytes",
                &v.to_string(),
                "memory.swap",
            )
        };
        match (limit, swap) {
            (Some(l), Some(s)) => {
                if set_mem(l).is_err() {
                    set_sw(s)?;
                    set_mem(l)?;
                } else {
                    set_sw(s)?;
                }
            }
            (Some(l), None) => set_mem(l)?,
            (None, Some(s)) => set_sw(s)?,
            (None, None) => {}
        }
        if let Some(r) = m.reservation().filter(|r| *r != 0) {
            self.set(
                "memory",
                "memory.soft_limit_in_bytes",
                &r.to_string(),
                "memory.reservation",
            )?;
        }
        if let Some(s) = m.swappiness() {
            self.set(
                "memory",
                "memory.swappiness",
                &s.to_string(),
                "memory.swappiness",
            )?;
        }
        if m.disable_oom_killer() == Some(true) {
            self.set(
                "memory",
                "memory.oom_control",
                "1",
                "memory.disableOOMKiller",
            )?;
        }
        if let Some(k) = m.kernel_tcp().filter(|k| *k != 0) {
            self.set(
                "memory",
                "memory.kmem.tcp.limit_in_bytes",
                &k.to_string(),
                "memory.kernelTCP",
            )?;
        }
        Ok(())
    }

    fn apply_cpu(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        let Some(c) = res.cpu() else { return Ok(()) };
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            self.set("cpu", "cpu.shares", &s.to_string(), "cpu.shares")?;
        }
        // period before quota: the kernel checks quota against the current period.
        if let Some(p) = c.period().filter(|p| *p != 0) {
            self.set("cpu", "cpu.cfs_period_us", &p.to_string(), "cpu.period")?;
        }
        if let Some(q) = c.quota().filter(|q| *q != 0) {
            self.set("cpu", "cpu.cfs_quota_us", &q.to_string(), "cpu.quota")?;
        }
        if let Some(b) = c.burst() {
            self.set("cpu", "cpu.cfs_burst_us", &b.to_string(), "cpu.burst")?;
        }
        if let Some(p) = c.realtime_period().filter(|p| *p != 0) {
            self.set(
                "cpu",
                "cpu.rt_period_us",
                &p.to_string(),
                "cpu.realtimePeriod",
            )?;
        }
        if let Some(r) = c.realtime_runtime().filter(|r| *r != 0) {
            self.set(
                "cpu",
                "cpu.rt_runtime_us",
                &r.to_string(),
                "cpu.realtimeRuntime",
            )?;
        }
        if let Some(i) = c.idle() {
            self.set("cpu", "cpu.idle", &i.to_string(), "cpu.idle")?;
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            self.set("cpuset", "cpuset.cpus", cpus, "cpu.cpus")?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            self.set("cpuset", "cpuset.mems", mems, "cpu.mems")?;
        }
        Ok(())
    }

    fn apply_blkio(&self, res: &LinuxResources) -> Result<(), CgroupError> {
        let Some(b) = res.block_io() else {
            return Ok(());
        };
        // CFQ's blkio.weight, or BFQ's blkio.bfq.weight (same 10..1000 range).
        let weight_file = |leaf: bool| -> &'static str {
            let cfq = if leaf {
                "blkio.leaf_weight"
            } else {
                "blkio.weight"
            };
            match self.dir("blkio") {
                Some(d)
                    if !fs::exists(&d.join(cfq))
                        && fs::exists(&d.join("blkio.bfq.weight"))
                        && !leaf =>
                {
                    "blkio.bfq.weight"
                }
                _ => cfq,
            }
        };
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            self.set(
                "blkio",
                weight_file(false),
                &w.to_string(),
                "blockIO.weight",
            )?;
        }
        if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
            self.set(
                "blkio",
                weight_file(true),
                &w.to_string(),
                "blockIO.leafWeight",
            )?;
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                let file = format!("{}_device", weight_file(false));
                let file = if file == "blkio.bfq.weight_device" {
                    "blkio.bfq.weight_device".to_string()
                } else {
                    file
                };
                self.set(
                    "blkio",
                    &file,
                    &format!("{}:{} {w}", d.major(), d.minor()),
                    "blockIO.weightDevice",
                )?;
            }
            if let Some(w) = d.leaf_weight() {
                self.set(
                    "blkio",
                    "blkio.leaf_weight_device",
                    &format!("{}:{} {w}", d.major(), d.minor()),
                    "blockIO.weightDevice.leafWeight",
                )?;
            }
        }
        let throttles = [
            (
                b.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
                "blockIO.throttleReadBpsDevice",
            ),
            (
                b.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
                "blockIO.throttleWriteBpsDevice",
            ),
            (
                b.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
                "blockIO.throttleReadIOPSDevice",
            ),
            (
                b.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
                "blockIO.throttleWriteIOPSDevice",
            ),
        ];
        for (list, file, field) in throttles {
            for d in list.iter().flatten() {
                self.set(
                    "blkio",
                    file,
                    &format!("{}:{} {}", d.major(), d.minor(), d.rate()),
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
        let list = self.file("devices", "devices.list", "devices")?;
        let dir = list.parent().unwrap_or(&list).to_path_buf();
        let lines: Vec<(bool, String)> = match devices::v1_update_plan(&fs::read(&list)?, &rules) {
            Some(plan) => plan,
            None => rules
                .iter()
                .map(|r| {
                    let line = if r.is_wildcard_all() {
                        "a".to_string()
                    } else {
                        r.v1_line()
                    };
                    (r.allow, line)
                })
                .collect(),
        };
        // devices.allow / devices.deny take one rule per write(2): open each once.
        let mut files = fs::RuleFiles::new(dir.join("devices.allow"), dir.join("devices.deny"));
        for (allow, line) in &lines {
            files.write(*allow, line)?;
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
        let mut s = Stats::default();
        let f = |ctrl: &str, name: &str| self.dir(ctrl).map(|d| d.join(name));
        let u = |p: Option<PathBuf>| -> Result<u64, CgroupError> {
            match p {
                Some(p) => fs::read_u64_or0(&p),
                None => Ok(0),
            }
        };
        let list = |p: Option<PathBuf>| -> Result<Vec<u64>, CgroupError> {
            Ok(match p {
                Some(p) => fs::read_opt(&p)?
                    .map(|t| {
                        t.split_whitespace()
                            .filter_map(|x| x.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default(),
                None => Vec::new(),
            })
        };
        s.cpu.usage.total = u(f("cpuacct", "cpuacct.usage"))?;
        s.cpu.usage.percpu = list(f("cpuacct", "cpuacct.usage_percpu"))?;
        s.cpu.usage.percpu_kernel = list(f("cpuacct", "cpuacct.usage_percpu_sys"))?;
        s.cpu.usage.percpu_user = list(f("cpuacct", "cpuacct.usage_percpu_user"))?;
        if let Some(p) = f("cpuacct", "cpuacct.stat") {
            let st = fs::read_flat_keyed(&p)?;
            let ns = |t: u64| t * (1_000_000_000 / CLOCK_TICKS);
            s.cpu.usage.user = ns(st.get("user").copied().unwrap_or(0));
            s.cpu.usage.kernel = ns(st.get("system").copied().unwrap_or(0));
        }
        if let Some(p) = f("cpu", "cpu.stat") {
            let st = fs::read_flat_keyed(&p)?;
            s.cpu.throttling.periods = st.get("nr_periods").copied().unwrap_or(0);
            s.cpu.throttling.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
            s.cpu.throttling.throttled_time = st.get("throttled_time").copied().unwrap_or(0);
        }
        let entry = |prefix: &str| -> Result<stats::MemoryEntry, CgroupError> {
            Ok(stats::MemoryEntry {
                limit: u(f("memory", &format!("{prefix}limit_in_bytes")))?,
                usage: u(f("memory", &format!("{prefix}usage_in_bytes")))?,
                max: u(f("memory", &format!("{prefix}max_usage_in_bytes")))?,
                failcnt: u(f("memory", &format!("{prefix}failcnt")))?,
            })
        };
        if self.dir("memory").is_some() {
            s.memory.usage = entry("memory.")?;
            s.memory.swap = entry("memory.memsw.")?;
            s.memory.kernel = entry("memory.kmem.")?;
            s.memory.kernel_tcp = entry("memory.kmem.tcp.")?;
            if let Some(p) = f("memory", "memory.stat") {
                s.memory.raw = fs::read_flat_keyed(&p)?;
                s.memory.cache = s.memory.raw.get("total_cache").copied().unwrap_or(0);
            }
        }
        s.pids.current = u(f("pids", "pids.current"))?;
        let lim = u(f("pids", "pids.max"))?;
        s.pids.limit = if lim == u64::MAX { 0 } else { lim };
        let blk = |names: &[&str]| -> Result<Vec<stats::BlkioEntry>, CgroupError> {
            for n in names {
                if let Some(p) = f("blkio", n) {
                    if let Some(t) = fs::read_opt(&p)? {
                        let v = stats::parse_blkio_v1(&t);
                        if !v.is_empty() {
                            return Ok(v);
                        }
                    }
                }
            }
            Ok(Vec::new())
        };
        s.blkio.io_service_bytes_recursive = blk(&[
            "blkio.io_service_bytes_recursive",
            "blkio.bfq.io_service_bytes_recursive",
            "blkio.throttle.io_service_bytes_recursive",
        ])?;
        s.blkio.io_serviced_recursive = blk(&[
            "blkio.io_serviced_recursive",
            "blkio.bfq.io_serviced_recursive",
            "blkio.throttle.io_serviced_recursive",
        ])?;
        if let Some(d) = self.dir("hugetlb") {
            for size in stats::hugetlb_sizes(d, ".limit_in_bytes") {
                let b = format!("hugetlb.{size}.");
                s.hugetlb.insert(
                    size.clone(),
                    stats::Hugetlb {
                        usage: fs::read_u64_or0(&d.join(format!("{b}usage_in_bytes")))?,
                        max: fs::read_u64_or0(&d.join(format!("{b}max_usage_in_bytes")))?,
                        failcnt: fs::read_u64_or0(&d.join(format!("{b}failcnt")))?,
                    },
                );
            }
        }
        Ok(s)
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
