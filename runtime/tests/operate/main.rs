//! exec, ps, pause/resume, events and update on live containers, checked from inside the
//! container and from the host's /proc and cgroup files.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

/// A cgroup file of the absolute cgroup `cg` on this host's layout (v1 hierarchy or v2).
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

/// Remove the shared parent cgroup of these tests where it is empty (other tests may use it).
struct CgroupParent;
impl Drop for CgroupParent {
    fn drop(&mut self) {
        // Every hierarchy (v1 controllers, name=systemd, the cgroup2 twin) or the v2 root.
        if let Ok(rd) = std::fs::read_dir("/sys/fs/cgroup") {
            for e in rd.flatten() {
                let _ = std::fs::remove_dir(e.path().join("hull-op"));
            }
        }
        let _ = std::fs::remove_dir("/sys/fs/cgroup/hull-op");
    }
}

/// A running container: `args` as init, its own cgroup /hull-op/<id>, stdout into a file.
struct Running {
    id: String,
    cg: String,
    pid: i64,
    out: PathBuf,
}

fn start(env: &Env, name: &str, cfg_edit: impl FnOnce(&mut Value), args: &[&str]) -> Running {
    let id = env.id(name);
    let cg = format!("/hull-op/{id}");
    let mut cfg = config(args);
    cfg["linux"]["cgroupsPath"] = json!(cg);
    cfg_edit(&mut cfg);
    let b = env.bundle(&format!("b-{id}"), &cfg);
    let out = env.tmp.path().join(format!("out-{id}"));
    let err = env.tmp.path().join(format!("err-{id}"));
    let st = env
        .cmd(&["run", "-d", "-b", b.to_str().unwrap(), &id])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    assert!(st.success(), "{}", std::fs::read_to_string(&err).unwrap());
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    Running { id, cg, pid, out }
}

fn sleeper(env: &Env, name: &str) -> Running {
    start(env, name, |_| {}, &["sleep", "600"])
}

fn ns(pid: i64, name: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{name}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn ok(o: &std::process::Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

fn read_pid_file(p: &Path) -> i64 {
    std::fs::read_to_string(p).unwrap().trim().parse().unwrap()
}

mod events_update_tty;

#[test]
fn exec_joins_namespaces_and_cgroup_and_is_listed_and_killed() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = sleeper(&env, "ex-ns");
    let pidfile = env.tmp.path().join("exec.pid");
    let o = env.hull(&[
        "exec",
        "-d",
        "--pid-file",
        pidfile.to_str().unwrap(),
        &c.id,
        "sleep",
        "500",
    ]);
    ok(&o, "exec -d");
    let epid = read_pid_file(&pidfile);
    assert!(pid_alive(epid), "exec'd process {epid} not running");
    for n in ["pid", "mnt", "net", "ipc", "uts"] {
        assert_eq!(ns(epid, n), ns(c.pid, n), "{n} namespace differs");
    }
    assert_ne!(ns(epid, "mnt"), ns(std::process::id() as i64, "mnt"));
    // The host binary is not what runs: the exec'd process is the container's sleep.
    let exe = std::fs::read_link(format!("/proc/{epid}/exe")).unwrap();
    assert!(exe.ends_with("busybox"), "{}", exe.display());
    // It is in the container's cgroup (every hierarchy).
    for ctrl in ["memory", "pids"] {
        let procs = cgroup_file(ctrl, &c.cg, "cgroup.procs", "cgroup.procs");
        let text = std::fs::read_to_string(&procs).unwrap();
        assert!(
            text.lines().any(|l| l == epid.to_string()),
            "{epid} not in {}: {text}",
            procs.display()
        );
    }
    // ps: json lists both pids; the table has the header and the exec'd process's line.
    let js: Vec<i64> = serde_json::from_str(&ok(
        &env.hull(&["ps", "--format", "json", &c.id]),
        "ps json",
    ))
    .unwrap();
    assert!(js.contains(&c.pid) && js.contains(&epid), "{js:?}");
    let table = ok(&env.hull(&["ps", &c.id]), "ps");
    let mut lines = table.lines();
    assert!(lines.next().unwrap().contains("PID"), "{table}");
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(&epid.to_string())),
        "{table}"
    );
    assert!(
        !table
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(&std::process::id().to_string())),
        "the test process must not be listed: {table}"
    );
    let custom = ok(&env.hull(&["ps", &c.id, "-eo", "pid,comm"]), "ps -eo");
    assert!(
        custom.lines().next().unwrap().contains("COMMAND"),
        "{custom}"
    );
    assert_eq!(custom.lines().count(), 3, "{custom}");
    // kill --all reaches the exec'd process too.
    ok(&env.hull(&["kill", "--all", &c.id, "KILL"]), "kill --all");
    wait_until("exec'd process killed", T, || !pid_alive(epid));
    wait_until("init killed", T, || !pid_alive(c.pid));
    ok(&env.hull(&["delete", &c.id]), "delete");
}

