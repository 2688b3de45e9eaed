//! config-linux.md: namespaces, devices, masked/readonly paths, sysctl, personality;
//! config.md: mounts, root.
use crate::harness::{has_opt, mount_at, proc_ns, Bad, Ctx, R};
use crate::{case, check, check_eq, fail, Case};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const NS: &str = "config-linux.md#namespaces";
const MNT: &str = "config.md#mounts";
const LMNT: &str = "config-linux.md#mount-propagation";
const DEFDEV: &str = "config-linux.md#default-devices";
const DEV: &str = "config-linux.md#devices";
const DEFFS: &str = "config-linux.md#default-filesystems";
const MASK: &str = "config-linux.md#masked-paths";
const RO: &str = "config-linux.md#readonly-paths";
const ROOT: &str = "config.md#root";
const SYSCTL: &str = "config-linux.md#sysctl";

/// (OCI type, /proc/PID/ns name, unshare flag)
const NSTYPES: &[(&str, &str, &str)] = &[
    ("pid", "pid", "--pid"),
    ("network", "net", "--net"),
    ("ipc", "ipc", "--ipc"),
    ("uts", "uts", "--uts"),
    ("mount", "mnt", "--mount"),
    ("cgroup", "cgroup", "--cgroup"),
    ("user", "user", "--user"),
    ("time", "time", "--time"),
];

fn set_ns(cfg: &mut Value, ty: &str, entry: Option<Value>) {
    let list = cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces");
    list.retain(|n| n["type"] != ty);
    if let Some(e) = entry {
        list.push(e);
    }
}

fn userns_maps(cfg: &mut Value, host: u32, size: u32) {
    cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": host, "size": size}]);
    cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": host, "size": size}]);
}

