//! Drive containerd-shim-hull-v2 over ttrpc without containerd: bootstrap with the exact
//! arguments containerd 1.6 uses, then Create/Start/Wait/State/Delete/Shutdown on a busybox
//! bundle, with a fake publish binary recording the events. Needs root, the `hull` binary
//! (HULL_BIN or target/{release,debug}/hull) and `make rootfs` (HULL_ROOTFS or build/rootfs).

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use containerd_shim_protos::api;
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::{Message, MessageField};
use containerd_shim_protos::types::mount::Mount;
use containerd_shim_protos::types::task::Status;

const SHIM: &str = env!("CARGO_BIN_EXE_containerd-shim-hull-v2");
const SERVICE: &str = "containerd.task.v2.Task";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Everything this machine needs, or why the test cannot run here.
fn prerequisites() -> Result<(PathBuf, PathBuf), String> {
    if !nix::unistd::geteuid().is_root() {
        return Err("needs root (mounts, namespaces)".into());
    }
    let hull = std::env::var_os("HULL_BIN")
        .map(PathBuf::from)
        .into_iter()
        .chain([
            workspace().join("target/release/hull"),
            workspace().join("target/debug/hull"),
        ])
        .find(|p| p.is_file())
        .ok_or("no hull binary: build it (make release) or set HULL_BIN")?;
    let rootfs = std::env::var_os("HULL_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("build/rootfs"));
    if !rootfs.join("bin/busybox").is_file() {
        return Err(format!(
            "no busybox rootfs at {}: run `make rootfs`",
            rootfs.display()
        ));
    }
    Ok((hull, rootfs))
}

macro_rules! require {
    () => {
        match prerequisites() {
            Ok(v) => v,
            Err(why) => {
                // Printed, and a failure under CI=true (hull-testutil).
                hull_testutil::skip(why);
                return;
            }
        }
    };
}

fn call<Req: Message, Resp: Message>(
    c: &ttrpc::Client,
    method: &str,
    req: &Req,
) -> ttrpc::Result<Resp> {
    call_service(c, SERVICE, method, req)
}

fn call_service<Req: Message, Resp: Message>(
    c: &ttrpc::Client,
    service: &str,
    method: &str,
    req: &Req,
) -> ttrpc::Result<Resp> {
    let mut r = ttrpc::proto::Request::new();
    r.service = service.into();
    r.method = method.into();
    r.timeout_nano = Duration::from_secs(60).as_nanos() as i64;
    r.payload = req.write_to_bytes().unwrap();
    let resp = c.request(r)?;
    Ok(Resp::parse_from_bytes(&resp.payload).unwrap())
}

/// containerd.runc.v1.Options{binary_name (6), root (7)} in protobuf wire format.
fn runc_options(binary: &Path, root: &Path) -> Any {
    let mut value = Vec::new();
    {
        let mut os = containerd_shim_protos::protobuf::CodedOutputStream::vec(&mut value);
        os.write_string(6, binary.to_str().unwrap()).unwrap();
        os.write_string(7, root.to_str().unwrap()).unwrap();
        os.flush().unwrap();
    }
    let mut a = Any::new();
    a.type_url = "containerd.runc.v1.Options".into();
    a.value = value;
    a
}

/// One shim with one bundle; cleans up whatever happens.
struct Fixture {
    dir: tempfile::TempDir,
    id: String,
    hull: PathBuf,
    rootfs_src: PathBuf,
    address: String,
    client: Option<ttrpc::Client>,
    /// Other containers of the pod (id, bundle), cleaned up with the fixture.
    members: std::cell::RefCell<Vec<(String, PathBuf)>>,
}

/// A bundle `dir/name` running `args`, with `annotations` in its config.json.
fn make_bundle(hull: &Path, dir: &Path, name: &str, args: &[&str], annotations: serde_json::Value) {
    let bundle = dir.join(name);
    fs::create_dir_all(bundle.join("rootfs")).unwrap();
    let st = Command::new(hull)
        .args(["spec", "--bundle"])
        .arg(&bundle)
        .status()
        .unwrap();
    assert!(st.success(), "hull spec");
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["args"] = serde_json::json!(args);
    cfg["process"]["terminal"] = serde_json::json!(false);
    cfg["annotations"] = annotations;
    fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
}

const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";
const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";

impl Fixture {
    fn wait(&self, exec_id: &str) -> api::WaitResponse {
        let mut w = api::WaitRequest::new();
        w.id = self.id.clone();
        w.exec_id = exec_id.into();
        call(self.c(), "Wait", &w).unwrap()
    }

    fn delete(&self, exec_id: &str) -> api::DeleteResponse {
        let mut d = api::DeleteRequest::new();
        d.id = self.id.clone();
        d.exec_id = exec_id.into();
        call(self.c(), "Delete", &d).unwrap()
    }

    /// Connect (for the shim's pid), Create and Start the task.
    fn connect_create_start(&self) -> u32 {
        let mut cr = api::ConnectRequest::new();
        cr.id = self.id.clone();
        let shim_pid = call::<_, api::ConnectResponse>(self.c(), "Connect", &cr)
            .unwrap()
            .shim_pid;
        let _: api::CreateTaskResponse =
            call(self.c(), "Create", &self.create_req(Path::new(""))).unwrap();
        self.start();
        shim_pid
    }

    fn start(&self) -> api::StartResponse {
        let mut start = api::StartRequest::new();
        start.id = self.id.clone();
        call(self.c(), "Start", &start).unwrap()
    }

    fn new(hull: PathBuf, rootfs_src: PathBuf, args: &[&str]) -> Fixture {
        Fixture::with_annotations(hull, rootfs_src, args, |_| serde_json::json!({}))
    }

    /// The sandbox (pause) container of a pod named after its own id, as CRI annotates it.
    fn pod_sandbox(hull: PathBuf, rootfs_src: PathBuf, args: &[&str]) -> Fixture {
        Fixture::with_annotations(
            hull,
            rootfs_src,
            args,
            |id| serde_json::json!({ SANDBOX_ID: id, CONTAINER_TYPE: "sandbox" }),
        )
    }

    fn with_annotations(
        hull: PathBuf,
        rootfs_src: PathBuf,
        args: &[&str],
        annotations: impl FnOnce(&str) -> serde_json::Value,
    ) -> Fixture {
        let dir = tempfile::Builder::new()
            .prefix("hull-shim-")
            .tempdir_in("/tmp")
            .unwrap();
        let id = unique_id();
        make_bundle(&hull, dir.path(), "bundle", args, annotations(&id));
        // The fake publish binary records "topic namespace bytes" per event.
        let publish = dir.path().join("publish.sh");
        fs::write(
            &publish,
            format!(
                "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in --topic) t=$2;; --namespace) n=$2;; esac; shift; done\n\
                 b=$(wc -c)\necho \"$t $n $b\" >> {}\n",
                dir.path().join("events").display()
            ),
        )
        .unwrap();
        fs::set_permissions(
            &publish,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let mut f = Fixture {
            dir,
            id,
            hull,
            rootfs_src,
            address: String::new(),
            client: None,
            members: Default::default(),
        };
        f.start_shim();
        f
    }

    /// A bundle for another container of this fixture's pod (CRI annotations naming the
    /// fixture's container as the sandbox); returns its id and bundle. `SHIM start` not run.
    fn pod_member(&self, name: &str, args: &[&str]) -> (String, PathBuf) {
        let id = unique_id();
        make_bundle(
            &self.hull,
            self.dir.path(),
            name,
            args,
            serde_json::json!({ SANDBOX_ID: &self.id, CONTAINER_TYPE: "container" }),
        );
        let bundle = self.dir.path().join(name);
        self.members.borrow_mut().push((id.clone(), bundle.clone()));
        (id, bundle)
    }

    /// Create request for a pod member.
    fn create_req_for(&self, id: &str, bundle: &Path, stdout: &Path) -> api::CreateTaskRequest {
        let mut req = self.create_req(stdout);
        req.id = id.into();
        req.bundle = bundle.to_string_lossy().into_owned();
        req
    }

    fn bundle(&self) -> PathBuf {
        self.dir.path().join("bundle")
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn shim_cmd(&self, action: &str) -> Command {
        self.shim_cmd_for(action, &self.id, &self.bundle())
    }

    /// `SHIM ... -id ID ACTION` in `bundle`, as containerd runs it for each container.
    fn shim_cmd_for(&self, action: &str, id: &str, bundle: &Path) -> Command {
        let mut c = Command::new(SHIM);
        c.args(["-namespace", "hulltest", "-address"])
            .arg(self.dir.path().join("containerd.sock"))
            .arg("-publish-binary")
            .arg(self.dir.path().join("publish.sh"))
            .args(["-id", id]);
        if action == "delete" {
            c.arg("-bundle").arg(bundle);
        }
        c.arg(action).current_dir(bundle).env(
            "TTRPC_ADDRESS",
            self.dir.path().join("containerd.sock.ttrpc"),
        );
        c
    }

    fn start_shim(&mut self) {
        let out = self.shim_cmd("start").output().unwrap();
        assert!(
            out.status.success(),
            "shim start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let address = String::from_utf8(out.stdout).unwrap();
        assert!(address.starts_with("unix:///"), "address {address:?}");
        assert_eq!(
            fs::read_to_string(self.bundle().join("address")).unwrap(),
            address,
            "address file"
        );
        self.client = Some(ttrpc::Client::connect(&address).unwrap());
        self.address = address;
    }

    fn c(&self) -> &ttrpc::Client {
        self.client.as_ref().unwrap()
    }

    fn create_req(&self, stdout: &Path) -> api::CreateTaskRequest {
        let mut req = api::CreateTaskRequest::new();
        req.id = self.id.clone();
        req.bundle = self.bundle().to_string_lossy().into_owned();
        let mut m = Mount::new();
        m.type_ = "bind".into();
        m.source = self.rootfs_src.to_string_lossy().into_owned();
        m.options = vec!["rbind".into(), "ro".into()];
        req.rootfs.push(m);
        req.stdout = stdout.to_string_lossy().into_owned();
        req.options = MessageField::some(runc_options(&self.hull, &self.root()));
        req
    }

    fn events(&self) -> Vec<String> {
        fs::read_to_string(self.dir.path().join("events"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn rootfs_mounted(&self) -> bool {
        let target = self.bundle().join("rootfs");
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .any(|l| l.split(' ').nth(4) == Some(target.to_str().unwrap()))
    }

    fn socket_path(&self) -> PathBuf {
        PathBuf::from(self.address.trim_start_matches("unix://"))
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(c) = &self.client {
            let mut req = api::ConnectRequest::new();
            req.id = self.id.clone();
            if let Ok(r) = call::<_, api::ConnectResponse>(c, "Connect", &req) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(r.shim_pid as i32),
                    nix::sys::signal::SIGKILL,
                );
            }
        }
        let mut all = vec![(self.id.clone(), self.bundle())];
        all.extend(self.members.borrow().iter().cloned());
        for (id, bundle) in all {
            let _ = Command::new(&self.hull)
                .arg("--root")
                .arg(self.root())
                .args(["delete", "--force", &id])
                .output();
            for _ in 0..4 {
                let _ =
                    nix::mount::umount2(&bundle.join("rootfs"), nix::mount::MntFlags::MNT_DETACH);
            }
        }
        let _ = fs::remove_file(self.socket_path());
    }
}

fn unique_id() -> String {
    // Unique per container: the runtime names the container's cgroup after the id.
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("shimtest-{}-{n}", std::process::id())
}

/// The DeleteResponse that a successful `SHIM ... delete` printed.
fn delete_response(out: &std::process::Output) -> api::DeleteResponse {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    api::DeleteResponse::parse_from_bytes(&out.stdout).unwrap()
}

fn mkfifo_reader(path: &Path) -> fs::File {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Like ctr: the client opens its read end before the task exists.
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .unwrap()
}

fn blocking(f: fs::File) -> fs::File {
    use std::os::fd::AsRawFd;
    // SAFETY: F_SETFL on an fd we own.
    unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETFL, 0) };
    f
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

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

    let e = call::<_, api::Empty>(fx.c(), "Checkpoint", &api::CheckpointTaskRequest::new())
        .unwrap_err();
    assert!(format!("{e:?}").contains("not supported"), "{e:?}");
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

fn exec_spec(args: &[&str]) -> Any {
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

// ---- OOM events and cgroup metrics ----

impl Fixture {
    /// Set `linux.resources` in the bundle's config.json (before Create).
    fn set_resources(&self, res: serde_json::Value) {
        let p = self.bundle().join("config.json");
        let mut cfg: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        cfg["linux"]["resources"] = res;
        fs::write(&p, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    }

    fn stats(&self) -> Any {
        let mut sr = api::StatsRequest::new();
        sr.id = self.id.clone();
        call::<_, api::StatsResponse>(self.c(), "Stats", &sr)
            .unwrap()
            .stats
            .unwrap()
    }

    fn topics(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    }
}

fn unified_host() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The cgroup directory of `pid` for `controller` (ignored on cgroup v2), found independently of
/// the shim: /proc/PID/cgroup joined to the hierarchy's mount point from mountinfo.
fn cgroup_dir(pid: u32, controller: &str) -> PathBuf {
    let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let unified = unified_host();
    let path = own
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, c, p) = (f.next()?, f.next()?, f.next()?);
            let hit = if unified {
                c.is_empty()
            } else {
                c.split(',').any(|x| x == controller)
            };
            hit.then(|| p.to_string())
        })
        .unwrap_or_else(|| panic!("{controller} not in /proc/{pid}/cgroup: {own}"));
    let mount = mi
        .lines()
        .find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mut post = post.split(' ');
            let fstype = post.next()?;
            let opts = post.nth(1).unwrap_or("");
            let ok = if unified {
                fstype == "cgroup2"
            } else {
                fstype == "cgroup" && opts.split(',').any(|o| o == controller)
            };
            ok.then(|| pre.split(' ').nth(4).unwrap().to_string())
        })
        .unwrap();
    Path::new(&mount).join(path.trim_start_matches('/'))
}

fn read_num(p: &Path) -> u64 {
    let t = fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if t.trim() == "max" {
        return u64::MAX;
    }
    t.trim().parse().unwrap()
}

fn read_key(p: &Path, key: &str) -> u64 {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("{key} not in {}", p.display()))
        .trim()
        .parse()
        .unwrap()
}

