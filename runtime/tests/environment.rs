//! The inside of the container matches config.json: each test looks from inside the container
//! (mountinfo, /proc/self/status, stat, the errno) or at the host and sees the field's effect.
//! See docs/environment.md for the field-by-field comparison with runc 1.1.5. Needs root.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `hull run` a config in its own bundle; returns (success, stdout, stderr).
fn run(env: &Env, name: &str, cfg: &Value) -> (bool, String, String) {
    let id = env.id(name);
    let b = env.bundle(name, cfg);
    let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
    (o.status.success(), stdout(&o), stderr(&o))
}

fn run_ok(env: &Env, name: &str, cfg: &Value) -> String {
    let (ok, out, err) = run(env, name, cfg);
    assert!(ok, "{name}: run failed: {err}\nstdout: {out}");
    out
}

/// `create` must fail naming `needle`, and leave nothing behind: no state dir, no process
/// (a leftover init still carries hull's command line, with our private --root), no mount.
fn refused(env: &Env, name: &str, cfg: &Value, needle: &str) -> String {
    let id = env.id(name);
    let b = env.bundle(name, cfg);
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    let err = stderr(&o);
    assert!(!o.status.success(), "{name}: create should fail");
    assert!(
        err.contains(needle),
        "{name}: error {err:?} should name {needle:?}"
    );
    assert!(
        !env.root.join(&id).exists(),
        "{name}: state dir left behind"
    );
    let root = env.root.to_string_lossy().to_string();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(p.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            assert!(
                !(cmd.contains(&root) && cmd.contains(&id)),
                "{name}: process {:?} left behind: {cmd}",
                p.file_name()
            );
        }
    }
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mi.contains(env.tmp.path().to_str().unwrap()),
        "{name}: mount left behind on the host"
    );
    err
}

fn sh(cmd: &str) -> Value {
    config(&["sh", "-c", cmd])
}

fn with_mounts(mut cfg: Value, extra: Value) -> Value {
    let m = cfg["mounts"].as_array_mut().unwrap();
    m.extend(extra.as_array().unwrap().iter().cloned());
    cfg
}

/// The mountinfo line of `mp` as seen inside the container (from the container's output).
fn line_of<'a>(out: &'a str, mp: &str) -> &'a str {
    out.lines()
        .find(|l| l.split(' ').nth(4) == Some(mp))
        .unwrap_or_else(|| panic!("no mount at {mp} in:\n{out}"))
}

/// Per-mount options (field 6) and optional fields (shared:/master:) of a mountinfo line.
fn mnt_opts(line: &str) -> (Vec<&str>, Vec<&str>) {
    let pre = line.split(" - ").next().unwrap();
    let f: Vec<&str> = pre.split(' ').collect();
    (f[5].split(',').collect(), f[6..].to_vec())
}

/// A host mount made by a test (a shared tmpfs), unmounted when dropped.
struct HostMount(PathBuf);
impl HostMount {
    fn shared_tmpfs(at: &Path) -> HostMount {
        std::fs::create_dir_all(at).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "hulltest"])
            .arg(at)
            .status()
            .unwrap();
        assert!(st.success());
        let g = HostMount(at.to_path_buf());
        assert!(Command::new("mount")
            .arg("--make-shared")
            .arg(at)
            .status()
            .unwrap()
            .success());
        g
    }
}
impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A private copy of the busybox rootfs (for tests that change the image).
fn private_rootfs(env: &Env, bundle: &str) -> PathBuf {
    let b = env.tmp.path().join(bundle);
    std::fs::create_dir_all(&b).unwrap();
    let r = b.join("rootfs");
    let st = Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&r)
        .status()
        .unwrap();
    assert!(st.success());
    r
}

fn host_src(env: &Env, name: &str) -> PathBuf {
    let d = env.tmp.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("f"), "hello\n").unwrap();
    d
}

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