#[test]
fn exec_foreground_output_exit_code_user_env_cwd() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = sleeper(&env, "ex-fg");
    let o = env.hull(&[
        "exec",
        "-u",
        "1000:1001",
        "-g",
        "5",
        "-e",
        "FOO=bar baz",
        "-e",
        "HOME=/x",
        "--cwd",
        "/tmp",
        &c.id,
        "sh",
        "-c",
        "id; echo \"foo=$FOO home=$HOME\"; pwd; hostname; exit 7",
    ]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("uid=1000 gid=1001"), "{out}");
    assert!(out.contains("groups=5"), "{out}");
    assert!(out.contains("foo=bar baz home=/x"), "{out}");
    assert!(out.contains("\n/tmp\n"), "{out}");
    assert!(out.contains("hull-test"), "uts namespace: {out}");
    // A process killed by a signal: 128 + signal, as a shell reports it.
    let o = env.hull(&["exec", &c.id, "sh", "-c", "kill -9 $$"]);
    assert_eq!(o.status.code(), Some(137), "{}", stderr(&o));
    // Signals to hull exec reach the process.
    let mut child = env
        .cmd(&[
            "exec",
            &c.id,
            "sh",
            "-c",
            "trap 'exit 42' TERM; while true; do sleep 0.05; done",
        ])
        .spawn()
        .unwrap();
    // Wait for the exec'd shell to appear in the container, then signal hull exec.
    wait_until("exec'd shell", T, || {
        let o = env.hull(&["ps", "--format", "json", &c.id]);
        serde_json::from_slice::<Vec<i64>>(&o.stdout)
            .map(|v| v.len() >= 3)
            .unwrap_or(false)
    });
    // SAFETY: signalling the hull exec child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let st = wait_output_status(&mut child);
    assert_eq!(st.code(), Some(42));
    // The exec'd process gets the container's pid namespace view: pid 1 is the init.
    let o = env.hull(&["exec", &c.id, "cat", "/proc/1/cmdline"]);
    assert!(ok(&o, "cat").starts_with("sleep"), "{}", stdout(&o));
}

/// The two ways hull starts an exec'd process, the CLONE_VM|CLONE_VFORK child (the default where
/// the parent has nothing to do before execve) and the fork-like child (seccomp notify, a time
/// namespace, `--cgroup` on v2; forced here with HULL_NO_VFORK=1), give the same process: same
/// user, capability sets, no_new_privs, cgroups and namespaces; and neither leaves hull's
/// memory changed for what it does after (the exit code and output come through intact).
#[test]
fn exec_vfork_and_fork_children_are_the_same_process() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = sleeper(&env, "ex-vf");
    let script =
        "id; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status; \
                  cat /proc/self/cgroup; for n in pid mnt net ipc uts cgroup; do \
                  readlink /proc/self/ns/$n; done; exit 3";
    let run = |no_vfork: bool| {
        let mut cmd = env.cmd(&["exec", "-u", "1000:1000", &c.id, "sh", "-c", script]);
        if no_vfork {
            cmd.env("HULL_NO_VFORK", "1");
        }
        let o = cmd.output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(3),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let vforked = run(false);
    let forked = run(true);
    assert!(vforked.contains("uid=1000 gid=1000"), "{vforked}");
    assert!(vforked.contains("CapBnd:"), "{vforked}");
    assert!(
        vforked.contains(&c.cg),
        "not in the container's cgroup: {vforked}"
    );
    assert_eq!(
        vforked, forked,
        "the vfork child and the fork-like child differ"
    );
    ok(&env.hull(&["kill", &c.id, "KILL"]), "kill");
    wait_until("init killed", T, || !pid_alive(c.pid));
    ok(&env.hull(&["delete", &c.id]), "delete");
}