/// A host process in new namespace(s) of `ty`; returns the pid whose /proc/PID/ns/NAME to join.
fn ns_holder(c: &mut Ctx, ty: &str, name: &str, flag: &str) -> R<i32> {
    let mut args = vec![flag];
    if ty == "pid" {
        args.push("--fork");
    }
    if ty == "user" {
        args.push("--map-root-user");
    }
    args.extend(["sleep", "300"]);
    let pid = c.helper("unshare", &args)?;
    let host = c.env.host_ns(name);
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        let target = if ty == "pid" {
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        } else {
            Some(pid)
        };
        if let Some(t) = target {
            let ns = proc_ns(t, name);
            if !ns.is_empty() && ns != host {
                return Ok(t);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    fail!("unshare {flag} did not produce a new {name} namespace")
}

fn ns_cases() -> Vec<Case> {
    let mut v = vec![];
    for &(ty, name, flag) in NSTYPES {
        v.push(case(NS, format!("ns-new-{ty}"), move |c| {
            let mut cfg = c.config(&[]);
            set_ns(&mut cfg, ty, Some(json!({"type": ty})));
            if ty == "user" {
                userns_maps(&mut cfg, 100000, 65536);
            }
            if ty == "time" {
                cfg["ociVersion"] = json!("1.1.0");
            }
            let r = c.report(cfg)?;
            let host = c.env.host_ns(name);
            check!(!host.is_empty(), "host has no {name} namespace");
            let got = r["ns"][name].as_str().unwrap_or("").to_string();
            check!(
                !got.is_empty() && got != host,
                "container {name} namespace {got:?} is the runtime's {host:?}"
            );
            Ok(())
        }));
        if ty != "mount" {
            v.push(case(NS, format!("ns-inherit-{ty}"), move |c| {
                let mut cfg = c.config(&[]);
                set_ns(&mut cfg, ty, None);
                if ty == "uts" {
                    cfg.as_object_mut().unwrap().remove("hostname");
                }
                let r = c.report(cfg)?;
                check_eq!(
                    r["ns"][name].as_str().unwrap_or(""),
                    c.env.host_ns(name),
                    format!("{name} namespace when {ty} is not listed")
                );
                Ok(())
            }));
        }
        v.push(case(NS, format!("ns-join-{ty}"), move |c| {
            let holder = ns_holder(c, ty, name, flag)?;
            let want = proc_ns(holder, name);
            let mut cfg = c.config(&[]);
            set_ns(
                &mut cfg,
                ty,
                Some(json!({"type": ty, "path": format!("/proc/{holder}/ns/{name}")})),
            );
            if ty == "user" {
                userns_maps(&mut cfg, 0, 1);
            }
            if ty == "time" {
                cfg["ociVersion"] = json!("1.1.0");
            }
            let r = c.report(cfg)?;
            check_eq!(
                r["ns"][name].as_str().unwrap_or(""),
                want,
                format!("{name} namespace joined by path")
            );
            Ok(())
        }));
    }
    v.push(case(NS, "ns-join-wrong-type-errors", |c| {
        let holder = ns_holder(c, "network", "net", "--net")?;
        let mut cfg = c.config(&["exit", "0"]);
        set_ns(
            &mut cfg,
            "ipc",
            Some(json!({"type": "ipc", "path": format!("/proc/{holder}/ns/net")})),
        );
        let b = c.bundle(&cfg)?;
        let o = c.run(&b);
        check!(!o.ok(), "joining a network namespace as ipc succeeded");
        Ok(())
    }));
    v.push(case(NS, "ns-pid-probe-is-pid-1", |c| {
        let r = c.report(c.config(&[]))?;
        check_eq!(
            r["pid"].as_i64().unwrap_or(0),
            1,
            "pid of the container process in its new pid namespace"
        );
        Ok(())
    }));
    v.push(case(NS, "ns-state-pid-in-container-namespaces", |c| {
        let cfg = c.config(&["report", "sleep", "300"]);
        let (_, pid, l) = c.start_probe(&cfg, 1)?;
        for ns in ["pid", "net", "ipc", "uts", "mnt"] {
            check_eq!(
                proc_ns(pid, ns),
                l[0]["ns"][ns].as_str().unwrap_or(""),
                format!("{ns} ns of state pid vs probe")
            );
        }
        Ok(())
    }));
    v.push(case(NS, "ns-pid-proc-shows-only-container", |c| {
        let (_, l, _) = c.run_probe(&c.config(&["ls", "/proc"]))?;
        let pids: Vec<&str> = l[0]["entries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str())
                    .filter(|e| e.chars().all(|ch| ch.is_ascii_digit()))
                    .collect()
            })
            .unwrap_or_default();
        check_eq!(
            pids,
            vec!["1"],
            "processes visible in the container's /proc"
        );
        Ok(())
    }));
    v.push(case(NS, "ns-network-loopback-only", |c| {
        let (_, l, _) = c.run_probe(&c.config(&["ls", "/sys/class/net"]))?;
        check_eq!(
            l[0]["entries"],
            json!(["lo"]),
            "network interfaces in a new network namespace"
        );
        Ok(())
    }));
    v.push(case(NS, "ns-cgroup-root-view", |c| {
        let mut cfg = c.config(&["read", "/proc/self/cgroup"]);
        set_ns(&mut cfg, "cgroup", Some(json!({"type": "cgroup"})));
        let (_, l, _) = c.run_probe(&cfg)?;
        let d = l[0]["data"].as_str().unwrap_or("");
        check!(!d.is_empty() && d.lines().all(|x| x.ends_with(":/")), "/proc/self/cgroup in a new cgroup namespace is not rooted at the container's cgroup: {d:?}");
        Ok(())
    }));
    v.push(case(NS, "ns-user-uid-mapping", |c| {
        let mut cfg = c.config(&["read", "/proc/self/uid_map", "read", "/proc/self/gid_map"]);
        set_ns(&mut cfg, "user", Some(json!({"type": "user"})));
        cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        let (_, l, _) = c.run_probe(&cfg)?;
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        check_eq!(
            norm(l[0]["data"].as_str().unwrap_or("")),
            "0 100000 65536",
            "uid_map"
        );
        check_eq!(
            norm(l.get(1).and_then(|x| x["data"].as_str()).unwrap_or("")),
            "0 200000 65536",
            "gid_map"
        );
        Ok(())
    }));
    v.push(case(NS, "ns-time-offsets", |c| {
        let mut cfg = c.config(&["read", "/proc/self/timens_offsets"]);
        cfg["ociVersion"] = json!("1.1.0");
        set_ns(&mut cfg, "time", Some(json!({"type": "time"})));
        cfg["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 31536000, "nanosecs": 0}, "boottime": {"secs": 7200, "nanosecs": 0}});
        let (_, l, _) = c.run_probe(&cfg)?;
        let d = l[0]["data"].as_str().unwrap_or("");
        let norm: Vec<String> = d.lines().map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        check!(norm.iter().any(|s| s == "monotonic 31536000 0"), "timens_offsets {d:?} lacks monotonic 31536000 0");
        check!(norm.iter().any(|s| s == "boottime 7200 0"), "timens_offsets {d:?} lacks boottime 7200 0");
        Ok(())
    }));
    v
}

fn hostdir(c: &Ctx, b: &crate::harness::Bundle) -> R<String> {
    let _ = c;
    let d = b.dir.join("hostdir");
    std::fs::create_dir_all(&d).map_err(|e| Bad::Fail(format!("mkdir {}: {e}", d.display())))?;
    std::fs::write(d.join("file"), "hello").map_err(|e| Bad::Fail(format!("write: {e}")))?;
    Ok(d.to_string_lossy().into_owned())
}

/// Run the probe with extra mounts appended; the bundle's hostdir (with `file` = "hello") exists.
fn with_mounts(
    c: &mut Ctx,
    args: &[&str],
    mounts: impl Fn(&str) -> Vec<Value>,
    tweak: impl Fn(&mut Value),
) -> R<(i32, Vec<Value>)> {
    let mut cfg = c.config(args);
    tweak(&mut cfg);
    // the hostdir must exist before the bundle is used: create it in a placeholder path first
    let b = c.bundle(&cfg)?;
    let hd = hostdir(c, &b)?;
    let mut cfg2 = cfg.clone();
    let list = cfg2["mounts"].as_array_mut().unwrap();
    list.extend(mounts(&hd));
    cfg2["linux"]["cgroupsPath"] = json!(b.cgpath);
    std::fs::write(
        b.dir.join("config.json"),
        serde_json::to_vec_pretty(&cfg2).unwrap(),
    )
    .map_err(|e| Bad::Fail(e.to_string()))?;
    let o = c.run(&b);
    check!(!o.timed_out, "run timed out");
    let l = b.lines();
    if l.is_empty() {
        fail!("probe printed nothing: {}", o.brief())
    }
    Ok((o.code, l))
}

fn report_with_mounts(c: &mut Ctx, mounts: Vec<Value>) -> R<Value> {
    let (_, l) = with_mounts(c, &["report"], move |_| mounts.clone(), |_| {})?;
    Ok(crate::harness::find(&l, "report")?.clone())
}

fn tmpfs_opt_case(opt: &'static str, flag: &'static str) -> Case {
    case(MNT, format!("mount-option-{opt}"), move |c| {
        let r = report_with_mounts(
            c,
            vec![
                json!({"destination": "/mnt/opt", "type": "tmpfs", "source": "tmpfs", "options": [opt]}),
            ],
        )?;
        let m = mount_at(&r, "/mnt/opt").ok_or_else(|| Bad::Fail("no mount at /mnt/opt".into()))?;
        check!(
            has_opt(m, "options", flag),
            "mount options {:?} lack {flag}",
            m["options"]
        );
        Ok(())
    })
}

fn mount_cases() -> Vec<Case> {
    let mut v = vec![
        case(MNT, "mount-tmpfs", |c| {
            let r = report_with_mounts(
                c,
                vec![json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs"})],
            )?;
            let m = mount_at(&r, "/mnt/t").ok_or_else(|| Bad::Fail("no mount at /mnt/t".into()))?;
            check_eq!(
                m["fstype"].as_str().unwrap_or(""),
                "tmpfs",
                "fstype at /mnt/t"
            );
            Ok(())
        }),
        case(MNT, "mount-tmpfs-data-options", |c| {
            let r = report_with_mounts(
                c,
                vec![
                    json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=700"]}),
                ],
            )?;
            let m = mount_at(&r, "/mnt/t").ok_or_else(|| Bad::Fail("no mount at /mnt/t".into()))?;
            check!(
                has_opt(m, "superopts", "size=1024k"),
                "superopts {:?} lack size=1024k",
                m["superopts"]
            );
            check!(
                has_opt(m, "superopts", "mode=700"),
                "superopts {:?} lack mode=700",
                m["superopts"]
            );
            Ok(())
        }),
        case(MNT, "mount-bind", |c| {
            let (_, l) = with_mounts(
                c,
                &["read", "/mnt/b/file"],
                |hd| {
                    vec![
                        json!({"destination": "/mnt/b", "type": "bind", "source": hd, "options": ["rbind"]}),
                    ]
                },
                |_| {},
            )?;
            check_eq!(
                l[0]["data"].as_str().unwrap_or(""),
                "hello",
                "content of the bind-mounted file"
            );
            Ok(())
        }),
        case(MNT, "mount-bind-without-type", |c| {
            let (_, l) = with_mounts(
                c,
                &["read", "/mnt/b/file"],
                |hd| vec![json!({"destination": "/mnt/b", "source": hd, "options": ["bind"]})],
                |_| {},
            )?;
            check_eq!(
                l[0]["data"].as_str().unwrap_or(""),
                "hello",
                "content of the bind-mounted file (no type, options bind)"
            );
            Ok(())
        }),
        case(MNT, "mount-bind-readonly", |c| {
            let (_, l) = with_mounts(
                c,
                &["write", "/mnt/b/new"],
                |hd| {
                    vec![
                        json!({"destination": "/mnt/b", "type": "bind", "source": hd, "options": ["bind", "ro"]}),
                    ]
                },
                |_| {},
            )?;
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(0),
                30,
                "errno writing into a ro bind mount (EROFS)"
            );
            Ok(())
        }),
        case(MNT, "mount-bind-readwrite", |c| {
            let (_, l) = with_mounts(
                c,
                &["write", "/mnt/b/new"],
                |hd| {
                    vec![
                        json!({"destination": "/mnt/b", "type": "bind", "source": hd, "options": ["bind", "rw"]}),
                    ]
                },
                |_| {},
            )?;
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(-1),
                0,
                "errno writing into a rw bind mount"
            );
            Ok(())
        }),
        case(MNT, "mount-bind-file", |c| {
            let (_, l) = with_mounts(
                c,
                &["read", "/etc/hostfile"],
                |hd| {
                    vec![
                        json!({"destination": "/etc/hostfile", "type": "bind", "source": format!("{hd}/file"), "options": ["bind"]}),
                    ]
                },
                |_| {},
            )?;
            check_eq!(
                l[0]["data"].as_str().unwrap_or(""),
                "hello",
                "content of the bind-mounted single file"
            );
            Ok(())
        }),
        case(MNT, "mount-destination-created", |c| {
            let r = report_with_mounts(
                c,
                vec![json!({"destination": "/deep/er/dir", "type": "tmpfs", "source": "tmpfs"})],
            )?;
            check!(
                mount_at(&r, "/deep/er/dir").is_some(),
                "no mount at the missing destination /deep/er/dir"
            );
            Ok(())
        }),
        case(MNT, "mount-order-nested", |c| {
            let (_, l) = with_mounts(
                c,
                &["report", "read", "/mnt/o/sub/file"],
                |hd| {
                    vec![
                        json!({"destination": "/mnt/o", "type": "tmpfs", "source": "tmpfs"}),
                        json!({"destination": "/mnt/o/sub", "type": "bind", "source": hd, "options": ["bind"]}),
                    ]
                },
                |_| {},
            )?;
            let r = &l[0];
            let outer =
                mount_at(r, "/mnt/o").ok_or_else(|| Bad::Fail("no mount at /mnt/o".into()))?;
            let inner = mount_at(r, "/mnt/o/sub")
                .ok_or_else(|| Bad::Fail("no mount at /mnt/o/sub".into()))?;
            check_eq!(
                inner["parent"],
                outer["id"],
                "parent of /mnt/o/sub (mounted after /mnt/o)"
            );
            check_eq!(
                l[1]["data"].as_str().unwrap_or(""),
                "hello",
                "file under the nested mount"
            );
            Ok(())
        }),
        case(MNT, "mount-order-same-destination", |c| {
            let r = report_with_mounts(
                c,
                vec![
                    json!({"destination": "/mnt/x", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}),
                    json!({"destination": "/mnt/x", "type": "tmpfs", "source": "tmpfs", "options": ["size=2m"]}),
                ],
            )?;
            let m = mount_at(&r, "/mnt/x").ok_or_else(|| Bad::Fail("no mount at /mnt/x".into()))?;
            check!(
                has_opt(m, "superopts", "size=2048k"),
                "topmost mount at /mnt/x is {:?}, want the later (size=2048k)",
                m["superopts"]
            );
            Ok(())
        }),
        tmpfs_opt_case("nosuid", "nosuid"),
        tmpfs_opt_case("nodev", "nodev"),
        tmpfs_opt_case("noexec", "noexec"),
        tmpfs_opt_case("ro", "ro"),
        tmpfs_opt_case("noatime", "noatime"),
        tmpfs_opt_case("nodiratime", "nodiratime"),
        tmpfs_opt_case("relatime", "relatime"),
        case(LMNT, "mount-propagation-shared", |c| {
            let r = report_with_mounts(
                c,
                vec![
                    json!({"destination": "/mnt/p", "type": "tmpfs", "source": "tmpfs", "options": ["rshared"]}),
                ],
            )?;
            let m = mount_at(&r, "/mnt/p").ok_or_else(|| Bad::Fail("no mount at /mnt/p".into()))?;
            check!(
                m["optional"].as_str().unwrap_or("").contains("shared:"),
                "optional fields {:?} lack shared:",
                m["optional"]
            );
            Ok(())
        }),
        case(LMNT, "mount-propagation-private", |c| {
            let r = report_with_mounts(
                c,
                vec![
                    json!({"destination": "/mnt/p", "type": "tmpfs", "source": "tmpfs", "options": ["rprivate"]}),
                ],
            )?;
            let m = mount_at(&r, "/mnt/p").ok_or_else(|| Bad::Fail("no mount at /mnt/p".into()))?;
            check_eq!(
                m["optional"].as_str().unwrap_or(""),
                "",
                "optional fields of a private mount"
            );
            Ok(())
        }),
        case(LMNT, "rootfs-propagation-private", |c| {
            let mut cfg = c.config(&[]);
            cfg["linux"]["rootfsPropagation"] = json!("private");
            let r = c.report(cfg)?;
            let m = mount_at(&r, "/").ok_or_else(|| Bad::Fail("no / mount".into()))?;
            check!(
                !m["optional"].as_str().unwrap_or("").contains("shared:"),
                "/ is shared: {:?}",
                m["optional"]
            );
            Ok(())
        }),
        case(LMNT, "rootfs-propagation-shared", |c| {
            let mut cfg = c.config(&[]);
            cfg["linux"]["rootfsPropagation"] = json!("shared");
            let r = c.report(cfg)?;
            let m = mount_at(&r, "/").ok_or_else(|| Bad::Fail("no / mount".into()))?;
            check!(
                m["optional"].as_str().unwrap_or("").contains("shared:"),
                "/ is not shared: {:?}",
                m["optional"]
            );
            Ok(())
        }),
        case(MNT, "mount-cgroup", |c| {
            let r = report_with_mounts(
                c,
                vec![
                    json!({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}),
                ],
            )?;
            let ok = r["mounts"].as_array().unwrap().iter().any(|m| {
                m["mountpoint"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("/sys/fs/cgroup")
                    && m["fstype"].as_str().unwrap_or("").starts_with("cgroup")
            });
            check!(ok, "no cgroup filesystem under /sys/fs/cgroup");
            Ok(())
        }),
    ];
    for (mp, fs) in [
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
    ] {
        v.push(case(
            DEFFS,
            format!(
                "default-fs-{}",
                mp.trim_start_matches('/').replace('/', "-")
            ),
            move |c| {
                let r = c.report(c.config(&[]))?;
                let m = mount_at(&r, mp).ok_or_else(|| Bad::Fail(format!("no mount at {mp}")))?;
                check_eq!(
                    m["fstype"].as_str().unwrap_or(""),
                    fs,
                    format!("fstype at {mp}")
                );
                Ok(())
            },
        ));
    }
    v.push(case(DEFFS, "default-fs-sys-readonly", |c| {
        let r = c.report(c.config(&[]))?;
        let m = mount_at(&r, "/sys").ok_or_else(|| Bad::Fail("no mount at /sys".into()))?;
        check!(
            has_opt(m, "options", "ro"),
            "/sys mounted {:?}, config asks ro",
            m["options"]
        );
        Ok(())
    }));
    v.push(case(ROOT, "root-readonly-true", |c| {
        let (_, l, _) = c.run_probe(&c.config(&["write", "/newfile"]))?;
        check_eq!(
            l[0]["errno"].as_i64().unwrap_or(0),
            30,
            "errno writing to a readonly root (EROFS)"
        );
        Ok(())
    }));
    v.push(case(ROOT, "root-readonly-false", |c| {
        let mut cfg = c.config(&["write", "/newfile"]);
        cfg["root"]["readonly"] = json!(false);
        let (_, l, b) = c.run_probe(&cfg)?;
        check_eq!(
            l[0]["errno"].as_i64().unwrap_or(-1),
            0,
            "errno writing to a writable root"
        );
        check!(
            b.rootfs().join("newfile").exists(),
            "the file written in the container is not in the bundle's rootfs"
        );
        Ok(())
    }));
    v.push(case(ROOT, "root-path-absolute", |c| {
        let cfg = c.config(&["report"]);
        let b = c.bundle(&cfg)?;
        let mut cfg2: Value =
            serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap_or_default())
                .unwrap_or(Value::Null);
        cfg2["root"]["path"] = json!(b.rootfs().to_string_lossy());
        std::fs::write(
            b.dir.join("config.json"),
            serde_json::to_vec(&cfg2).unwrap(),
        )
        .map_err(|e| Bad::Fail(e.to_string()))?;
        let o = c.run(&b);
        check!(
            o.ok(),
            "run with an absolute root.path failed: {}",
            o.brief()
        );
        crate::harness::find(&b.lines(), "report")?;
        Ok(())
    }));
    v.push(case(ROOT, "root-is-bundle-rootfs", |c| {
        let cfg = c.config(&["read", "/marker"]);
        let b = c.bundle(&cfg)?;
        std::fs::write(b.rootfs().join("marker"), "this-bundle")
            .map_err(|e| Bad::Fail(e.to_string()))?;
        let o = c.run(&b);
        check!(!o.timed_out, "run timed out");
        let l = b.lines();
        check_eq!(
            l.first().and_then(|x| x["data"].as_str()).unwrap_or(""),
            "this-bundle",
            "file at / in the container"
        );
        Ok(())
    }));
    v
}

fn dev_cases() -> Vec<Case> {
    let mut v = vec![];
    for (name, maj, min) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        v.push(case(DEFDEV, format!("default-device-{name}"), move |c| {
            let r = c.report(c.config(&[]))?;
            let d = &r["devices"][format!("/dev/{name}")];
            check_eq!(
                d["kind"].as_str().unwrap_or("missing"),
                "c",
                format!("/dev/{name} type")
            );
            check_eq!(
                (
                    d["major"].as_i64().unwrap_or(-1),
                    d["minor"].as_i64().unwrap_or(-1)
                ),
                (maj, min),
                format!("/dev/{name} major:minor")
            );
            Ok(())
        }));
    }
    v.push(case(DEFDEV, "default-device-null-writable", |c| {
        let (_, l, _) = c.run_probe(&c.config(&["write", "/dev/null"]))?;
        check_eq!(
            l[0]["errno"].as_i64().unwrap_or(-1),
            0,
            "errno writing /dev/null"
        );
        Ok(())
    }));
    v.push(case(DEFDEV, "default-device-ptmx", |c| {
        let r = c.report(c.config(&[]))?;
        let d = &r["devices"]["/dev/ptmx"];
        let ok = (d["kind"] == "l" && d["link"].as_str().unwrap_or("").ends_with("pts/ptmx"))
            || (d["kind"] == "c" && d["major"] == 5 && d["minor"] == 2);
        check!(
            ok,
            "/dev/ptmx is {d}, want a symlink to pts/ptmx or a bind of it"
        );
        Ok(())
    }));
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        v.push(case(
            "runtime-linux.md#dev-symbolic-links",
            format!("dev-symlink-{name}"),
            move |c| {
                let r = c.report(c.config(&[]))?;
                let d = &r["devices"][format!("/dev/{name}")];
                check_eq!(
                    d["kind"].as_str().unwrap_or("missing"),
                    "l",
                    format!("/dev/{name} type")
                );
                check_eq!(
                    d["link"].as_str().unwrap_or(""),
                    target,
                    format!("/dev/{name} target")
                );
                Ok(())
            },
        ));
    }
    let dev = |path: &str, ty: &str, maj: i64, min: i64| json!({"path": path, "type": ty, "major": maj, "minor": min, "fileMode": 0o640, "uid": 1, "gid": 2});
    let d1 = dev("/dev/hc-char", "c", 1, 3);
    v.push(case(DEV, "linux-devices-char-type-numbers", move |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] = json!([d1.clone()]);
        let r = c.report(cfg)?;
        let d = &r["devices"]["/dev/hc-char"];
        check_eq!(
            d["kind"].as_str().unwrap_or("missing"),
            "c",
            "type of /dev/hc-char"
        );
        check_eq!(
            (
                d["major"].as_i64().unwrap_or(-1),
                d["minor"].as_i64().unwrap_or(-1)
            ),
            (1, 3),
            "major:minor"
        );
        Ok(())
    }));
    let d1 = dev("/dev/hc-char", "c", 1, 3);
    v.push(case(DEV, "linux-devices-file-mode", move |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] = json!([d1.clone()]);
        let r = c.report(cfg)?;
        check_eq!(
            r["devices"]["/dev/hc-char"]["mode"].as_i64().unwrap_or(-1),
            0o640,
            "mode of /dev/hc-char"
        );
        Ok(())
    }));
    let d1 = dev("/dev/hc-char", "c", 1, 3);
    v.push(case(DEV, "linux-devices-owner", move |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] = json!([d1.clone()]);
        let r = c.report(cfg)?;
        let d = &r["devices"]["/dev/hc-char"];
        check_eq!(
            (
                d["uid"].as_i64().unwrap_or(-1),
                d["gid"].as_i64().unwrap_or(-1)
            ),
            (1, 2),
            "uid:gid of /dev/hc-char"
        );
        Ok(())
    }));
    let d2 = dev("/dev/hc-blk", "b", 7, 200);
    v.push(case(DEV, "linux-devices-block", move |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] = json!([d2.clone()]);
        let r = c.report(cfg)?;
        let d = &r["devices"]["/dev/hc-blk"];
        check_eq!(
            d["kind"].as_str().unwrap_or("missing"),
            "b",
            "type of /dev/hc-blk"
        );
        check_eq!(
            (
                d["major"].as_i64().unwrap_or(-1),
                d["minor"].as_i64().unwrap_or(-1)
            ),
            (7, 200),
            "major:minor"
        );
        Ok(())
    }));
    v.push(case(DEV, "linux-devices-fifo", |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] = json!([{"path": "/dev/hc-fifo", "type": "p", "fileMode": 0o600}]);
        let r = c.report(cfg)?;
        check_eq!(
            r["devices"]["/dev/hc-fifo"]["kind"]
                .as_str()
                .unwrap_or("missing"),
            "p",
            "type of /dev/hc-fifo"
        );
        Ok(())
    }));
    v.push(case(DEV, "linux-devices-nested-path", |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] =
            json!([{"path": "/dev/hcdir/sub", "type": "c", "major": 1, "minor": 5}]);
        let (_, l, _) = c.run_probe(&{
            let mut x = cfg.clone();
            x["process"]["args"] = json!([crate::harness::PROBE, "stat", "/dev/hcdir/sub"]);
            x
        })?;
        check_eq!(
            l[0]["kind"].as_str().unwrap_or("missing"),
            "c",
            "type of /dev/hcdir/sub"
        );
        Ok(())
    }));
    v
}

