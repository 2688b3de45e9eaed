//! One container through the task API: lifecycle, kill, bad options, bootstrap delete, exec, tty, stdin, events, concurrency of calls, the listening socket.
use super::*;

#[test]
fn lifecycle_stdout_exit_code_and_event_order() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["sh", "-c", "echo hello-from-shim; exit 3"]);
    let fifo = fx.dir.path().join("stdout");
    let reader = mkfifo_reader(&fifo);

    let created: api::CreateTaskResponse = call(fx.c(), "Create", &fx.create_req(&fifo)).unwrap();
    assert!(created.pid > 0);
    assert!(
        fx.rootfs_mounted(),
        "rootfs bind-mounted onto bundle/rootfs"
    );
    let mut sreq = api::StateRequest::new();
    sreq.id = fx.id.clone();
    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::CREATED));
    assert_eq!(st.pid, created.pid);

    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        blocking(reader).read_to_string(&mut s).unwrap();
        s
    });
    let started = fx.start();
    assert_eq!(started.pid, created.pid);

    let waited = fx.wait("");
    assert_eq!(waited.exit_status, 3);
    assert!(waited.exited_at.seconds > 0);
    assert_eq!(reader.join().unwrap(), "hello-from-shim\n");

    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::STOPPED));
    assert_eq!(st.exit_status, 3);

    let deleted = fx.delete("");
    assert_eq!(deleted.exit_status, 3);
    assert_eq!(deleted.pid, created.pid);
    assert!(!fx.rootfs_mounted(), "rootfs unmounted by Delete");
    assert!(!fx.root().join(&fx.id).exists(), "runtime state removed");

    wait_for("four events", || fx.events().len() >= 4);
    let ev = fx.events();
    let topics: Vec<&str> = ev.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        topics,
        [
            "/tasks/create",
            "/tasks/start",
            "/tasks/exit",
            "/tasks/delete"
        ],
        "{ev:?}"
    );
    for l in &ev {
        let f: Vec<&str> = l.split(' ').collect();
        assert_eq!(f[1], "hulltest", "namespace passed to the publisher: {l}");
        assert!(
            f[2].trim().parse::<u32>().unwrap() > 0,
            "event body on stdin: {l}"
        );
    }

    let mut sd = api::ShutdownRequest::new();
    sd.id = fx.id.clone();
    let _: api::Empty = call(fx.c(), "Shutdown", &sd).unwrap();
    wait_for("the shim to remove its socket and exit", || {
        !fx.socket_path().exists()
    });
}

#[test]
fn kill_reports_128_plus_signal() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["sleep", "1000"]);
    let out = fx.dir.path().join("out.log");
    let mut req = fx.create_req(&out);
    req.stdout = format!("file://{}", out.display());
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &req).unwrap();
    fx.start();

    let mut preq = api::PidsRequest::new();
    preq.id = fx.id.clone();
    let pids: api::PidsResponse = call(fx.c(), "Pids", &preq).unwrap();
    assert!(!pids.processes.is_empty());

    let mut k = api::KillRequest::new();
    k.id = fx.id.clone();
    k.signal = 9;
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    let waited = fx.wait("");
    assert_eq!(waited.exit_status, 137);
    // A second kill of a finished process is NotFound, as containerd expects.
    let e = call::<_, api::Empty>(fx.c(), "Kill", &k).unwrap_err();
    assert!(format!("{e:?}").contains("already finished"), "{e:?}");
    let d = fx.delete("");
    assert_eq!(d.exit_status, 137);
}

