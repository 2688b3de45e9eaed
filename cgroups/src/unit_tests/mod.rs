//! Unit tests for the rules (no root, no cgroupfs needed).
use crate::devices::{self, BpfInsn, DeviceRule, ACC_MKNOD, ACC_READ, ACC_WRITE};
use crate::mountinfo::{self, HostCgroups};
use crate::path::{self, resolve_with};
use crate::stats;
use crate::validate::{validate_with, Available};
use crate::*;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
    LinuxNetworkBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
    LinuxWeightDeviceBuilder,
};
use std::collections::HashMap;
use std::path::PathBuf;

const HYBRID: &str = "\
22 1 8:1 / / rw,relatime - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

const UNIFIED: &str = "\
22 1 8:1 / / rw,relatime - ext4 /dev/vda rw
25 21 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
26 21 0:23 / /sys/fs/bpf rw - bpf bpf rw
";

const LEGACY: &str = "\
24 18 0:20 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
26 24 0:22 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
29 24 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:13 - cgroup cgroup rw,cpu,cpuacct
30 24 0:26 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
31 24 0:27 /docker/abc /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,pids
32 24 0:28 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
";

fn host(mi: &str, own: &str) -> HostCgroups {
    let mounts = mountinfo::parse_mountinfo(mi).unwrap();
    HostCgroups {
        layout: mountinfo::layout_from_mounts(&mounts, None).unwrap(),
        mounts,
        own: mountinfo::parse_proc_cgroup(own).unwrap(),
    }
}

const OWN_HYBRID: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/xyz\n1:cpu:/\n0::/\n";

#[test]
fn mountinfo_layouts() {
    let h = mountinfo::parse_mountinfo(HYBRID).unwrap();
    assert_eq!(h.len(), 10);
    assert_eq!(
        mountinfo::layout_from_mounts(&h, None).unwrap(),
        Layout::Hybrid
    );
    assert_eq!(
        mountinfo::v2_mount(&h).unwrap().mount_point,
        PathBuf::from("/sys/fs/cgroup/unified")
    );
    assert_eq!(
        mountinfo::v1_mount(&h, "name=systemd").unwrap().mount_point,
        PathBuf::from("/sys/fs/cgroup/systemd")
    );

    let u = mountinfo::parse_mountinfo(UNIFIED).unwrap();
    assert_eq!(u.len(), 1);
    assert_eq!(
        mountinfo::layout_from_mounts(&u, None).unwrap(),
        Layout::Unified
    );

    let l = mountinfo::parse_mountinfo(LEGACY).unwrap();
    assert_eq!(
        mountinfo::layout_from_mounts(&l, None).unwrap(),
        Layout::Legacy
    );
    // release_agent= and xattr are options, not controllers; combined mounts carry both.
    assert_eq!(l[0].controllers, vec!["name=systemd".to_string()]);
    let cpuacct = mountinfo::v1_mount(&l, "cpuacct").unwrap();
    assert_eq!(
        cpuacct.mount_point,
        PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
    );
    assert_eq!(cpuacct.controllers, vec!["cpu", "cpuacct"]);
}

#[test]
fn mountinfo_only_named_v1_is_not_legacy_and_none_is_an_error() {
    let only_named = "26 24 0:22 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd\n";
    let m = mountinfo::parse_mountinfo(only_named).unwrap();
    let e = mountinfo::layout_from_mounts(&m, Some("nodev\tcgroup\nnodev\tcgroup2\n")).unwrap_err();
    assert!(e.to_string().contains("supports cgroup2"), "{e}");
    assert!(mountinfo::parse_mountinfo("garbage line\n").is_err());
}

#[test]
fn mountinfo_unescapes_and_honours_root() {
    let mi = "40 31 0:37 /a\\040b /sys/fs/cgroup/my\\040mem rw - cgroup cgroup rw,memory\n";
    let m = mountinfo::parse_mountinfo(mi).unwrap();
    assert_eq!(m[0].mount_point, PathBuf::from("/sys/fs/cgroup/my mem"));
    assert_eq!(m[0].root, "/a b");
    // A cgroup under the mount's root maps below the mount point.
    assert_eq!(
        mountinfo::dir_in_mount(&m[0], "/a b/c"),
        PathBuf::from("/sys/fs/cgroup/my mem/c")
    );
    let l = mountinfo::parse_mountinfo(LEGACY).unwrap();
    let pids = mountinfo::v1_mount(&l, "pids").unwrap();
    assert_eq!(
        mountinfo::dir_in_mount(pids, "/docker/abc/x"),
        PathBuf::from("/sys/fs/cgroup/pids/x")
    );
}