fn masked_cases() -> Vec<Case> {
    vec![
        case(MASK, "masked-path-file", |c| {
            let mut cfg = c.config(&["read", "/secret-file"]);
            cfg["linux"]["maskedPaths"] = json!(["/secret-file"]);
            let b = c.bundle(&cfg)?;
            std::fs::write(b.rootfs().join("secret-file"), "secret")
                .map_err(|e| Bad::Fail(e.to_string()))?;
            let o = c.run(&b);
            let l = b.lines();
            check!(!l.is_empty(), "probe printed nothing: {}", o.brief());
            check!(
                l[0]["errno"].as_i64() != Some(0) || l[0]["data"] == "",
                "masked file is readable: {:?}",
                l[0]["data"]
            );
            Ok(())
        }),
        case(MASK, "masked-path-directory", |c| {
            let mut cfg = c.config(&["ls", "/secret-dir"]);
            cfg["linux"]["maskedPaths"] = json!(["/secret-dir"]);
            let b = c.bundle(&cfg)?;
            std::fs::create_dir_all(b.rootfs().join("secret-dir")).ok();
            std::fs::write(b.rootfs().join("secret-dir/f"), "secret")
                .map_err(|e| Bad::Fail(e.to_string()))?;
            let o = c.run(&b);
            let l = b.lines();
            check!(!l.is_empty(), "probe printed nothing: {}", o.brief());
            let empty = l[0]["entries"].as_array().is_some_and(|a| a.is_empty());
            check!(
                l[0]["errno"].as_i64() != Some(0) || empty,
                "masked directory lists {:?}",
                l[0]["entries"]
            );
            Ok(())
        }),
        case(MASK, "masked-path-proc-kcore", |c| {
            let (_, l, _) = c.run_probe(&c.config(&["stat", "/proc/kcore"]))?;
            let s = &l[0];
            let masked = s["errno"] != 0
                || s["size"] == 0
                || (s["kind"] == "c" && s["major"] == 1 && s["minor"] == 3);
            check!(masked, "/proc/kcore is not masked: {s}");
            Ok(())
        }),
        case(MASK, "masked-path-missing-ignored", |c| {
            let mut cfg = c.config(&[]);
            cfg["linux"]["maskedPaths"] = json!(["/no/such/path"]);
            c.report(cfg)?;
            Ok(())
        }),
        case(RO, "readonly-path-proc-sys", |c| {
            let (_, l, _) = c.run_probe(&c.config(&["write", "/proc/sys/kernel/hostname"]))?;
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(0),
                30,
                "errno writing /proc/sys/kernel/hostname (EROFS)"
            );
            Ok(())
        }),
        case(RO, "readonly-path-directory", |c| {
            let mut cfg = c.config(&["write", "/rodir/new", "write", "/tmp/ok"]);
            cfg["root"]["readonly"] = json!(false);
            cfg["linux"]["readonlyPaths"] = json!(["/rodir"]);
            let b = c.bundle(&cfg)?;
            std::fs::create_dir_all(b.rootfs().join("rodir")).ok();
            let o = c.run(&b);
            let l = b.lines();
            check!(
                l.len() >= 2,
                "probe printed {} lines: {}",
                l.len(),
                o.brief()
            );
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(0),
                30,
                "errno writing into a readonly path (EROFS)"
            );
            check_eq!(
                l[1]["errno"].as_i64().unwrap_or(-1),
                0,
                "errno writing outside it"
            );
            Ok(())
        }),
        case(RO, "readonly-path-missing-ignored", |c| {
            let mut cfg = c.config(&[]);
            cfg["linux"]["readonlyPaths"] = json!(["/no/such/path"]);
            c.report(cfg)?;
            Ok(())
        }),
    ]
}

