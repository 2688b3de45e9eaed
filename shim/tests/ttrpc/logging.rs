//! binary:// logging URIs.
use super::*;
use crate::task::exec_spec;

// ---- binary:// logging ----

/// A logging binary per containerd's contract: records argv and env, copies fd 3 and fd 4 to
/// files, signals ready by closing fd 5, writes `done` after EOF on both.
fn logger_script(dir: &Path) -> PathBuf {
    let p = dir.join("logger.sh");
    let d = dir.display();
    fs::write(
        &p,
        format!(
            "#!/bin/sh\n\
             for a in \"$@\"; do echo \"[$a]\"; done > {d}/log.args\n\
             echo \"CONTAINER_ID=$CONTAINER_ID\" > {d}/log.env\n\
             echo \"CONTAINER_NAMESPACE=$CONTAINER_NAMESPACE\" >> {d}/log.env\n\
             echo \"TTRPC_ADDRESS=$TTRPC_ADDRESS\" >> {d}/log.env\n\
             export PATH=/usr/bin:/bin\n\
             exec 5>&-\n\
             cat <&3 > {d}/log.stdout &\n\
             cat <&4 > {d}/log.stderr\n\
             wait\n\
             touch {d}/log.done\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    p
}

#[test]
fn binary_log_uri_runs_the_logger_with_the_containers_output() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(
        hull,
        rootfs,
        &["sh", "-c", "echo out-line; echo err-line >&2; exit 4"],
    );
    let logger = logger_script(fx.dir.path());
    let uri = format!("binary://{}?tag=t%201&flag", logger.display());
    let mut req = fx.create_req(Path::new(""));
    req.stdout = uri.clone();
    req.stderr = uri;
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &req).unwrap();
    // Ready (fd 5 closed) before Create returned: the script wrote its argv first.
    let d = fx.dir.path();
    assert_eq!(
        fs::read_to_string(d.join("log.args")).unwrap(),
        "[tag]\n[t 1]\n[flag]\n[]\n"
    );
    fx.start();
    assert_eq!(fx.wait("").exit_status, 4);
    // EOF reaches the logger when the container exits: the shim holds no write end.
    wait_for("the logger to see EOF", || d.join("log.done").exists());
    assert_eq!(
        fs::read_to_string(d.join("log.stdout")).unwrap(),
        "out-line\n"
    );
    assert_eq!(
        fs::read_to_string(d.join("log.stderr")).unwrap(),
        "err-line\n"
    );
    assert_eq!(
        fs::read_to_string(d.join("log.env")).unwrap(),
        format!(
            "CONTAINER_ID={}\nCONTAINER_NAMESPACE=hulltest\nTTRPC_ADDRESS=\n",
            fx.id
        ),
        "only the documented environment"
    );
    fx.delete("");
}

#[test]
fn binary_log_uri_errors_name_the_field() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["true"]);
    let logger = logger_script(fx.dir.path());
    let cases = [
        (
            "binary:///nonexistent/logger".to_string(),
            String::new(),
            "stdout: logging binary /nonexistent/logger: not found",
        ),
        (
            "binary://relative/logger".to_string(),
            String::new(),
            "absolute path",
        ),
        (
            format!("binary://{}", logger.display()),
            fx.dir.path().join("err.log").display().to_string(),
            "stderr: ",
        ),
    ];
    for (stdout, stderr, want) in cases {
        let mut req = fx.create_req(Path::new(""));
        req.stdout = stdout;
        req.stderr = stderr;
        let e = call::<_, api::CreateTaskResponse>(fx.c(), "Create", &req).unwrap_err();
        assert!(format!("{e:?}").contains(want), "{want}: {e:?}");
        assert!(!fx.rootfs_mounted());
        assert!(!fx.root().join(&fx.id).exists());
    }
    assert!(
        !fx.dir.path().join("log.args").exists(),
        "no logger was started"
    );
}

/// An exec process's logger is told the exec id (as containerd's runc shim sets CONTAINER_ID),
/// and with a terminal the pty's output reaches fd 3.
#[test]
fn binary_log_uri_for_exec_processes_with_and_without_terminal() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["sleep", "1000"]);
    fx.connect_create_start();
    let logger = logger_script(fx.dir.path());
    let d = fx.dir.path().to_path_buf();
    for (exec_id, terminal, script, want) in [
        ("e-log", false, "echo from-exec", "from-exec\n"),
        ("e-tty", true, "tty", "/dev/pts/"),
    ] {
        let _ = fs::remove_file(d.join("log.done"));
        let mut spec = exec_spec(&["sh", "-c", script]);
        if terminal {
            let mut v: serde_json::Value = serde_json::from_slice(&spec.value).unwrap();
            v["terminal"] = serde_json::json!(true);
            spec.value = serde_json::to_vec(&v).unwrap();
        }
        let mut ex = api::ExecProcessRequest::new();
        ex.id = fx.id.clone();
        ex.exec_id = exec_id.into();
        ex.terminal = terminal;
        ex.stdout = format!("binary://{}", logger.display());
        ex.stderr = ex.stdout.clone();
        ex.spec = MessageField::some(spec);
        let _: api::Empty = call(fx.c(), "Exec", &ex).unwrap();
        let mut es = api::StartRequest::new();
        es.id = fx.id.clone();
        es.exec_id = exec_id.into();
        let _: api::StartResponse = call(fx.c(), "Start", &es).unwrap();
        assert_eq!(fx.wait(exec_id).exit_status, 0, "{exec_id}");
        fx.delete(exec_id);
        wait_for("the exec's logger to finish", || {
            d.join("log.done").exists()
        });
        let out = fs::read_to_string(d.join("log.stdout")).unwrap();
        assert!(out.starts_with(want), "{exec_id}: {out:?}");
        assert_eq!(fs::read_to_string(d.join("log.stderr")).unwrap(), "");
        assert!(
            fs::read_to_string(d.join("log.env"))
                .unwrap()
                .starts_with(&format!("CONTAINER_ID={exec_id}\n")),
            "{exec_id}"
        );
    }
    let mut k = api::KillRequest::new();
    k.id = fx.id.clone();
    k.signal = 9;
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    assert_eq!(fx.wait("").exit_status, 137);
    fx.delete("");
}
