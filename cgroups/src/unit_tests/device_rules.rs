//! Device rules: the v1 allow/deny plan and the v2 eBPF program, checked by interpreting it.
use super::*;

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