fn userns(mut cfg: Value) -> Value {
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // sysfs cannot be mounted fresh without a new net namespace owned by the userns: bind it.
    for m in cfg["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "bind", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
    }
    cfg
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

// ---------------------------------------------------------------- devices

#[test]
fn devices_with_mode_owner_and_fifo() {
    let env = Env::new();
    let mut cfg = sh(
        "stat -c '%F %t,%T %a %u %g' /dev/hullnull /dev/hullfifo /dev/null; echo data > /dev/hullnull && echo write-ok",
    );
    cfg["linux"]["devices"] = json!([
        {"path": "/dev/hullnull", "type": "c", "major": 1, "minor": 3, "fileMode": 416, "uid": 1000, "gid": 1001},
        {"path": "/dev/hullfifo", "type": "p", "fileMode": 384}
    ]);
    let out = run_ok(&env, "b", &cfg);
    assert_eq!(
        out,
        "character special file 1,3 640 1000 1001\nfifo 0,0 600 0 0\ncharacter special file 1,3 666 0 0\nwrite-ok\n"
    );
}

#[test]
fn devices_in_a_user_namespace_are_bind_mounted() {
    let env = Env::new();
    let mut cfg = userns(sh(
        "stat -c '%F %t,%T' /dev/full /dev/null; grep -c ' /dev/full ' /proc/self/mountinfo; echo x > /dev/null && echo null-ok",
    ));
    cfg["linux"]["devices"] =
        json!([{"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 438}]);
    let out = run_ok(&env, "b", &cfg);
    assert_eq!(
        out,
        "character special file 1,7\ncharacter special file 1,3\n1\nnull-ok\n"
    );
}

#[test]
fn bad_devices_are_refused() {
    let env = Env::new();
    let mut cfg = config(&["true"]);
    cfg["linux"]["devices"] = json!([{"path": "/dev/x", "type": "q", "major": 1, "minor": 3}]);
    refused(&env, "type", &cfg, "linux.devices[0].type");
    cfg["linux"]["devices"] = json!([{"path": "/dev/x", "type": "a", "major": 1, "minor": 3}]);
    refused(&env, "all", &cfg, "linux.devices[0].type");
    cfg["linux"]["devices"] = json!([{"path": "dev/x", "type": "c", "major": 1, "minor": 3}]);
    refused(&env, "rel", &cfg, "linux.devices[0].path");
}

// ---------------------------------------------------------------- process attributes

#[test]
fn scheduler_and_io_priority() {
    let env = Env::new();
    let mut cfg =
        sh("grep '^policy' /proc/self/sched; cut -d' ' -f19 /proc/self/stat; ionice -p $$");
    cfg["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    cfg["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    let out = run_ok(&env, "b", &cfg);
    let l: Vec<&str> = out.lines().collect();
    assert!(l[0].ends_with(" 3"), "SCHED_BATCH is policy 3: {out}");
    assert_eq!(l[1], "7", "{out}");
    assert_eq!(l[2], "best-effort: prio 6", "{out}");

    let mut cfg = sh("ionice -p $$");
    cfg["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
    assert_eq!(run_ok(&env, "idle", &cfg), "idle\n");

    // SCHED_FIFO. With RT group scheduling (this host's v1 cpu controller) the container's cgroup
    // needs realtime runtime (linux.resources.cpu.realtimeRuntime); without it the kernel's EPERM
    // is reported naming the field, with the reason.
    let rt_group = [
        "/sys/fs/cgroup/cpu,cpuacct/cpu.rt_runtime_us",
        "/sys/fs/cgroup/cpu/cpu.rt_runtime_us",
    ]
    .iter()
    .any(|p| Path::new(p).exists());
    let mut cfg = sh("grep '^policy' /proc/self/sched; grep '^prio' /proc/self/sched");
    cfg["process"]["scheduler"] = json!({"policy": "SCHED_FIFO", "priority": 5});
    let (ok, out, err) = run(&env, "fifo", &cfg);
    if rt_group {
        assert!(
            !ok,
            "SCHED_FIFO without realtime runtime should fail here: {out}"
        );
        assert!(
            err.contains("process.scheduler: sched_setattr")
                && err.contains("cpu.rt_runtime_us")
                && err.contains("EPERM"),
            "{err}"
        );
        cfg["linux"]["resources"] =
            json!({"cpu": {"realtimeRuntime": 10000, "realtimePeriod": 1000000}});
    } else {
        assert!(ok, "{err}");
    }
    let out = run_ok(&env, "fifo-rt", &cfg);
    let l: Vec<&str> = out.lines().collect();
    assert!(l[0].ends_with(" 1"), "SCHED_FIFO is policy 1: {out}");
    assert!(l[1].ends_with(" 94"), "kernel prio 99 - 5: {out}");
    let mut cfg = config(&["true"]);
    cfg["process"]["scheduler"] = json!({"policy": "SCHED_RR", "priority": 200});
    refused(&env, "badprio", &cfg, "process.scheduler.priority");
    let mut cfg = config(&["true"]);
    cfg["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_RT", "priority": 8});
    refused(&env, "badio", &cfg, "process.ioPriority.priority");
}

#[test]
fn personality_linux32() {
    let env = Env::new();
    let mut cfg = config(&["uname", "-m"]);
    cfg["linux"]["personality"] = json!({"domain": "LINUX32"});
    assert_eq!(run_ok(&env, "b", &cfg), "i686\n");
    let cfg = config(&["uname", "-m"]);
    assert_eq!(run_ok(&env, "b64", &cfg), "x86_64\n");
}

fn have_cap_sys_resource() -> bool {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = s
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    u64::from_str_radix(&eff, 16).unwrap() & (1 << 24) != 0
}

#[test]
fn oom_score_adj() {
    let env = Env::new();
    let mut cfg = config(&["cat", "/proc/self/oom_score_adj"]);
    cfg["process"]["oomScoreAdj"] = json!(500);
    assert_eq!(run_ok(&env, "up", &cfg), "500\n");
    // Lowering below the current value needs CAP_SYS_RESOURCE (runc fails the same way here).
    cfg["process"]["oomScoreAdj"] = json!(-100);
    if have_cap_sys_resource() {
        assert_eq!(run_ok(&env, "down", &cfg), "-100\n");
    } else {
        let e = refused(&env, "down", &cfg, "process.oomScoreAdj -100");
        assert!(e.contains("Permission denied"), "{e}");
    }
}

#[test]
fn lsm_fields_fail_like_runc_without_an_lsm() {
    if Path::new("/sys/module/apparmor/parameters/enabled").exists()
        || Path::new("/sys/fs/selinux/enforce").exists()
    {
        eprintln!("skip: this host has an LSM; the test is about hosts without one");
        return;
    }
    let env = Env::new();
    let mut cfg = config(&["true"]);
    cfg["process"]["apparmorProfile"] = json!("hull-test");
    refused(&env, "aa", &cfg, "process.apparmorProfile \"hull-test\"");
    // runc 1.1.5 on the same bundle fails too (writing /proc/self/attr/exec).
    if Path::new("/usr/sbin/runc").exists() {
        let mut rcfg = cfg.clone();
        rcfg["root"]["path"] = json!(rootfs());
        let b = env.bundle("runc-aa", &rcfg);
        let st = env.tmp.path().join("runc-state");
        let o = Command::new("/usr/sbin/runc")
            .arg("--root")
            .arg(&st)
            .args(["run", "-b", b.to_str().unwrap(), "hull-env-aa"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let _ = Command::new("/usr/sbin/runc")
            .arg("--root")
            .arg(&st)
            .args(["delete", "-f", "hull-env-aa"])
            .output();
        assert!(!o.status.success(), "runc accepted an AppArmor profile");
        assert!(String::from_utf8_lossy(&o.stderr).contains("apparmor"));
    }
    let mut cfg = config(&["true"]);
    cfg["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
    refused(&env, "se", &cfg, "process.selinuxLabel");
    let mut cfg = config(&["true"]);
    cfg["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
    refused(&env, "ml", &cfg, "linux.mountLabel");
    // Empty strings are "not set".
    let mut cfg = config(&["true"]);
    cfg["process"]["apparmorProfile"] = json!("");
    cfg["process"]["selinuxLabel"] = json!("");
    run_ok(&env, "empty", &cfg);
}

#[test]
fn invalid_sysctls_are_refused() {
    let env = Env::new();
    let mut cfg = config(&["true"]);
    cfg["linux"]["sysctl"] = json!({"net.ipv4.hull_bogus": "1"});
    refused(&env, "missing", &cfg, "linux.sysctl net.ipv4.hull_bogus=1");
    let mut cfg = config(&["true"]);
    cfg["linux"]["sysctl"] = json!({"kernel.hostname_bogus/../x": "1"});
    refused(&env, "dots", &cfg, "linux.sysctl");
    // A host-wide sysctl is not namespaced: refused before anything starts.
    let mut cfg = config(&["true"]);
    cfg["linux"]["sysctl"] = json!({"vm.swappiness": "10"});
    refused(&env, "hostwide", &cfg, "vm.swappiness");
    // A namespaced one is applied inside.
    let mut cfg = config(&["cat", "/proc/sys/net/ipv4/ip_forward"]);
    cfg["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    cfg["linux"]["readonlyPaths"] = json!([]);
    assert_eq!(run_ok(&env, "ok", &cfg), "1\n");
}

// ---------------------------------------------------------------- user and time namespaces

#[test]
fn rootfs_owned_by_the_mapped_root() {
    let env = Env::new();
    let r = private_rootfs(&env, "b");
    let st = Command::new("chown")
        .args(["-R", "-h", "100000:100000"])
        .arg(&r)
        .status()
        .unwrap();
    assert!(st.success());
    let src = host_src(&env, "src");
    let mut cfg = with_mounts(
        userns(sh(
            "id -u; id -G; cat /proc/self/setgroups; touch /made && stat -c '%u' /made; \
             grep -c ' /proc ' /proc/self/mountinfo; grep ' /dev ' /proc/self/mountinfo | grep -c tmpfs; \
             cat /data/f; echo x > /dev/null && echo null-ok; mkdir /dev/shm/d && echo shm-ok",
        )),
        json!([{"destination": "/data", "type": "bind", "source": src, "options": ["rbind", "ro"]}]),
    );
    cfg["process"]["user"]["additionalGids"] = json!([5]);
    let out = run_ok(&env, "b", &cfg);
    assert_eq!(
        out, "0\n0 5\nallow\n0\n1\n1\nhello\nnull-ok\nshm-ok\n",
        "{out}"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::metadata(r.join("made")).unwrap().uid(), 100000);
}

#[test]
fn time_namespace_offsets() {
    let env = Env::new();
    let mut cfg = sh("cat /proc/self/timens_offsets; cut -d. -f1 /proc/uptime");
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    cfg["linux"]["timeOffsets"] = json!({
        "monotonic": {"secs": 86400, "nanosecs": 0},
        "boottime": {"secs": 1000000, "nanosecs": 5}
    });
    let host_up: f64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let out = run_ok(&env, "b", &cfg);
    let l: Vec<&str> = out.lines().collect();
    let offs: Vec<Vec<&str>> = l[..2]
        .iter()
        .map(|x| x.split_whitespace().collect())
        .collect();
    assert!(offs.contains(&vec!["monotonic", "86400", "0"]), "{out}");
    assert!(offs.contains(&vec!["boottime", "1000000", "5"]), "{out}");
    let up: f64 = l[2].parse().unwrap();
    assert!(up >= host_up + 999_000.0, "uptime {up} vs host {host_up}");
    // Without a time namespace the offsets are refused.
    let mut cfg = config(&["true"]);
    cfg["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 1}});
    refused(&env, "nons", &cfg, "linux.timeOffsets");
}

// ---------------------------------------------------------------- hooks

fn hook(script: &str, dir: &Path) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script, "zero", "one"],
           "env": [format!("D={}", dir.display()), "FOO=bar"]})
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn own_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Create detached with stdio in files; returns (stdout path, stderr path, create stderr).
fn create_detached(env: &Env, id: &str, b: &Path) -> (PathBuf, PathBuf, std::process::ExitStatus) {
    let out = env.tmp.path().join(format!("{id}.out"));
    let err = env.tmp.path().join(format!("{id}.err"));
    let st = env
        .cmd(&["create", "-b", b.to_str().unwrap(), id])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    (out, err, st)
}

#[test]
fn hooks_run_in_their_namespace_at_their_moment() {
    let env = Env::new();
    let d = env.tmp.path().join("hooks");
    std::fs::create_dir_all(&d).unwrap();
    let id = env.id("hooks");
    let pidof = r#"sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$D/$K.state""#;
    let host_hook = |k: &str| {
        hook(
            &format!(
                "K={k}; cat > $D/$K.state; echo \"$0 $1 $FOO\" > $D/$K.args; readlink /proc/self/ns/mnt > $D/$K.ns; \
                 readlink /proc/$({pidof})/ns/mnt > $D/$K.initns; cat /proc/self/mountinfo > $D/$K.mi; \
                 test -e $D/started && echo after-start > $D/$K.when || echo before-start > $D/$K.when"
            ),
            &d,
        )
    };
    let mut cfg = with_mounts(
        sh("cat /hookdir/startContainer.host; echo main; touch /hookdir/started; exit 0"),
        json!([{"destination": "/hookdir", "type": "bind", "source": d, "options": ["bind"]}]),
    );
    let poststop = hook(
        &format!(
            "cat > $D/poststop.state; test -e {}/{id} && echo state-present > $D/poststop.when || echo state-gone > $D/poststop.when",
            env.root.display()
        ),
        &d,
    );
    cfg["hooks"] = json!({
        "prestart": [host_hook("prestart")],
        "createRuntime": [host_hook("createRuntime")],
        "createContainer": [host_hook("createContainer")],
        // Resolved and run inside the container: busybox's sh, the container's hostname.
        "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c",
            "hostname > /hookdir/startContainer.host; cat > /hookdir/startContainer.state; readlink /proc/self/ns/mnt > /hookdir/startContainer.ns"]}],
        "poststart": [host_hook("poststart")],
        "poststop": [poststop]
    });
    let b = env.bundle("b", &cfg);
    let (out, err, st) = create_detached(&env, &id, &b);
    assert!(st.success(), "create: {}", read(&err));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let init_mnt = std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let host_mnt = own_ns("mnt");
    assert_ne!(init_mnt, host_mnt);
    for k in ["prestart", "createRuntime"] {
        // Runtime namespace, after the container's namespaces exist, with the state on stdin.
        assert_eq!(read(&d.join(format!("{k}.ns"))).trim(), host_mnt, "{k}");
        assert_eq!(read(&d.join(format!("{k}.initns"))).trim(), init_mnt, "{k}");
        let s: Value = serde_json::from_str(&read(&d.join(format!("{k}.state")))).unwrap();
        assert_eq!(s["id"], id.as_str());
        assert_eq!(s["pid"], pid);
        assert_eq!(s["status"], "creating", "{k}");
        assert_eq!(read(&d.join(format!("{k}.args"))), "zero one bar\n");
    }
    // createContainer: in the container's mount namespace, before pivot_root (the container's
    // mounts are still below the rootfs path).
    assert_eq!(read(&d.join("createContainer.ns")).trim(), init_mnt);
    let mi = read(&d.join("createContainer.mi"));
    assert!(
        mi.lines()
            .any(|l| l.split(' ').nth(4).unwrap().ends_with("rootfs/proc")),
        "{mi}"
    );
    assert!(
        !d.join("startContainer.host").exists(),
        "startContainer ran at create"
    );
    assert!(!d.join("poststart.ns").exists(), "poststart ran at create");

    let o = env.hull(&["start", &id]);
    assert!(o.status.success(), "start: {}", stderr(&o));
    // poststart: runtime namespace, after the user process was started.
    assert_eq!(read(&d.join("poststart.ns")).trim(), host_mnt);
    let s: Value = serde_json::from_str(&read(&d.join("poststart.state"))).unwrap();
    assert_eq!(s["status"], "running");
    wait_until("container exit", std::time::Duration::from_secs(10), || {
        env.status(&id) == "stopped"
    });
    // startContainer ran inside the container (its hostname, its mount ns) before the process.
    assert_eq!(read(&out), "hull-test\nmain\n", "stderr: {}", read(&err));
    assert_eq!(read(&d.join("startContainer.ns")).trim(), init_mnt);
    let s: Value = serde_json::from_str(&read(&d.join("startContainer.state"))).unwrap();
    assert_eq!(s["id"], id.as_str());
    assert!(
        !d.join("poststop.when").exists(),
        "poststop ran before delete"
    );
    let o = env.hull(&["delete", &id]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
    // poststop: after delete removed the container's state.
    assert_eq!(read(&d.join("poststop.when")), "state-gone\n");
    let s: Value = serde_json::from_str(&read(&d.join("poststop.state"))).unwrap();
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["status"], "stopped");
}

#[test]
fn failing_hooks_before_start_fail_the_create() {
    let env = Env::new();
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let mut cfg = config(&["true"]);
        cfg["hooks"] = json!({ kind: [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}] });
        let e = refused(&env, kind, &cfg, &format!("{kind}[0] hook /bin/sh"));
        assert!(e.contains("exit status: 3"), "{e}");
    }
    let mut cfg = config(&["true"]);
    cfg["hooks"] =
        json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "20"], "timeout": 1}]});
    let t = std::time::Instant::now();
    let e = refused(&env, "timeout", &cfg, "createRuntime[0] hook /bin/sleep");
    assert!(e.contains("timed out after 1s"), "{e}");
    assert!(t.elapsed() < std::time::Duration::from_secs(15));
    let mut cfg = config(&["true"]);
    cfg["hooks"] = json!({"prestart": [{"path": "/nonexistent/hook"}]});
    refused(&env, "missing", &cfg, "prestart[0] hook /nonexistent/hook");
}