fn sysctl_case(key: &'static str, val: &'static str) -> Case {
    case(SYSCTL, format!("sysctl-{key}"), move |c| {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let mut cfg = c.config(&["read", &path]);
        cfg["linux"]["sysctl"] = json!({key: val});
        let (_, l, _) = c.run_probe(&cfg)?;
        check_eq!(l[0]["data"].as_str().unwrap_or("").trim(), val, path);
        Ok(())
    })
}

pub fn cases() -> Vec<Case> {
    let mut v = ns_cases();
    v.extend(mount_cases());
    v.extend(dev_cases());
    v.extend(masked_cases());
    v.push(sysctl_case("net.ipv4.ip_forward", "1"));
    v.push(sysctl_case("net.core.somaxconn", "1234"));
    v.push(sysctl_case("kernel.shmmax", "8192000"));
    v.push(sysctl_case("kernel.msgmax", "16384"));
    v.push(case(
        "config-linux.md#personality",
        "personality-linux32",
        |c| {
            let mut cfg = c.config(&[]);
            cfg["linux"]["personality"] = json!({"domain": "LINUX32"});
            let r = c.report(cfg)?;
            check_eq!(
                r["personality"].as_i64().unwrap_or(-1) & 0xff,
                8,
                "personality domain (PER_LINUX32 = 8)"
            );
            Ok(())
        },
    ));
    v.push(case(NS, "hostname", |c| {
        let mut cfg = c.config(&[]);
        cfg["hostname"] = json!("hc-host-name");
        let r = c.report(cfg)?;
        check_eq!(
            r["hostname"].as_str().unwrap_or(""),
            "hc-host-name",
            "hostname"
        );
        Ok(())
    }));
    v.push(case("config.md#domainname", "domainname", |c| {
        let mut cfg = c.config(&[]);
        cfg["domainname"] = json!("hc.example.org");
        let r = c.report(cfg)?;
        check_eq!(
            r["domainname"].as_str().unwrap_or(""),
            "hc.example.org",
            "domainname"
        );
        Ok(())
    }));
    v.push(case(NS, "hostname-runtime-unchanged", |c| {
        let mut cfg = c.config(&[]);
        cfg["hostname"] = json!("hc-other-name");
        c.report(cfg)?;
        let (h, _) = host_uts();
        check!(h != "hc-other-name", "the host's hostname was changed");
        Ok(())
    }));
    v
}

fn host_uts() -> (String, String) {
    (
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap_or_default()
            .trim()
            .to_string(),
        String::new(),
    )
}
