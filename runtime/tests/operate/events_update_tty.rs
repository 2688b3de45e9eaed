//! events, update, exec with a tty, seccomp, sub-cgroups, HOME and relative executables.
use super::*;

#[test]
fn events_stats_and_interval() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = sleeper(&env, "events");
    let o = env.hull(&["events", "--stats", &c.id]);
    let out = ok(&o, "events --stats");
    assert_eq!(out.lines().count(), 1, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["type"], "stats");
    assert_eq!(v["id"], c.id.as_str());
    assert!(
        v["data"]["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "{v}"
    );
    assert!(
        v["data"]["pids"]["current"].as_u64().unwrap_or(0) >= 1,
        "{v}"
    );
    for k in ["cpu", "blkio", "hugetlb"] {
        assert!(v["data"].get(k).is_some(), "{k} missing: {v}");
    }
    // The loop: stats every interval, until the container stops.
    let ev = env.tmp.path().join("events.out");
    let mut child = env
        .cmd(&["events", "--interval", "100ms", &c.id])
        .stdout(std::fs::File::create(&ev).unwrap())
        .spawn()
        .unwrap();
    wait_until("two stats events", T, || {
        std::fs::read_to_string(&ev)
            .unwrap_or_default()
            .lines()
            .count()
            >= 2
    });
    ok(&env.hull(&["kill", &c.id, "KILL"]), "kill");
    let st = wait_output_status(&mut child);
    assert!(st.success(), "events exit: {st:?}");
    for l in std::fs::read_to_string(&ev).unwrap().lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["type"], "stats", "{l}");
    }
    let o = env.hull(&["events", "--interval", "soon", &c.id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--interval"), "{}", stderr(&o));
}

#[test]
fn events_reports_oom_kills() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = start(
        &env,
        "oom",
        |cfg| {
            cfg["linux"]["resources"] = json!({"memory": {"limit": 16777216, "swap": 16777216}});
        },
        &["sleep", "600"],
    );
    let ev = env.tmp.path().join("oom.out");
    let mut child = env
        .cmd(&["events", "--interval", "1h", &c.id])
        .stdout(std::fs::File::create(&ev).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // A process that grows past the limit: the kernel OOM-kills it inside the cgroup.
    let o = env.hull(&[
        "exec",
        &c.id,
        "sh",
        "-c",
        "x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x=$x$x; done",
    ]);
    assert_eq!(o.status.code(), Some(137), "not OOM-killed: {}", stderr(&o));
    wait_until("oom event", T, || {
        std::fs::read_to_string(&ev)
            .unwrap_or_default()
            .contains("\"oom\"")
    });
    let line = std::fs::read_to_string(&ev).unwrap();
    let v: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    assert_eq!(v, json!({"type": "oom", "id": c.id}));
    ok(&env.hull(&["kill", &c.id, "KILL"]), "kill");
    assert!(wait_output_status(&mut child).success());
}

#[test]
fn update_changes_live_limits_and_refuses_bad_values() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = start(
        &env,
        "update",
        |cfg| {
            cfg["linux"]["resources"] =
                json!({"memory": {"limit": 67108864}, "pids": {"limit": 50}});
        },
        &["sleep", "600"],
    );
    let mem = cgroup_file("memory", &c.cg, "memory.limit_in_bytes", "memory.max");
    let pids = cgroup_file("pids", &c.cg, "pids.max", "pids.max");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap().trim().to_string();
    assert_eq!(read(&mem), "67108864");
    ok(
        &env.hull(&["update", "--memory", "32m", "--pids-limit", "33", &c.id]),
        "update",
    );
    assert_eq!(read(&mem), "33554432");
    assert_eq!(read(&pids), "33");
    // Bad values: the flag is named, nothing changes (not even the valid flag given with it).
    for (args, flag) in [
        (vec!["--memory", "lots"], "--memory"),
        (vec!["--pids-limit", "x"], "--pids-limit"),
        (vec!["--cpu-share", "1"], "--cpu-share"),
        (vec!["--blkio-weight", "5000"], "--blkio-weight"),
        (vec!["--l3-cache-schema", "L3:0=ff"], "--l3-cache-schema"),
    ] {
        let mut a = vec!["update", "--memory", "16m"];
        a.extend(args);
        a.push(&c.id);
        let o = env.hull(&a);
        assert!(!o.status.success(), "{a:?} accepted");
        assert!(stderr(&o).contains(flag), "{a:?}: {}", stderr(&o));
        assert_eq!(read(&mem), "33554432", "{a:?} changed the limit");
    }
    // -r FILE (a LinuxResources JSON) and -r - (stdin).
    let rf = env.tmp.path().join("res.json");
    std::fs::write(&rf, r#"{"pids": {"limit": 44}}"#).unwrap();
    ok(
        &env.hull(&["update", "-r", rf.to_str().unwrap(), &c.id]),
        "update -r",
    );
    assert_eq!(read(&pids), "44");
    let mut child = env
        .cmd(&["update", "-r", "-", &c.id])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut i = child.stdin.take().unwrap();
        i.write_all(br#"{"memory": {"limit": 41943040}}"#).unwrap();
    }
    assert!(wait_output_status(&mut child).success());
    assert_eq!(read(&mem), "41943040");
    std::fs::write(&rf, r#"{"pids": {"limit": "many"}}"#).unwrap();
    let o = env.hull(&["update", "-r", rf.to_str().unwrap(), &c.id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--resources"), "{}", stderr(&o));
    assert_eq!(read(&pids), "44");
    // A stopped container cannot be updated.
    ok(&env.hull(&["kill", &c.id, "KILL"]), "kill");
    wait_until("stopped", T, || env.status(&c.id) == "stopped");
    let o = env.hull(&["update", "--pids-limit", "10", &c.id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("stopped"), "{}", stderr(&o));
}

#[test]
fn exec_tty_console_socket_and_foreground() {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let _p = CgroupParent;
    let env = Env::new();
    let c = sleeper(&env, "ex-tty");
    // -d -t --console-socket: the pty master goes to the socket (what shims and conmon use).
    let sock = env.tmp.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let o = env.hull(&[
        "exec",
        "-d",
        "-t",
        "--console-socket",
        sock.to_str().unwrap(),
        &c.id,
        "sh",
        "-c",
        "tty; echo on-the-pty; sleep 30",
    ]);
    ok(&o, "exec -d -t");
    let (conn, _) = listener.accept().unwrap();
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .unwrap();
    let mut master = None;
    for cm in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = cm {
            // SAFETY: the fd was just received and is owned here.
            master = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let mut f = std::fs::File::from(master.expect("no pty master over the console socket"));
    let mut got = String::new();
    let mut chunk = [0u8; 256];
    while !got.contains("on-the-pty") {
        let n = f.read(&mut chunk).unwrap();
        assert!(n > 0, "pty closed early: {got:?}");
        got.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    assert!(got.starts_with("/dev/pts/"), "{got:?}");
    // Foreground -t without a socket: hull is the console (under `script`, which gives it a tty).
    let cmd = format!(
        "{} --root {} exec -t {} sh -c 'tty; exit 5'",
        hull_bin().display(),
        env.root.display(),
        c.id
    );
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stdout(&o));
    assert!(stdout(&o).contains("/dev/pts/"), "{}", stdout(&o));
    // -d -t without a socket is refused.
    let o = env.hull(&["exec", "-d", "-t", &c.id, "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--console-socket"), "{}", stderr(&o));
}

#[test]
fn exec_gets_the_container_seccomp_profile_and_rlimits() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = start(
        &env,
        "ex-sc",
        |cfg| {
            cfg["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64"],
                "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
            });
            cfg["process"]["rlimits"] =
                json!([{"type": "RLIMIT_NOFILE", "hard": 1234, "soft": 1000}]);
        },
        &["sleep", "600"],
    );
    let o = env.hull(&[
        "exec",
        &c.id,
        "sh",
        "-c",
        "grep '^Seccomp:' /proc/self/status; ulimit -n; ulimit -Hn; mkdir /dev/shm/x && echo made",
    ]);
    assert!(!o.status.success(), "mkdir was allowed: {}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains("1000\n1234\n"), "{out}");
    assert!(!out.contains("made"), "{out}");
    assert!(
        stderr(&o).contains("Operation not permitted"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn exec_into_a_sub_cgroup() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = sleeper(&env, "ex-subcg");
    let v1 = Path::new("/sys/fs/cgroup/memory/cgroup.procs").exists();
    let (flag, dir) = if v1 {
        (
            "memory:sub".to_string(),
            Path::new("/sys/fs/cgroup/memory")
                .join(c.cg.trim_start_matches('/'))
                .join("sub"),
        )
    } else {
        (
            "sub".to_string(),
            Path::new("/sys/fs/cgroup")
                .join(c.cg.trim_start_matches('/'))
                .join("sub"),
        )
    };
    // A sub-cgroup that does not exist (yet): refused, naming the flag.
    let o = env.hull(&["exec", "--cgroup", &flag, &c.id, "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--cgroup"), "{}", stderr(&o));
    let o = env.hull(&["exec", "--cgroup", "../escape", &c.id, "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--cgroup"), "{}", stderr(&o));
    std::fs::create_dir(&dir).unwrap();
    let pidfile = env.tmp.path().join("sub.pid");
    let o = env.hull(&[
        "exec",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        "--cgroup",
        &flag,
        &c.id,
        "sleep",
        "300",
    ]);
    ok(&o, "exec --cgroup");
    let epid = read_pid_file(&pidfile);
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert!(
        procs.lines().any(|l| l == epid.to_string()),
        "{epid} not in {}: {procs}",
        dir.display()
    );
    // delete -f removes the sub-cgroup with the container's cgroup.
    ok(&env.hull(&["delete", "-f", &c.id]), "delete -f");
    assert!(!dir.exists(), "sub-cgroup left behind");
}

#[test]
fn exec_home_from_the_container_passwd_and_no_socket_activation() {
    let _p = CgroupParent;
    let env = Env::new();
    // The container's env has no HOME, so neither has an exec'd process unless -e gives one.
    let c = start(
        &env,
        "ex-home",
        |cfg| cfg["process"]["env"] = json!(["PATH=/bin:/usr/bin"]),
        &["sleep", "600"],
    );
    let home = |args: &[&str]| -> Vec<String> {
        let mut a = vec!["exec"];
        a.extend_from_slice(args);
        a.extend([c.id.as_str(), "env"]);
        let out = ok(&env.hull(&a), "exec env");
        out.lines()
            .filter(|l| l.starts_with("HOME="))
            .map(String::from)
            .collect()
    };
    // The busybox rootfs's /etc/passwd: root → /root, nobody (65534) → /nonexistent; no 1000.
    assert_eq!(home(&[]), ["HOME=/root"]);
    assert_eq!(home(&["-u", "65534:65534"]), ["HOME=/nonexistent"]);
    assert_eq!(home(&["-u", "1000"]), ["HOME=/"]);
    assert_eq!(home(&["-u", "65534", "-e", "HOME="]), ["HOME=/nonexistent"]);
    assert_eq!(home(&["-u", "65534", "-e", "HOME=/set"]), ["HOME=/set"]);

    // runc exec does not forward socket activation (only create/run do): with LISTEN_PID = hull's
    // pid, LISTEN_FDS=1 and fd 3 open, the process sees neither the variables nor fd 3.
    let o = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg("LISTEN_PID=$$ LISTEN_FDS=1 exec \"$0\" \"$@\" 3</dev/null")
        .arg(hull_bin())
        .arg("--root")
        .arg(&env.root)
        .args(["exec", &c.id, "sh", "-c"])
        .arg("env | grep -c ^LISTEN_; ls /proc/self/fd | sort -n | tr '\\n' ' '")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    // grep -c prints 0 and exits 1 when nothing matches; the listing is the last command.
    assert_eq!(stdout(&o), "0\n0 1 2 3 ", "{}", stderr(&o));
}

/// As for the init (environment.rs): `./x` resolves against --cwd.
#[test]
fn exec_relative_executable_resolves_against_the_cwd() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = sleeper(&env, "ex-rel");
    let o = env.hull(&[
        "exec",
        "--cwd",
        "/bin",
        &c.id,
        "./sh",
        "-c",
        "echo rel-ok; pwd",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().collect::<Vec<_>>(), ["rel-ok", "/bin"]);
    let o = env.hull(&["exec", "--cwd", "/", &c.id, "./sh", "-c", "true"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("./sh"), "{}", stderr(&o));
    ok(&env.hull(&["kill", &c.id, "KILL"]), "kill");
    wait_until("init killed", T, || !pid_alive(c.pid));
    ok(&env.hull(&["delete", &c.id]), "delete");
}
