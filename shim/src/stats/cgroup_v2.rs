//! `io.containerd.cgroups.v2.Metrics` from one unified cgroup directory.

use std::path::Path;

pub(super) use containerd_shim_protos::cgroups_v2::metrics as v2;
use protobuf::MessageField;

use super::{hugetlb_sizes, rdma};
use crate::cgroup::{flat_keyed, read_opt, read_u64};

pub(super) fn v2_rdma_entry(device: &str, handles: u32, objects: u32) -> v2::RdmaEntry {
    let mut e = v2::RdmaEntry::new();
    e.device = device.to_string();
    e.hca_handles = handles;
    e.hca_objects = objects;
    e
}

/// A PSI file ("some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and a "full" line).
fn psi(path: &Path) -> MessageField<v2::PSIStats> {
    let Some(text) = read_opt(path) else {
        return MessageField::none();
    };
    let mut s = v2::PSIStats::new();
    for l in text.lines() {
        let mut it = l.split_whitespace();
        let kind = it.next();
        let mut d = v2::PSIData::new();
        for kv in it {
            match kv.split_once('=') {
                Some(("avg10", v)) => d.avg10 = v.parse().unwrap_or(0.0),
                Some(("avg60", v)) => d.avg60 = v.parse().unwrap_or(0.0),
                Some(("avg300", v)) => d.avg300 = v.parse().unwrap_or(0.0),
                Some(("total", v)) => d.total = v.parse().unwrap_or(0),
                _ => {}
            }
        }
        match kind {
            Some("some") => s.some = MessageField::some(d),
            Some("full") => s.full = MessageField::some(d),
            _ => {}
        }
    }
    MessageField::some(s)
}

pub(super) fn v2_metrics(d: &Path) -> v2::Metrics {
    let num = |name: &str| read_u64(&d.join(name));
    let keyed = |name: &str| {
        read_opt(&d.join(name))
            .map(|t| flat_keyed(&t))
            .unwrap_or_default()
    };
    let mut m = v2::Metrics::new();

    let mut p = v2::PidsStat::new();
    p.current = num("pids.current");
    p.limit = match num("pids.max") {
        u64::MAX => 0,
        n => n,
    };
    m.pids = MessageField::some(p);

    let c = keyed("cpu.stat");
    let g = |k: &str| c.get(k).copied().unwrap_or(0);
    let mut cpu = v2::CPUStat::new();
    cpu.usage_usec = g("usage_usec");
    cpu.user_usec = g("user_usec");
    cpu.system_usec = g("system_usec");
    cpu.nr_periods = g("nr_periods");
    cpu.nr_throttled = g("nr_throttled");
    cpu.throttled_usec = g("throttled_usec");
    cpu.nr_bursts = g("nr_bursts");
    cpu.burst_usec = g("burst_usec");
    cpu.psi = psi(&d.join("cpu.pressure"));
    m.cpu = MessageField::some(cpu);

    let s = keyed("memory.stat");
    let g = |k: &str| s.get(k).copied().unwrap_or(0);
    let mut mem = v2::MemoryStat::new();
    mem.anon = g("anon");
    mem.file = g("file");
    mem.kernel_stack = g("kernel_stack");
    mem.slab = g("slab");
    mem.sock = g("sock");
    mem.shmem = g("shmem");
    mem.file_mapped = g("file_mapped");
    mem.file_dirty = g("file_dirty");
    mem.file_writeback = g("file_writeback");
    mem.anon_thp = g("anon_thp");
    mem.inactive_anon = g("inactive_anon");
    mem.active_anon = g("active_anon");
    mem.inactive_file = g("inactive_file");
    mem.active_file = g("active_file");
    mem.unevictable = g("unevictable");
    mem.slab_reclaimable = g("slab_reclaimable");
    mem.slab_unreclaimable = g("slab_unreclaimable");
    mem.pgfault = g("pgfault");
    mem.pgmajfault = g("pgmajfault");
    // Split into _anon/_file since Linux 5.9; the sum is the old counter.
    let split = |k: &str| {
        s.get(k)
            .copied()
            .unwrap_or_else(|| g(&format!("{k}_anon")) + g(&format!("{k}_file")))
    };
    mem.workingset_refault = split("workingset_refault");
    mem.workingset_activate = split("workingset_activate");
    mem.workingset_nodereclaim = g("workingset_nodereclaim");
    mem.pgrefill = g("pgrefill");
    mem.pgscan = g("pgscan");
    mem.pgsteal = g("pgsteal");
    mem.pgactivate = g("pgactivate");
    mem.pgdeactivate = g("pgdeactivate");
    mem.pglazyfree = g("pglazyfree");
    mem.pglazyfreed = g("pglazyfreed");
    mem.thp_fault_alloc = g("thp_fault_alloc");
    mem.thp_collapse_alloc = g("thp_collapse_alloc");
    mem.usage = num("memory.current");
    mem.usage_limit = num("memory.max");
    mem.swap_usage = num("memory.swap.current");
    mem.swap_limit = num("memory.swap.max");
    mem.max_usage = num("memory.peak");
    mem.swap_max_usage = num("memory.swap.peak");
    mem.psi = psi(&d.join("memory.pressure"));
    m.memory = MessageField::some(mem);

    let e = keyed("memory.events");
    if !e.is_empty() {
        let g = |k: &str| e.get(k).copied().unwrap_or(0);
        let mut ev = v2::MemoryEvents::new();
        ev.low = g("low");
        ev.high = g("high");
        ev.max = g("max");
        ev.oom = g("oom");
        ev.oom_kill = g("oom_kill");
        ev.oom_group_kill = g("oom_group_kill");
        m.memory_events = MessageField::some(ev);
    }

    let mut io = v2::IOStat::new();
    for l in read_opt(&d.join("io.stat")).unwrap_or_default().lines() {
        let mut it = l.split_whitespace();
        let Some((maj, min)) = it.next().and_then(|x| x.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        let mut e = v2::IOEntry::new();
        e.major = major;
        e.minor = minor;
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let v = v.parse().unwrap_or(0);
            match k {
                "rbytes" => e.rbytes = v,
                "wbytes" => e.wbytes = v,
                "rios" => e.rios = v,
                "wios" => e.wios = v,
                _ => {}
            }
        }
        io.usage.push(e);
    }
    io.psi = psi(&d.join("io.pressure"));
    m.io = MessageField::some(io);

    for size in hugetlb_sizes(d, ".max") {
        let f = |n: &str| d.join(format!("hugetlb.{size}.{n}"));
        let mut h = v2::HugeTlbStat::new();
        h.current = read_u64(&f("current"));
        h.max = read_u64(&f("max"));
        h.failcnt = read_opt(&f("events"))
            .map(|t| flat_keyed(&t).get("max").copied().unwrap_or(0))
            .unwrap_or(0);
        h.pagesize = size;
        m.hugetlb.push(h);
    }

    if d.join("rdma.current").exists() {
        let mut r = v2::RdmaStat::new();
        r.current = rdma(&d.join("rdma.current"), v2_rdma_entry);
        r.limit = rdma(&d.join("rdma.max"), v2_rdma_entry);
        m.rdma = MessageField::some(r);
    }
    m
}