#[test]
fn proc_cgroup_parsing() {
    let p = mountinfo::parse_proc_cgroup("12:cpu,cpuacct:/a\n0::/b/c\n").unwrap();
    assert_eq!(p[0].controllers, vec!["cpu", "cpuacct"]);
    assert_eq!(p[1].path, "/b/c");
    assert!(mountinfo::parse_proc_cgroup("nonsense\n").is_err());
}

#[test]
fn resolve_unified() {
    let h = host(UNIFIED, "0::/user.slice/session-1.scope\n");
    let p = resolve_with(&h, Some("/hull/c1"), "c1", false).unwrap();
    assert_eq!(p.unified, Some(PathBuf::from("/sys/fs/cgroup/hull/c1")));
    assert!(p.v1.is_empty());
    // Relative: next to the caller's cgroup, in its parent (runc fs2).
    let p = resolve_with(&h, Some("mine"), "c1", false).unwrap();
    assert_eq!(
        p.unified,
        Some(PathBuf::from("/sys/fs/cgroup/user.slice/mine"))
    );
    let p = resolve_with(&h, None, "c1", false).unwrap();
    assert_eq!(p.inner, "/user.slice/c1");
    // .. inside the path is fine as long as it does not climb out.
    let p = resolve_with(&h, Some("/a/../b/./c"), "c1", false).unwrap();
    assert_eq!(p.inner, "/b/c");
}

#[test]
fn resolve_hybrid_per_hierarchy() {
    let h = host(HYBRID, OWN_HYBRID);
    let p = resolve_with(&h, None, "ctr", false).unwrap();
    assert_eq!(p.layout, Layout::Hybrid);
    assert_eq!(
        p.v1["memory"],
        PathBuf::from("/sys/fs/cgroup/memory/process_api/xyz/ctr")
    );
    assert_eq!(p.v1["pids"], PathBuf::from("/sys/fs/cgroup/pids/ctr"));
    assert_eq!(
        p.v1["name=systemd"],
        PathBuf::from("/sys/fs/cgroup/systemd/ctr")
    );
    assert_eq!(p.unified, Some(PathBuf::from("/sys/fs/cgroup/unified/ctr")));
    let p = resolve_with(&h, Some("/hull/x"), "ctr", false).unwrap();
    assert_eq!(
        p.v1["memory"],
        PathBuf::from("/sys/fs/cgroup/memory/hull/x")
    );
    assert_eq!(p.v1.len(), 9);
}

#[test]
fn resolve_rejects_bad_paths() {
    let h = host(UNIFIED, "0::/\n");
    for (path, needle) in [
        ("../escape", "escapes"),
        ("/a/../../b", "escapes"),
        ("/", "root cgroup"),
        ("a\0b", "NUL"),
    ] {
        let e = resolve_with(&h, Some(path), "c", false).unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains(needle) && s.contains("cgroupsPath"),
            "{path}: {s}"
        );
    }
    assert!(resolve_with(&h, None, "a/b", false).is_err());
    assert!(resolve_with(&h, None, "..", false).is_err());
}

#[test]
fn systemd_paths() {
    assert_eq!(path::expand_slice("-.slice").unwrap(), "/");
    assert_eq!(
        path::expand_slice("a-b-c.slice").unwrap(),
        "/a.slice/a-b.slice/a-b-c.slice"
    );
    assert_eq!(
        path::systemd_to_path("system.slice:docker:abc").unwrap(),
        "/system.slice/docker-abc.scope"
    );
    assert_eq!(
        path::systemd_to_path("a-b.slice:pre:name").unwrap(),
        "/a.slice/a-b.slice/pre-name.scope"
    );
    assert_eq!(path::systemd_to_path("-.slice::n").unwrap(), "/n.scope");
    assert_eq!(
        path::systemd_to_path(":hull:x").unwrap(),
        "/system.slice/hull-x.scope"
    );
    assert_eq!(
        path::systemd_to_path("user.slice:p:my.slice").unwrap(),
        "/user.slice/my.slice"
    );
    for bad in [
        "foo",
        "a:b",
        "a.b:p:n",
        "a--b.slice:p:n",
        "-a.slice:p:n",
        "x.slice:p:",
        "x.slice:p/q:n",
    ] {
        let e = path::systemd_to_path(bad).unwrap_err();
        assert!(e.to_string().contains(bad), "{bad}: {e}");
    }
    let h = host(UNIFIED, "0::/\n");
    let p = resolve_with(&h, None, "c9", true).unwrap();
    assert_eq!(
        p.unified,
        Some(PathBuf::from("/sys/fs/cgroup/system.slice/hull-c9.scope"))
    );
    assert!(p.systemd);
    assert!(!resolve_with(&h, None, "c9", false).unwrap().systemd);
}

