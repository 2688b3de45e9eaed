//! Idmapped mounts: binds and fresh filesystems, own or the container's mappings, kernel refusals.
use super::*;

// ---------------------------------------------------------------- idmapped mounts

#[test]
fn idmapped_mount_with_its_own_mappings() {
    let env = Env::new();
    let src = host_src(&env, "src");
    let s = src.to_str().unwrap();
    let cfg = with_mounts(
        sh("stat -c '%u %g' /mnt/id/f /mnt/plain/f; grep ' /mnt/id ' /proc/self/mountinfo; \
            grep ' /mnt/idro ' /proc/self/mountinfo; touch /mnt/idro/x 2>/dev/null || echo idro-refused"),
        json!([
            {"destination": "/mnt/id", "type": "bind", "source": s, "options": ["bind", "idmap"],
             "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
             "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 10}]},
            {"destination": "/mnt/plain", "type": "bind", "source": s, "options": ["bind"]},
            {"destination": "/mnt/idro", "type": "bind", "source": s, "options": ["bind", "idmap", "ro", "nosuid"],
             "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
             "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 10}]}
        ]),
    );
    let out = run_ok(&env, "b", &cfg);
    let l: Vec<&str> = out.lines().collect();
    assert_eq!(l[0], "1000 2000", "{out}");
    assert_eq!(l[1], "0 0", "{out}");
    assert!(mnt_opts(l[2]).0.contains(&"idmapped"), "{out}");
    // Flags apply on top of the idmapped mount.
    let (o, _) = mnt_opts(l[3]);
    for f in ["ro", "nosuid", "idmapped"] {
        assert!(o.contains(&f), "{f}: {out}");
    }
    assert_eq!(l[4], "idro-refused");
    assert!(!src.join("x").exists());
}

#[test]
fn idmapped_mount_in_a_user_namespace_uses_the_container_mappings() {
    let env = Env::new();
    let src = host_src(&env, "src");
    let s = src.to_str().unwrap();
    let cfg = with_mounts(
        userns(sh(
            "stat -c '%u %g' /mnt/f /tmp/f; touch /mnt/made; stat -c %u /mnt/made",
        )),
        json!([
            {"destination": "/mnt", "type": "bind", "source": s, "options": ["rbind", "ridmap"]},
            {"destination": "/tmp", "type": "bind", "source": s, "options": ["bind"]}
        ]),
    );
    let out = run_ok(&env, "b", &cfg);
    // Owned by 0 on disk: the container's root through the idmapped mount, nobody without it.
    assert_eq!(out, "0 0\n65534 65534\n0\n");
    // A file the container's root creates is owned by 0 on disk, not by 100000.
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(src.join("made")).unwrap().uid(), 0);
}

#[test]
fn idmapped_tmpfs_with_its_own_mappings() {
    let env = Env::new();
    // Container root (0) is mapped to 100000/200000; the mixed mount also maps host 0 to 10.
    let maps = json!({"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 10}],
                      "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 10}]});
    let mixed = json!({"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 10},
                                       {"containerID": 10, "hostID": 0, "size": 1}],
                       "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 10},
                                       {"containerID": 10, "hostID": 0, "size": 1}]});
    let mut t = json!({"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "mode=750", "size=1m"]});
    let mut ro = json!({"destination": "/mnt/ro", "type": "tmpfs", "source": "tmpfs",
                        "options": ["idmap", "rro", "rnoexec"]});
    let mut mx = json!({"destination": "/mnt/mx", "type": "tmpfs", "source": "tmpfs",
                        "options": ["mode=755"]});
    for (m, v) in [(&mut t, &maps), (&mut ro, &mixed), (&mut mx, &mixed)] {
        for k in ["uidMappings", "gidMappings"] {
            m[k] = v[k].clone();
        }
    }
    let cfg = with_mounts(
        sh("stat -c '%u %g %a' /mnt/t /mnt/plain /mnt/ro;             touch /mnt/t/x 2>/dev/null || echo t-unmapped;             touch /mnt/ro/x 2>/dev/null || echo ro-refused;             touch /mnt/mx/made && stat -c '%u %g' /mnt/mx /mnt/mx/made;             grep -E ' /mnt/(t|ro|plain) ' /proc/self/mountinfo"),
        json!([
            t,
            {"destination": "/mnt/plain", "type": "tmpfs", "source": "tmpfs", "options": ["mode=750"]},
            ro,
            mx
        ]),
    );
    let out = run_ok(&env, "t", &cfg);
    let l: Vec<&str> = out.lines().collect();
    // The tmpfs root is owned by 0 on disk: seen as the mapped 100000/200000; mode= reached it.
    assert_eq!(l[0], "100000 200000 750", "{out}");
    assert_eq!(l[1], "0 0 750", "{out}");
    assert_eq!(l[2], "100000 200000 1777", "{out}");
    // Root (host 0) has no on-disk id through the first mapping: it cannot create a file.
    assert_eq!(l[3], "t-unmapped", "{out}");
    assert_eq!(l[4], "ro-refused", "{out}");
    // Through the mixed mapping root's file is stored as 10 and shown as 0 again; the root dir
    // (0 on disk) shows as 100000.
    assert_eq!(l[5], "100000 200000", "{out}");
    assert_eq!(l[6], "0 0", "{out}");
    let (o, _) = mnt_opts(line_of(&out, "/mnt/t"));
    for f in ["rw", "nosuid", "nodev", "idmapped"] {
        assert!(o.contains(&f), "{f}: {out}");
    }
    let (o, _) = mnt_opts(line_of(&out, "/mnt/ro"));
    for f in ["ro", "noexec", "idmapped"] {
        assert!(o.contains(&f), "{f}: {out}");
    }
    assert!(line_of(&out, "/mnt/t").contains(" - tmpfs "), "{out}");
    assert!(
        !mnt_opts(line_of(&out, "/mnt/plain"))
            .0
            .contains(&"idmapped"),
        "{out}"
    );
}

#[test]
fn idmapped_tmpfs_in_a_user_namespace_uses_the_container_mappings() {
    let env = Env::new();
    let cfg = with_mounts(
        userns(sh(
            "stat -c '%u %g' /mnt; touch /mnt/made; stat -c '%u %g' /mnt/made;              grep ' /mnt ' /proc/self/mountinfo",
        )),
        json!([{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["idmap", "nosuid"]}]),
    );
    let out = run_ok(&env, "t", &cfg);
    let l: Vec<&str> = out.lines().collect();
    // Made by hull create (host root): owned by 0 on disk, the container's root through the map.
    assert_eq!(l[0], "0 0", "{out}");
    assert_eq!(l[1], "0 0", "{out}");
    let (o, _) = mnt_opts(l[2]);
    for f in ["nosuid", "idmapped"] {
        assert!(o.contains(&f), "{f}: {out}");
    }
}

#[test]
fn idmapped_tmpfs_through_absolute_symlink_stays_in_rootfs() {
    let env = Env::new();
    let r = private_rootfs(&env, "b");
    let host_target = env.tmp.path().join("host-target");
    std::fs::create_dir_all(&host_target).unwrap();
    std::os::unix::fs::symlink(&host_target, r.join("escape")).unwrap();
    let cfg = with_mounts(
        sh("stat -c '%u %g' /escape/x; cat /proc/self/mountinfo"),
        json!([{"destination": "/escape/x", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"],
                "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 10}],
                "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 10}]}]),
    );
    let out = run_ok(&env, "b", &cfg);
    assert_eq!(out.lines().next(), Some("100000 100000"), "{out}");
    let inside = format!("{}/x", host_target.display());
    let l = line_of(&out, &inside);
    assert!(mnt_opts(l).0.contains(&"idmapped"), "{out}");
    assert!(
        !host_target.join("x").exists(),
        "created on the host through the symlink"
    );
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mi.contains(&inside));
}

#[test]
fn idmapped_mounts_the_kernel_refuses() {
    let env = Env::new();
    let maps = |typ: &str| {
        json!([{"destination": "/mnt", "type": typ, "source": typ, "options": [],
                "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 10}],
                "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 10}]}])
    };
    for typ in ["proc", "sysfs"] {
        let err = refused(
            &env,
            typ,
            &with_mounts(config(&["true"]), maps(typ)),
            "mounts[5] /mnt: the kernel refuses idmapped mounts of filesystem",
        );
        assert!(err.contains(&format!("{typ:?}")), "{err}");
    }
    // A refusal after an idmapped mount already made (mounts[5]): that one goes with its fd.
    let mut two = maps("tmpfs");
    two.as_array_mut()
        .unwrap()
        .extend(maps("proc").as_array().unwrap().iter().cloned());
    two[1]["destination"] = json!("/mnt2");
    refused(
        &env,
        "second",
        &with_mounts(config(&["true"]), two),
        "mounts[6] /mnt2: the kernel refuses idmapped mounts of filesystem \"proc\"",
    );
    // A filesystem option the kernel rejects is reported with what the filesystem said.
    let mut bad = maps("tmpfs");
    bad[0]["options"] = json!(["size=lots"]);
    let err = refused(
        &env,
        "baddata",
        &with_mounts(config(&["true"]), bad),
        "mounts[5] /mnt: filesystem \"tmpfs\": option size=lots",
    );
    assert!(err.contains("kernel:"), "{err}");
}

#[test]
fn idmap_needs_matching_mappings() {
    let env = Env::new();
    refused(
        &env,
        "tmpfs",
        &with_mounts(
            config(&["true"]),
            json!([{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["idmap"]}]),
        ),
        "mounts[5]: an idmapped mount needs uidMappings",
    );
    refused(
        &env,
        "nomaps",
        &with_mounts(
            config(&["true"]),
            json!([{"destination": "/mnt", "type": "bind", "source": "/tmp", "options": ["bind", "idmap"]}]),
        ),
        "mounts[5]: an idmapped mount needs uidMappings",
    );
    refused(
        &env,
        "uidonly",
        &with_mounts(
            config(&["true"]),
            json!([{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 10}]}]),
        ),
        "mounts[5]: uidMappings and gidMappings must be given together",
    );
    refused(
        &env,
        "overlap",
        &with_mounts(
            config(&["true"]),
            json!([{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 10},
                                    {"containerID": 5, "hostID": 200000, "size": 10}],
                    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 10}]}]),
        ),
        "mounts[5] /mnt: idmapped mount uidMappings",
    );
}