/// The kernel's oom_kill count as the metrics report it (v1 memory_oom_control, v2 memory_events).
fn oom_kills_in(stats: &Any) -> u64 {
    if unified_host() {
        containerd_shim_protos::cgroups_v2::metrics::Metrics::parse_from_bytes(&stats.value)
            .unwrap()
            .memory_events
            .oom_kill
    } else {
        containerd_shim_protos::cgroups::metrics::Metrics::parse_from_bytes(&stats.value)
            .unwrap()
            .memory_oom_control
            .oom_kill
    }
}

const OOM_LIMIT: i64 = 16 << 20;
/// Allocates (and touches) 64 MiB in one buffer.
const HOG: &str = "dd if=/dev/zero of=/dev/null bs=64M count=1";

#[test]
fn oom_kill_of_the_init_is_published_before_its_exit() {
    let (hull, rootfs) = require!();
    let args: Vec<&str> = HOG.split(' ').collect();
    let fx = Fixture::new(hull, rootfs, &args);
    fx.set_resources(serde_json::json!({"memory": {"limit": OOM_LIMIT}}));
    let out = fx.dir.path().join("out.log");
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &fx.create_req(&out)).unwrap();
    fx.start();
    assert_eq!(fx.wait("").exit_status, 137, "dd killed by the OOM killer");
    assert!(
        oom_kills_in(&fx.stats()) >= 1,
        "the cgroup counted the kill"
    );
    fx.delete("");
    wait_for("create, start, oom, exit, delete", || {
        fx.topics().contains(&"/tasks/delete".to_string())
    });
    let t = fx.topics();
    let oom = t.iter().position(|x| x == "/tasks/oom");
    let exit = t.iter().position(|x| x == "/tasks/exit").unwrap();
    assert!(
        oom.is_some_and(|o| o < exit),
        "TaskOOM before TaskExit: {t:?}"
    );
}

