//! Writing `linux.resources` to the v1 controllers' files: memory, cpu/cpuset, blkio, devices
//! (pids, hugetlb, net_cls/net_prio and rdma are set in `apply` itself).

use super::V1Manager;
use crate::devices;
use crate::fs;
use crate::CgroupError;
use oci_spec::runtime::LinuxResources;

impl V1Manager {
    pub(super) fn apply_memory(&self, res: &LinuxResources) -> Result<(), CgroupError> {
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

    pub(super) fn apply_cpu(&self, res: &LinuxResources) -> Result<(), CgroupError> {
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

    pub(super) fn apply_blkio(&self, res: &LinuxResources) -> Result<(), CgroupError> {
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

    pub(super) fn apply_devices(&self, res: &LinuxResources) -> Result<(), CgroupError> {
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
}
