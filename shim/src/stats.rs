//! Task `Stats`: containerd's cgroup metrics, read straight from the container's cgroup files
//! (no runtime process per call): `io.containerd.cgroups.v1.Metrics` on v1/hybrid hosts,
//! `io.containerd.cgroups.v2.Metrics` on unified ones, with the fields containerd's cgroups
//! library fills (CRI's working set = usage − inactive file comes from these).

use std::path::Path;

use containerd_shim_protos::cgroups::metrics as v1;
use containerd_shim_protos::cgroups_v2::metrics as v2;
use protobuf::well_known_types::any::Any;
use protobuf::MessageField;

use crate::cgroup::{flat_keyed, read_opt, read_u64, Cgroup};
use crate::events::pack;

/// The protobuf full names of the two metrics messages (constants: see `events::pack`).
const V1_METRICS: &str = "io.containerd.cgroups.v1.Metrics";
const V2_METRICS: &str = "io.containerd.cgroups.v2.Metrics";

/// The metrics of `cg`, packed as containerd expects them in `StatsResponse.stats`.
pub fn metrics(cg: &Cgroup) -> Any {
    match cg {
        Cgroup::V2(dir) => pack(&v2_metrics(dir), V2_METRICS),
        Cgroup::V1(_) => pack(&v1_metrics(cg), V1_METRICS),
    }
}

/// USER_HZ: the unit of v1 `cpuacct.stat` (100 on every Linux architecture containerd runs on).
const NANOS_PER_TICK: u64 = 1_000_000_000 / 100;

fn v1_metrics(cg: &Cgroup) -> v1::Metrics {
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

fn v2_rdma_entry(device: &str, handles: u32, objects: u32) -> v2::RdmaEntry {
    let mut e = v2::RdmaEntry::new();
    e.device = device.to_string();
    e.hca_handles = handles;
    e.hca_objects = objects;
    e
}

/// rdma.current / rdma.max lines "mlx4_0 hca_handle=2 hca_object=2000" ("max" = u32::MAX).
fn rdma<E>(path: &Path, mk: fn(&str, u32, u32) -> E) -> Vec<E> {
    let n = |v: &str| {
        if v == "max" {
            u32::MAX
        } else {
            v.parse().unwrap_or(0)
        }
    };
    read_opt(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let dev = it.next()?;
            let (mut h, mut o) = (0, 0);
            for kv in it {
                match kv.split_once('=') {
                    Some(("hca_handle", v)) => h = n(v),
                    Some(("hca_object", v)) => o = n(v),
                    _ => {}
                }
            }
            Some(mk(dev, h, o))
        })
        .collect()
}

/// "/dev/sda" for 8:0, from sysfs; "" when unknown (containerd leaves it empty then too).
fn device_name(major: u64, minor: u64) -> String {
    read_opt(Path::new(&format!("/sys/dev/block/{major}:{minor}/uevent")))
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("DEVNAME="))
                .map(|n| format!("/dev/{n}"))
        })
        .unwrap_or_default()
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

/// The page sizes that have `hugetlb.<size><suffix>` files ("2MB", "1GB"), sorted.
fn hugetlb_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            let s = n.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!s.contains('.')).then(|| s.to_string())
        })
        .collect();
    out.sort();
    out
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

