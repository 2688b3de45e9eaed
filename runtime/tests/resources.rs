//! cgroups and seccomp, as the container sees them and as the host's cgroup files show them.

mod common;
use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};

/// The cgroup file for `controller`/`file` of the absolute cgroup `cg` on this host's layout.
fn cgroup_file(controller: &str, cg: &str, v1: &str, v2: &str) -> PathBuf {
    let v1dir = Path::new("/sys/fs/cgroup").join(controller);
    if v1dir.join("cgroup.procs").exists() {
        v1dir.join(cg.trim_start_matches('/')).join(v1)
    } else {
        Path::new("/sys/fs/cgroup")
            .join(cg.trim_start_matches('/'))
            .join(v2)
    }
}

#[test]
fn limits_land_in_cgroup_files_and_are_removed() {
    let env = Env::new();
    let id = env.id("cg");
    let cg = format!("/hull-it/{id}");
    let mut cfg = config(&["sh", "-c", "cat /proc/self/cgroup; sleep 60"]);
    cfg["linux"]["cgroupsPath"] = json!(cg);
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    cfg["linux"]["resources"] = json!({
        "memory": {"limit": 33554432},
        "pids": {"limit": 42},
        "cpu": {"quota": 50000, "period": 100000}
    });
    let b = env.bundle("b", &cfg);
    let out = env.tmp.path().join("out");
    let st = env
        .cmd(&["run", "-d", "-b", b.to_str().unwrap(), &id])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(env.tmp.path().join("err")).unwrap())
        .status()
        .unwrap();
    assert!(
        st.success(),
        "{}",
        std::fs::read_to_string(env.tmp.path().join("err")).unwrap()
    );
    let mem = cgroup_file("memory", &cg, "memory.limit_in_bytes", "memory.max");
    let pids = cgroup_file("pids", &cg, "pids.max", "pids.max");
    assert_eq!(std::fs::read_to_string(&mem).unwrap().trim(), "33554432");
    assert_eq!(std::fs::read_to_string(&pids).unwrap().trim(), "42");
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let procs = std::fs::read_to_string(pids.with_file_name("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l == pid.to_string()),
        "init not in its cgroup: {procs}"
    );
    // Inside its own cgroup namespace the container sees itself at the root.
    wait_until("output", std::time::Duration::from_secs(10), || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("memory")
    });
    let inside = std::fs::read_to_string(&out).unwrap();
    let memline = inside
        .lines()
        .find(|l| l.contains(":memory:"))
        .unwrap_or("");
    assert!(memline.ends_with(":/"), "{inside}");
    let o = env.hull(&["delete", "-f", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!mem.parent().unwrap().exists(), "cgroup left behind");
    assert!(!pids.parent().unwrap().exists(), "cgroup left behind");
    let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup/memory/hull-it"));
    let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup/pids/hull-it"));
}

#[test]
fn invalid_resource_is_refused_without_leftovers() {
    let env = Env::new();
    let id = env.id("badcg");
    let cg = format!("/hull-it-bad/{id}");
    let mut cfg = config(&["true"]);
    cfg["linux"]["cgroupsPath"] = json!(cg);
    cfg["linux"]["resources"] = json!({"blockIO": {"weight": 5000}});
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("weight"), "{}", stderr(&o));
    assert!(!env.root.join(&id).exists());
    for c in ["memory", "pids", "blkio", "cpu"] {
        assert!(!Path::new("/sys/fs/cgroup")
            .join(c)
            .join(cg.trim_start_matches('/'))
            .exists());
    }
}

fn seccomp_cfg(args: &[&str], seccomp: serde_json::Value) -> serde_json::Value {
    let mut cfg = config(args);
    cfg["linux"]["seccomp"] = seccomp;
    cfg
}

#[test]
fn seccomp_errno_with_and_without_nnp() {
    let env = Env::new();
    for nnp in [true, false] {
        let id = env.id("sc");
        let mut cfg = seccomp_cfg(
            &[
                "sh",
                "-c",
                "mkdir /tmp/x 2>&1; grep Seccomp: /proc/self/status; echo ok",
            ],
            json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
                ]
            }),
        );
        cfg["process"]["noNewPrivileges"] = json!(nnp);
        let b = env.bundle(&format!("b{nnp}"), &cfg);
        let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
        assert!(o.status.success(), "{}", stderr(&o));
        let got = stdout(&o);
        assert!(got.contains("Permission denied"), "nnp={nnp}: {got}");
        assert!(got.contains("Seccomp:\t2"), "{got}");
        assert!(got.ends_with("ok\n"));
    }
}

