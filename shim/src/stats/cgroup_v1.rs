//! `io.containerd.cgroups.v1.Metrics` from the per-controller directories of a v1/hybrid cgroup.

use std::path::Path;

pub(super) use containerd_shim_protos::cgroups::metrics as v1;
use protobuf::MessageField;

use super::{device_name, hugetlb_sizes, rdma};
use crate::cgroup::{flat_keyed, read_opt, read_u64, Cgroup};

/// USER_HZ: the unit of v1 `cpuacct.stat` (100 on every Linux architecture containerd runs on).
const NANOS_PER_TICK: u64 = 1_000_000_000 / 100;

pub(super) fn v1_metrics(cg: &Cgroup) -> v1::Metrics {
    let file = |ctrl: &str, name: &str| cg.dir(ctrl).map(|d| d.join(name));
    let num = |ctrl: &str, name: &str| file(ctrl, name).map_or(0, |p| read_u64(&p));
    let keyed = |ctrl: &str, name: &str| {
        file(ctrl, name)
            .and_then(|p| read_opt(&p))
            .map(|t| flat_keyed(&t))
            .unwrap_or_default()
    };
    let mut m = v1::Metrics::new();

    if cg.dir("pids").is_some() {
        let mut p = v1::PidsStat::new();
        p.current = num("pids", "pids.current");
        // "max" (no limit) is reported as 0, as containerd's cgroup1 does.
        p.limit = match num("pids", "pids.max") {
            u64::MAX => 0,
            n => n,
        };
        m.pids = MessageField::some(p);
    }

    if cg.dir("cpuacct").is_some() || cg.dir("cpu").is_some() {
        let mut u = v1::CPUUsage::new();
        u.total = num("cpuacct", "cpuacct.usage");
        u.per_cpu = file("cpuacct", "cpuacct.usage_percpu")
            .and_then(|p| read_opt(&p))
            .map(|t| {
                t.split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let st = keyed("cpuacct", "cpuacct.stat");
        u.user = st.get("user").copied().unwrap_or(0) * NANOS_PER_TICK;
        u.kernel = st.get("system").copied().unwrap_or(0) * NANOS_PER_TICK;
        let t = keyed("cpu", "cpu.stat");
        let mut th = v1::Throttle::new();
        th.periods = t.get("nr_periods").copied().unwrap_or(0);
        th.throttled_periods = t.get("nr_throttled").copied().unwrap_or(0);
        th.throttled_time = t.get("throttled_time").copied().unwrap_or(0);
        let mut c = v1::CPUStat::new();
        c.usage = MessageField::some(u);
        c.throttling = MessageField::some(th);
        m.cpu = MessageField::some(c);
    }

    if cg.dir("memory").is_some() {
        let s = keyed("memory", "memory.stat");
        let g = |k: &str| s.get(k).copied().unwrap_or(0);
        let mut mem = v1::MemoryStat::new();
        mem.cache = g("cache");
        mem.rss = g("rss");
        mem.rss_huge = g("rss_huge");
        mem.mapped_file = g("mapped_file");
        mem.dirty = g("dirty");
        mem.writeback = g("writeback");
        mem.pg_pg_in = g("pgpgin");
        mem.pg_pg_out = g("pgpgout");
        mem.pg_fault = g("pgfault");
        mem.pg_maj_fault = g("pgmajfault");
        mem.inactive_anon = g("inactive_anon");
        mem.active_anon = g("active_anon");
        mem.inactive_file = g("inactive_file");
        mem.active_file = g("active_file");
        mem.unevictable = g("unevictable");
        mem.hierarchical_memory_limit = g("hierarchical_memory_limit");
        mem.hierarchical_swap_limit = g("hierarchical_memsw_limit");
        mem.total_cache = g("total_cache");
        mem.total_rss = g("total_rss");
        mem.total_rss_huge = g("total_rss_huge");
        mem.total_mapped_file = g("total_mapped_file");
        mem.total_dirty = g("total_dirty");
        mem.total_writeback = g("total_writeback");
        mem.total_pg_pg_in = g("total_pgpgin");
        mem.total_pg_pg_out = g("total_pgpgout");
        mem.total_pg_fault = g("total_pgfault");
        mem.total_pg_maj_fault = g("total_pgmajfault");
        mem.total_inactive_anon = g("total_inactive_anon");
        mem.total_active_anon = g("total_active_anon");
        mem.total_inactive_file = g("total_inactive_file");
        mem.total_active_file = g("total_active_file");
        mem.total_unevictable = g("total_unevictable");
        let entry = |prefix: &str| {
            let mut e = v1::MemoryEntry::new();
            e.usage = num("memory", &format!("{prefix}usage_in_bytes"));
            e.limit = num("memory", &format!("{prefix}limit_in_bytes"));
            e.max = num("memory", &format!("{prefix}max_usage_in_bytes"));
            e.failcnt = num("memory", &format!("{prefix}failcnt"));
            MessageField::some(e)
        };
        mem.usage = entry("memory.");
        mem.swap = entry("memory.memsw.");
        mem.kernel = entry("memory.kmem.");
        mem.kernel_tcp = entry("memory.kmem.tcp.");
        m.memory = MessageField::some(mem);
        let o = keyed("memory", "memory.oom_control");
        let mut oc = v1::MemoryOomControl::new();
        oc.oom_kill_disable = o.get("oom_kill_disable").copied().unwrap_or(0);
        oc.under_oom = o.get("under_oom").copied().unwrap_or(0);
        oc.oom_kill = o.get("oom_kill").copied().unwrap_or(0);
        m.memory_oom_control = MessageField::some(oc);
    }

    if let Some(d) = cg.dir("blkio") {
        m.blkio = MessageField::some(v1_blkio(d));
    }
    if let Some(d) = cg.dir("hugetlb") {
        for size in hugetlb_sizes(d, ".limit_in_bytes") {
            let f = |n: &str| read_u64(&d.join(format!("hugetlb.{size}.{n}")));
            let mut h = v1::HugetlbStat::new();
            h.usage = f("usage_in_bytes");
            h.max = f("max_usage_in_bytes");
            h.failcnt = f("failcnt");
            h.pagesize = size;
            m.hugetlb.push(h);
        }
    }
    if let Some(d) = cg.dir("rdma") {
        let mut r = v1::RdmaStat::new();
        r.current = rdma(&d.join("rdma.current"), v1_rdma_entry);
        r.limit = rdma(&d.join("rdma.max"), v1_rdma_entry);
        m.rdma = MessageField::some(r);
    }
    m
}

fn v1_rdma_entry(device: &str, handles: u32, objects: u32) -> v1::RdmaEntry {
    let mut e = v1::RdmaEntry::new();
    e.device = device.to_string();
    e.hca_handles = handles;
    e.hca_objects = objects;
    e
}

/// v1 blkio "8:0 Read 123" lines (or "8:0 123" for time/sectors); the "Total" line is skipped.
fn blkio_entries(text: &str) -> Vec<v1::BlkIOEntry> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (dev, op, value) = match f.as_slice() {
                [d, op, v] => (*d, *op, *v),
                [d, v] => (*d, "", *v),
                _ => return None,
            };
            let (maj, min) = dev.split_once(':')?;
            let mut e = v1::BlkIOEntry::new();
            e.major = maj.parse().ok()?;
            e.minor = min.parse().ok()?;
            e.op = op.to_string();
            e.value = value.parse().ok()?;
            e.device = device_name(e.major, e.minor);
            Some(e)
        })
        .collect()
}

fn v1_blkio(d: &Path) -> v1::BlkIOStat {
    let list = |name: &str| blkio_entries(&read_opt(&d.join(name)).unwrap_or_default());
    let mut b = v1::BlkIOStat::new();
    b.io_service_bytes_recursive = list("blkio.io_service_bytes_recursive");
    b.io_serviced_recursive = list("blkio.io_serviced_recursive");
    b.io_queued_recursive = list("blkio.io_queued_recursive");
    b.io_service_time_recursive = list("blkio.io_service_time_recursive");
    b.io_wait_time_recursive = list("blkio.io_wait_time_recursive");
    b.io_merged_recursive = list("blkio.io_merged_recursive");
    b.io_time_recursive = list("blkio.time_recursive");
    b.sectors_recursive = list("blkio.sectors_recursive");
    // Without CFQ/BFQ accounting the kernel only has the throttle files (containerd falls back
    // to them the same way).
    if b.io_service_bytes_recursive.is_empty() {
        b.io_service_bytes_recursive = list("blkio.throttle.io_service_bytes_recursive");
        b.io_serviced_recursive = list("blkio.throttle.io_serviced_recursive");
    }
    b
}
