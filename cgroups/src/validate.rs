//! Check LinuxResources against value rules and the host's controllers, before any process exists.
use crate::{convert, devices, CgroupError, Layout};
use oci_spec::runtime::LinuxResources;

/// Controllers the host offers to a new container, by layout:
/// v1 controller names (Legacy/Hybrid) or cgroup2 names (Unified), plus for Hybrid the
/// cgroup2 hierarchy's own controllers in `v2_extra` (only used by `unified`).
#[derive(Clone, Debug, Default)]
pub struct Available {
    pub controllers: Vec<String>,
    pub v2_extra: Vec<String>,
}

impl Available {
    fn has(&self, c: &str) -> bool {
        self.controllers.iter().any(|x| x == c)
    }
}

fn need(
    avail: &Available,
    layout: Layout,
    v1: &str,
    v2: &str,
    field: &str,
) -> Result<(), CgroupError> {
    let c = if layout == Layout::Unified { v2 } else { v1 };
    if avail.has(c) {
        Ok(())
    } else {
        Err(CgroupError::MissingController {
            controller: c.to_string(),
            field: field.to_string(),
            layout: layout.describe().to_string(),
        })
    }
}

fn unsupported(field: &str, layout: Layout, reason: &str) -> CgroupError {
    CgroupError::Unsupported {
        field: field.into(),
        layout: layout.describe().into(),
        reason: reason.into(),
    }
}

/// A `unified` key names one file of the cgroup directory.
pub fn check_unified_key(k: &str) -> Result<(), CgroupError> {
    let bad = |why: &str| CgroupError::value(format!("unified.{k}"), why);
    if k.is_empty() || k.contains('/') || k.contains('\0') || k == "." || k == ".." {
        return Err(bad(
            "a key must be a plain file name, without path separators",
        ));
    }
    if !k.contains('.') {
        return Err(bad("a key must look like <controller>.<file>"));
    }
    if matches!(
        k,
        "cgroup.procs"
            | "cgroup.threads"
            | "cgroup.subtree_control"
            | "cgroup.kill"
            | "cgroup.freeze"
    ) {
        return Err(bad("this file is managed by the runtime itself"));
    }
    Ok(())
}

fn page_size_ok(s: &str) -> bool {
    let digits = s.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &s[digits.len()..];
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && matches!(unit, "KB" | "MB" | "GB" | "TB")
}

fn v(field: impl Into<String>, reason: impl Into<String>) -> CgroupError {
    CgroupError::value(field, reason)
}

