//! Hooks: namespace and moment of each, failures, execCPUAffinity.
use super::*;

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