#[test]
fn cgroup_path_round_trips() {
    let h = host(HYBRID, OWN_HYBRID);
    let p = resolve_with(&h, Some("/hull/x"), "x", false).unwrap();
    let s = p.to_json();
    assert!(s.contains("\"layout\":\"hybrid\""), "{s}");
    assert_eq!(CgroupPath::from_json(&s).unwrap(), p);
    assert!(CgroupPath::from_json("{").is_err());
}

#[test]
fn conversions() {
    assert_eq!(shares_to_weight(0), 0);
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 39);
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(blkio_weight_to_io_weight(10), 1);
    assert_eq!(blkio_weight_to_io_weight(500), 4950);
    assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    assert_eq!(
        swap_to_v2(Some(300), Some(100)).unwrap().as_deref(),
        Some("200")
    );
    assert_eq!(
        swap_to_v2(Some(100), Some(100)).unwrap().as_deref(),
        Some("0")
    );
    assert_eq!(
        swap_to_v2(Some(-1), Some(100)).unwrap().as_deref(),
        Some("max")
    );
    assert_eq!(swap_to_v2(None, Some(100)).unwrap(), None);
    assert!(swap_to_v2(Some(100), None)
        .unwrap_err()
        .contains("memory limit"));
    assert!(swap_to_v2(Some(50), Some(100))
        .unwrap_err()
        .contains("smaller"));
    assert_eq!(limit_str(-1), "max");
    assert_eq!(limit_str(4096), "4096");
    assert_eq!(
        cpu_max(Some(50_000), Some(100_000)).as_deref(),
        Some("50000 100000")
    );
    assert_eq!(cpu_max(Some(-1), None).as_deref(), Some("max"));
    assert_eq!(cpu_max(None, Some(20_000)).as_deref(), Some("max 20000"));
    assert_eq!(cpu_max(None, None), None);
    assert!(crate::convert::valid_cpuset_list("0-3,7"));
    assert!(!crate::convert::valid_cpuset_list("3-1"));
    assert!(!crate::convert::valid_cpuset_list("a"));
}

fn all_v1() -> Available {
    Available {
        controllers: [
            "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
        ]
        .map(String::from)
        .to_vec(),
        v2_extra: vec!["hugetlb".into()],
    }
}
fn all_v2() -> Available {
    Available {
        controllers: [
            "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc",
        ]
        .map(String::from)
        .to_vec(),
        v2_extra: vec![],
    }
}

fn err_of(res: &LinuxResources, layout: Layout, avail: &Available) -> String {
    validate_with(res, layout, avail).unwrap_err().to_string()
}