#[test]
fn failing_start_container_hook_stops_the_container() {
    let env = Env::new();
    let id = env.id("sc");
    let d = env.tmp.path().join("m");
    std::fs::create_dir_all(&d).unwrap();
    let mut cfg = with_mounts(
        sh("touch /m/process-ran"),
        json!([{"destination": "/m", "type": "bind", "source": d, "options": ["bind"]}]),
    );
    cfg["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    let b = env.bundle("b", &cfg);
    let (_out, err, st) = create_detached(&env, &id, &b);
    assert!(st.success(), "create: {}", read(&err));
    // The spec's rule (stricter than runc 1.1.5, whose `start` returns 0): `start` fails naming
    // the hook, the process never runs, the container is stopped.
    let o = env.hull(&["start", &id]);
    assert!(!o.status.success(), "start should fail");
    let e = stderr(&o);
    wait_until("container stop", std::time::Duration::from_secs(10), || {
        env.status(&id) == "stopped"
    });
    assert!(!d.join("process-ran").exists());
    assert!(e.contains("startContainer[0] hook /bin/false"), "{e}");
}

#[test]
fn failing_poststart_and_poststop_hooks_only_warn() {
    let env = Env::new();
    let id = env.id("warn");
    let mut cfg = config(&["sleep", "30"]);
    cfg["hooks"] = json!({
        "poststart": [{"path": "/bin/false"}],
        "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 4"]}]
    });
    let b = env.bundle("b", &cfg);
    let (_out, err, st) = create_detached(&env, &id, &b);
    assert!(st.success(), "create: {}", read(&err));
    let o = env.hull(&["start", &id]);
    assert!(o.status.success(), "start: {}", stderr(&o));
    assert!(
        stderr(&o).contains("poststart[0] hook /bin/false"),
        "{}",
        stderr(&o)
    );
    assert_eq!(env.status(&id), "running");
    let o = env.hull(&["delete", "-f", &id]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
    assert!(
        stderr(&o).contains("poststop[0] hook /bin/sh"),
        "{}",
        stderr(&o)
    );
    assert!(!env.root.join(&id).exists());
}

