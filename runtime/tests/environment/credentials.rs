//! Credentials, rlimits, uts, id maps, joined user namespaces, rootfs propagation, HOME, socket activation, relative executables.
use super::*;

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