/// Pure validation (values, then controllers in `avail`).
pub fn validate_with(
    res: &LinuxResources,
    layout: Layout,
    avail: &Available,
) -> Result<(), CgroupError> {
    let v2 = layout == Layout::Unified;
    if let Some(m) = res.memory() {
        for (name, val) in [
            ("memory.limit", m.limit()),
            ("memory.reservation", m.reservation()),
            ("memory.swap", m.swap()),
            ("memory.kernelTCP", m.kernel_tcp()),
        ] {
            if let Some(x) = val {
                if x < -1 {
                    return Err(v(
                        name,
                        format!("{x}: must be a byte count or -1 (unlimited)"),
                    ));
                }
            }
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(v("memory.swappiness", format!("{s}: must be 0..=100")));
            }
        }
        if v2 {
            convert::swap_to_v2(m.swap(), m.limit()).map_err(|e| v("memory.swap", e))?;
        } else if let (Some(l), Some(s)) = (m.limit(), m.swap()) {
            if l > 0 && s > 0 && s < l {
                return Err(v(
                    "memory.swap",
                    format!("memory+swap ({s}) must not be smaller than the memory limit ({l})"),
                ));
            }
        }
        let any = m.limit().is_some_and(|x| x != 0)
            || m.reservation().is_some_and(|x| x != 0)
            || m.swap().is_some_and(|x| x != 0)
            || (!v2
                && (m.swappiness().is_some()
                    || m.disable_oom_killer() == Some(true)
                    || m.kernel_tcp().is_some_and(|x| x != 0)));
        if any {
            need(avail, layout, "memory", "memory", "memory")?;
        }
    }
    if let Some(c) = res.cpu() {
        if let Some(s) = c.shares() {
            if s != 0 && !(2..=262_144).contains(&s) {
                return Err(v("cpu.shares", format!("{s}: must be 2..=262144")));
            }
        }
        if let Some(q) = c.quota() {
            if q != 0 && q != -1 && q < 1000 {
                return Err(v(
                    "cpu.quota",
                    format!("{q}: must be -1 or at least 1000 (µs)"),
                ));
            }
        }
        if let Some(p) = c.period() {
            if p != 0 && !(1000..=1_000_000).contains(&p) {
                return Err(v("cpu.period", format!("{p}: must be 1000..=1000000 (µs)")));
            }
        }
        if let Some(b) = c.burst() {
            match c.quota() {
                Some(q) if q > 0 && b <= q as u64 => {}
                _ if b == 0 => {}
                _ => {
                    return Err(v(
                        "cpu.burst",
                        format!("{b}: needs a quota (cpu.quota) not smaller than the burst"),
                    ))
                }
            }
        }
        if let Some(i) = c.idle() {
            if !(0..=1).contains(&i) {
                return Err(v("cpu.idle", format!("{i}: must be 0 or 1")));
            }
        }
        for (name, s) in [("cpu.cpus", c.cpus()), ("cpu.mems", c.mems())] {
            if let Some(s) = s {
                if !convert::valid_cpuset_list(s) {
                    return Err(v(name, format!("{s:?}: not a list like \"0-2,4\"")));
                }
            }
        }
        let rt = c.realtime_runtime().is_some_and(|x| x != 0)
            || c.realtime_period().is_some_and(|x| x != 0);
        if rt && v2 {
            return Err(unsupported(
                "cpu.realtimeRuntime",
                layout,
                "cgroup v2 has no per-cgroup realtime budget",
            ));
        }
        if c.shares().is_some_and(|x| x != 0)
            || c.quota().is_some_and(|x| x != 0)
            || c.period().is_some_and(|x| x != 0)
            || c.burst().is_some()
            || c.idle().is_some()
            || rt
        {
            need(avail, layout, "cpu", "cpu", "cpu")?;
        }
        if c.cpus().as_deref().is_some_and(|s| !s.is_empty())
            || c.mems().as_deref().is_some_and(|s| !s.is_empty())
        {
            need(avail, layout, "cpuset", "cpuset", "cpu.cpus/cpu.mems")?;
        }
    }
    if let Some(p) = res.pids() {
        if p.limit() < -1 {
            return Err(v(
                "pids.limit",
                format!("{}: must be positive or -1 (unlimited)", p.limit()),
            ));
        }
        if p.limit() != 0 {
            need(avail, layout, "pids", "pids", "pids.limit")?;
        }
    }
    if let Some(b) = res.block_io() {
        let w = |name: &str, x: Option<u16>| -> Result<(), CgroupError> {
            match x {
                Some(x) if x != 0 && !(10..=1000).contains(&x) => {
                    Err(v(name, format!("{x}: must be 10..=1000")))
                }
                _ => Ok(()),
            }
        };
        w("blockIO.weight", b.weight())?;
        w("blockIO.leafWeight", b.leaf_weight())?;
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            w(&format!("blockIO.weightDevice[{i}].weight"), d.weight())?;
            w(
                &format!("blockIO.weightDevice[{i}].leafWeight"),
                d.leaf_weight(),
            )?;
            if d.major() < 0 || d.minor() < 0 {
                return Err(v(
                    format!("blockIO.weightDevice[{i}]"),
                    "major/minor must not be negative",
                ));
            }
        }
        let lists = [
            (
                "blockIO.throttleReadBpsDevice",
                b.throttle_read_bps_device(),
            ),
            (
                "blockIO.throttleWriteBpsDevice",
                b.throttle_write_bps_device(),
            ),
            (
                "blockIO.throttleReadIOPSDevice",
                b.throttle_read_iops_device(),
            ),
            (
                "blockIO.throttleWriteIOPSDevice",
                b.throttle_write_iops_device(),
            ),
        ];
        let mut any = b.weight().is_some_and(|x| x != 0)
            || b.leaf_weight().is_some_and(|x| x != 0)
            || b.weight_device().as_ref().is_some_and(|l| !l.is_empty());
        for (name, l) in lists {
            for (i, d) in l.iter().flatten().enumerate() {
                any = true;
                if d.major() < 0 || d.minor() < 0 {
                    return Err(v(
                        format!("{name}[{i}]"),
                        "major/minor must not be negative",
                    ));
                }
            }
        }
        if any {
            need(avail, layout, "blkio", "io", "blockIO")?;
        }
    }
    for (i, h) in res.hugepage_limits().iter().flatten().enumerate() {
        if !page_size_ok(h.page_size()) {
            return Err(v(
                format!("hugepageLimits[{i}].pageSize"),
                format!(
                    "{:?}: expected a size like \"2MB\" or \"1GB\"",
                    h.page_size()
                ),
            ));
        }
        if h.limit() < -1 {
            return Err(v(
                format!("hugepageLimits[{i}].limit"),
                format!("{}: must be a byte count or -1", h.limit()),
            ));
        }
        need(avail, layout, "hugetlb", "hugetlb", "hugepageLimits")?;
    }
    if let Some(n) = res.network() {
        let prios = n.priorities().as_ref().is_some_and(|p| !p.is_empty());
        if v2 && (n.class_id().is_some() || prios) {
            return Err(unsupported(
                "network",
                layout,
                "net_cls/net_prio exist only in cgroup v1",
            ));
        }
        for (i, p) in n.priorities().iter().flatten().enumerate() {
            if p.name().is_empty() || p.name().contains(char::is_whitespace) {
                return Err(v(
                    format!("network.priorities[{i}].name"),
                    format!("{:?}: not an interface name", p.name()),
                ));
            }
        }
        if n.class_id().is_some() {
            need(avail, layout, "net_cls", "net_cls", "network.classID")?;
        }
        if prios {
            need(avail, layout, "net_prio", "net_prio", "network.priorities")?;
        }
    }
    if let Some(r) = res.rdma() {
        for k in r.keys() {
            if k.is_empty() || k.contains(char::is_whitespace) {
                return Err(v("rdma", format!("{k:?}: not a device name")));
            }
        }
        if !r.is_empty() {
            need(avail, layout, "rdma", "rdma", "rdma")?;
        }
    }
    if let Some(d) = res.devices() {
        devices::rules_from_oci(d)?;
        if !v2 && !d.is_empty() {
            need(avail, layout, "devices", "devices", "devices")?;
        }
    }
    if let Some(u) = res.unified().as_ref().filter(|u| !u.is_empty()) {
        if layout == Layout::Legacy {
            return Err(unsupported(
                "unified",
                layout,
                "unified keys are cgroup v2 files",
            ));
        }
        let v2c: &[String] = if v2 {
            &avail.controllers
        } else {
            &avail.v2_extra
        };
        for k in u.keys() {
            check_unified_key(k)?;
            let ctrl = k.split('.').next().unwrap_or("");
            let generic = matches!(ctrl, "cgroup")
                || (ctrl == "cpu" && k.ends_with(".pressure"))
                || k.ends_with(".pressure");
            if !generic && !v2c.iter().any(|c| c == ctrl) {
                return Err(CgroupError::MissingController {
                    controller: ctrl.to_string(),
                    field: format!("unified.{k}"),
                    layout: layout.describe().to_string(),
                });
            }
        }
    }
    Ok(())
}
