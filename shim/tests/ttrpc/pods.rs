//! Pods: one shim serving a sandbox and its containers; the start protocols and -info.
use super::*;

// ---------------------------------------------------------------- pods: one shim, many containers

fn state_of(c: &ttrpc::Client, id: &str) -> ttrpc::Result<api::StateResponse> {
    let mut r = api::StateRequest::new();
    r.id = id.into();
    call(c, "State", &r)
}

fn wait_of(c: &ttrpc::Client, id: &str) -> api::WaitResponse {
    let mut w = api::WaitRequest::new();
    w.id = id.into();
    call(c, "Wait", &w).unwrap()
}

fn delete_of(c: &ttrpc::Client, id: &str) -> api::DeleteResponse {
    let mut d = api::DeleteRequest::new();
    d.id = id.into();
    call(c, "Delete", &d).unwrap()
}

fn shutdown(c: &ttrpc::Client, id: &str) {
    let mut sd = api::ShutdownRequest::new();
    sd.id = id.into();
    let _: api::Empty = call(c, "Shutdown", &sd).unwrap();
}

fn is_gone_or_zombie(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(true)
}

fn parent_of(pid: u32) -> u32 {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    s.rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

fn not_found(r: ttrpc::Result<impl std::fmt::Debug>) -> bool {
    matches!(r, Err(ttrpc::Error::RpcStatus(ref s)) if s.code() == ttrpc::Code::NOT_FOUND)
}

#[test]
fn one_shim_serves_a_pod_and_each_exit_reaches_its_wait() {
    let (hull, rootfs) = require!();
    let fx = Fixture::pod_sandbox(hull, rootfs, &["sleep", "1000"]);
    let shim_pid = fx.connect_create_start();
    let sandbox_pid = state_of(fx.c(), &fx.id).unwrap().pid;

    // Two containers of the pod: `start` hands out the sandbox's shim, no new shim process.
    let (app, app_b) = fx.pod_member("app", &["sh", "-c", "sleep 0.5; exit 4"]);
    let (web, web_b) = fx.pod_member("web", &["sleep", "1000"]);
    for (id, b) in [(&app, &app_b), (&web, &web_b)] {
        let out = fx.shim_cmd_for("start", id, b).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            fx.address,
            "same shim"
        );
        assert_eq!(fs::read_to_string(b.join("address")).unwrap(), fx.address);
        let log = fx.dir.path().join(format!("{id}.log"));
        let req = fx.create_req_for(id, b, &log);
        let mut req = req;
        req.stdout = format!("file://{}", log.display());
        let _: api::CreateTaskResponse = call(fx.c(), "Create", &req).unwrap();
        let mut st = api::StartRequest::new();
        st.id = id.clone();
        // containerd 2 calls the v3 service: same handlers.
        let _: api::StartResponse =
            call_service(fx.c(), "containerd.task.v3.Task", "Start", &st).unwrap();
    }
    let web_pid = state_of(fx.c(), &web).unwrap().pid;
    assert_ne!(web_pid, sandbox_pid);
    for pid in [sandbox_pid, web_pid] {
        assert_eq!(
            parent_of(pid),
            shim_pid,
            "pid {pid} is a child of the one shim"
        );
    }
    // Every container is named by its own id; an unknown one is NotFound.
    assert!(not_found(state_of(fx.c(), "no-such-container")));
    let mut k = api::KillRequest::new();
    k.id = "no-such-container".into();
    k.signal = 9;
    assert!(not_found(call::<_, api::Empty>(fx.c(), "Kill", &k)));

    // app's exit reaches app's Wait; the others run on.
    assert_eq!(wait_of(fx.c(), &app).exit_status, 4);
    assert_eq!(
        state_of(fx.c(), &web).unwrap().status.enum_value(),
        Ok(Status::RUNNING)
    );
    assert_eq!(
        state_of(fx.c(), &fx.id).unwrap().status.enum_value(),
        Ok(Status::RUNNING)
    );
    // A Wait on web, pending while web is killed: gets web's 137, and the sandbox still runs.
    let c2 = fx.c().clone();
    let web2 = web.clone();
    let waiter = std::thread::spawn(move || wait_of(&c2, &web2).exit_status);
    std::thread::sleep(Duration::from_millis(100));
    k.id = web.clone();
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    assert_eq!(waiter.join().unwrap(), 137);
    assert_eq!(
        state_of(fx.c(), &fx.id).unwrap().status.enum_value(),
        Ok(Status::RUNNING)
    );
    assert_eq!(
        state_of(fx.c(), &app).unwrap().exit_status,
        4,
        "app's exit kept"
    );

    // Delete + Shutdown of each container: the shim stays while the pod has containers.
    for id in [&app, &web] {
        delete_of(fx.c(), id);
        assert!(not_found(state_of(fx.c(), id)), "{id} deleted");
        assert!(
            !fx.root().join(id).exists(),
            "runtime state of {id} removed"
        );
        shutdown(fx.c(), id);
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !is_gone_or_zombie(shim_pid),
            "shim stays after {id}'s Shutdown"
        );
        assert!(fx.socket_path().exists());
    }
    assert!(!is_gone_or_zombie(sandbox_pid), "sandbox untouched");
    k.id = fx.id.clone();
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    assert_eq!(fx.wait("").exit_status, 137);
    fx.delete("");
    shutdown(fx.c(), &fx.id);
    wait_for("the pod's shim to exit after the last Delete", || {
        is_gone_or_zombie(shim_pid)
    });
    assert!(!fx.socket_path().exists(), "socket removed");
    assert!(
        !fx.root().exists(),
        "runtime root removed with the last container"
    );
}

