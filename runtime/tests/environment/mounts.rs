//! Mounts: bind/rro/propagation, tmpfs options, file binds, symlinked destinations, tmpcopyup, refusals.
use super::*;

// ---------------------------------------------------------------- mounts

#[test]
fn bind_ro_rro_and_propagation() {
    let env = Env::new();
    let src = host_src(&env, "src");
    // A shared host mount below the source: its submount shows what recursion and
    // propagation do.
    let _hm = HostMount::shared_tmpfs(&src.join("sub"));
    let s = src.to_str().unwrap();
    let cfg = with_mounts(
        sh("cat /proc/self/mountinfo; echo x > /mnt/ro/f && echo ro-writable; echo y > /mnt/ro/sub/y && echo ro-sub-writable; echo z > /mnt/rro/sub/z || echo rro-sub-refused"),
        json!([
            {"destination": "/mnt/ro", "type": "bind", "source": s, "options": ["rbind", "ro", "rprivate"]},
            {"destination": "/mnt/rro", "type": "bind", "source": s, "options": ["rbind", "rro"]},
            {"destination": "/mnt/sh", "type": "bind", "source": s, "options": ["rbind", "rshared"]},
            {"destination": "/mnt/sl", "type": "bind", "source": s, "options": ["rbind", "rslave"]},
        ]),
    );
    let out = run_ok(&env, "b", &cfg);
    // ro applies to the top mount only; rro (mount_setattr AT_RECURSIVE) to the submount too.
    let (o, opt) = mnt_opts(line_of(&out, "/mnt/ro"));
    assert!(o.contains(&"ro"), "{o:?}");
    assert!(opt.is_empty(), "rprivate: no propagation fields: {opt:?}");
    assert!(mnt_opts(line_of(&out, "/mnt/ro/sub")).0.contains(&"rw"));
    assert!(!out.contains("ro-writable"), "{out}");
    assert!(out.contains("ro-sub-writable"), "{out}");
    assert!(mnt_opts(line_of(&out, "/mnt/rro")).0.contains(&"ro"));
    assert!(mnt_opts(line_of(&out, "/mnt/rro/sub")).0.contains(&"ro"));
    assert!(out.contains("rro-sub-refused"), "{out}");
    // rshared: a peer group of its own; rslave: receives from the host's shared mount.
    let (_, opt) = mnt_opts(line_of(&out, "/mnt/sh/sub"));
    assert!(opt.iter().any(|f| f.starts_with("shared:")), "{opt:?}");
    let (_, opt) = mnt_opts(line_of(&out, "/mnt/sl/sub"));
    assert!(opt.iter().any(|f| f.starts_with("master:")), "{opt:?}");
    assert!(!opt.iter().any(|f| f.starts_with("shared:")), "{opt:?}");
    // Nothing was written through the read-only mounts.
    assert_eq!(std::fs::read_to_string(src.join("f")).unwrap(), "hello\n");
    assert!(src.join("sub/y").exists() && !src.join("sub/z").exists());
}

#[test]
fn tmpfs_size_mode_and_flags() {
    let env = Env::new();
    let cfg = with_mounts(
        sh("grep ' /mnt/t ' /proc/self/mountinfo; stat -c '%a' /mnt/t"),
        json!([{"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
                "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=1770"]}]),
    );
    let out = run_ok(&env, "b", &cfg);
    let l = line_of(&out, "/mnt/t");
    let (o, _) = mnt_opts(l);
    for f in ["nosuid", "nodev", "noexec"] {
        assert!(o.contains(&f), "{f} missing: {l}");
    }
    let sup = l.split(" - ").nth(1).unwrap();
    assert!(
        sup.contains("size=1024k") && sup.contains("mode=1770"),
        "{sup}"
    );
    assert_eq!(out.lines().last().unwrap(), "1770");
}