#[test]
fn bad_options_are_rejected_and_leave_nothing_behind() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["true"]);
    let mut req = fx.create_req(Path::new(""));
    let mut a = Any::new();
    a.type_url = "example.Bogus".into();
    req.options = MessageField::some(a);
    let e = call::<_, api::CreateTaskResponse>(fx.c(), "Create", &req).unwrap_err();
    let msg = format!("{e:?}");
    assert!(
        msg.contains("options") && msg.contains("example.Bogus"),
        "{msg}"
    );
    assert!(!fx.rootfs_mounted());

    let mut req = fx.create_req(Path::new(""));
    req.options = MessageField::some(runc_options(Path::new("/nonexistent/hull"), &fx.root()));
    let e = call::<_, api::CreateTaskResponse>(fx.c(), "Create", &req).unwrap_err();
    assert!(format!("{e:?}").contains("BinaryName"), "{e:?}");
    assert!(!fx.rootfs_mounted());

    // The runtime refuses the bundle: its error comes back, and the mount and root are undone.
    let cfg_path = fx.bundle().join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["args"] = serde_json::json!(["/no/such/binary"]);
    fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let e = call::<_, api::CreateTaskResponse>(fx.c(), "Create", &fx.create_req(Path::new("")))
        .unwrap_err();
    assert!(format!("{e:?}").contains("/no/such/binary"), "{e:?}");
    assert!(!fx.rootfs_mounted());
    assert!(
        !fx.root().exists(),
        "runtime root removed after a failed Create"
    );

    // Nothing was created, so there is nothing to checkpoint.
    let mut ck = api::CheckpointTaskRequest::new();
    ck.id = fx.id.clone();
    let e = call::<_, api::Empty>(fx.c(), "Checkpoint", &ck).unwrap_err();
    assert!(format!("{e:?}").contains("NOT_FOUND"), "{e:?}");
}

#[test]
fn bootstrap_delete_prints_a_delete_response() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["sleep", "1000"]);
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &fx.create_req(Path::new(""))).unwrap();
    assert!(fx.root().join(&fx.id).exists());
    // The shim "crashed": containerd runs `SHIM ... -bundle B delete`.
    let out = fx.shim_cmd("delete").output().unwrap();
    let r = delete_response(&out);
    assert_eq!(r.exit_status, 137);
    assert!(r.exited_at.seconds > 0);
    assert!(
        !fx.root().join(&fx.id).exists(),
        "container deleted from the runtime"
    );
    assert!(!fx.root().exists(), "empty runtime root removed");
    assert!(!fx.rootfs_mounted());
}

#[test]
fn version_flag() {
    let out = Command::new(SHIM).arg("-v").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains(env!("CARGO_PKG_VERSION")));
    let out = Command::new(SHIM)
        .args(["-id", "x", "start"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("-namespace"));
}

pub(crate) fn exec_spec(args: &[&str]) -> Any {
    let spec = serde_json::json!({
        "args": args, "cwd": "/", "terminal": false, "user": {"uid": 0, "gid": 0},
        "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
    });
    let mut a = Any::new();
    a.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process".into();
    a.value = serde_json::to_vec(&spec).unwrap();
    a
}