#[test]
fn seccomp_kill_gives_sigsys() {
    let env = Env::new();
    let id = env.id("sckill");
    let cfg = seccomp_cfg(
        &["sh", "-c", "exec mkdir /tmp/y"],
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]}),
    );
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
    assert_eq!(o.status.code(), Some(128 + libc::SIGSYS), "{}", stderr(&o));
}

#[test]
fn seccomp_bad_profile_is_refused() {
    let env = Env::new();
    let id = env.id("scbad");
    let cfg = seccomp_cfg(
        &["true"],
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                             "args": [{"index": 9, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
    );
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("index"), "{}", stderr(&o));
    assert!(!env.root.join(&id).exists());
}

#[test]
fn seccomp_notify_reaches_listener() {
    use std::io::Read;
    let env = Env::new();
    let id = env.id("scnotify");
    let sock = env.tmp.path().join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let cfg = seccomp_cfg(
        &["true"],
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "listenerPath": sock.to_str().unwrap(),
               "listenerMetadata": "hello-agent",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    let b = env.bundle("b", &cfg);
    let agent = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 65536];
        let n = conn.read(&mut buf).unwrap();
        buf.truncate(n);
        buf
    });
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let msg: serde_json::Value = serde_json::from_slice(&agent.join().unwrap()).unwrap();
    assert_eq!(msg["fds"], json!(["seccompFd"]));
    assert_eq!(msg["metadata"], "hello-agent");
    assert_eq!(msg["state"]["id"], id.as_str());
    assert_eq!(msg["pid"], env.state(&id)["pid"]);
}

/// Every hierarchy of `/proc/PID/cgroup` text (v1 controllers and, on a hybrid host, the
/// unified "0::" line) that does not name `cg`.
fn lines_not_in(text: &str, cg: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.ends_with(cg))
        .map(str::to_string)
        .collect()
}

#[test]
fn init_and_exec_join_every_hierarchy_and_keep_no_cgroup_fd() {
    // On v1/hybrid the init and an exec'd process write themselves into their cgroups (v1
    // `tasks`) and are born in the unified one (CLONE_INTO_CGROUP): whatever the path, each
    // must end up in all of them, and no descriptor of the host's cgroupfs may reach the
    // container's program.
    let env = Env::new();
    let id = env.id("join");
    let cg = format!("/hull-it/{id}");
    let mut cfg = config(&["sleep", "60"]);
    cfg["linux"]["cgroupsPath"] = json!(cg);
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let init = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(lines_not_in(&init, &cg), Vec::<String>::new(), "{init}");
    let fds = |pid: &str| -> Vec<String> {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.unwrap().path()).ok())
            .map(|p| p.display().to_string())
            .filter(|p| p.starts_with("/sys/fs/cgroup"))
            .collect()
    };
    let o = env.hull(&["start", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_until("sleep runs", std::time::Duration::from_secs(10), || {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|p| p.to_string_lossy().contains("busybox"))
    });
    assert_eq!(
        fds(&pid.to_string()),
        Vec::<String>::new(),
        "init holds cgroupfs fds"
    );
    let o = env.hull(&[
        "exec",
        &id,
        "sh",
        "-c",
        "cat /proc/self/cgroup; ls -l /proc/self/fd/ | grep -c /sys/fs/cgroup; true",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let (cgroups, count) = out.trim_end().rsplit_once('\n').unwrap();
    assert_eq!(lines_not_in(cgroups, &cg), Vec::<String>::new(), "{out}");
    assert_eq!(count, "0", "exec'd process holds cgroupfs fds: {out}");
    let o = env.hull(&["delete", "-f", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    for c in ["memory", "pids", "unified"] {
        let _ = std::fs::remove_dir(Path::new("/sys/fs/cgroup").join(c).join("hull-it"));
    }
}