fn v2_metrics(d: &Path) -> v2::Metrics {
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

#[cfg(test)]
mod tests {
    use super::*;
    use protobuf::{Message, MessageFull};
    use std::fs;

    #[test]
    fn metrics_type_urls_are_the_full_names() {
        assert_eq!(V1_METRICS, v1::Metrics::descriptor().full_name());
        assert_eq!(V2_METRICS, v2::Metrics::descriptor().full_name());
    }

    fn write(dir: &Path, files: &[(&str, &str)]) {
        fs::create_dir_all(dir).unwrap();
        for (n, t) in files {
            fs::write(dir.join(n), t).unwrap();
        }
    }

    #[test]
    fn v2_metrics_from_cgroup_files() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        write(
            d,
            &[
                ("pids.current", "3\n"),
                ("pids.max", "max\n"),
                (
                    "cpu.stat",
                    "usage_usec 5000\nuser_usec 4000\nsystem_usec 1000\nnr_periods 10\n\
                     nr_throttled 4\nthrottled_usec 777\nnr_bursts 1\nburst_usec 9\n",
                ),
                (
                    "cpu.pressure",
                    "some avg10=1.50 avg60=0.00 avg300=0.00 total=1234\n\
                     full avg10=0.00 avg60=0.00 avg300=0.00 total=55\n",
                ),
                (
                    "memory.stat",
                    "anon 4096\nfile 8192\ninactive_file 2048\nactive_file 6144\nshmem 0\n\
                     workingset_refault_anon 2\nworkingset_refault_file 3\npgfault 99\n",
                ),
                ("memory.current", "16384\n"),
                ("memory.max", "33554432\n"),
                ("memory.swap.current", "0\n"),
                ("memory.swap.max", "max\n"),
                ("memory.peak", "20000\n"),
                (
                    "memory.events",
                    "low 0\nhigh 1\nmax 7\noom 2\noom_kill 2\noom_group_kill 0\n",
                ),
                (
                    "io.stat",
                    "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n",
                ),
                ("hugetlb.2MB.current", "0\n"),
                ("hugetlb.2MB.max", "max\n"),
                ("hugetlb.2MB.events", "max 5\n"),
                ("hugetlb.2MB.rsvd.max", "max\n"),
            ],
        );
        let a = metrics(&Cgroup::V2(d.to_path_buf()));
        assert_eq!(a.type_url, "io.containerd.cgroups.v2.Metrics");
        let m = v2::Metrics::parse_from_bytes(&a.value).unwrap();
        assert_eq!((m.pids.current, m.pids.limit), (3, 0));
        assert_eq!(m.cpu.usage_usec, 5000);
        assert_eq!(m.cpu.user_usec, 4000);
        assert_eq!(m.cpu.system_usec, 1000);
        assert_eq!(m.cpu.nr_periods, 10);
        assert_eq!(m.cpu.nr_throttled, 4);
        assert_eq!(m.cpu.throttled_usec, 777);
        assert_eq!(m.cpu.psi.some.total, 1234);
        assert_eq!(m.cpu.psi.some.avg10, 1.5);
        assert_eq!(m.cpu.psi.full.total, 55);
        assert_eq!(m.memory.usage, 16384);
        assert_eq!(m.memory.usage_limit, 33554432);
        assert_eq!(m.memory.swap_limit, u64::MAX);
        assert_eq!(m.memory.max_usage, 20000);
        assert_eq!(m.memory.anon, 4096);
        assert_eq!(m.memory.file, 8192);
        assert_eq!(m.memory.inactive_file, 2048);
        assert_eq!(m.memory.workingset_refault, 5);
        assert_eq!(m.memory.pgfault, 99);
        assert_eq!(m.memory_events.max, 7);
        assert_eq!(m.memory_events.oom_kill, 2);
        assert_eq!(m.io.usage.len(), 1);
        let io = &m.io.usage[0];
        assert_eq!(
            (io.major, io.minor, io.rbytes, io.wbytes, io.rios, io.wios),
            (8, 0, 100, 200, 1, 2)
        );
        assert_eq!(m.hugetlb.len(), 1, "rsvd files are not a page size");
        assert_eq!(m.hugetlb[0].pagesize, "2MB");
        assert_eq!(m.hugetlb[0].failcnt, 5);
        assert_eq!(m.hugetlb[0].max, u64::MAX);
        assert!(m.rdma.is_none());
    }

    #[test]
    fn v1_metrics_from_cgroup_files() {
        let t = tempfile::tempdir().unwrap();
        let mem = t.path().join("memory");
        write(
            &mem,
            &[
                (
                    "memory.stat",
                    "cache 100\nrss 200\ninactive_file 30\ntotal_cache 110\ntotal_rss 210\n\
                     total_inactive_file 31\ntotal_pgfault 5\nhierarchical_memory_limit 16777216\n\
                     hierarchical_memsw_limit 9223372036854771712\n",
                ),
                ("memory.usage_in_bytes", "4096\n"),
                ("memory.limit_in_bytes", "16777216\n"),
                ("memory.max_usage_in_bytes", "8192\n"),
                ("memory.failcnt", "1\n"),
                ("memory.memsw.usage_in_bytes", "5000\n"),
                ("memory.kmem.usage_in_bytes", "600\n"),
                ("memory.kmem.tcp.limit_in_bytes", "9223372036854771712\n"),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
                ),
            ],
        );
        let cpu = t.path().join("cpu,cpuacct");
        write(
            &cpu,
            &[
                ("cpuacct.usage", "5000000\n"),
                ("cpuacct.usage_percpu", "3000000 2000000 \n"),
                ("cpuacct.stat", "user 40\nsystem 10\n"),
                (
                    "cpu.stat",
                    "nr_periods 8\nnr_throttled 3\nthrottled_time 123456\n",
                ),
            ],
        );
        let pids = t.path().join("pids");
        write(&pids, &[("pids.current", "2\n"), ("pids.max", "100\n")]);
        let blkio = t.path().join("blkio");
        write(
            &blkio,
            &[
                ("blkio.io_service_bytes_recursive", "Total 0\n"),
                (
                    "blkio.throttle.io_service_bytes_recursive",
                    "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n",
                ),
                (
                    "blkio.throttle.io_serviced_recursive",
                    "8:0 Read 1\nTotal 1\n",
                ),
                ("blkio.sectors_recursive", "8:0 9\n"),
            ],
        );
        let huge = t.path().join("hugetlb");
        write(
            &huge,
            &[
                ("hugetlb.2MB.limit_in_bytes", "9223372036854771712\n"),
                ("hugetlb.2MB.usage_in_bytes", "2097152\n"),
                ("hugetlb.2MB.max_usage_in_bytes", "4194304\n"),
                ("hugetlb.2MB.failcnt", "1\n"),
            ],
        );
        let cg = Cgroup::V1(
            [
                ("memory", mem),
                ("cpu", cpu.clone()),
                ("cpuacct", cpu),
                ("pids", pids),
                ("blkio", blkio),
                ("hugetlb", huge),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        );
        let a = metrics(&cg);
        assert_eq!(a.type_url, "io.containerd.cgroups.v1.Metrics");
        let m = v1::Metrics::parse_from_bytes(&a.value).unwrap();
        assert_eq!((m.pids.current, m.pids.limit), (2, 100));
        assert_eq!(m.cpu.usage.total, 5_000_000);
        assert_eq!(m.cpu.usage.per_cpu, vec![3_000_000, 2_000_000]);
        assert_eq!(m.cpu.usage.user, 400_000_000);
        assert_eq!(m.cpu.usage.kernel, 100_000_000);
        assert_eq!(m.cpu.throttling.periods, 8);
        assert_eq!(m.cpu.throttling.throttled_periods, 3);
        assert_eq!(m.cpu.throttling.throttled_time, 123456);
        assert_eq!(m.memory.cache, 100);
        assert_eq!(m.memory.rss, 200);
        assert_eq!(m.memory.total_inactive_file, 31);
        assert_eq!(m.memory.total_rss, 210);
        assert_eq!(m.memory.total_pg_fault, 5);
        assert_eq!(m.memory.hierarchical_memory_limit, 16777216);
        assert_eq!(m.memory.hierarchical_swap_limit, 9223372036854771712);
        assert_eq!(m.memory.usage.usage, 4096);
        assert_eq!(m.memory.usage.limit, 16777216);
        assert_eq!(m.memory.usage.max, 8192);
        assert_eq!(m.memory.usage.failcnt, 1);
        assert_eq!(m.memory.swap.usage, 5000);
        assert_eq!(m.memory.kernel.usage, 600);
        assert_eq!(m.memory.kernel_tcp.limit, 9223372036854771712);
        assert_eq!(m.memory_oom_control.oom_kill, 2);
        let b = &m.blkio;
        assert_eq!(b.io_service_bytes_recursive.len(), 3, "throttle fallback");
        assert_eq!(b.io_service_bytes_recursive[0].op, "Read");
        assert_eq!(b.io_service_bytes_recursive[0].value, 4096);
        assert_eq!(b.io_serviced_recursive.len(), 1);
        assert_eq!(b.sectors_recursive[0].value, 9);
        assert_eq!(b.sectors_recursive[0].op, "");
        assert_eq!(m.hugetlb.len(), 1);
        assert_eq!(m.hugetlb[0].pagesize, "2MB");
        assert_eq!(m.hugetlb[0].usage, 2097152);
        assert_eq!(m.hugetlb[0].max, 4194304);
        assert_eq!(m.hugetlb[0].failcnt, 1);
    }

    #[test]
    fn missing_controllers_leave_their_messages_out() {
        let cg = Cgroup::V1(Default::default());
        let m = v1::Metrics::parse_from_bytes(&metrics(&cg).value).unwrap();
        assert!(m.memory.is_none() && m.cpu.is_none() && m.pids.is_none());
    }

    #[test]
    fn rdma_lines() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("rdma.max");
        fs::write(&p, "mlx4_0 hca_handle=2 hca_object=max\n").unwrap();
        let r = rdma(&p, v2_rdma_entry);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].device, "mlx4_0");
        assert_eq!((r[0].hca_handles, r[0].hca_objects), (2, u32::MAX));
    }
}