fn wait_output_status(child: &mut std::process::Child) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if start.elapsed() > T {
            let _ = child.kill();
            panic!("hull exec did not exit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn cap_eff(out: &str) -> u64 {
    let l = out
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .unwrap_or_else(|| panic!("{out}"));
    u64::from_str_radix(l.split_whitespace().nth(1).unwrap(), 16).unwrap()
}

#[test]
fn exec_capabilities_nnp_and_process_file() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = start(
        &env,
        "ex-caps",
        |cfg| {
            cfg["process"]["capabilities"] = json!({
                "bounding": ["CAP_CHOWN", "CAP_KILL"],
                "effective": ["CAP_CHOWN", "CAP_KILL"],
                "permitted": ["CAP_CHOWN", "CAP_KILL"]
            });
        },
        &["sleep", "600"],
    );
    let o = env.hull(&["exec", &c.id, "cat", "/proc/self/status"]);
    let st = ok(&o, "exec status");
    let chown_kill: u64 = 1 | (1 << 5); // CAP_CHOWN (0), CAP_KILL (5)
    assert_eq!(cap_eff(&st), chown_kill, "{st}");
    assert!(st.contains("NoNewPrivs:\t0"), "{st}");
    let o = env.hull(&[
        "exec",
        "--cap",
        "CAP_NET_ADMIN",
        "--no-new-privs",
        &c.id,
        "cat",
        "/proc/self/status",
    ]);
    let st = ok(&o, "exec --cap");
    assert_eq!(cap_eff(&st), chown_kill | (1 << 12), "{st}");
    assert!(st.contains("NoNewPrivs:\t1"), "{st}");
    // --process replaces the whole process.
    let pf = env.tmp.path().join("process.json");
    std::fs::write(
        &pf,
        serde_json::to_vec(&json!({
            "args": ["sh", "-c", "echo $P; id -u; pwd"],
            "env": ["PATH=/bin", "P=from-file"],
            "cwd": "/etc",
            "user": {"uid": 33, "gid": 33}
        }))
        .unwrap(),
    )
    .unwrap();
    let o = env.hull(&["exec", "-p", pf.to_str().unwrap(), &c.id]);
    assert_eq!(ok(&o, "exec -p"), "from-file\n33\n/etc\n");
    // execCPUAffinity.final pins the process once it is in the container's cgroup.
    std::fs::write(
        &pf,
        serde_json::to_vec(&json!({
            "args": ["grep", "Cpus_allowed_list", "/proc/self/status"],
            "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "execCPUAffinity": {"final": "0"}
        }))
        .unwrap(),
    )
    .unwrap();
    let o = env.hull(&["exec", "-p", pf.to_str().unwrap(), &c.id]);
    assert_eq!(
        ok(&o, "exec -p affinity").split_whitespace().last(),
        Some("0")
    );
    // No AppArmor on this host: a profile is refused, as runc does.
    if !Path::new("/sys/module/apparmor/parameters/enabled").exists() {
        let o = env.hull(&["exec", "--apparmor", "unconfined", &c.id, "true"]);
        assert!(!o.status.success());
        assert!(stderr(&o).contains("apparmorProfile"), "{}", stderr(&o));
    }
    // Without capabilities in process.json: none are granted beyond what the user has.
    let st = ok(
        &env.hull(&["exec", "-u", "33", &c.id, "cat", "/proc/self/status"]),
        "exec -u 33",
    );
    assert_eq!(cap_eff(&st), 0, "{st}");
}

