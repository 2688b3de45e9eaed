//! `Stats` of a v1 cgroup: each controller's counters from its own hierarchy.

use super::{V1Manager, CLOCK_TICKS};
use crate::fs;
use crate::stats::{self, Stats};
use crate::CgroupError;
use std::path::PathBuf;

impl V1Manager {
    pub(super) fn read_stats(&self) -> Result<Stats, CgroupError> {
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
}