#[test]
fn single_file_bind_creates_its_destination() {
    let env = Env::new();
    let f = env.tmp.path().join("hostfile");
    std::fs::write(&f, "from the host\n").unwrap();
    let cfg = with_mounts(
        sh("cat /etc/hull/deep/file; grep -c ' /etc/hull/deep/file ' /proc/self/mountinfo; stat -c %F /etc/hull/deep/file"),
        json!([{"destination": "/etc/hull/deep/file", "type": "bind", "source": f, "options": ["bind", "ro"]}]),
    );
    let b = private_rootfs(&env, "b");
    let out = run_ok(&env, "b", &cfg);
    assert_eq!(out, "from the host\n1\nregular file\n");
    // The destination (a file, not a directory) was created in the image.
    assert!(b.join("etc/hull/deep/file").is_file());
}

#[test]
fn destination_through_absolute_symlink_stays_in_rootfs() {
    let env = Env::new();
    let r = private_rootfs(&env, "b");
    // The image has /escape -> <an absolute host path>; a mount at /escape/x must land inside
    // the rootfs, never on the host.
    let host_target = env.tmp.path().join("host-target");
    std::fs::create_dir_all(&host_target).unwrap();
    std::os::unix::fs::symlink(&host_target, r.join("escape")).unwrap();
    let cfg = with_mounts(
        sh("grep ' /mnt ' /proc/self/mountinfo | head -1; cat /proc/self/mountinfo"),
        json!([{"destination": "/escape/x", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]),
    );
    let out = run_ok(&env, "b", &cfg);
    let inside = format!("{}/x", host_target.display());
    assert!(
        out.lines().any(|l| l.split(' ').nth(4) == Some(&inside)),
        "the mount should be at {inside} inside the rootfs:\n{out}"
    );
    assert!(
        !host_target.join("x").exists(),
        "created on the host through the symlink"
    );
    assert!(r
        .join(host_target.strip_prefix("/").unwrap())
        .join("x")
        .is_dir());
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mi.contains(&inside));
}

#[test]
fn tmpcopyup_keeps_the_image_content() {
    let env = Env::new();
    let marker = format!("hull-tmpcopyup-{}", std::process::id());
    let cfg = with_mounts(
        sh(&format!(
            "grep ' /etc ' /proc/self/mountinfo; cat /etc/passwd | head -1; echo new > /etc/{marker} && cat /etc/{marker}"
        )),
        json!([{"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "size=4m"]}]),
    );
    let out = run_ok(&env, "b", &cfg);
    assert!(line_of(&out, "/etc").contains(" - tmpfs "), "{out}");
    let first = std::fs::read_to_string(rootfs().join("etc/passwd")).unwrap();
    assert!(out.contains(first.lines().next().unwrap()), "{out}");
    assert!(out.ends_with("new\n"));
    assert!(!rootfs().join("etc").join(&marker).exists());
}

#[test]
fn bad_mounts_are_refused() {
    let env = Env::new();
    let err = refused(
        &env,
        "unknown-tmpfs",
        &with_mounts(
            config(&["true"]),
            json!([{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["bogusopt"]}]),
        ),
        "mounts[5] /mnt",
    );
    assert!(err.contains("bogusopt") && err.contains("EINVAL"), "{err}");
    let err = refused(
        &env,
        "unknown-bind",
        &with_mounts(
            config(&["true"]),
            json!([{"destination": "/mnt", "type": "bind", "source": "/tmp", "options": ["rbind", "rprivte"]}]),
        ),
        "mounts[5] /mnt",
    );
    assert!(err.contains("rprivte"), "{err}");
    refused(
        &env,
        "relative",
        &with_mounts(
            config(&["true"]),
            json!([{"destination": "mnt", "type": "tmpfs", "source": "tmpfs"}]),
        ),
        "mounts[5].destination",
    );
    refused(
        &env,
        "nosrc",
        &with_mounts(
            config(&["true"]),
            json!([{"destination": "/mnt", "type": "bind", "source": "/nonexistent-hull", "options": ["bind"]}]),
        ),
        "mounts[5] /mnt",
    );
}
