//! Devices, process attributes (scheduler, ioprio, personality, oom_score_adj, LSM, sysctl), user and time namespaces.
use super::*;

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
