//! Mount destinations (CVE-2021-30465), maskedPaths and /dev/null (CVE-2025-31133),
//! /dev/console (CVE-2025-52565), procfs writes (CVE-2025-52881).
use super::*;

// ------------------------------------------------ mount destinations (CVE-2021-30465)

/// A process of the host (standing for a second container that shares a volume with this one)
/// swaps a directory of the rootfs for a symlink to a host directory and back, as fast as it can,
/// while containers with a mount there are created: no mount may ever land on the host.
#[test]
fn mount_destination_symlink_race_stays_in_rootfs() {
    let env = Env::new();
    let r = env.tmp.path().join("b/rootfs");
    std::fs::create_dir_all(r.parent().unwrap()).unwrap();
    let st = Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&r)
        .status()
        .unwrap();
    assert!(st.success());
    let host_target = out_dir(&env, "host-target");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        let (dir, tgt) = (r.join("vol"), host_target.clone());
        std::thread::spawn(move || {
            let link = dir.with_extension("link");
            let _ = std::os::unix::fs::symlink(&tgt, &link);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = std::fs::create_dir(&dir);
                let _ = std::fs::create_dir(dir.join("m"));
                // Atomically replace the directory by the symlink, then back.
                let _ = std::fs::rename(&dir, dir.with_extension("old"));
                let _ = std::os::unix::fs::symlink(&tgt, &dir);
                std::thread::yield_now();
                let _ = std::fs::remove_file(&dir);
                let _ = std::fs::rename(dir.with_extension("old"), &dir);
            }
        })
    };
    let cfg = with_mounts(
        config(&["true"]),
        json!([{"destination": "/vol/m", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}]),
    );
    std::fs::write(
        env.tmp.path().join("b/config.json"),
        serde_json::to_vec(&cfg).unwrap(),
    )
    .unwrap();
    for _ in 0..40 {
        let id = env.id("race");
        let o = env.hull(&[
            "create",
            "-b",
            env.tmp.path().join("b").to_str().unwrap(),
            &id,
        ]);
        if o.status.success() {
            let pid = env.state(&id)["pid"].as_i64().unwrap();
            // Paths in the container's mountinfo are relative to its root: the tmpfs is at
            // /vol/m, or at <host_target>/m *inside the rootfs* when the symlink was followed
            // (RESOLVE_IN_ROOT), or at /vol.old/m when the directory was renamed after hull
            // opened it (the mount goes onto the opened directory, wherever it now is). A mount
            // on the real host directory would be outside the container's root and not listed.
            let mi = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
            let inside = [
                " /vol/m ".to_string(),
                " /vol.old/m ".to_string(),
                format!(" {}/m ", host_target.display()),
            ];
            assert!(
                mi.lines()
                    .any(|l| l.contains(" - tmpfs ")
                        && inside.iter().any(|p| l.contains(p.as_str()))),
                "the tmpfs for /vol/m is not inside the container's root:\n{mi}"
            );
            let _ = env.hull(&["delete", "-f", &id]);
        }
        assert!(
            !host_target.join("m").exists()
                || host_target.join("m").read_dir().unwrap().next().is_none(),
            "something was created in the host directory"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    flipper.join().unwrap();
    assert!(
        !host_target.join("m").exists(),
        "mkdir through the symlink on the host"
    );
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mi.contains(host_target.to_str().unwrap()));
}

// ----------------------------------- maskedPaths and /dev/null (CVE-2025-31133)

/// A createContainer hook (run after the mounts and devices, before pivot_root and the masks)
/// stands for the racing attacker: it replaces the container's /dev/null.
fn hook(script: &str, rootfs: &Path) -> Value {
    json!({"path": "/bin/sh", "args": ["sh", "-c", script, "hook", rootfs]})
}

fn dev_null_swapped(replace: &str) {
    let env = Env::new();
    let mut cfg = sh("head -c 64 /proc/keys; echo; stat -c 'TYPE %F %t:%T' /proc/keys");
    cfg["linux"]["maskedPaths"] = json!(["/proc/keys"]);
    let b = env.bundle("b", &config(&["true"]));
    let rootfs = b.join("rootfs").canonicalize().unwrap();
    cfg["hooks"] = json!({"createContainer": [hook(replace, &rootfs)]});
    let b = env.bundle("b", &cfg);
    let id = env.id("null");
    let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
    let out = stdout(&o);
    if o.status.success() {
        assert!(
            out.contains("TYPE character special file 1:3"),
            "/proc/keys must be masked by the null device:\n{out}"
        );
        assert!(
            !out.contains("SECRET") && !out.contains("hull-test"),
            "{out}"
        );
    } else {
        assert!(
            stderr(&o).contains("/dev/null"),
            "the error should name /dev/null: {}",
            stderr(&o)
        );
        assert!(
            !out.contains("SECRET") && !out.contains("hull-test"),
            "{out}"
        );
    }
}

#[test]
fn masked_paths_with_dev_null_replaced_by_a_symlink() {
    // To a procfs file (the UTS-namespaced hostname: harmless, and recognisable).
    dev_null_swapped("rm -f \"$1/dev/null\"; ln -s /proc/sys/kernel/hostname \"$1/dev/null\"");
}