#[test]
fn a_container_of_a_pod_whose_shim_died_is_refused_and_nothing_is_left() {
    let (hull, rootfs) = require!();
    let fx = Fixture::pod_sandbox(hull, rootfs, &["sleep", "1000"]);
    let shim_pid = fx.connect_create_start();
    // The pod's shim dies (its socket file stays behind).
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim_pid as i32),
        nix::sys::signal::SIGKILL,
    )
    .unwrap();
    wait_for("the shim to die", || is_gone_or_zombie(shim_pid));
    let (app, app_b) = fx.pod_member("app", &["true"]);
    let out = fx.shim_cmd_for("start", &app, &app_b).output().unwrap();
    assert!(!out.status.success(), "start must fail");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("pod sandbox") && err.contains(&fx.id) && err.contains("does not answer"),
        "error names the sandbox and why: {err}"
    );
    assert!(out.stdout.is_empty(), "no address printed");
    assert!(!app_b.join("address").exists(), "no address file");
    assert!(
        std::os::unix::net::UnixStream::connect(fx.socket_path()).is_err(),
        "no shim started in the dead one's place"
    );

    // A container naming a sandbox that never had a shim: the same, and no socket appears.
    let (orphan, orphan_b) = fx.pod_member("orphan", &["true"]);
    let mut cfg: serde_json::Value =
        serde_json::from_slice(&fs::read(orphan_b.join("config.json")).unwrap()).unwrap();
    cfg["annotations"][SANDBOX_ID] = serde_json::json!("never-created-sandbox");
    fs::write(
        orphan_b.join("config.json"),
        serde_json::to_vec(&cfg).unwrap(),
    )
    .unwrap();
    let out = fx
        .shim_cmd_for("start", &orphan, &orphan_b)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("never-created-sandbox") && err.contains("no socket"),
        "{err}"
    );
    let socks: Vec<_> = fs::read_dir(fx.dir.path().join("s")).unwrap().collect();
    assert_eq!(socks.len(), 1, "only the dead sandbox's socket: {socks:?}");
}

