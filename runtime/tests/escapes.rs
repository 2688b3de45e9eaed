//! Container escapes, one test per class (see SECURITY.md): each drives the runtime as a black box
//! through its CLI (HULL_BIN may name another runtime, e.g. /usr/sbin/runc, to compare) and
//! asserts what an attacker in the container or the image would observe. Needs root.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn sh(cmd: &str) -> Value {
    config(&["sh", "-c", cmd])
}

/// Docker's default capability set: no CAP_SYS_PTRACE, no CAP_SYS_ADMIN.
fn default_caps(mut cfg: Value) -> Value {
    let caps = json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
    ]);
    cfg["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    cfg
}

fn with_mounts(mut cfg: Value, extra: Value) -> Value {
    let m = cfg["mounts"].as_array_mut().unwrap();
    m.extend(extra.as_array().unwrap().iter().cloned());
    cfg
}

fn sha256(p: &Path) -> String {
    let o = Command::new("sha256sum").arg(p).output().unwrap();
    assert!(o.status.success());
    stdout(&o).split(' ').next().unwrap().to_string()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A host directory the container sees at /out (its results land there).
fn out_dir(env: &Env, name: &str) -> PathBuf {
    let d = env.tmp.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn out_mount(d: &Path) -> Value {
    json!([{"destination": "/out", "type": "bind", "source": d, "options": ["rbind"]}])
}

// ------------------------------------------------------------ CVE-2019-5736: /proc/PID/exe

/// The attacker, as the container's init: until /out/stop appears, every process that appears in the
/// container's pid namespace has its /proc/PID/exe opened (read), and while that fd is held the
/// shell keeps trying to reopen it for writing through /proc/self/fd/3 — the host runtime binary,
/// once the runtime process has exited (ETXTBSY before). Reports GOT/WROTE lines to /out/log.
fn exe_attacker() -> String {
    r#"echo ready > /out/ready
while [ ! -e /out/stop ]; do
  for d in /proc/[0-9]*; do p=${d#/proc/}
    [ "$p" = 1 ] && continue; [ "$p" = "$$" ] && continue
    { echo "GOT $p $(readlink $d/exe)" >> /out/log; j=0
      while [ $j -lt 100 ]; do
        if echo PWNED >> /proc/self/fd/3; then echo "WROTE $p" >> /out/log; break; fi
        j=$((j+1)); usleep 20000
      done; } 3< $d/exe 2>/dev/null
  done
done; echo finished >> /out/log"#
        .to_string()
}

fn stop_attacker(out: &Path) {
    std::fs::write(out.join("stop"), "").unwrap();
    wait_until("attacker done", Duration::from_secs(30), || {
        read(&out.join("log")).contains("finished")
    });
}

/// A private copy of the runtime binary: the file the attack aims at (never the build output).
fn runtime_copy(env: &Env) -> PathBuf {
    let p = env.tmp.path().join("runtime-copy");
    std::fs::copy(hull_bin(), &p).unwrap();
    p
}

fn run_with(bin: &Path, env: &Env, args: &[&str]) -> std::process::Output {
    // stderr through a file: a detached container inherits it and would hold a pipe open.
    let err = env
        .tmp
        .path()
        .join(format!(".bin-err-{}", std::process::id()));
    let child = Command::new(bin)
        .arg("--root")
        .arg(&env.root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut o = wait_output(child, Duration::from_secs(60));
    o.stderr = std::fs::read(&err).unwrap_or_default();
    o
}

fn exe_overwrite_through_exec(caps_default: bool) {
    let env = Env::new();
    let bin = runtime_copy(&env);
    let before = sha256(&bin);
    let out = out_dir(&env, "out");
    let mut cfg = with_mounts(sh(&exe_attacker()), out_mount(&out));
    if caps_default {
        cfg = default_caps(cfg);
    }
    let id = env.id("exe");
    let b = env.bundle("b", &cfg);
    let o = run_with(&bin, &env, &["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "run: {}", stderr(&o));
    wait_until("attacker ready", Duration::from_secs(10), || {
        out.join("ready").exists()
    });
    // The window is short (clone to execve of each exec'd process): many rounds, stopping
    // early once the attacker got through.
    for _ in 0..40 {
        let o = run_with(&bin, &env, &["exec", "-d", &id, "sleep", "0.5"]);
        assert!(o.status.success(), "exec: {}", stderr(&o));
        let o = run_with(&bin, &env, &["exec", &id, "true"]);
        assert!(o.status.success(), "exec: {}", stderr(&o));
        if read(&out.join("log")).contains("GOT") {
            std::thread::sleep(Duration::from_secs(3));
            break;
        }
    }
    stop_attacker(&out);
    let log = read(&out.join("log"));
    assert!(
        !log.contains("WROTE"),
        "the runtime binary was written:\n{log}"
    );
    assert_eq!(sha256(&bin), before, "the runtime binary changed:\n{log}");
    // A hull process in the container was never seen as the host binary.
    let host = bin.to_string_lossy().to_string();
    assert!(
        !log.lines().any(|l| l.ends_with(&host)),
        "/proc/PID/exe of a runtime process was opened from the container:\n{log}"
    );
}

#[test]
fn exe_overwrite_through_exec_default_caps() {
    exe_overwrite_through_exec(true);
}

/// CAP_SYS_PTRACE in the host user namespace passes the ptrace check on a non-dumpable process:
/// only a runtime that never shows the host binary as /proc/PID/exe survives this one.
#[test]
fn exe_overwrite_through_exec_with_cap_sys_ptrace() {
    exe_overwrite_through_exec(false);
}

/// The init of a second container, created into the attacker's pid namespace, is visible there
/// from create until start.
#[test]
fn exe_overwrite_through_create_and_start() {
    let env = Env::new();
    let bin = runtime_copy(&env);
    let before = sha256(&bin);
    let out = out_dir(&env, "out");
    let cfg = with_mounts(sh(&exe_attacker()), out_mount(&out));
    let a = env.id("exe-a");
    let b = env.bundle("a", &cfg);
    let o = run_with(&bin, &env, &["run", "-d", "-b", b.to_str().unwrap(), &a]);
    assert!(o.status.success(), "run: {}", stderr(&o));
    wait_until("attacker ready", Duration::from_secs(10), || {
        out.join("ready").exists()
    });
    let pid = env.state(&a)["pid"].as_i64().unwrap();
    let mut cfg2 = config(&["true"]);
    cfg2.as_object_mut().unwrap().remove("hostname");
    cfg2["linux"]["namespaces"] = json!([
        {"type": "pid", "path": format!("/proc/{pid}/ns/pid")},
        {"type": "mount"}
    ]);
    for i in 0..3 {
        let id = env.id("exe-b");
        let bb = env.bundle(&format!("b{i}"), &cfg2);
        let o = run_with(&bin, &env, &["create", "-b", bb.to_str().unwrap(), &id]);
        assert!(o.status.success(), "create: {}", stderr(&o));
        std::thread::sleep(Duration::from_millis(1500));
        let o = run_with(&bin, &env, &["start", &id]);
        assert!(o.status.success(), "start: {}", stderr(&o));
        let _ = run_with(&bin, &env, &["delete", "-f", &id]);
        if read(&out.join("log")).contains("GOT") {
            std::thread::sleep(Duration::from_secs(3));
            break;
        }
    }
    stop_attacker(&out);
    let log = read(&out.join("log"));
    assert!(
        log.contains("GOT") || !log.is_empty(),
        "attacker log: {log}"
    );
    assert!(
        !log.contains("WROTE"),
        "the runtime binary was written:\n{log}"
    );
    assert_eq!(sha256(&bin), before, "the runtime binary changed:\n{log}");
    let host = bin.to_string_lossy().to_string();
    assert!(
        !log.lines().any(|l| l.ends_with(&host)),
        "/proc/PID/exe of a runtime process was opened from the container:\n{log}"
    );
}

// ------------------------------------------- CVE-2024-21626: leaked fds and cwd /proc/self/fd/N

/// Run the runtime with fd 7 (a host file) and fd 8 (a host directory) leaked to it without
/// CLOEXEC, as an engine that leaks fds would.
fn run_leaking(env: &Env, args: &[String], file: &Path, dir: &Path) -> std::process::Output {
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg("exec 7< \"$1\" 8< \"$2\"; shift 2; exec \"$@\"")
        .arg("sh")
        .arg(file)
        .arg(dir)
        .arg(hull_bin())
        .arg("--root")
        .arg(&env.root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    wait_output(c.spawn().unwrap(), Duration::from_secs(30))
}

fn fds_of(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out.split_whitespace().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Only stdio (0 1 2) and the preserved fds reach the container's processes. Listed from a
/// child (`ls`), so the listing's own fd is not counted.
fn no_fd_leak(seccomp: Option<Value>) {
    let env = Env::new();
    let host = out_dir(&env, "hostdir");
    std::fs::write(host.join("f"), "host\n").unwrap();
    let mut cfg = sh("ls /proc/1/fd; sleep 30");
    if let Some(sc) = seccomp {
        cfg["linux"]["seccomp"] = sc;
        cfg["process"]["noNewPrivileges"] = json!(false);
    }
    let id = env.id("fds");
    let b = env.bundle("b", &cfg);
    let log = env.tmp.path().join("init.out");
    let args: Vec<String> = vec![
        "run".into(),
        "-d".into(),
        "-b".into(),
        b.to_string_lossy().into(),
        id.clone(),
    ];
    // The init's stdout is a file, so its listing can be read after `run -d` returned.
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg("exec 7< \"$1\" 8< \"$2\" > \"$3\"; shift 3; exec \"$@\"")
        .arg("sh")
        .arg(host.join("f"))
        .arg(&host)
        .arg(&log)
        .arg(hull_bin())
        .arg("--root")
        .arg(&env.root)
        .args(&args)
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(env.tmp.path().join("run.err")).unwrap());
    let o = wait_output(c.spawn().unwrap(), Duration::from_secs(30));
    let err = read(&env.tmp.path().join("run.err"));
    assert!(o.status.success(), "run: {err}");
    wait_until("init listing", Duration::from_secs(10), || {
        !read(&log).is_empty()
    });
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        fds_of(&read(&log)),
        ["0", "1", "2"],
        "fds of the container init"
    );
    // An exec'd process, started by a runtime that leaks the same fds.
    let o = run_leaking(
        &env,
        &[
            "exec".into(),
            id.clone(),
            "sh".into(),
            "-c".into(),
            "ls /proc/$$/fd; true".into(),
        ],
        &host.join("f"),
        &host,
    );
    assert!(o.status.success(), "exec: {}", stderr(&o));
    // `ls` runs as a child of this sh, the fds listed are the sh's.
    assert_eq!(
        fds_of(&stdout(&o)),
        ["0", "1", "2"],
        "fds of the exec'd process"
    );
    // --preserve-fds 5 keeps 3..7: the leaked 7 stays, 8 does not.
    let o = run_leaking(
        &env,
        &[
            "exec".into(),
            "--preserve-fds".into(),
            "5".into(),
            id.clone(),
            "sh".into(),
            "-c".into(),
            "ls /proc/$$/fd; true".into(),
        ],
        &host.join("f"),
        &host,
    );
    assert!(o.status.success(), "exec --preserve-fds: {}", stderr(&o));
    assert_eq!(
        fds_of(&stdout(&o)),
        ["0", "1", "2", "7"],
        "fds with --preserve-fds 5 (3..7 kept, of which only 7 is open; 8 closed)"
    );
}

#[test]
fn no_fd_leaks_into_the_container() {
    no_fd_leak(None);
}

/// close_range fails (a seccomp profile answers ENOSYS, as on a kernel without it, and is
/// installed before the fd step without noNewPrivileges): the fallback must close them anyway.
#[test]
fn no_fd_leaks_without_close_range() {
    no_fd_leak(Some(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    })));
}

/// A check the container runs from its cwd: climbing `..` must stay in the container's root, so
/// the host marker (a file in this test's temp dir) is never found.
fn cwd_probe(marker: &Path) -> String {
    format!(
        "cd ../../../../../../../../..; if [ -e .{m} ]; then echo ESCAPED; else echo inside; fi",
        m = marker.display()
    )
}

#[test]
fn cwd_through_a_leaked_fd_never_reaches_the_host() {
    let env = Env::new();
    let host = out_dir(&env, "hostdir");
    let marker = host.join("marker");
    std::fs::write(&marker, "host\n").unwrap();
    for n in 3..=12 {
        let mut cfg = sh(&cwd_probe(&marker));
        cfg["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        let id = env.id("cwd");
        let b = env.bundle(&format!("b{n}"), &cfg);
        let o = run_leaking(
            &env,
            &[
                "run".into(),
                "-b".into(),
                b.to_string_lossy().into(),
                id.clone(),
            ],
            &marker,
            &host,
        );
        let out = stdout(&o);
        assert!(
            !out.contains("ESCAPED"),
            "process.cwd /proc/self/fd/{n} reached the host:\n{out}"
        );
        if !o.status.success() {
            assert!(
                stderr(&o).contains("cwd"),
                "fd {n}: the error should name the cwd: {}",
                stderr(&o)
            );
        }
    }
    // `exec --cwd /proc/self/fd/N` in a running container.
    let id = env.id("cwd-exec");
    let b = env.bundle("bexec", &config(&["sleep", "30"]));
    let o = env.hull(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    for n in 3..=12 {
        let fd = format!("/proc/self/fd/{n}");
        let o = run_leaking(
            &env,
            &[
                "exec".into(),
                "--cwd".into(),
                fd,
                id.clone(),
                "sh".into(),
                "-c".into(),
                cwd_probe(&marker),
            ],
            &marker,
            &host,
        );
        let out = stdout(&o);
        assert!(
            !out.contains("ESCAPED"),
            "exec --cwd /proc/self/fd/{n} reached the host:\n{out}"
        );
        if !o.status.success() {
            assert!(stderr(&o).contains("cwd"), "fd {n}: {}", stderr(&o));
        }
    }
}

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

// ------------------------------------------------------------- IDs, paths, the state dir

#[test]
fn bad_ids_build_no_path() {
    let env = Env::new();
    let b = env.bundle("b", &config(&["true"]));
    let b = b.to_str().unwrap();
    let long = "a".repeat(1025);
    let escape = format!("../{}", "escaped");
    for bad in [
        "a/b", "..", ".", "", " ", "a b", "x\ny", &escape, "/abs", &long,
    ] {
        let o = env.hull(&["create", "-b", b, bad]);
        assert!(!o.status.success(), "id {bad:?} accepted");
        assert!(
            stderr(&o).contains("container id") || stderr(&o).contains("ID"),
            "id {bad:?}: {}",
            stderr(&o)
        );
        for verb in [
            &["state", bad][..],
            &["delete", "-f", bad],
            &["kill", bad, "KILL"],
            &["start", bad],
        ] {
            let o = env.hull(verb);
            assert!(!o.status.success(), "{verb:?} accepted");
        }
    }
    assert!(
        !env.tmp.path().join("escaped").exists(),
        "state dir created outside --root"
    );
    let n = std::fs::read_dir(&env.root).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "something was created under --root");
}

#[test]
fn bundle_paths_are_checked() {
    let env = Env::new();
    let f = env.tmp.path().join("a-file");
    std::fs::write(&f, "x").unwrap();
    // The rootfs is a symlink to nowhere.
    let dangling = env.tmp.path().join("dangling");
    std::fs::create_dir_all(&dangling).unwrap();
    std::fs::write(
        dangling.join("config.json"),
        serde_json::to_vec(&config(&["true"])).unwrap(),
    )
    .unwrap();
    std::os::unix::fs::symlink("/nonexistent-hull-rootfs", dangling.join("rootfs")).unwrap();
    for (bundle, needle) in [
        (f.to_str().unwrap(), "a-file"),
        ("/nonexistent-hull-bundle", "/nonexistent-hull-bundle"),
        (dangling.to_str().unwrap(), "rootfs"),
    ] {
        let id = env.id("bundle");
        let o = env.hull(&["create", "-b", bundle, &id]);
        assert!(!o.status.success(), "bundle {bundle} accepted");
        assert!(
            stderr(&o).contains(needle),
            "bundle {bundle}: {}",
            stderr(&o)
        );
        assert!(!env.root.join(&id).exists(), "state left for {bundle}");
    }
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn state_dir_is_root_only() {
    let env = Env::new();
    let id = env.id("perm");
    let b = env.bundle("b", &config(&["sleep", "30"]));
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&env.root), 0o700, "--root");
    let dir = env.root.join(&id);
    assert_eq!(mode(&dir), 0o700, "container dir");
    assert_eq!(mode(&dir.join("state.json")), 0o600, "state.json");
    use std::os::unix::fs::MetadataExt;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let md = e.metadata().unwrap();
        assert_eq!(md.uid(), 0, "{:?} not owned by root", e.path());
        if e.file_name() == "exec.fifo" {
            // Writable by the container's user (as runc: the init, after its user switch,
            // reopens it through its fd); no one else can reach it through the 0700 dir.
            assert_eq!(md.mode() & 0o7777, 0o622, "exec.fifo");
            continue;
        }
        assert_eq!(
            md.mode() & 0o007,
            0,
            "{:?} is open to others: {:o}",
            e.path(),
            md.mode()
        );
    }
    let o = env.hull(&["start", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&dir), 0o700, "container dir after start");
    assert_eq!(
        mode(&dir.join("state.json")),
        0o600,
        "state.json after start"
    );
}