#[test]
fn exec_cpu_affinity_is_validated_and_leaves_the_init_alone() {
    let env = Env::new();
    let mut cfg = config(&["true"]);
    cfg["process"]["execCPUAffinity"] = json!({"initial": "0-x"});
    refused(&env, "bad", &cfg, "execCPUAffinity");
    // The runtime-spec: "not applicable to the container's init process" — the init keeps the
    // affinity it inherits (here: hull's own).
    let mut cfg = sh("grep Cpus_allowed_list /proc/self/status");
    cfg["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "0"});
    let mine = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list"))
        .unwrap()
        .to_string();
    assert_eq!(run_ok(&env, "ok", &cfg).trim(), mine);
}

// ---------------------------------------------------------------- credentials, limits, uts

#[test]
fn capability_sets_rlimits_and_domainname() {
    let env = Env::new();
    let mut cfg = sh(
        "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status; grep 'open files' /proc/self/limits; \
         grep 'core file' /proc/self/limits; cat /proc/sys/kernel/domainname; id -u",
    );
    cfg["domainname"] = json!("hull.example");
    cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let net_bind = json!(["CAP_NET_BIND_SERVICE"]);
    cfg["process"]["capabilities"] = json!({
        // CAP_SYS_RESOURCE is not in this host's bounding set: dropped with a warning.
        "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_RESOURCE"],
        "effective": net_bind, "permitted": net_bind, "inheritable": net_bind, "ambient": net_bind
    });
    cfg["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
    ]);
    let (ok, out, err) = run(&env, "b", &cfg);
    assert!(ok, "{err}");
    let l: Vec<&str> = out.lines().collect();
    let held_sys_resource = have_cap_sys_resource();
    let bnd = if held_sys_resource {
        "CapBnd:\t0000000001000420"
    } else {
        "CapBnd:\t0000000000000420"
    };
    assert_eq!(
        &l[..5],
        &[
            "CapInh:\t0000000000000400",
            "CapPrm:\t0000000000000400",
            "CapEff:\t0000000000000400",
            bnd,
            "CapAmb:\t0000000000000400"
        ],
        "{out}"
    );
    if !held_sys_resource {
        assert!(err.contains("CAP_SYS_RESOURCE"), "no warning: {err}");
    }
    let nofile: Vec<&str> = l[5].split_whitespace().collect();
    assert_eq!(&nofile[3..5], &["1000", "2000"], "{out}");
    let core: Vec<&str> = l[6].split_whitespace().collect();
    assert_eq!(&core[4..6], &["0", "0"], "{out}");
    assert_eq!(l[7], "hull.example");
    assert_eq!(l[8], "1000");
}