#[test]
fn exec_bad_input_is_refused_clearly() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = sleeper(&env, "ex-bad");
    let o = env.hull(&["exec", &c.id, "no-such-binary"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("executable file not found"),
        "{}",
        stderr(&o)
    );
    let o = env.hull(&["exec", "--cwd", "/no/such/dir", &c.id, "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/no/such/dir"), "{}", stderr(&o));
    let o = env.hull(&["exec", "-u", "nobody", &c.id, "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--user"), "{}", stderr(&o));
    let o = env.hull(&["exec", &c.id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("command is required"), "{}", stderr(&o));
    let o = env.hull(&["exec", "no-such-container", "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("does not exist"), "{}", stderr(&o));
    // Only the init remains: nothing was left running by the failures.
    let js: Vec<i64> =
        serde_json::from_str(&ok(&env.hull(&["ps", "-f", "json", &c.id]), "ps")).unwrap();
    assert_eq!(js, vec![c.pid]);
    // A stopped container.
    let d = start(&env, "ex-stopped", |_| {}, &["true"]);
    wait_until("container stops", T, || env.status(&d.id) == "stopped");
    let o = env.hull(&["exec", &d.id, "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("stopped"), "{}", stderr(&o));
}

fn out_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = start(
        &env,
        "pause",
        |_| {},
        &["sh", "-c", "while true; do echo tick; sleep 0.02; done"],
    );
    wait_until("output", T, || out_len(&c.out) > 0);
    ok(&env.hull(&["pause", &c.id]), "pause");
    assert_eq!(env.status(&c.id), "paused");
    let freezer = cgroup_file("freezer", &c.cg, "freezer.state", "cgroup.freeze");
    let f = std::fs::read_to_string(&freezer).unwrap();
    assert!(f.trim() == "FROZEN" || f.trim() == "1", "{f}");
    let n = out_len(&c.out);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(out_len(&c.out), n, "a paused container kept writing");
    // Pausing twice, exec without --ignore-paused: clear errors, still paused.
    let o = env.hull(&["pause", &c.id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("paused"), "{}", stderr(&o));
    let o = env.hull(&["exec", &c.id, "true"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--ignore-paused"), "{}", stderr(&o));
    assert_eq!(env.status(&c.id), "paused");
    ok(&env.hull(&["resume", &c.id]), "resume");
    assert_eq!(env.status(&c.id), "running");
    wait_until("output grows again", T, || out_len(&c.out) > n);
    let o = env.hull(&["resume", &c.id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not paused"), "{}", stderr(&o));
    // Another signal to a paused container (even --all) leaves it paused.
    ok(&env.hull(&["pause", &c.id]), "pause again");
    ok(
        &env.hull(&["kill", "--all", &c.id, "USR2"]),
        "kill --all paused",
    );
    let f = std::fs::read_to_string(&freezer).unwrap();
    assert!(
        f.trim() == "FROZEN" || f.trim() == "1",
        "thawed by kill: {f}"
    );
    assert_eq!(env.status(&c.id), "paused");
    // SIGKILL reaches a paused container (runc thaws it for SIGKILL).
    ok(&env.hull(&["kill", &c.id, "KILL"]), "kill paused");
    wait_until("paused container killed", T, || !pid_alive(c.pid));
    assert_eq!(env.status(&c.id), "stopped");
    ok(&env.hull(&["delete", &c.id]), "delete");
    // A stopped container cannot be paused.
    let o = env.hull(&["pause", &c.id]);
    assert!(!o.status.success());
}

#[test]
fn delete_force_removes_a_paused_container() {
    let _p = CgroupParent;
    let env = Env::new();
    let c = sleeper(&env, "pause-del");
    ok(&env.hull(&["pause", &c.id]), "pause");
    let o = env.hull(&["delete", "-f", &c.id]);
    ok(&o, "delete -f");
    assert!(!pid_alive(c.pid));
    assert!(
        !cgroup_file("freezer", &c.cg, "freezer.state", "cgroup.freeze")
            .parent()
            .unwrap()
            .exists()
    );
}

#[test]
fn kill_all_of_a_stopped_container_signals_leftovers_and_succeeds() {
    // containerd's CRI sends `kill --all ID 9` on every container exit and needs success (runc's
    // answer); a plain `kill` of a stopped container stays an error.
    let _p = CgroupParent;
    let env = Env::new();
    let c = start(
        &env,
        "kill-stopped",
        |cfg| {
            // no pid namespace of its own: a background child outlives the init
            let ns = cfg["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "pid");
        },
        &["sh", "-c", "sleep 600 & exit 0"],
    );
    let t = std::time::Instant::now();
    while env.state(&c.id)["status"] != "stopped" {
        assert!(t.elapsed().as_secs() < 10, "init did not exit");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let cg_procs = cgroup_file("pids", &c.cg, "cgroup.procs", "cgroup.procs");
    let left = std::fs::read_to_string(&cg_procs).unwrap();
    assert!(
        !left.trim().is_empty(),
        "the background sleep is left in {cg_procs:?}"
    );
    let o = env.hull(&["kill", &c.id, "KILL"]);
    assert!(
        !o.status.success(),
        "plain kill of a stopped container must fail"
    );
    assert!(stderr(&o).contains("not running"), "{}", stderr(&o));
    ok(
        &env.hull(&["kill", "--all", &c.id, "KILL"]),
        "kill --all stopped",
    );
    let t = std::time::Instant::now();
    while !std::fs::read_to_string(&cg_procs)
        .unwrap()
        .trim()
        .is_empty()
    {
        assert!(t.elapsed().as_secs() < 10, "leftover not killed: {left}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    ok(
        &env.hull(&["kill", "--all", &c.id, "KILL"]),
        "kill --all with nothing left",
    );
    ok(&env.hull(&["delete", &c.id]), "delete");
}
