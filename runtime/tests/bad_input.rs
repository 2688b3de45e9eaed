//! Bad input: a clear error that names the field or path, non-zero exit, nothing left behind.

mod common;
use common::*;
use serde_json::json;

/// Run `create` and check it fails with `needle` in the message, leaving no state and no process.
fn refused(env: &Env, id: &str, bundle: &str, needle: &str) {
    let before = std::fs::read_dir(&env.root).map(|r| r.count()).unwrap_or(0);
    let o = env.hull(&["create", "-b", bundle, id]);
    assert!(!o.status.success(), "create {id} should fail");
    let err = stderr(&o);
    assert!(
        err.contains(needle),
        "error {err:?} should mention {needle:?}"
    );
    let after = std::fs::read_dir(&env.root).map(|r| r.count()).unwrap_or(0);
    assert_eq!(before, after, "state left behind for {id}");
    let l = env.hull(&["list", "-q"]);
    assert!(!stdout(&l).contains(id));
}

#[test]
fn bad_ids() {
    let env = Env::new();
    let b = env.bundle("b", &config(&["true"]));
    let b = b.to_str().unwrap();
    for bad in ["a/b", "..", "a b"] {
        refused(&env, bad, b, "invalid container id");
    }
    let o = env.hull(&["create", "-b", b, ""]);
    assert!(!o.status.success());
    assert!(!env.root.join("a").exists());
}

#[test]
fn duplicate_id() {
    let env = Env::new();
    let id = env.id("dup");
    let b = env.bundle("b", &config(&["sleep", "60"]));
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let pid = env.state(&id)["pid"].as_i64().unwrap();
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    // The first container is untouched.
    assert_eq!(env.state(&id)["pid"].as_i64().unwrap(), pid);
    assert!(pid_alive(pid));
}

#[test]
fn missing_bundle_config_and_rootfs() {
    let env = Env::new();
    refused(
        &env,
        &env.id("x"),
        "/nonexistent/bundle",
        "/nonexistent/bundle",
    );
    let empty = env.tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    refused(&env, &env.id("x"), empty.to_str().unwrap(), "config.json");
    let mut cfg = config(&["true"]);
    cfg["root"]["path"] = json!("no-such-rootfs");
    let b = env.bundle("norootfs", &cfg);
    refused(&env, &env.id("x"), b.to_str().unwrap(), "no-such-rootfs");
}

#[test]
fn malformed_configs_name_the_field() {
    let env = Env::new();
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "badns",
            Box::new(|c| c["linux"]["namespaces"][0]["type"] = json!("bogus")),
            "linux.namespaces[0].type",
        ),
        (
            "noargs",
            Box::new(|c| c["process"]["args"] = json!([])),
            "process.args",
        ),
        (
            "relcwd",
            Box::new(|c| c["process"]["cwd"] = json!("tmp")),
            "process.cwd",
        ),
        (
            "reldest",
            Box::new(|c| c["mounts"][0]["destination"] = json!("proc")),
            "mounts[0].destination",
        ),
        (
            "dupns",
            Box::new(|c| {
                c["linux"]["namespaces"] =
                    json!([{"type": "pid"}, {"type": "pid"}, {"type": "mount"}])
            }),
            "duplicate",
        ),
        (
            "sysctl",
            Box::new(|c| c["linux"]["sysctl"] = json!({"vm.swappiness": "1"})),
            "linux.sysctl",
        ),
        (
            "devtype",
            Box::new(|c| {
                c["linux"]["devices"] =
                    json!([{"path": "/dev/x", "type": "q", "major": 1, "minor": 1}])
            }),
            "linux.devices[0]",
        ),
        (
            "badmount",
            Box::new(
                |c| c["mounts"] = json!([{"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["bogusopt=1"]}]),
            ),
            "mounts[0] /x",
        ),
        (
            "nsPath",
            Box::new(
                |c| c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}, {"type": "uts"}, {"type": "network", "path": "/nonexistent/ns"}]),
            ),
            "/nonexistent/ns",
        ),
        (
            "noexec",
            Box::new(|c| c["process"]["args"] = json!(["no-such-binary"])),
            "executable file not found",
        ),
        (
            "rlimit",
            Box::new(|c| {
                c["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "hard": 1u64 << 40, "soft": 1024}])
            }),
            "RLIMIT_NOFILE",
        ),
    ];
    for (name, f, needle) in cases {
        let mut cfg = config(&["true"]);
        f(&mut cfg);
        let b = env.bundle(name, &cfg);
        refused(&env, &env.id(name), b.to_str().unwrap(), needle);
    }
    let b = env.tmp.path().join("syntax");
    std::fs::create_dir(&b).unwrap();
    std::os::unix::fs::symlink(rootfs(), b.join("rootfs")).unwrap();
    std::fs::write(b.join("config.json"), "{\"ociVersion\": ").unwrap();
    refused(&env, &env.id("syntax"), b.to_str().unwrap(), "config.json");
}