#[test]
fn id_maps_seen_inside() {
    let env = Env::new();
    let mut cfg = userns(sh(
        "cat /proc/self/uid_map /proc/self/gid_map | tr -s ' '; cat /proc/self/setgroups",
    ));
    cfg["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": 200000, "size": 1000},
        {"containerID": 1000, "hostID": 300000, "size": 10}
    ]);
    cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 2000}]);
    let out = run_ok(&env, "b", &cfg);
    assert_eq!(
        out, " 0 200000 1000\n 1000 300000 10\n 0 200000 2000\nallow\n",
        "{out}"
    );
}

/// A process holding a user namespace whose setgroups is "deny" (util-linux unshare
/// --map-root-user writes it), killed when dropped.
struct UsernsHolder(std::process::Child);
impl Drop for UsernsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn joined_user_namespace_with_setgroups_denied() {
    let env = Env::new();
    let holder = UsernsHolder(
        Command::new("unshare")
            .args(["--user", "--map-root-user", "sleep", "60"])
            .spawn()
            .unwrap(),
    );
    let pid = holder.0.id();
    wait_until("userns holder", std::time::Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{pid}/setgroups")).is_ok_and(|s| s.trim() == "deny")
    });
    let mut cfg = sh("cat /proc/self/setgroups; id -G; cat /proc/self/uid_map | tr -s ' '");
    for m in cfg["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "bind", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
    }
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user", "path": format!("/proc/{pid}/ns/user")}));
    let out = run_ok(&env, "b", &cfg);
    assert_eq!(out, "deny\n0\n 0 0 1\n", "{out}");
    // Supplementary groups cannot be set there: a clear error, nothing left behind.
    cfg["process"]["user"]["additionalGids"] = json!([5]);
    refused(
        &env,
        "groups",
        &cfg,
        "process.user.additionalGids: setgroups is denied",
    );
    drop(holder);
}

