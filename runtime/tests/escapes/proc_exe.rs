//! CVE-2019-5736: overwriting the runtime binary through /proc/PID/exe.
use super::*;

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
