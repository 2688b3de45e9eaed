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

mod cgroups;
mod checkpoint;
mod logging;
mod pods;
mod task;