#[test]
fn rootfs_propagation() {
    let env = Env::new();
    let root_line = |out: &str| -> Vec<String> {
        let l = line_of(out, "/");
        mnt_opts(l).1.iter().map(|s| s.to_string()).collect()
    };
    let mut cfg = sh("cat /proc/self/mountinfo");
    cfg["linux"]["rootfsPropagation"] = json!("rshared");
    let out = run_ok(&env, "shared", &cfg);
    let f = root_line(&out);
    assert!(f.iter().any(|x| x.starts_with("shared:")), "{f:?}");
    cfg["linux"]["rootfsPropagation"] = json!("rprivate");
    let out = run_ok(&env, "private", &cfg);
    let f = root_line(&out);
    assert!(
        !f.iter()
            .any(|x| x.starts_with("shared:") || x.starts_with("master:")),
        "{f:?}"
    );
    cfg["linux"]["rootfsPropagation"] = json!("rsharedd");
    refused(&env, "bad", &cfg, "linux.rootfsPropagation");
}

#[test]
fn rootfs_in_a_shared_host_mount_with_non_recursive_propagation() {
    // runc's "mount propagation parent mount shared" case: the rootfs lies in a shared host mount
    // and rootfsPropagation is the non-recursive "private", so only "/" changes. hull must find
    // the mount holding the rootfs (here one directory up) and make it private in the
    // container's namespace, else pivot_root fails with EINVAL.
    let env = Env::new();
    let top = HostMount::shared_tmpfs(&env.tmp.path().join("sharedtop"));
    let holder = top.0.join("img");
    std::fs::create_dir(&holder).unwrap();
    let src = rootfs().canonicalize().unwrap();
    let st = Command::new("mount")
        .arg("--bind")
        .arg(src.parent().unwrap())
        .arg(&holder)
        .status()
        .unwrap();
    assert!(st.success());
    let r = holder.join(src.file_name().unwrap());
    let mut cfg = sh("cat /proc/self/mountinfo");
    cfg["root"]["path"] = json!(r.to_str().unwrap());
    cfg["linux"]["rootfsPropagation"] = json!("private");
    let out = run_ok(&env, "sharedparent", &cfg);
    let f = mnt_opts(line_of(&out, "/")).1;
    assert!(!f.iter().any(|x| x.starts_with("shared:")), "{f:?}");
    // On the host the mount is still shared (the change stayed in the container's namespace)
    // and nothing the container mounted propagated into it.
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let h = holder.to_str().unwrap();
    let host_line = line_of(&mi, h);
    assert!(
        mnt_opts(host_line)
            .1
            .iter()
            .any(|x| x.starts_with("shared:")),
        "{host_line}"
    );
    assert!(
        !mi.lines().any(|l| l
            .split(' ')
            .nth(4)
            .is_some_and(|m| m.starts_with(&format!("{h}/")))),
        "a container mount propagated to the host under {h}"
    );
}