#[test]
fn verbs_on_unknown_container() {
    let env = Env::new();
    for verb in [vec!["start"], vec!["state"], vec!["kill"], vec!["delete"]] {
        let mut args = verb.clone();
        args.push("no-such-container");
        let o = env.hull(&args);
        assert!(!o.status.success(), "{verb:?}");
        assert!(
            stderr(&o).contains("does not exist"),
            "{verb:?}: {}",
            stderr(&o)
        );
    }
    // delete --force of a missing container is not an error (as runc).
    assert!(env
        .hull(&["delete", "-f", "no-such-container"])
        .status
        .success());
    let o = env.hull(&["kill", "x", "SIGNOPE"]);
    assert!(stderr(&o).contains("SIGNOPE"));
}

#[test]
fn command_line_mistakes_exit_2_naming_the_flag_and_leave_nothing() {
    let env = Env::new();
    let b = env.bundle("b", &config(&["true"]));
    let b = b.to_str().unwrap();
    let id = env.id("cli");
    let cases: [(Vec<&str>, &str); 6] = [
        (
            vec!["create", "-b", b, "--no-such-flag", &id],
            "--no-such-flag",
        ),
        (vec!["create", "-b", b, "-Z", &id], "-Z"),
        (vec!["create", "-b", b], "<container-id>"),
        (vec!["create", "-b", b, &id, "extra"], "\"extra\""),
        (
            vec!["--log-format", "xml", "create", "-b", b, &id],
            "--log-format",
        ),
        (vec!["crate", "-b", b, &id], "\"crate\""),
    ];
    for (args, needle) in cases {
        let o = env.hull(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        let left = std::fs::read_dir(&env.root).map(|r| r.count()).unwrap_or(0);
        assert_eq!(left, 0, "{args:?} left state behind");
    }
    // Help and version go to stdout with status 0.
    let o = env.hull(&["--version"]);
    assert!(o.status.success() && stdout(&o).starts_with("hull version "));
    let o = env.hull(&["create", "--help"]);
    assert!(o.status.success() && stdout(&o).contains("--pid-file"));
}

/// The init prepares its rootfs while the parent still puts it in its cgroups: an init that fails
/// there may exit before it reads SetupDone. Its own error must still be the one reported (not
/// the broken pipe or connection reset that its exit causes), every time, with nothing left.
#[test]
fn init_errors_during_cgroup_setup_are_reported_every_time() {
    let env = Env::new();
    let mut cfg = config(&["true"]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt", "type": "bind", "source": "/nonexistent-hull-race", "options": ["bind"]
    }));
    let b = env.bundle("b", &cfg);
    for i in 0..20 {
        refused(
            &env,
            &env.id(&format!("race{i}")),
            b.to_str().unwrap(),
            "/nonexistent-hull-race",
        );
    }
}

/// A caller that closes hull's stdio (a daemon's child, `hull ... <&- >&- 2>&-`): hull reopens
/// fds 0-2 on /dev/null first (as Rust's own start-up did before hull took its place), so none
/// of its files takes a stdio number and the container inherits /dev/null, not a closed fd or
/// one of hull's files. The container reports what its fds 1 and 2 are through a bind mount.
#[test]
fn closed_stdio_becomes_dev_null() {
    let env = Env::new();
    let id = env.id("closedio");
    let d = env.tmp.path().join("report");
    std::fs::create_dir_all(&d).unwrap();
    let cfg = with_mounts(
        config(&[
            "sh",
            "-c",
            // A process started before any redirection shows the fds the container got (the
            // shell moves its own around for redirections; stdin of `&` is /dev/null by rule).
            "sleep 10 & p=$!; for n in 1 2; do readlink /proc/$p/fd/$n || echo closed; done > /r/fds; kill $p",
        ]),
        json!([{"destination": "/r", "type": "bind", "source": d, "options": ["bind"]}]),
    );
    let b = env.bundle("b", &cfg);
    let o = std::process::Command::new("sh")
        .args([
            "-c",
            "exec \"$0\" --root \"$1\" run -b \"$2\" \"$3\" <&- >&- 2>&-",
        ])
        .arg(hull_bin())
        .arg(&env.root)
        .arg(&b)
        .arg(&id)
        .output()
        .unwrap();
    assert!(o.status.success(), "run with stdio closed: {:?}", o.status);
    let fds = std::fs::read_to_string(d.join("fds")).unwrap();
    assert_eq!(
        fds, "/dev/null\n/dev/null\n",
        "the container's stdout and stderr"
    );
    let l = env.hull(&["list", "-q"]);
    assert!(!stdout(&l).contains(&id), "run left {id} behind");
}
