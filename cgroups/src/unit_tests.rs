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

// ---- devices / eBPF ----------------------------------------------------------------------

/// A tiny interpreter for the instructions `compile` emits, to check the program against the
/// rule semantics on many requests.
fn run(prog: &[BpfInsn], kind: u32, access: u32, major: u32, minor: u32) -> u64 {
    let ctx = [(access << 16) | kind, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    loop {
        let i = prog[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        pc += 1;
        match i.code {
            0x61 => {
                assert_eq!(src, 1, "loads only from the context");
                r[dst] = u64::from(ctx[(i.off / 4) as usize]);
            }
            0x54 => r[dst] = u64::from(r[dst] as u32 & i.imm as u32),
            0x74 => r[dst] = u64::from((r[dst] as u32) >> i.imm),
            0xbc => r[dst] = u64::from(r[src] as u32),
            0xb7 => r[dst] = i.imm as i64 as u64,
            0x55 => {
                if r[dst] != i.imm as i64 as u64 {
                    pc += i.off as usize;
                }
            }
            0x5d => {
                if r[dst] != r[src] {
                    pc += i.off as usize;
                }
            }
            0x95 => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
}

#[test]
fn device_rules_v1_lines() {
    let rules = devices::rules_from_oci(&default_device_rules()).unwrap();
    assert_eq!(rules[0].v1_line(), "a *:* rwm");
    assert!(rules[0].is_wildcard_all() && !rules[0].allow);
    assert_eq!(rules[1].v1_line(), "c *:* m");
    assert_eq!(rules[3].v1_line(), "c 1:3 rwm");
    assert_eq!(rules[11].v1_line(), "c 136:* rwm");
    assert!(devices::parse_access("rx").is_err());
}

#[test]
fn device_program_matches_rules() {
    let mut oci = default_device_rules();
    // A config rule after the defaults: allow reading (only) block device 8:0.
    let mut r = oci[3].clone();
    r.set_typ(Some(oci_spec::runtime::LinuxDeviceType::B));
    r.set_major(Some(8));
    r.set_minor(Some(0));
    r.set_access(Some("r".into()));
    oci.push(r);
    let rules = devices::rules_from_oci(&oci).unwrap();
    let prog = devices::compile(&rules);
    // prologue (6) + rules + default return (2); ends with "r0 = 0; exit" (default deny).
    assert_eq!(prog.len(), 6 + 2 + prog.len() - 8);
    assert_eq!(prog[prog.len() - 2].code, 0xb7);
    assert_eq!(prog[prog.len() - 2].imm, 0);
    assert_eq!(prog[prog.len() - 1].code, 0x95);
    let accesses = [ACC_MKNOD, ACC_READ, ACC_WRITE, ACC_READ | ACC_WRITE];
    let mut checked = 0;
    for (kind_c, kind) in [('b', 1u32), ('c', 2u32)] {
        for (maj, min) in [
            (1, 3),
            (1, 5),
            (1, 4),
            (8, 0),
            (8, 1),
            (136, 7),
            (5, 2),
            (10, 200),
        ] {
            for acc in accesses {
                let want = devices::decide(&rules, kind_c, maj, min, acc);
                assert_eq!(
                    run(&prog, kind, acc, maj, min) == 1,
                    want,
                    "{kind_c} {maj}:{min} acc={acc}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 64);
    // The semantics that matter: /dev/null rw allowed; host disk 8:1 read denied; mknod allowed.
    assert!(devices::decide(&rules, 'c', 1, 3, ACC_READ | ACC_WRITE));
    assert!(!devices::decide(&rules, 'b', 8, 1, ACC_READ));
    assert!(devices::decide(&rules, 'b', 8, 0, ACC_READ));
    assert!(!devices::decide(&rules, 'b', 8, 0, ACC_WRITE));
    assert!(devices::decide(&rules, 'b', 8, 1, ACC_MKNOD));
    assert!(!devices::decide(&rules, 'c', 1, 4, ACC_READ));
}

#[test]
fn device_program_without_rules_allows_all() {
    let prog = devices::compile(&[]);
    assert_eq!(prog.len(), 8);
    assert_eq!(run(&prog, 1, ACC_READ, 8, 0), 1);
    let deny = DeviceRule {
        allow: false,
        kind: 'c',
        major: Some(1),
        minor: None,
        access: ACC_WRITE,
    };
    let prog = devices::compile(&[deny]);
    assert_eq!(run(&prog, 2, ACC_WRITE, 1, 3), 0);
    assert_eq!(run(&prog, 2, ACC_READ, 1, 3), 1);
    assert_eq!(run(&prog, 1, ACC_WRITE, 1, 3), 1);
}

#[test]
fn stats_parsers_and_shape() {
    let (bytes, ios) =
        stats::parse_io_stat_v2("8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n");
    assert_eq!(bytes.len(), 3);
    assert_eq!((bytes[0].op.as_str(), bytes[0].value), ("Read", 10));
    assert_eq!(
        (ios[1].op.as_str(), ios[1].value, ios[1].major),
        ("Write", 2, 8)
    );
    let v1 = stats::parse_blkio_v1("8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
    assert_eq!(v1.len(), 2);
    assert_eq!(v1[0].value, 4096);
    let mut s = Stats::default();
    s.cpu.throttling.throttled_periods = 3;
    s.memory.kernel_tcp.limit = 1;
    s.pids.current = 2;
    let j = serde_json::to_value(&s).unwrap();
    assert_eq!(j["cpu"]["throttling"]["throttledPeriods"], 3);
    assert_eq!(j["memory"]["kernelTCP"]["limit"], 1);
    assert_eq!(j["pids"]["current"], 2);
    assert!(j["blkio"].as_object().unwrap().is_empty());
}

#[test]
fn v1_device_update_plan_never_drops_kept_devices() {
    let rules = devices::rules_from_oci(&default_device_rules()).unwrap();
    // From allow-all (a fresh cgroup) there is no gap-free path: write in order.
    assert!(devices::v1_update_plan("a *:* rwm\n", &rules).is_none());
    // From the defaults to defaults minus urandom plus kmsg read-only, and null without mknod.
    let current = rules
        .iter()
        .skip(1)
        .map(|r| r.v1_line() + "\n")
        .collect::<String>();
    let mut target: Vec<DeviceRule> = rules
        .iter()
        .filter(|r| r.major != Some(1) || r.minor != Some(9))
        .copied()
        .collect();
    for r in target.iter_mut() {
        if r.major == Some(1) && r.minor == Some(3) {
            r.access = ACC_READ | ACC_WRITE;
        }
    }
    target.push(DeviceRule {
        allow: true,
        kind: 'c',
        major: Some(1),
        minor: Some(11),
        access: ACC_READ,
    });
    let plan = devices::v1_update_plan(&current, &target).unwrap();
    let denies: Vec<&str> = plan
        .iter()
        .filter(|(a, _)| !a)
        .map(|(_, l)| l.as_str())
        .collect();
    assert_eq!(denies, vec!["c 1:3 m", "c 1:9 rwm"]);
    assert!(plan.contains(&(true, "c 1:11 r".to_string())));
    // Allows come before denies, and no deny-all is written.
    let first_deny = plan.iter().position(|(a, _)| !a).unwrap();
    assert!(plan[..first_deny].iter().all(|(a, _)| *a));
    assert!(!plan.iter().any(|(_, l)| l == "a *:* rwm" || l == "a"));
    assert_eq!(
        devices::parse_v1_list_line("b *:* m").unwrap().v1_line(),
        "b *:* m"
    );
}

/// A fake statfs: path → filesystem magic, everything else missing.
fn fs(entries: &[(&str, i64)]) -> impl Fn(&std::path::Path) -> Option<i64> {
    let m: HashMap<PathBuf, i64> = entries
        .iter()
        .map(|(p, v)| (PathBuf::from(p), *v))
        .collect();
    move |p: &std::path::Path| m.get(p).copied()
}

use mountinfo::{CGROUP2_SUPER_MAGIC as CG2, CGROUP_SUPER_MAGIC as CG1, TMPFS_MAGIC as TMPFS};

const OWN_HYBRID_ALL: &str = "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n5:devices:/\n\
4:memory:/process_api/xyz\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

const HYBRID_FS: &[(&str, i64)] = &[
    ("/sys/fs/cgroup", TMPFS),
    ("/sys/fs/cgroup/cpu", CG1),
    ("/sys/fs/cgroup/cpuacct", CG1),
    ("/sys/fs/cgroup/cpuset", CG1),
    ("/sys/fs/cgroup/devices", CG1),
    ("/sys/fs/cgroup/freezer", CG1),
    ("/sys/fs/cgroup/blkio", CG1),
    ("/sys/fs/cgroup/pids", CG1),
    ("/sys/fs/cgroup/memory", CG1),
    ("/sys/fs/cgroup/memory/process_api/xyz", CG1),
    ("/sys/fs/cgroup/systemd", CG1),
    ("/sys/fs/cgroup/unified", CG2),
];

#[test]
fn default_mounts_hybrid_resolves_like_mountinfo() {
    let own = mountinfo::parse_proc_cgroup(OWN_HYBRID_ALL).unwrap();
    let fast = mountinfo::default_mounts(&own, &fs(HYBRID_FS)).expect("usual hybrid layout");
    assert_eq!(
        mountinfo::layout_from_mounts(&fast, None).unwrap(),
        Layout::Hybrid
    );
    let fast = HostCgroups {
        layout: Layout::Hybrid,
        mounts: fast,
        own,
    };
    // The same container paths as from mountinfo, for relative, absolute and default paths.
    let slow = host(HYBRID, OWN_HYBRID_ALL);
    for (p, id) in [(None, "c1"), (Some("rel/x"), "c2"), (Some("/abs/y"), "c3")] {
        let a = resolve_with(&fast, p, id, false).unwrap();
        let b = resolve_with(&slow, p, id, false).unwrap();
        assert_eq!(a.unified, b.unified, "{p:?}");
        assert_eq!(a.v1, b.v1, "{p:?}");
        assert_eq!(a.mounts, b.mounts, "{p:?}");
    }
    assert_eq!(fast.v1_controllers(), slow.v1_controllers());
}

#[test]
fn default_mounts_unified_and_legacy() {
    let own = mountinfo::parse_proc_cgroup("0::/user.slice/u\n").unwrap();
    let f = fs(&[
        ("/sys/fs/cgroup", CG2),
        ("/sys/fs/cgroup/user.slice/u", CG2),
    ]);
    let m = mountinfo::default_mounts(&own, &f).unwrap();
    assert_eq!(
        mountinfo::layout_from_mounts(&m, None).unwrap(),
        Layout::Unified
    );
    assert_eq!(m[0].mount_point, PathBuf::from("/sys/fs/cgroup"));
    // A named v1 hierarchy (e.g. name=systemd for old tools) does not make a unified host hybrid.
    let own = mountinfo::parse_proc_cgroup("1:name=systemd:/\n0::/\n").unwrap();
    let m = mountinfo::default_mounts(&own, &fs(&[("/sys/fs/cgroup", CG2)])).unwrap();
    assert_eq!(m.len(), 1);

    // Co-mounted controllers live in the comma-joined directory; no cgroup2 → legacy.
    let own = mountinfo::parse_proc_cgroup("3:cpu,cpuacct:/\n2:memory:/\n1:name=systemd:/\n0::/\n")
        .unwrap();
    let f = fs(&[
        ("/sys/fs/cgroup", TMPFS),
        ("/sys/fs/cgroup/cpu,cpuacct", CG1),
        ("/sys/fs/cgroup/memory", CG1),
        ("/sys/fs/cgroup/systemd", CG1),
    ]);
    let m = mountinfo::default_mounts(&own, &f).unwrap();
    assert_eq!(
        mountinfo::layout_from_mounts(&m, None).unwrap(),
        Layout::Legacy
    );
    assert_eq!(
        mountinfo::v1_mount(&m, "cpuacct").unwrap().mount_point,
        PathBuf::from("/sys/fs/cgroup/cpu,cpuacct")
    );
    assert_eq!(m[0].controllers, vec!["name=systemd"]);
}

#[test]
fn default_mounts_gives_way_to_mountinfo_on_odd_layouts() {
    let own = mountinfo::parse_proc_cgroup(OWN_HYBRID_ALL).unwrap();
    let without = |skip: &str| {
        let v: Vec<(&str, i64)> = HYBRID_FS
            .iter()
            .copied()
            .filter(|(p, _)| *p != skip)
            .collect();
        mountinfo::default_mounts(&own, &fs(&v))
    };
    assert!(without("").is_some());
    // No /sys/fs/cgroup at all (cgroups mounted elsewhere, e.g. /cgroup/<ctrl>).
    assert!(without("/sys/fs/cgroup").is_none());
    // A hierarchy of /proc/self/cgroup that is not at its usual directory.
    assert!(without("/sys/fs/cgroup/pids").is_none());
    // The caller's cgroup is not under the mount point: the mount is of a sub-cgroup (a nested
    // container's bind mount, mountinfo root "/docker/abc"), so only mountinfo can place it.
    assert!(without("/sys/fs/cgroup/memory/process_api/xyz").is_none());
    // A plain directory where a hierarchy should be mounted.
    let mut v = HYBRID_FS.to_vec();
    v.push(("/sys/fs/cgroup/cpu", TMPFS));
    v.remove(1);
    assert!(mountinfo::default_mounts(&own, &fs(&v)).is_none());
    // /sys/fs/cgroup neither tmpfs nor cgroup2.
    assert!(mountinfo::default_mounts(&own, &fs(&[("/sys/fs/cgroup", 0xEF53)])).is_none());
    // cgroup2 at /sys/fs/cgroup but v1 controllers mounted somewhere: mountinfo decides.
    let own2 = mountinfo::parse_proc_cgroup("2:memory:/\n0::/\n").unwrap();
    assert!(mountinfo::default_mounts(&own2, &fs(&[("/sys/fs/cgroup", CG2)])).is_none());
    // A hierarchy with both a name and controllers has no usual directory name.
    let own3 = mountinfo::parse_proc_cgroup("2:cpu,name=x:/\n0::/\n").unwrap();
    assert!(mountinfo::default_mounts(&own3, &fs(HYBRID_FS)).is_none());
}