/// The `HOME=` lines of an `env` listing.
fn home_lines(out: &str) -> Vec<&str> {
    out.lines().filter(|l| l.starts_with("HOME=")).collect()
}

#[test]
fn home_comes_from_the_container_passwd() {
    // The busybox rootfs's /etc/passwd: root → /root, nobody (65534) → /nonexistent; no 1000.
    let passwd = std::fs::read_to_string(rootfs().join("etc/passwd")).unwrap();
    assert!(
        passwd.contains(":0:0:root:/root:") && passwd.contains(":65534:65534:nobody:/nonexistent:")
    );
    let env = Env::new();
    let cases: [(u32, Option<&str>, &str); 5] = [
        (0, None, "HOME=/root"),
        (65534, None, "HOME=/nonexistent"),
        (1000, None, "HOME=/"),
        // Empty counts as unset (runc checks os.Getenv("HOME") == "").
        (65534, Some("HOME="), "HOME=/nonexistent"),
        (65534, Some("HOME=/set"), "HOME=/set"),
    ];
    for (i, (uid, home, want)) in cases.into_iter().enumerate() {
        let mut cfg = config(&["env"]);
        cfg["process"]["user"] = json!({"uid": uid, "gid": uid});
        let mut e = vec!["PATH=/bin:/usr/bin".to_string()];
        e.extend(home.map(String::from));
        cfg["process"]["env"] = json!(e);
        let out = run_ok(&env, &format!("home{i}"), &cfg);
        assert_eq!(
            home_lines(&out),
            vec![want],
            "uid {uid} env {home:?}: {out}"
        );
    }
}

