//! config.md#mounts, config-linux.md#mount-propagation, config.md#root: mount types, options,
//! propagation, bind sources, the root filesystem.
use super::*;

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

pub(super) fn mount_cases() -> Vec<Case> {
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
        case(MNT, "mount-tmpfs-idmapped", |c| {
            // runtime-spec 1.2 mounts[].uidMappings on a non-bind mount: the fresh tmpfs root,
            // owned by 0 on disk, is seen through the mount as the mapped host ids.
            let (_, l) = with_mounts(
                c,
                &["stat", "/mnt/idt", "report"],
                |_| {
                    vec![
                        json!({"destination": "/mnt/idt", "type": "tmpfs", "source": "tmpfs",
                        "options": ["idmap"],
                        "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
                        "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 65536}]}),
                    ]
                },
                |_| {},
            )?;
            check_eq!(
                (l[0]["uid"].as_u64(), l[0]["gid"].as_u64()),
                (Some(100000), Some(200000)),
                "owner of the idmapped tmpfs root /mnt/idt"
            );
            let r = crate::harness::find(&l, "report")?;
            let m =
                mount_at(r, "/mnt/idt").ok_or_else(|| Bad::Fail("no mount at /mnt/idt".into()))?;
            check!(
                has_opt(m, "options", "idmapped"),
                "mount options {:?} lack idmapped",
                m["options"]
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