fn output_with_stdin(mut c: Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn start_answers_in_the_protocol_containerd_asked_in() {
    use containerd_shim_protos::bootstrap_api::{BootstrapParams, BootstrapResult};
    let (hull, rootfs) = require!();
    // containerd 1.6 (above, in Fixture::new): the bare address. 1.7–2.2: MAX_SHIM_VERSION.
    let fx = Fixture::new(hull, rootfs, &["true"]);
    let mut c = fx.shim_cmd("start");
    c.env("MAX_SHIM_VERSION", "2");
    let out = output_with_stdin(c, b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"version": 2, "address": fx.address, "protocol": "ttrpc"})
    );

    // containerd 2.3: BootstrapParams on stdin, with the socket directory it wants.
    let dir = fx.dir.path().join("sockets");
    let mut p = BootstrapParams::new();
    p.instance_id = fx.id.clone();
    p.namespace = "hulltest".into();
    p.containerd_version = "v2.3.4".into();
    p.socket_dir = Some(dir.to_string_lossy().into_owned());
    let mut c = fx.shim_cmd("start");
    c.env("MAX_SHIM_VERSION", "2");
    let out = output_with_stdin(c, &p.write_to_bytes().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = BootstrapResult::parse_from_bytes(&out.stdout).unwrap();
    assert_eq!((r.version, r.protocol.as_str()), (3, "ttrpc"));
    let sock = r.address.strip_prefix("unix://").unwrap();
    assert_eq!(
        Path::new(sock).parent(),
        Some(dir.as_path()),
        "in socket_dir"
    );
    assert_eq!(
        fs::read_to_string(fx.bundle().join("address")).unwrap(),
        r.address
    );
    // A second shim there (other directory, other socket): it answers v3, and an empty shim's
    // Shutdown makes it exit.
    let c3 = ttrpc::Client::connect(&r.address).unwrap();
    let mut cr = api::ConnectRequest::new();
    cr.id = fx.id.clone();
    let pid =
        call_service::<_, api::ConnectResponse>(&c3, "containerd.task.v3.Task", "Connect", &cr)
            .unwrap()
            .shim_pid;
    let mut sd = api::ShutdownRequest::new();
    sd.id = fx.id.clone();
    let _: api::Empty = call_service(&c3, "containerd.task.v3.Task", "Shutdown", &sd).unwrap();
    wait_for("the second shim to exit", || is_gone_or_zombie(pid));
    assert!(!Path::new(sock).exists());
}

#[test]
fn info_flag_prints_runtime_info_with_the_runtime_features() {
    use containerd_shim_protos::types::introspection::RuntimeInfo;
    let (hull, _) = require!();
    let mut opts = Any::new();
    opts.type_url = "containerd.runc.v1.Options".into();
    opts.value = runc_options(&hull, Path::new("/tmp/unused")).value;
    let mut c = Command::new(SHIM);
    c.arg("-info");
    let out = output_with_stdin(c, &opts.write_to_bytes().unwrap());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = RuntimeInfo::parse_from_bytes(&out.stdout).unwrap();
    assert_eq!(info.name, "io.containerd.hull.v2");
    assert!(!info.version.version.is_empty());
    assert_eq!(
        info.options.type_url, "containerd.runc.v1.Options",
        "options echoed"
    );
    assert_eq!(
        info.features.type_url,
        "types.containerd.io/opencontainers/runtime-spec/1/features/Features"
    );
    let features: serde_json::Value = serde_json::from_slice(&info.features.value).unwrap();
    let own: serde_json::Value =
        serde_json::from_slice(&Command::new(&hull).arg("features").output().unwrap().stdout)
            .unwrap();
    assert_eq!(features, own, "the runtime's own `features` document");

    // A runtime binary that does not exist: a clear error, non-zero exit.
    opts.value = runc_options(Path::new("/nonexistent/hull"), Path::new("/tmp/x")).value;
    let mut c = Command::new(SHIM);
    c.arg("-info");
    let out = output_with_stdin(c, &opts.write_to_bytes().unwrap());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BinaryName"));
}