#[test]
fn validation_errors_name_the_field() {
    let mem = |m| LinuxResourcesBuilder::default().memory(m).build().unwrap();
    let e = err_of(
        &mem(LinuxMemoryBuilder::default().limit(-5).build().unwrap()),
        Layout::Unified,
        &all_v2(),
    );
    assert!(e.contains("memory.limit"), "{e}");
    let e = err_of(
        &mem(LinuxMemoryBuilder::default()
            .swappiness(101u64)
            .build()
            .unwrap()),
        Layout::Hybrid,
        &all_v1(),
    );
    assert!(e.contains("memory.swappiness"), "{e}");
    let e = err_of(
        &mem(LinuxMemoryBuilder::default()
            .limit(100)
            .swap(50)
            .build()
            .unwrap()),
        Layout::Hybrid,
        &all_v1(),
    );
    assert!(e.contains("memory.swap"), "{e}");
    let e = err_of(
        &mem(LinuxMemoryBuilder::default().swap(50).build().unwrap()),
        Layout::Unified,
        &all_v2(),
    );
    assert!(
        e.contains("memory.swap") && e.contains("memory limit"),
        "{e}"
    );

    let cpu = |c| LinuxResourcesBuilder::default().cpu(c).build().unwrap();
    for (c, field) in [
        (
            LinuxCpuBuilder::default().shares(1u64).build().unwrap(),
            "cpu.shares",
        ),
        (
            LinuxCpuBuilder::default().quota(10).build().unwrap(),
            "cpu.quota",
        ),
        (
            LinuxCpuBuilder::default().period(10u64).build().unwrap(),
            "cpu.period",
        ),
        (
            LinuxCpuBuilder::default().cpus("1-x").build().unwrap(),
            "cpu.cpus",
        ),
        (
            LinuxCpuBuilder::default().idle(3).build().unwrap(),
            "cpu.idle",
        ),
        (
            LinuxCpuBuilder::default().burst(5000u64).build().unwrap(),
            "cpu.burst",
        ),
    ] {
        let e = err_of(&cpu(c), Layout::Unified, &all_v2());
        assert!(e.contains(field), "{field}: {e}");
    }
    let rt = cpu(LinuxCpuBuilder::default()
        .realtime_runtime(1000)
        .build()
        .unwrap());
    let e = err_of(&rt, Layout::Unified, &all_v2());
    assert!(
        e.contains("realtimeRuntime") && e.contains("not supported"),
        "{e}"
    );
    assert!(validate_with(&rt, Layout::Hybrid, &all_v1()).is_ok());

    let pids = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(-7).build().unwrap())
        .build()
        .unwrap();
    assert!(err_of(&pids, Layout::Unified, &all_v2()).contains("pids.limit"));

    let blk = LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight_device(vec![LinuxWeightDeviceBuilder::default()
                    .major(8)
                    .minor(0)
                    .weight(5u16)
                    .build()
                    .unwrap()])
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert!(err_of(&blk, Layout::Unified, &all_v2()).contains("blockIO.weightDevice[0].weight"));

    let huge = |size: &str| {
        LinuxResourcesBuilder::default()
            .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
                .page_size(size)
                .limit(1 << 21)
                .build()
                .unwrap()])
            .build()
            .unwrap()
    };
    assert!(err_of(&huge("2XB"), Layout::Unified, &all_v2()).contains("pageSize"));
    assert!(validate_with(&huge("2MB"), Layout::Unified, &all_v2()).is_ok());
}

#[test]
fn validation_names_missing_controllers() {
    // This hybrid host has no v1 hugetlb (it sits in cgroup2 only) and no net_cls.
    let huge = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(1 << 21)
            .build()
            .unwrap()])
        .build()
        .unwrap();
    let e = err_of(&huge, Layout::Hybrid, &all_v1());
    assert!(e.contains("hugetlb") && e.contains("hugepageLimits"), "{e}");

    let net = LinuxResourcesBuilder::default()
        .network(
            LinuxNetworkBuilder::default()
                .class_id(7u32)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = err_of(&net, Layout::Hybrid, &all_v1());
    assert!(
        e.contains("net_cls") && e.contains("network.classID"),
        "{e}"
    );
    let e = err_of(&net, Layout::Unified, &all_v2());
    assert!(e.contains("network") && e.contains("v1"), "{e}");

    let mut no_pids = all_v2();
    no_pids.controllers.retain(|c| c != "pids");
    let pids = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(10).build().unwrap())
        .build()
        .unwrap();
    let e = err_of(&pids, Layout::Unified, &no_pids);
    assert!(e.contains("the pids cgroup controller"), "{e}");

    let blk = LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(100u16)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let mut no_io = all_v2();
    no_io.controllers.retain(|c| c != "io");
    assert!(err_of(&blk, Layout::Unified, &no_io).contains("the io cgroup controller"));
}

#[test]
fn validation_of_unified_keys() {
    let uni = |k: &str| {
        let mut m = HashMap::new();
        m.insert(k.to_string(), "1".to_string());
        LinuxResourcesBuilder::default().unified(m).build().unwrap()
    };
    assert!(validate_with(&uni("memory.high"), Layout::Unified, &all_v2()).is_ok());
    assert!(err_of(&uni("../memory.high"), Layout::Unified, &all_v2()).contains("path separators"));
    assert!(
        err_of(&uni("cgroup.procs"), Layout::Unified, &all_v2()).contains("managed by the runtime")
    );
    assert!(err_of(&uni("memory.high"), Layout::Legacy, &all_v1()).contains("unified"));
    // Hybrid: only the cgroup2 hierarchy's controllers count.
    assert!(err_of(&uni("memory.high"), Layout::Hybrid, &all_v1()).contains("memory"));
    assert!(validate_with(&uni("hugetlb.2MB.max"), Layout::Hybrid, &all_v1()).is_ok());
}

mod device_rules;