#[test]
fn exec_pause_resume_stats_pids() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["/bin/sleep", "1000"]);
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &fx.create_req(Path::new(""))).unwrap();
    let init = fx.start();

    // Exec: output through its own fifo, its own exit code.
    let fifo = fx.dir.path().join("exec-out");
    let reader = mkfifo_reader(&fifo);
    let mut ex = api::ExecProcessRequest::new();
    ex.id = fx.id.clone();
    ex.exec_id = "e1".into();
    ex.stdout = fifo.to_string_lossy().into_owned();
    ex.spec = MessageField::some(exec_spec(&["sh", "-c", "echo exec-out; exit 5"]));
    let _: api::Empty = call(fx.c(), "Exec", &ex).unwrap();
    let mut es = api::StartRequest::new();
    es.id = fx.id.clone();
    es.exec_id = "e1".into();
    let started = call::<_, api::StartResponse>(fx.c(), "Start", &es);
    if let Err(e) = &started {
        let m = format!("{e:?}");
        if m.contains("not supported") {
            hull_testutil::skip(format!("this hull binary has no exec yet: {m}"));
            return;
        }
    }
    let started = started.unwrap();
    assert!(started.pid > 0 && started.pid != init.pid);
    let waited = fx.wait("e1");
    assert_eq!(waited.exit_status, 5);
    let mut out = String::new();
    blocking(reader).read_to_string(&mut out).unwrap();
    assert_eq!(out, "exec-out\n");
    let del = fx.delete("e1");
    assert_eq!(del.exit_status, 5);

    // Pause/Resume show in State.
    let mut sreq = api::StateRequest::new();
    sreq.id = fx.id.clone();
    let mut p = api::PauseRequest::new();
    p.id = fx.id.clone();
    let _: api::Empty = call(fx.c(), "Pause", &p).unwrap();
    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::PAUSED));
    let mut r = api::ResumeRequest::new();
    r.id = fx.id.clone();
    let _: api::Empty = call(fx.c(), "Resume", &r).unwrap();
    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::RUNNING));

    // Pids from the runtime's ps include the init process.
    let mut preq = api::PidsRequest::new();
    preq.id = fx.id.clone();
    let pids: api::PidsResponse = call(fx.c(), "Pids", &preq).unwrap();
    assert!(
        pids.processes.iter().any(|p| p.pid == init.pid),
        "{:?}",
        pids.processes
    );

    // Stats: containerd's cgroup metrics type for this host, with the container's memory in it.
    let mut sr = api::StatsRequest::new();
    sr.id = fx.id.clone();
    let stats: api::StatsResponse = call(fx.c(), "Stats", &sr).unwrap();
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        assert_eq!(stats.stats.type_url, "io.containerd.cgroups.v2.Metrics");
    } else {
        assert_eq!(stats.stats.type_url, "io.containerd.cgroups.v1.Metrics");
        let m =
            containerd_shim_protos::cgroups::metrics::Metrics::parse_from_bytes(&stats.stats.value)
                .unwrap();
        assert!(m.memory.usage.usage > 0 || m.pids.current > 0, "{m:?}");
    }

    let mut k = api::KillRequest::new();
    k.id = fx.id.clone();
    k.signal = 9;
    k.all = true;
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    assert_eq!(fx.wait("").exit_status, 137);
    fx.delete("");

    wait_for("nine events", || fx.events().len() >= 9);
    let topics: Vec<String> = fx
        .events()
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        topics,
        [
            "/tasks/create",
            "/tasks/start",
            "/tasks/exec-added",
            "/tasks/exec-started",
            "/tasks/exit",
            "/tasks/paused",
            "/tasks/resumed",
            "/tasks/exit",
            "/tasks/delete"
        ],
    );
}

#[test]
fn terminal_through_the_console_socket() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["sh", "-c", "stty size; tty"]);
    let cfg_path = fx.bundle().join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["terminal"] = serde_json::json!(true);
    fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let fifo = fx.dir.path().join("tty-out");
    let reader = mkfifo_reader(&fifo);
    let mut req = fx.create_req(&fifo);
    req.terminal = true;
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &req).unwrap();
    let mut rs = api::ResizePtyRequest::new();
    rs.id = fx.id.clone();
    rs.width = 100;
    rs.height = 40;
    let _: api::Empty = call(fx.c(), "ResizePty", &rs).unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = blocking(reader).read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    fx.start();
    assert_eq!(fx.wait("").exit_status, 0);
    fx.delete("");
    // Delete drops the shim's copy of the fifo; the console thread ends when the pty hangs up.
    let out = reader.join().unwrap();
    assert!(
        out.contains("40 100"),
        "window size set by ResizePty: {out:?}"
    );
    assert!(out.contains("/dev/pts/"), "a pty: {out:?}");
}