#[test]
fn masked_paths_with_dev_null_replaced_by_a_file() {
    dev_null_swapped("rm -f \"$1/dev/null\"; echo SECRET > \"$1/dev/null\"");
}

#[test]
fn masked_paths_with_dev_null_replaced_by_another_device() {
    // /dev/zero's numbers: a mask must read empty, not as an endless source of zeros.
    dev_null_swapped("rm -f \"$1/dev/null\"; mknod -m 666 \"$1/dev/null\" c 1 5");
}

// ------------------------------------------------------- /dev/console (CVE-2025-52565)

#[test]
fn dev_console_swapped_for_a_symlink() {
    let env = Env::new();
    let out = out_dir(&env, "out");
    let mut cfg = with_mounts(
        sh("stat -c '%n %F %t' /proc/sys/kernel/hostname /dev/console > /out/res.tmp 2>&1; mv /out/res.tmp /out/res"),
        out_mount(&out),
    );
    cfg["process"]["terminal"] = json!(true);
    let b = env.bundle("b", &config(&["true"]));
    let rootfs = b.join("rootfs").canonicalize().unwrap();
    cfg["hooks"] = json!({"createContainer": [hook(
        "rm -f \"$1/dev/console\"; ln -s /proc/sys/kernel/hostname \"$1/dev/console\"",
        &rootfs
    )]});
    let b = env.bundle("b", &cfg);
    let sock = env.tmp.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    // Accept the pty master and keep it open until the container is gone.
    let holder = std::thread::spawn(move || listener.accept().map(|(s, _)| s).ok());
    let id = env.id("console");
    let o = env.hull(&[
        "create",
        "--console-socket",
        sock.to_str().unwrap(),
        "-b",
        b.to_str().unwrap(),
        &id,
    ]);
    let _conn = holder.join().unwrap();
    if !o.status.success() {
        assert!(stderr(&o).contains("/dev/console"), "{}", stderr(&o));
        return;
    }
    let o = env.hull(&["start", &id]);
    assert!(o.status.success(), "start: {}", stderr(&o));
    let t0 = std::time::Instant::now();
    while !out.join("res").exists() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let res = read(&out.join("res"));
    assert!(res.lines().count() >= 2, "container result: {res:?}");
    // The pty (devpts, major 136 = 0x88) is on /dev/console, nowhere else.
    let host_line = res
        .lines()
        .find(|l| l.starts_with("/proc/sys/kernel/hostname"))
        .unwrap();
    assert!(
        host_line.contains("regular"),
        "the console was bind-mounted onto the symlink's target:\n{res}"
    );
    let con = res.lines().find(|l| l.starts_with("/dev/console")).unwrap();
    assert!(con.contains("character special file 88"), "{res}");
}

// ----------------------------------------------------- procfs writes (CVE-2025-52881)

/// The config bind-mounts a directory (a volume the attacker fills) over a procfs directory the
/// runtime writes into: the write must reach the real procfs file, never the volume.
#[test]
fn sysctl_write_through_a_mount_over_proc_sys() {
    let env = Env::new();
    let vol = out_dir(&env, "vol");
    std::fs::write(vol.join("domainname"), "untouched\n").unwrap();
    let mut cfg = with_mounts(
        config(&["sleep", "30"]),
        json!([{"destination": "/proc/sys/kernel", "type": "bind", "source": vol, "options": ["rbind"]}]),
    );
    cfg["linux"]["sysctl"] = json!({"kernel.domainname": "hull-sysctl"});
    let id = env.id("sysctl");
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert_eq!(
        read(&vol.join("domainname")),
        "untouched\n",
        "the sysctl went to the volume"
    );
    if o.status.success() {
        let pid = env.state(&id)["pid"].as_i64().unwrap();
        let dn = Command::new("nsenter")
            .arg(format!("--uts=/proc/{pid}/ns/uts"))
            .args(["cat", "/proc/sys/kernel/domainname"])
            .output()
            .unwrap();
        assert_eq!(
            stdout(&dn).trim(),
            "hull-sysctl",
            "the sysctl was not applied"
        );
    } else {
        assert!(stderr(&o).contains("kernel.domainname"), "{}", stderr(&o));
    }
}

#[test]
fn oom_score_adj_write_through_a_mount_over_proc_pid() {
    let env = Env::new();
    let vol = out_dir(&env, "vol");
    std::fs::write(vol.join("oom_score_adj"), "untouched\n").unwrap();
    // /proc/self is /proc/1 for the init of a new pid namespace.
    let mut cfg = with_mounts(
        config(&["sleep", "30"]),
        json!([{"destination": "/proc/1", "type": "bind", "source": vol, "options": ["rbind"]}]),
    );
    cfg["process"]["oomScoreAdj"] = json!(567);
    let id = env.id("oom");
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert_eq!(
        read(&vol.join("oom_score_adj")),
        "untouched\n",
        "oomScoreAdj went to the volume"
    );
    if o.status.success() {
        let pid = env.state(&id)["pid"].as_i64().unwrap();
        assert_eq!(
            read(Path::new(&format!("/proc/{pid}/oom_score_adj"))).trim(),
            "567"
        );
    } else {
        assert!(stderr(&o).contains("oomScoreAdj"), "{}", stderr(&o));
    }
}
