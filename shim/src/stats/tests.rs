//! Metrics built from fake cgroup trees.

use super::cgroup_v1::v1;
use super::cgroup_v2::{v2, v2_rdma_entry};
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