#[test]
fn stdin_through_the_shim_and_close_io() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["sh", "-c", "cat; echo stdin-closed"]);
    let out = fx.dir.path().join("out");
    let reader = mkfifo_reader(&out);
    let inp = fx.dir.path().join("in");
    nix::unistd::mkfifo(&inp, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let mut req = fx.create_req(&out);
    req.stdin = inp.to_string_lossy().into_owned();
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &req).unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        blocking(reader).read_to_string(&mut s).unwrap();
        s
    });
    // The client keeps its write end open: only CloseIO can end the container's input.
    let mut writer = fs::OpenOptions::new().write(true).open(&inp).unwrap();
    std::io::Write::write_all(&mut writer, b"ping\n").unwrap();
    fx.start();
    let mut sreq = api::StateRequest::new();
    sreq.id = fx.id.clone();
    // Still running while stdin is open (cat waits for more).
    std::thread::sleep(Duration::from_millis(300));
    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::RUNNING));
    let mut ci = api::CloseIORequest::new();
    ci.id = fx.id.clone();
    ci.stdin = true;
    let _: api::Empty = call(fx.c(), "CloseIO", &ci).unwrap();
    assert_eq!(fx.wait("").exit_status, 0);
    assert_eq!(reader.join().unwrap(), "ping\nstdin-closed\n");
    drop(writer);
}

/// containerd's side of `Events.Forward`, recording "topic namespace type_url" per event.
struct FakeEvents(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl containerd_shim_protos::Events for FakeEvents {
    fn forward(
        &self,
        _: &ttrpc::TtrpcContext,
        req: containerd_shim_protos::shim::events::ForwardRequest,
    ) -> ttrpc::Result<containerd_shim_protos::protobuf::well_known_types::empty::Empty> {
        let env = req.envelope.unwrap_or_default();
        let ty = env
            .event
            .as_ref()
            .map(|a| a.type_url.clone())
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push(format!("{} {} {ty}", env.topic, env.namespace));
        Ok(Default::default())
    }
}

#[test]
fn events_forwarded_over_ttrpc_and_shutdown_replies_then_exits() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["sh", "-c", "exit 4"]);
    // A fake containerd ttrpc endpoint where the shim's TTRPC_ADDRESS points.
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let svc = std::sync::Arc::new(FakeEvents(got.clone()));
    let addr = fx.dir.path().join("containerd.sock.ttrpc");
    let mut server = ttrpc::Server::new()
        .bind(&format!("unix://{}", addr.display()))
        .unwrap()
        .register_service(containerd_shim_protos::create_events(svc));
    server.start().unwrap();

    let shim_pid = fx.connect_create_start();
    let waited = fx.wait("");
    assert_eq!(waited.exit_status, 4);
    fx.delete("");

    wait_for("four forwarded events", || got.lock().unwrap().len() >= 4);
    assert_eq!(
        *got.lock().unwrap(),
        [
            "/tasks/create hulltest containerd.events.TaskCreate",
            "/tasks/start hulltest containerd.events.TaskStart",
            "/tasks/exit hulltest containerd.events.TaskExit",
            "/tasks/delete hulltest containerd.events.TaskDelete",
        ]
    );
    assert!(
        fx.events().is_empty(),
        "publish binary not used while Forward works: {:?}",
        fx.events()
    );

    // Shutdown: the reply reaches the client, then the shim process goes.
    let mut sd = api::ShutdownRequest::new();
    sd.id = fx.id.clone();
    let r: ttrpc::Result<api::Empty> = call(fx.c(), "Shutdown", &sd);
    assert!(r.is_ok(), "Shutdown reply: {r:?}");
    let proc_dir = PathBuf::from(format!("/proc/{shim_pid}"));
    wait_for("the shim process to exit", || {
        // Gone, or a zombie not yet reaped by its new parent.
        fs::read_to_string(proc_dir.join("stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true)
    });
    assert!(!fx.socket_path().exists(), "socket removed");
    server.shutdown();
}

fn thread_names(pid: u32) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_pending_wait_does_not_block_other_calls_on_the_connection() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["sleep", "1000"]);
    let shim_pid = fx.connect_create_start();
    // Idle with one client connection and no stdin: these threads only ("oom" watches the
    // containers' cgroups from the first Create on).
    assert_eq!(
        thread_names(shim_pid),
        ["containerd-shim", "oom", "reaper", "ttrpc-conn", "worker"],
        "threads of the idle shim"
    );

    // Wait on the same connection (the ttrpc client multiplexes), then other calls meanwhile.
    let c = fx.c().clone();
    let mut wreq = api::WaitRequest::new();
    wreq.id = fx.id.clone();
    let waiter = std::thread::spawn(move || call::<_, api::WaitResponse>(&c, "Wait", &wreq));
    wait_for("the Wait thread", || {
        thread_names(shim_pid).contains(&"ttrpc-wait".to_string())
    });
    let mut sreq = api::StateRequest::new();
    sreq.id = fx.id.clone();
    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::RUNNING));
    // An unknown method is an error reply, and the connection stays usable.
    let e = call::<_, api::Empty>(fx.c(), "NoSuchMethod", &sreq).unwrap_err();
    assert!(format!("{e:?}").contains("not supported"), "{e:?}");
    let mut k = api::KillRequest::new();
    k.id = fx.id.clone();
    k.signal = 9;
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    assert_eq!(waiter.join().unwrap().unwrap().exit_status, 137);
    wait_for("the Wait thread to end", || {
        !thread_names(shim_pid).contains(&"ttrpc-wait".to_string())
    });
    let d = fx.delete("");
    assert_eq!(d.exit_status, 137);
}