/// `hull run` as a socket-activated service: `LISTEN_PID` is hull's own pid (set by a shell that
/// then execs hull), `file` open read-write on fd 3 and `extra` on fd 4.
fn run_activated(
    env: &Env,
    name: &str,
    cfg: &Value,
    listen_pid_is_hull: bool,
    file: &Path,
    extra: &Path,
) -> (bool, String, String) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let id = env.id(name);
    let b = env.bundle(name, cfg);
    let f3 = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    let f4 = std::fs::File::open(extra).unwrap();
    let (r3, r4) = (f3.as_raw_fd(), f4.as_raw_fd());
    let pid = if listen_pid_is_hull { "$$" } else { "1" };
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg(format!("LISTEN_PID={pid} LISTEN_FDS=1 exec \"$0\" \"$@\""))
        .arg(hull_bin())
        .arg("--root")
        .arg(&env.root)
        .args(["run", "--preserve-fds", "1", "-b", b.to_str().unwrap(), &id])
        .stdin(std::process::Stdio::null());
    // SAFETY: only dup (async-signal-safe) in the pre-exec child: the files onto 3 and 4, through
    // fds above both so that neither source is overwritten first.
    unsafe {
        c.pre_exec(move || {
            let a = libc::fcntl(r3, libc::F_DUPFD, 10);
            let b = libc::fcntl(r4, libc::F_DUPFD, 10);
            if a < 0 || b < 0 || libc::dup2(a, 3) < 0 || libc::dup2(b, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(a);
            libc::close(b);
            Ok(())
        });
    }
    let o = c.output().unwrap();
    (o.status.success(), stdout(&o), stderr(&o))
}

#[test]
fn socket_activation_fds_and_env_reach_the_init() {
    let env = Env::new();
    let listen = env.tmp.path().join("listen");
    let extra = env.tmp.path().join("extra");
    std::fs::write(&listen, "from-listen-fd\n").unwrap();
    std::fs::write(&extra, "from-preserved-fd\n").unwrap();
    let script = "env | grep -E '^LISTEN_' | sort | tr '\\n' ' '; echo; \
                  ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; \
                  read l <&3; echo \"3:$l\"; read x <&4; echo \"4:$x\"; echo written >&3";
    let mut cfg = config(&["sh", "-c", script]);
    cfg["process"]["user"] = json!({"uid": 65534, "gid": 65534});
    let (ok, out, err) = run_activated(&env, "act", &cfg, true, &listen, &extra);
    assert!(ok, "run failed: {err}\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim_end(), "LISTEN_FDS=1 LISTEN_PID=1", "{out}");
    // stdio, the listen fd, the --preserve-fds fd after it, and the fd `ls` opens itself.
    assert_eq!(lines[1].trim_end(), "0 1 2 3 4 5", "{out}");
    assert_eq!(
        &lines[2..4],
        ["3:from-listen-fd", "4:from-preserved-fd"],
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&listen).unwrap(),
        "from-listen-fd\nwritten\n",
        "the container writes through the listen fd"
    );
    // LISTEN_PID not hull's: the fds were meant for another process (go-systemd's rule, which
    // runc follows): no LISTEN_* and only the --preserve-fds fd, at 3.
    let (ok, out, err) = run_activated(&env, "notact", &cfg, false, &listen, &extra);
    assert!(ok, "run failed: {err}\n{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim_end(), "", "{out}");
    assert_eq!(lines[1].trim_end(), "0 1 2 3 4", "{out}");
}

/// `./x` and relative PATH entries resolve against process.cwd (runc looks the executable up
/// after its chdir), for the init as for `exec` (see operate.rs).
#[test]
fn relative_executables_resolve_against_the_cwd() {
    let env = Env::new();
    let mut cfg = config(&["./sh", "-c", "echo rel-ok; pwd"]);
    cfg["process"]["cwd"] = json!("/bin");
    let out = run_ok(&env, "rel-dot", &cfg);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["rel-ok", "/bin"], "{out}");
    let mut cfg = config(&["busybox", "echo", "path-ok"]);
    cfg["process"]["cwd"] = json!("/bin");
    cfg["process"]["env"] = json!(["PATH=/nonexistent:."]);
    assert_eq!(run_ok(&env, "rel-path", &cfg).trim(), "path-ok");
    // Without the cwd it is not found: the lookup really depends on it.
    let mut cfg = config(&["./sh", "-c", "true"]);
    cfg["process"]["cwd"] = json!("/");
    let (ok, out, err) = run(&env, "rel-none", &cfg);
    assert!(!ok && err.contains("./sh"), "{out}\n{err}");
}