#[test]
fn oom_kill_of_a_child_is_published_while_the_task_runs() {
    let (hull, rootfs) = require!();
    let script = format!("{HOG}; sleep 1000");
    let fx = Fixture::new(hull, rootfs, &["sh", "-c", &script]);
    fx.set_resources(serde_json::json!({"memory": {"limit": OOM_LIMIT}}));
    let out = fx.dir.path().join("out.log");
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &fx.create_req(&out)).unwrap();
    fx.start();
    // Published by the watcher thread (v1 eventfd / v2 inotify), not by an exit.
    wait_for("TaskOOM", || {
        fx.topics().contains(&"/tasks/oom".to_string())
    });
    let mut sreq = api::StateRequest::new();
    sreq.id = fx.id.clone();
    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::RUNNING), "sh lives on");
    assert!(!fx.topics().contains(&"/tasks/exit".to_string()));
    let mut k = api::KillRequest::new();
    k.id = fx.id.clone();
    k.signal = 9;
    k.all = true;
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    assert_eq!(fx.wait("").exit_status, 137);
    fx.delete("");
}

#[test]
fn stats_are_the_containers_cgroup_files() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["sleep", "1000"]);
    fx.set_resources(serde_json::json!({
        "memory": {"limit": 32 << 20},
        "pids": {"limit": 64},
        "cpu": {"quota": 50000, "period": 100000}
    }));
    let out = fx.dir.path().join("out.log");
    let created: api::CreateTaskResponse = call(fx.c(), "Create", &fx.create_req(&out)).unwrap();
    fx.start();
    let pid = created.pid;
    if unified_host() {
        let d = cgroup_dir(pid, "");
        let usage0 = read_key(&d.join("cpu.stat"), "usage_usec");
        let fault0 = read_key(&d.join("memory.stat"), "pgfault");
        let periods0 = read_key(&d.join("cpu.stat"), "nr_periods");
        let a = fx.stats();
        let periods1 = read_key(&d.join("cpu.stat"), "nr_periods");
        let usage1 = read_key(&d.join("cpu.stat"), "usage_usec");
        let fault1 = read_key(&d.join("memory.stat"), "pgfault");
        assert_eq!(a.type_url, "io.containerd.cgroups.v2.Metrics");
        let m = containerd_shim_protos::cgroups_v2::metrics::Metrics::parse_from_bytes(&a.value)
            .unwrap();
        assert_eq!(m.memory.usage_limit, 32 << 20);
        assert_eq!(m.memory.usage_limit, read_num(&d.join("memory.max")));
        assert!(
            m.memory.usage > 0 && m.memory.usage <= 32 << 20,
            "{:?}",
            m.memory
        );
        assert_eq!(m.pids.limit, 64);
        assert_eq!(m.pids.current, read_num(&d.join("pids.current")));
        assert!(
            (usage0..=usage1).contains(&m.cpu.usage_usec),
            "{usage0} {} {usage1}",
            m.cpu.usage_usec
        );
        assert!((fault0..=fault1).contains(&m.memory.pgfault));
        assert!((periods0..=periods1).contains(&m.cpu.nr_periods));
        assert!(m.memory_events.is_some());
        assert!(m.memory.file + m.memory.anon > 0, "{:?}", m.memory);
    } else {
        let mem = cgroup_dir(pid, "memory");
        let acct = cgroup_dir(pid, "cpuacct");
        let pids = cgroup_dir(pid, "pids");
        let usage0 = read_num(&acct.join("cpuacct.usage"));
        let fault0 = read_key(&mem.join("memory.stat"), "total_pgfault");
        let cpu = cgroup_dir(pid, "cpu");
        let periods0 = read_key(&cpu.join("cpu.stat"), "nr_periods");
        let a = fx.stats();
        let periods1 = read_key(&cpu.join("cpu.stat"), "nr_periods");
        let usage1 = read_num(&acct.join("cpuacct.usage"));
        let fault1 = read_key(&mem.join("memory.stat"), "total_pgfault");
        assert_eq!(a.type_url, "io.containerd.cgroups.v1.Metrics");
        let m =
            containerd_shim_protos::cgroups::metrics::Metrics::parse_from_bytes(&a.value).unwrap();
        assert_eq!(m.memory.usage.limit, 32 << 20);
        assert_eq!(
            m.memory.usage.limit,
            read_num(&mem.join("memory.limit_in_bytes"))
        );
        assert_eq!(
            m.memory.hierarchical_memory_limit,
            read_key(&mem.join("memory.stat"), "hierarchical_memory_limit")
        );
        assert!(m.memory.usage.usage > 0 && m.memory.usage.usage <= 32 << 20);
        assert!((fault0..=fault1).contains(&m.memory.total_pg_fault));
        assert_eq!(
            m.memory.kernel.limit,
            read_num(&mem.join("memory.kmem.limit_in_bytes"))
        );
        assert_eq!(m.pids.limit, 64);
        assert_eq!(m.pids.limit, read_num(&pids.join("pids.max")));
        assert_eq!(m.pids.current, read_num(&pids.join("pids.current")));
        assert!((usage0..=usage1).contains(&m.cpu.usage.total));
        assert_eq!(
            m.cpu.usage.per_cpu.len(),
            fs::read_to_string(acct.join("cpuacct.usage_percpu"))
                .unwrap()
                .split_whitespace()
                .count()
        );
        assert!((periods0..=periods1).contains(&m.cpu.throttling.periods));
        assert_eq!(m.memory_oom_control.oom_kill, 0);
    }
    let mut k = api::KillRequest::new();
    k.id = fx.id.clone();
    k.signal = 9;
    k.all = true;
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    assert_eq!(fx.wait("").exit_status, 137);
    fx.delete("");
}

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