/// `SHIM delete` runs the runtime's `delete --force` only when the runtime still has state
/// for the container (after a normal Delete it has none, and containerd still calls it).
#[test]
fn bootstrap_delete_runs_the_runtime_only_when_it_has_state() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    let root = dir.path().join("root");
    fs::create_dir_all(&bundle).unwrap();
    let calls = dir.path().join("calls");
    let rt = dir.path().join("fake-runtime");
    fs::write(
        &rt,
        format!("#!/bin/sh\necho \"$*\" >> {}\n", calls.display()),
    )
    .unwrap();
    fs::set_permissions(&rt, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    fs::write(
        bundle.join("hull-shim.json"),
        serde_json::json!({"binary": rt, "root": root}).to_string(),
    )
    .unwrap();
    let delete = || {
        let out = Command::new(SHIM)
            .args(["-namespace", "hulltest", "-address", "/nonexistent/c.sock"])
            .args(["-id", "gone", "-bundle"])
            .arg(&bundle)
            .arg("delete")
            .current_dir(&bundle)
            .output()
            .unwrap();
        let r = delete_response(&out);
        assert_eq!(r.exit_status, 137);
    };
    delete();
    assert!(!calls.exists(), "no runtime call without state");
    fs::create_dir_all(root.join("gone")).unwrap();
    delete();
    let got = fs::read_to_string(&calls).unwrap();
    assert!(
        got.contains("delete --force gone"),
        "runtime called with state present: {got:?}"
    );
}

/// `start` binds the socket and hands it to the long-lived shim, which marks it close-on-exec
/// again: the runtime commands it spawns (and so the container) never inherit it.
#[test]
fn the_inherited_listening_socket_is_close_on_exec_again() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["true"]);
    let mut cr = api::ConnectRequest::new();
    cr.id = fx.id.clone();
    let shim_pid = call::<_, api::ConnectResponse>(fx.c(), "Connect", &cr)
        .unwrap()
        .shim_pid;
    let mut sockets = 0;
    for e in fs::read_dir(format!("/proc/{shim_pid}/fd")).unwrap() {
        let e = e.unwrap();
        let Ok(target) = fs::read_link(e.path()) else {
            continue;
        };
        if !target.display().to_string().starts_with("socket:") {
            continue;
        }
        sockets += 1;
        let info = fs::read_to_string(format!(
            "/proc/{shim_pid}/fdinfo/{}",
            e.file_name().to_string_lossy()
        ))
        .unwrap();
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap();
        assert!(
            flags & libc::O_CLOEXEC as u32 != 0,
            "socket fd {:?} of the shim lacks O_CLOEXEC: {info}",
            e.file_name()
        );
    }
    assert!(sockets >= 2, "the listener and our connection: {sockets}");
}
