//! The container lifecycle through the `hull` binary, checked from outside and inside.
//! Needs root (as every runtime does).

mod common;
use common::*;
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;

fn ns(pid: i64, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn create_start_state_kill_delete() {
    let env = Env::new();
    let id = env.id("life");
    let out = env.tmp.path().join("out");
    let b = env.bundle(
        "b",
        &config(&["sh", "-c", "echo started $$ $(hostname); exec sleep 60"]),
    );
    let pidfile = env.tmp.path().join("pidfile");
    let f = std::fs::File::create(&out).unwrap();
    let o = env
        .cmd(&[
            "create",
            "-b",
            b.to_str().unwrap(),
            "--pid-file",
            pidfile.to_str().unwrap(),
            &id,
        ])
        .stdout(f)
        .stderr(std::fs::File::create(env.tmp.path().join("create.err")).unwrap())
        .status()
        .unwrap();
    assert!(
        o.success(),
        "create: {}",
        std::fs::read_to_string(env.tmp.path().join("create.err")).unwrap()
    );

    let st = env.state(&id);
    assert_eq!(st["status"], "created");
    assert_eq!(st["id"], id.as_str());
    assert_eq!(st["ociVersion"], "1.2.0");
    assert_eq!(st["bundle"], b.canonicalize().unwrap().to_str().unwrap());
    let pid = st["pid"].as_i64().unwrap();
    assert!(pid > 1 && pid_alive(pid));
    assert_eq!(std::fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    // The user process has not run yet.
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
    // It lives in its own namespaces.
    for kind in ["pid_for_children", "mnt", "uts", "ipc", "net"] {
        let k = if kind == "pid_for_children" {
            "pid"
        } else {
            kind
        };
        assert_ne!(
            ns(pid, k),
            ns(std::process::id() as i64, k),
            "{k} namespace not new"
        );
    }

    let o = env.hull(&["start", &id]);
    assert!(o.status.success(), "start: {}", stderr(&o));
    wait_until("container output", Duration::from_secs(10), || {
        std::fs::read_to_string(&out).unwrap().contains("started")
    });
    // PID 1 in its own pid namespace, with the configured hostname.
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "started 1 hull-test\n"
    );
    assert_eq!(env.status(&id), "running");

    // Wrong-state verbs are refused.
    let o = env.hull(&["start", &id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("running"), "{}", stderr(&o));
    let o = env.hull(&["delete", &id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not stopped"), "{}", stderr(&o));

    let o = env.hull(&["kill", &id, "KILL"]);
    assert!(o.status.success(), "kill: {}", stderr(&o));
    wait_until("container to stop", Duration::from_secs(10), || {
        env.status(&id) == "stopped"
    });
    assert!(!pid_alive(pid));
    let o = env.hull(&["kill", &id, "TERM"]);
    assert!(!o.status.success(), "kill of a stopped container must fail");

    let o = env.hull(&["delete", &id]);
    assert!(o.status.success(), "delete: {}", stderr(&o));
    assert!(!env.root.join(&id).exists(), "state dir left behind");
    let o = env.hull(&["state", &id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
}

#[test]
fn run_returns_exit_code_and_cleans_up() {
    let env = Env::new();
    let id = env.id("exit");
    let b = env.bundle("b", &config(&["sh", "-c", "exit 7"]));
    let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    assert!(!env.root.join(&id).exists());
    let o = env.hull(&["list", "-q"]);
    assert_eq!(stdout(&o), "");
}

#[test]
fn run_reports_128_plus_signal_and_keep() {
    let env = Env::new();
    let id = env.id("sig");
    let b = env.bundle("b", &config(&["sleep", "60"]));
    let child = env
        .cmd(&["run", "--keep", "-b", b.to_str().unwrap(), &id])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("running", Duration::from_secs(10), || {
        env.hull(&["state", &id]).status.success() && env.status(&id) == "running"
    });
    let o = env.hull(&["kill", &id, "9"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = wait_output(child, Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(137), "{}", stderr(&o));
    // --keep leaves the stopped container for inspection.
    assert_eq!(env.status(&id), "stopped");
    assert!(env.hull(&["delete", &id]).status.success());
}

#[test]
fn run_forwards_signals() {
    let env = Env::new();
    let id = env.id("fwd");
    let b = env.bundle(
        "b",
        &config(&[
            "sh",
            "-c",
            "trap 'exit 42' TERM; echo ready; while true; do sleep 0.05; done",
        ]),
    );
    let out = env.tmp.path().join("out");
    let child = env
        .cmd(&["run", "-b", b.to_str().unwrap(), &id])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("ready", Duration::from_secs(10), || {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .contains("ready")
    });
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = wait_output(child, Duration::from_secs(20));
    assert_eq!(o.status.code(), Some(42), "{}", stderr(&o));
}

#[test]
fn run_detached_then_delete_force() {
    let env = Env::new();
    let id = env.id("det");
    let b = env.bundle("b", &config(&["sleep", "60"]));
    let o = env.hull(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let st = env.state(&id);
    assert_eq!(st["status"], "running");
    let pid = st["pid"].as_i64().unwrap();
    let o = env.hull(&["list", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["id"], id.as_str());
    assert_eq!(v[0]["status"], "running");
    let o = env.hull(&["delete", "--force", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!pid_alive(pid), "delete -f left the process alive");
    assert!(!env.root.join(&id).exists());
}

#[test]
fn inside_view_pivot_root_mounts_devices_user() {
    let env = Env::new();
    let id = env.id("view");
    let mut cfg = config(&[
        "sh",
        "-c",
        "test -e /work -o -e /tmp/hull-it-marker && echo HOST-VISIBLE; \
         awk '$5 == \"/\"' /proc/self/mountinfo | wc -l; \
         stat -c '%F %t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
         readlink /dev/fd; readlink /dev/stdin; readlink /dev/ptmx; \
         id -u; id -g; id -G; pwd; echo $FOO; umask; \
         grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status; \
         cat /proc/sys/kernel/hostname; \
         echo x > /proc/sys/kernel/domainname 2>/dev/null || echo sys-ro; \
         cat /proc/keys 2>&1 | wc -c",
    ]);
    cfg["process"]["user"] =
        json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 7], "umask": 63});
    cfg["process"]["cwd"] = json!("/tmp");
    cfg["process"]["env"] = json!(["PATH=/bin", "FOO=bar"]);
    cfg["process"]["noNewPrivileges"] = json!(true);
    cfg["process"]["capabilities"] =
        json!({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]});
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = stdout(&o);
    let lines: Vec<&str> = got.lines().collect();
    assert!(!got.contains("HOST-VISIBLE"), "{got}");
    assert_eq!(lines[0], "1", "exactly one root mount: {got}");
    assert_eq!(
        &lines[1..7],
        &[
            "character special file 1:3 666",
            "character special file 1:5 666",
            "character special file 1:7 666",
            "character special file 1:8 666",
            "character special file 1:9 666",
            "character special file 5:0 666"
        ]
    );
    assert_eq!(
        &lines[7..10],
        &["/proc/self/fd", "/proc/self/fd/0", "pts/ptmx"]
    );
    assert_eq!(&lines[10..13], &["1000", "1001", "1001 5 7"]);
    assert_eq!(lines[13], "/tmp");
    assert_eq!(lines[14], "bar");
    assert_eq!(lines[15], "0077");
    assert_eq!(lines[16], "CapBnd:\t0000000000000020");
    assert_eq!(lines[17], "NoNewPrivs:\t1");
    assert_eq!(lines[18], "hull-test");
    assert_eq!(lines[19], "sys-ro");
    assert_eq!(lines[20], "0", "/proc/keys is masked");
}

#[test]
fn no_pivot_and_readonly_root() {
    let env = Env::new();
    let id = env.id("nopivot");
    let mut cfg = config(&[
        "sh",
        "-c",
        "touch /x 2>/dev/null && echo writable || echo readonly; ls /bin/busybox",
    ]);
    cfg["root"]["readonly"] = json!(true);
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["run", "--no-pivot", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "readonly\n/bin/busybox\n");
}

#[test]
fn join_namespace_by_path() {
    let env = Env::new();
    let a = env.id("nsa");
    let b_id = env.id("nsb");
    let ba = env.bundle("a", &config(&["sleep", "60"]));
    let o = env.hull(&["run", "-d", "-b", ba.to_str().unwrap(), &a]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid = env.state(&a)["pid"].as_i64().unwrap();
    let mut cfg = config(&[
        "sh",
        "-c",
        "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; hostname",
    ]);
    cfg["linux"]["namespaces"] = json!([
        {"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
        {"type": "uts", "path": format!("/proc/{pid}/ns/uts")},
        {"type": "network", "path": format!("/proc/{pid}/ns/net")}
    ]);
    cfg.as_object_mut().unwrap().remove("hostname");
    let bb = env.bundle("b", &cfg);
    let o = env.hull(&["run", "-b", bb.to_str().unwrap(), &b_id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = stdout(&o);
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[0], ns(pid, "net"));
    assert_eq!(lines[1], ns(pid, "uts"));
    assert_eq!(lines[2], "hull-test");
}

#[test]
fn user_namespace_with_mappings() {
    let env = Env::new();
    let id = env.id("userns");
    let mut cfg = config(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u",
    ]);
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(got, vec!["0 100000 65536", "0 100000 65536", "0"]);
}

#[test]
fn hooks_run_in_order_with_state() {
    let env = Env::new();
    let id = env.id("hooks");
    let log = env.tmp.path().join("hooks.log");
    let hook = |name: &str| json!({"path": "/bin/sh", "args": ["sh", "-c", format!("printf '{name} ' >> {0}; cat | grep -o '\"status\":\"[a-z]*\"' >> {0}", log.display())]});
    let mut cfg = config(&["true"]);
    cfg["hooks"] = json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "poststart": [hook("poststart")],
        "poststop": [hook("poststop")]
    });
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        got,
        "prestart \"status\":\"creating\"\ncreateRuntime \"status\":\"creating\"\n\
         poststart \"status\":\"running\"\npoststop \"status\":\"stopped\"\n"
    );
}

#[test]
fn failing_create_runtime_hook_tears_down() {
    let env = Env::new();
    let id = env.id("badhook");
    let mut cfg = config(&["true"]);
    cfg["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("createRuntime[0]"), "{}", stderr(&o));
    assert!(!env.root.join(&id).exists(), "state left behind");
}

#[test]
fn preserve_fds_are_passed() {
    let env = Env::new();
    let id = env.id("fds");
    let b = env.bundle(
        "b",
        &config(&[
            "sh",
            "-c",
            "ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3",
        ]),
    );
    let data = env.tmp.path().join("data");
    std::fs::write(&data, "via-fd-3").unwrap();
    let f = std::fs::File::open(&data).unwrap();
    use std::os::fd::AsRawFd;
    let raw = f.as_raw_fd();
    let mut c = env.cmd(&["run", "--preserve-fds", "1", "-b", b.to_str().unwrap(), &id]);
    use std::os::unix::process::CommandExt;
    // SAFETY: dup2 in the pre-exec child onto fd 3; no allocation.
    unsafe {
        c.pre_exec(move || {
            // dup2 onto 3 clears close-on-exec; if the file already is fd 3, clear it by hand.
            let rc = if raw == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(raw, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // stdio, fd 3, and the fd `ls` itself opens: nothing else leaks in.
    assert_eq!(stdout(&o), "0 1 2 3 4 via-fd-3");
}

#[test]
fn log_file_gets_json_errors() {
    let env = Env::new();
    let id = env.id("log");
    let log = env.tmp.path().join("log.json");
    let o = env.hull(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "create",
        "-b",
        "/nonexistent-bundle",
        &id,
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/nonexistent-bundle"));
    let line = std::fs::read_to_string(&log).unwrap();
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(v["level"], "error");
    assert!(v["msg"].as_str().unwrap().contains("/nonexistent-bundle"));
    assert!(v["time"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn spec_and_features() {
    let env = Env::new();
    let d = env.tmp.path().join("spec");
    std::fs::create_dir(&d).unwrap();
    let o = env.hull(&["spec", "-b", d.to_str().unwrap()]);
    assert!(o.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("config.json")).unwrap()).unwrap();
    assert_eq!(v["process"]["args"], json!(["sh"]));
    assert_eq!(v["root"]["path"], "rootfs");
    let o = env.hull(&["spec", "-b", d.to_str().unwrap()]);
    assert!(!o.status.success(), "spec must not overwrite");
    let o = env.hull(&["features"]);
    let f: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .contains(&json!("user")));
    assert!(f["hooks"]
        .as_array()
        .unwrap()
        .contains(&json!("createRuntime")));
    // Idmapped mounts (bind and fresh filesystems) work: advertised as runc 1.2 does.
    assert_eq!(
        f["linux"]["mountExtensions"]["idmap"]["enabled"],
        json!(true)
    );
    for o in ["idmap", "ridmap"] {
        assert!(
            f["mountOptions"].as_array().unwrap().contains(&json!(o)),
            "{o}"
        );
    }
}

#[test]
fn console_socket_receives_pty_master() {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::Read;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let env = Env::new();
    let id = env.id("console");
    let sock = env.tmp.path().join("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let mut cfg = config(&[
        "sh",
        "-c",
        "tty; stat -c 'console=%t' /dev/console; echo on-the-pty; sleep 60",
    ]);
    cfg["process"]["terminal"] = json!(true);
    let b = env.bundle("b", &cfg);
    let o = env.hull(&[
        "create",
        "--console-socket",
        sock.to_str().unwrap(),
        "-b",
        b.to_str().unwrap(),
        &id,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
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
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            // SAFETY: the fd was just received and is owned here.
            master = Some(unsafe { OwnedFd::from_raw_fd(fds[0]) });
        }
    }
    let master = master.expect("no fd over the console socket");
    assert!(env.hull(&["start", &id]).status.success());
    let mut f = std::fs::File::from(master);
    let mut got = String::new();
    let mut chunk = [0u8; 256];
    while !got.contains("on-the-pty") {
        let n = f.read(&mut chunk).unwrap();
        assert!(n > 0, "pty closed early: {got:?}");
        got.push_str(&String::from_utf8_lossy(&chunk[..n]));
    }
    assert!(got.starts_with("/dev/pts/0"), "{got:?}");
    // /dev/console is the pty too (a unix98 pty slave: major 136 = 0x88).
    assert!(got.contains("console=88"), "{got:?}");
}

#[test]
fn foreground_run_is_the_console() {
    let env = Env::new();
    let id = env.id("fgtty");
    let mut cfg = config(&["sh", "-c", "tty; exit 4"]);
    cfg["process"]["terminal"] = json!(true);
    let b = env.bundle("b", &cfg);
    let cmd = format!(
        "{} --root {} run -b {} {}",
        hull_bin().display(),
        env.root.display(),
        b.display(),
        id
    );
    // `script` gives hull a terminal of its own, as a user's shell would.
    let o = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4), "{}", stdout(&o));
    assert!(stdout(&o).contains("/dev/pts/0"), "{}", stdout(&o));
}

#[test]
fn start_reports_start_container_hook_failure_and_missing_cwd_is_created() {
    let env = Env::new();
    let id = env.id("starthook");
    let mut cfg = config(&["true"]);
    cfg["hooks"] = json!({"startContainer": [{"path": "/bin/false"}]});
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = env.hull(&["start", &id]);
    assert!(
        !o.status.success(),
        "start must fail when a startContainer hook fails"
    );
    assert!(stderr(&o).contains("startContainer[0]"), "{}", stderr(&o));

    let id = env.id("cwd");
    let mut cfg = config(&["pwd"]);
    cfg["process"]["cwd"] = json!("/not/yet/there");
    let b = env.bundle("c", &cfg);
    let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "/not/yet/there\n");
}

#[test]
fn falls_back_to_clone_when_clone3_is_filtered() {
    use std::os::unix::process::CommandExt;
    // What Docker's default profile and valgrind do: clone3 answers ENOSYS.
    let profile: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    }))
    .unwrap();
    let filter = hull_seccomp::compile(&profile).unwrap();
    let env = Env::new();
    let id = env.id("noclone3");
    let mut cfg = config(&[
        "sh",
        "-c",
        "echo pid=$$; grep -vc ':/$' /proc/self/cgroup; true",
    ]);
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "cgroup"}));
    let b = env.bundle("b", &cfg);
    let mut c = env.cmd(&["run", "-b", b.to_str().unwrap(), &id]);
    // SAFETY: install() only makes the seccomp syscall on memory compiled before the fork.
    unsafe {
        c.pre_exec(move || {
            filter
                .install()
                .map(|_| ())
                .map_err(|e| std::io::Error::other(e.to_string()))
        });
    }
    let o = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("pid=1\n"), "{out}");
    // Every hierarchy shows the container at the root of its own cgroup namespace: no line
    // names a path below "/" (the cgroup namespace was made after the cgroup was joined).
    assert_eq!(out.lines().nth(1), Some("0"), "{out}");
}

#[test]
fn overlay_mount_from_config() {
    let env = Env::new();
    let id = env.id("overlay");
    let base = env.tmp.path().join("ov");
    for d in ["lower", "upper", "work"] {
        std::fs::create_dir_all(base.join(d)).unwrap();
    }
    std::fs::write(base.join("lower/from-lower"), "lower-data").unwrap();
    let mut cfg = config(&["sh", "-c", "cat /mnt/from-lower; echo new > /mnt/written; grep ' /mnt ' /proc/self/mountinfo | grep -c overlay"]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt", "type": "overlay", "source": "overlay",
        "options": [
            format!("lowerdir={}", base.join("lower").display()),
            format!("upperdir={}", base.join("upper").display()),
            format!("workdir={}", base.join("work").display())
        ]
    }));
    let b = env.bundle("b", &cfg);
    let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "lower-data1\n");
    // The write went to the upper layer on the host, the lower one is untouched.
    assert_eq!(
        std::fs::read_to_string(base.join("upper/written")).unwrap(),
        "new\n"
    );
    assert!(!base.join("lower/written").exists());
}
