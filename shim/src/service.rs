//! The task service (containerd.task.v2.Task, also answered as v3).
//!
//! One mutex guards the shim's state; runtime commands run under it, so calls on one container
//! serialise, as in containerd's runc shim. Exits and event publishing go through one worker
//! thread and one queue, so events leave in the order they were produced under the lock:
//! TaskCreate → TaskStart → TaskExit → TaskDelete. The reaper thread never takes this lock.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use containerd_shim_protos::api::{self, Empty};
use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskIO, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::MessageField;
use containerd_shim_protos::types::task::{ProcessInfo, Status as PbStatus};
use containerd_shim_protos::Task;
use ttrpc::{Code, TtrpcContext};

use crate::events::{Event, Forwarder};
use crate::exit::exit_status;
use crate::reaper::{Exit, Monitor};
use crate::runtime::Runtime;
use crate::stdio::{self, IoHandles, StdioPaths};
use crate::table::{Exited, Status, Table};
use crate::{mount, oom, options, stats};

/// Work for the single worker thread.
#[derive(Debug, PartialEq)]
pub enum Work {
    Exit(Exit),
    Publish(Event),
}

/// The worker's queue. Exits go first: a `Wait` must not sit behind an event being published.
/// Events keep their order, which is the order they were produced under the service lock; an
/// exit handled early only queues its TaskExit behind the events already there, so the
/// TaskCreate → TaskStart → TaskExit → TaskDelete order holds.
#[derive(Default)]
pub struct WorkQueue {
    q: Mutex<Queued>,
    ready: Condvar,
    idle: Condvar,
}

#[derive(Default)]
struct Queued {
    exits: VecDeque<Exit>,
    events: VecDeque<Event>,
    /// The worker is handling something it took from here.
    busy: bool,
}

impl WorkQueue {
    fn queue(&self) -> MutexGuard<'_, Queued> {
        self.q.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn exit(&self, e: Exit) {
        self.queue().exits.push_back(e);
        self.ready.notify_one();
    }

    pub fn event(&self, ev: Event) {
        self.queue().events.push_back(ev);
        self.ready.notify_one();
    }

    /// The next piece of work: the oldest exit, else the oldest event; blocks while empty.
    /// The caller reports with [`WorkQueue::done`] when it has handled it.
    pub fn next(&self) -> Work {
        let mut q = self.queue();
        loop {
            let w = match q.exits.pop_front() {
                Some(e) => Some(Work::Exit(e)),
                None => q.events.pop_front().map(Work::Publish),
            };
            if let Some(w) = w {
                q.busy = true;
                return w;
            }
            q = self.ready.wait(q).unwrap_or_else(|e| e.into_inner());
        }
    }

    pub fn done(&self) {
        let mut q = self.queue();
        q.busy = false;
        if q.exits.is_empty() && q.events.is_empty() {
            self.idle.notify_all();
        }
    }

    /// Wait until everything queued has been handled (events published), at most `limit`.
    /// Returns whether it got there.
    pub fn wait_idle(&self, limit: std::time::Duration) -> bool {
        let q = self.queue();
        let (q, _) = self
            .idle
            .wait_timeout_while(q, limit, |q| {
                q.busy || !q.exits.is_empty() || !q.events.is_empty()
            })
            .unwrap_or_else(|e| e.into_inner());
        !(q.busy || !q.exits.is_empty() || !q.events.is_empty())
    }
}

struct Proc {
    pid: u32,
    status: Status,
    stdio: StdioPaths,
    io: IoHandles,
    /// Exec processes: the process spec file.
    spec: Option<PathBuf>,
}

#[derive(Default)]
struct Inner {
    runtime: Option<Runtime>,
    bundle: PathBuf,
    rootfs_mounted: bool,
    /// "" is the init process; others are exec ids.
    procs: HashMap<String, Proc>,
    table: Table,
    deleted: bool,
}

pub struct Service {
    pub id: String,
    pub namespace: String,
    pub address: String,
    pub publish_binary: String,
    monitor: Arc<Monitor>,
    inner: Mutex<Inner>,
    cond: Condvar,
    queue: Arc<WorkQueue>,
    /// Shutdown was accepted: the process exits once the reply is out.
    exit_requested: AtomicBool,
    /// Events.Forward to containerd's TTRPC_ADDRESS; used by the worker thread only.
    forwarder: Mutex<Option<Forwarder>>,
    /// Containers' cgroups: OOM events and Stats.
    oom: Arc<oom::Watcher>,
}

/// Saved in the bundle so `delete` (after a shim crash) drives the same runtime and root.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Saved {
    pub binary: PathBuf,
    pub root: PathBuf,
}
pub const SAVED_FILE: &str = "hull-shim.json";

fn err(code: Code, msg: impl ToString) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg))
}

fn now() -> (i64, i32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos() as i32)
}

fn ts(at: (i64, i32)) -> MessageField<Timestamp> {
    let mut t = Timestamp::new();
    t.seconds = at.0;
    t.nanos = at.1;
    MessageField::some(t)
}

fn key(exec_id: &str) -> String {
    exec_id.to_string()
}

/// Find the runtime binary: the option's name (absolute, or looked up on PATH), else `hull` next
/// to this binary, else `hull` on PATH.
pub fn resolve_binary(name: &str) -> Result<PathBuf, String> {
    let lookup = |n: &str| -> Option<PathBuf> {
        if n.contains('/') {
            return Path::new(n).is_file().then(|| PathBuf::from(n));
        }
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(n))
                .find(|c| c.is_file())
        })
    };
    if !name.is_empty() {
        return lookup(name)
            .ok_or_else(|| format!("options.BinaryName: runtime binary {name:?} not found"));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        let c = dir.join("hull");
        if c.is_file() {
            return Ok(c);
        }
    }
    lookup("hull")
        .ok_or_else(|| "runtime binary `hull` not found next to the shim or on PATH".to_string())
}

/// Create the runtime root. Another shim may remove an empty parent at the same moment
/// ([`remove_root`]): retry then.
fn make_root(root: &Path) -> std::io::Result<()> {
    let mut tries = 0;
    loop {
        match std::fs::create_dir_all(root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 5 => tries += 1,
            r => return r,
        }
    }
}

/// Remove an empty runtime root, and the default parent (`/run/containerd/hull`) when empty:
/// shims leave nothing behind. `remove_dir` fails, harmlessly, while anything is inside.
pub fn remove_root(root: &Path) {
    if std::fs::remove_dir(root).is_ok() && root.parent() == Some(Path::new(DEFAULT_ROOT_PARENT)) {
        let _ = std::fs::remove_dir(DEFAULT_ROOT_PARENT);
    }
}

const DEFAULT_ROOT_PARENT: &str = "/run/containerd/hull";

pub fn default_root(namespace: &str) -> PathBuf {
    PathBuf::from(DEFAULT_ROOT_PARENT).join(namespace)
}

fn read_pid(path: &Path) -> Result<u32, ttrpc::Error> {
    let s = std::fs::read_to_string(path).map_err(|e| {
        err(
            Code::INTERNAL,
            format!("read pid file {}: {e}", path.display()),
        )
    })?;
    s.trim().parse().map_err(|e| {
        err(
            Code::INTERNAL,
            format!("pid file {}: {s:?}: {e}", path.display()),
        )
    })
}

impl Service {
    pub fn new(
        id: String,
        namespace: String,
        address: String,
        publish_binary: String,
        monitor: Arc<Monitor>,
        queue: Arc<WorkQueue>,
    ) -> Service {
        let q = Arc::clone(&queue);
        Service {
            oom: oom::Watcher::new(Box::new(move |e| q.event(e))),
            id,
            namespace,
            address,
            publish_binary,
            monitor,
            inner: Mutex::new(Inner::default()),
            cond: Condvar::new(),
            queue,
            exit_requested: AtomicBool::new(false),
            forwarder: Mutex::new(None),
        }
    }

    /// Publish events with `Events.Forward` to containerd's ttrpc address (`TTRPC_ADDRESS`).
    pub fn forward_to(self, ttrpc_address: Option<String>) -> Service {
        Service {
            forwarder: Mutex::new(
                ttrpc_address
                    .filter(|a| !a.is_empty())
                    .map(|a| Forwarder::new(&a)),
            ),
            ..self
        }
    }

    /// Shutdown said to go (checked after each reply is written).
    pub fn exit_requested(&self) -> bool {
        self.exit_requested.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, e: Event) {
        self.queue.event(e);
    }

    /// Worker thread: exits and publishing, strictly in queue order.
    pub fn work(&self, w: Work) {
        match w {
            Work::Exit(e) => self.on_exit(e),
            Work::Publish(ev) => self.publish(&ev),
        }
    }

    fn on_exit(&self, e: Exit) {
        let mut g = self.lock();
        let exited = Exited {
            status: exit_status(e.raw),
            at: now(),
        };
        if let Some(k) = g.table.exited(e.pid as u32, exited) {
            self.finish(&mut g, &k, exited);
        }
    }

    /// Record the exit of process `k` and announce it.
    fn finish(&self, g: &mut Inner, k: &str, e: Exited) {
        let Some(p) = g.procs.get_mut(k) else { return };
        p.status = Status::Stopped;
        if k.is_empty() {
            // An OOM kill of the init is announced before its exit.
            self.oom.check(&self.id);
        }
        let mut ev = TaskExit::new();
        ev.container_id = self.id.clone();
        ev.id = if k.is_empty() {
            self.id.clone()
        } else {
            k.to_string()
        };
        ev.pid = p.pid;
        ev.exit_status = e.status;
        ev.exited_at = ts(e.at);
        self.emit(Event::new(&ev));
        self.cond.notify_all();
    }

    fn publish(&self, ev: &Event) {
        if let Some(f) = self
            .forwarder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            match f.forward(&self.namespace, ev) {
                Ok(()) => return,
                Err(e) => eprintln!(
                    "publish {}: Events.Forward: {e}; using the publish binary",
                    ev.topic
                ),
            }
        }
        if self.publish_binary.is_empty() {
            return;
        }
        let mut c = std::process::Command::new(&self.publish_binary);
        c.args([
            "--address",
            &self.address,
            "publish",
            "--topic",
            ev.topic,
            "--namespace",
            &self.namespace,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
        match self.monitor.spawn(&mut c) {
            Ok((mut child, rx)) => {
                if let Some(mut i) = child.stdin.take() {
                    use std::io::Write;
                    let _ = i.write_all(&ev.stdin_bytes());
                }
                let mut errs = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut errs);
                }
                match rx.recv() {
                    Ok(raw) if exit_status(raw) == 0 => {}
                    Ok(raw) => eprintln!(
                        "publish {}: exit {}: {}",
                        ev.topic,
                        exit_status(raw),
                        errs.trim()
                    ),
                    Err(_) => eprintln!("publish {}: reaper gone", ev.topic),
                }
            }
            Err(e) => eprintln!("publish {}: {}: {e}", ev.topic, self.publish_binary),
        }
    }

    fn check_id(&self, id: &str) -> ttrpc::Result<()> {
        if id != self.id {
            return Err(err(
                Code::NOT_FOUND,
                format!(
                    "container {id:?} is not served by this shim ({:?})",
                    self.id
                ),
            ));
        }
        Ok(())
    }

    fn runtime<'a>(&self, g: &'a Inner) -> ttrpc::Result<&'a Runtime> {
        g.runtime
            .as_ref()
            .ok_or_else(|| err(Code::FAILED_PRECONDITION, "container not created"))
    }

    fn do_create(&self, req: &api::CreateTaskRequest) -> ttrpc::Result<u32> {
        if !req.checkpoint.is_empty() || !req.parent_checkpoint.is_empty() {
            return Err(err(
                Code::UNIMPLEMENTED,
                "restore from checkpoint is not supported",
            ));
        }
        let mut g = self.lock();
        if g.runtime.is_some() {
            return Err(err(
                Code::ALREADY_EXISTS,
                format!("container {} already created", req.id),
            ));
        }
        let (url, value) = req
            .options
            .as_ref()
            .map(|a| (a.type_url.as_str(), a.value.as_slice()))
            .unwrap_or(("", &[]));
        let opts = options::decode(url, value).map_err(|e| err(Code::INVALID_ARGUMENT, e.0))?;
        let binary =
            resolve_binary(&opts.binary_name).map_err(|e| err(Code::INVALID_ARGUMENT, e))?;
        let root = if opts.root.is_empty() {
            default_root(&self.namespace)
        } else {
            PathBuf::from(&opts.root)
        };
        make_root(&root).map_err(|e| {
            err(
                Code::INTERNAL,
                format!("options.Root {}: {e}", root.display()),
            )
        })?;
        let bundle = PathBuf::from(&req.bundle);
        let saved = Saved {
            binary: binary.clone(),
            root: root.clone(),
        };
        let _ = std::fs::write(
            bundle.join(SAVED_FILE),
            serde_json::to_vec(&saved).unwrap_or_default(),
        );

        // Rootfs mounts.
        let rootfs = bundle.join("rootfs");
        let mut mounted = false;
        if !req.rootfs.is_empty() {
            std::fs::create_dir_all(&rootfs)
                .map_err(|e| err(Code::INTERNAL, format!("mkdir {}: {e}", rootfs.display())))?;
            let ms: Vec<_> = req
                .rootfs
                .iter()
                .map(|m| mount::resolve(&m.type_, &m.source, &m.options))
                .collect();
            mount::mount_all(&ms, &rootfs).map_err(|e| err(Code::INTERNAL, e))?;
            mounted = true;
        }
        let undo = |m: bool| {
            if m {
                mount::unmount_all(&rootfs);
            }
        };

        let rt = Runtime {
            binary,
            root,
            log: bundle.join("log.json"),
            monitor: Arc::clone(&self.monitor),
        };
        let paths = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        let pid_file = bundle.join("init.pid");
        let io = match self.spawn_with_io(&paths, &req.id, |pio, console| {
            rt.create(&req.id, &bundle, &pid_file, console, pio)
        }) {
            Ok(io) => io,
            Err(e) => {
                undo(mounted);
                return Err(e);
            }
        };
        let pid = match read_pid(&pid_file) {
            Ok(p) => p,
            Err(e) => {
                let _ = rt.delete(&req.id, true);
                undo(mounted);
                return Err(e);
            }
        };
        g.runtime = Some(rt);
        g.bundle = bundle;
        g.rootfs_mounted = mounted;
        g.procs.insert(
            String::new(),
            Proc {
                pid,
                status: Status::Created,
                stdio: paths.clone(),
                io,
                spec: None,
            },
        );
        let early = g.table.learn("", pid);
        if let Err(e) = self.oom.watch(&req.id, pid) {
            eprintln!("create {}: no OOM events: {e}", req.id);
        }

        let mut ev = TaskCreate::new();
        ev.container_id = req.id.clone();
        ev.bundle = req.bundle.clone();
        ev.rootfs = req.rootfs.clone();
        let mut tio = TaskIO::new();
        tio.stdin = paths.stdin;
        tio.stdout = paths.stdout;
        tio.stderr = paths.stderr;
        tio.terminal = paths.terminal;
        ev.io = MessageField::some(tio);
        ev.checkpoint = req.checkpoint.clone();
        ev.pid = pid;
        self.emit(Event::new(&ev));
        if let Some(e) = early {
            self.finish(&mut g, "", e);
        }
        Ok(pid)
    }

    /// Set up stdio (pipes or console socket), run `f`, and wire the terminal if any.
    fn spawn_with_io(
        &self,
        paths: &StdioPaths,
        log_id: &str,
        f: impl FnOnce(crate::runtime::ProcIo, Option<&Path>) -> crate::runtime::Result<()>,
    ) -> ttrpc::Result<IoHandles> {
        let io_err = |e: std::io::Error| err(Code::INVALID_ARGUMENT, e);
        let log = stdio::LogContext {
            id: log_id,
            namespace: &self.namespace,
            monitor: &self.monitor,
        };
        if paths.terminal {
            let cs = stdio::ConsoleSocket::new()
                .map_err(|e| err(Code::INTERNAL, format!("console socket: {e}")))?;
            let none = crate::runtime::ProcIo {
                stdin: None,
                stdout: None,
                stderr: None,
            };
            f(none, Some(&cs.path)).map_err(|e| err(Code::UNKNOWN, e))?;
            let master = cs.receive().map_err(|e| err(Code::INTERNAL, e))?;
            stdio::attach_console(master, paths, &log).map_err(io_err)
        } else {
            let (pio, handles) = stdio::setup_pipes(paths, &log).map_err(io_err)?;
            f(pio, None).map_err(|e| err(Code::UNKNOWN, e))?;
            Ok(handles)
        }
    }

    fn do_start(&self, req: &api::StartRequest) -> ttrpc::Result<u32> {
        let mut g = self.lock();
        let k = key(&req.exec_id);
        let p = g.procs.get(&k).ok_or_else(|| {
            err(
                Code::NOT_FOUND,
                format!("process {:?} not found", req.exec_id),
            )
        })?;
        if p.status != Status::Created {
            return Err(err(
                Code::FAILED_PRECONDITION,
                format!("process {:?} is {:?}, not created", req.exec_id, p.status),
            ));
        }
        if k.is_empty() {
            let pid = p.pid;
            self.runtime(&g)?
                .start(&self.id)
                .map_err(|e| err(Code::UNKNOWN, e))?;
            if let Some(p) = g.procs.get_mut("") {
                if p.status == Status::Created {
                    p.status = Status::Running;
                }
            }
            let mut ev = TaskStart::new();
            ev.container_id = self.id.clone();
            ev.pid = pid;
            self.emit(Event::new(&ev));
            return Ok(pid);
        }
        // Exec process.
        let spec = p.spec.clone().unwrap_or_default();
        let paths = p.stdio.clone();
        let pid_file = g.bundle.join(format!("exec-{}.pid", sanitize(&k)));
        let _ = std::fs::remove_file(&pid_file);
        let io = {
            let rt = self.runtime(&g)?;
            self.spawn_with_io(&paths, &k, |pio, console| {
                rt.exec(&self.id, &spec, &pid_file, console, pio)
            })?
        };
        let pid = read_pid(&pid_file)?;
        let _ = std::fs::remove_file(&pid_file);
        if let Some(p) = g.procs.get_mut(&k) {
            p.pid = pid;
            p.io = io;
            p.status = Status::Running;
        }
        let early = g.table.learn(&k, pid);
        let mut ev = TaskExecStarted::new();
        ev.container_id = self.id.clone();
        ev.exec_id = k.clone();
        ev.pid = pid;
        self.emit(Event::new(&ev));
        if let Some(e) = early {
            self.finish(&mut g, &k, e);
        }
        Ok(pid)
    }

    fn do_delete(&self, req: &api::DeleteRequest) -> ttrpc::Result<api::DeleteResponse> {
        let mut g = self.lock();
        let k = key(&req.exec_id);
        let p = g.procs.get(&k).ok_or_else(|| {
            err(
                Code::NOT_FOUND,
                format!("process {:?} not found", req.exec_id),
            )
        })?;
        if !k.is_empty() && p.status == Status::Running {
            return Err(err(
                Code::FAILED_PRECONDITION,
                format!("exec {k:?} is still running"),
            ));
        }
        let pid = p.pid;
        let exit = g.table.exit_of(&k).unwrap_or(Exited {
            status: 0,
            at: now(),
        });
        if k.is_empty() {
            let rt = self.runtime(&g)?;
            if let Err(e) = rt.delete(&self.id, true) {
                // Gone already (deleted behind our back) is what Delete wants; anything else fails.
                if rt.root.join(&self.id).exists() {
                    return Err(err(Code::UNKNOWN, e));
                }
            }
            if g.rootfs_mounted {
                mount::unmount_all(&g.bundle.join("rootfs"));
                g.rootfs_mounted = false;
            }
            let _ = std::fs::remove_file(g.bundle.join("init.pid"));
            // The per-namespace state root goes with its last container (fails while not empty).
            remove_root(&self.runtime(&g)?.root);
            self.oom.forget(&self.id);
            g.deleted = true;
            let mut ev = TaskDelete::new();
            ev.container_id = self.id.clone();
            ev.id = self.id.clone();
            ev.pid = pid;
            ev.exit_status = exit.status;
            ev.exited_at = ts(exit.at);
            self.emit(Event::new(&ev));
        } else if let Some(p) = &g.procs.get(&k).and_then(|p| p.spec.clone()) {
            let _ = std::fs::remove_file(p);
        }
        g.procs.remove(&k);
        g.table.forget(&k);
        let mut r = api::DeleteResponse::new();
        r.pid = pid;
        r.exit_status = exit.status;
        r.exited_at = ts(exit.at);
        Ok(r)
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn pb_status(s: Status) -> PbStatus {
    match s {
        Status::Created => PbStatus::CREATED,
        Status::Running => PbStatus::RUNNING,
        Status::Paused => PbStatus::PAUSED,
        Status::Stopped => PbStatus::STOPPED,
    }
}

impl Task for Service {
    fn state(&self, _: &TtrpcContext, req: api::StateRequest) -> ttrpc::Result<api::StateResponse> {
        self.check_id(&req.id)?;
        let g = self.lock();
        let k = key(&req.exec_id);
        let p = g.procs.get(&k).ok_or_else(|| {
            err(
                Code::NOT_FOUND,
                format!("process {:?} not found", req.exec_id),
            )
        })?;
        let mut r = api::StateResponse::new();
        r.id = if k.is_empty() {
            self.id.clone()
        } else {
            k.clone()
        };
        r.exec_id = req.exec_id.clone();
        r.bundle = g.bundle.to_string_lossy().into_owned();
        r.pid = p.pid;
        let init_paused = g.procs.get("").is_some_and(|i| i.status == Status::Paused);
        let st = if p.status == Status::Running && init_paused {
            Status::Paused
        } else {
            p.status
        };
        r.status = pb_status(st).into();
        r.stdin = p.stdio.stdin.clone();
        r.stdout = p.stdio.stdout.clone();
        r.stderr = p.stdio.stderr.clone();
        r.terminal = p.stdio.terminal;
        if let Some(e) = g.table.exit_of(&k) {
            r.exit_status = e.status;
            r.exited_at = ts(e.at);
        }
        Ok(r)
    }

    fn create(
        &self,
        _: &TtrpcContext,
        req: api::CreateTaskRequest,
    ) -> ttrpc::Result<api::CreateTaskResponse> {
        self.check_id(&req.id)?;
        let pid = self.do_create(&req).inspect_err(|_| {
            // A failed Create leaves nothing behind: not even the (empty) per-namespace root.
            if self.lock().runtime.is_none() {
                let (url, value) = req
                    .options
                    .as_ref()
                    .map(|a| (a.type_url.as_str(), a.value.as_slice()))
                    .unwrap_or(("", &[]));
                if let Ok(o) = options::decode(url, value) {
                    let root = if o.root.is_empty() {
                        default_root(&self.namespace)
                    } else {
                        PathBuf::from(o.root)
                    };
                    remove_root(&root);
                }
            }
        })?;
        let mut r = api::CreateTaskResponse::new();
        r.pid = pid;
        Ok(r)
    }

    fn start(&self, _: &TtrpcContext, req: api::StartRequest) -> ttrpc::Result<api::StartResponse> {
        self.check_id(&req.id)?;
        let pid = self.do_start(&req)?;
        let mut r = api::StartResponse::new();
        r.pid = pid;
        Ok(r)
    }

    fn delete(
        &self,
        _: &TtrpcContext,
        req: api::DeleteRequest,
    ) -> ttrpc::Result<api::DeleteResponse> {
        self.check_id(&req.id)?;
        self.do_delete(&req)
    }

    fn pids(&self, _: &TtrpcContext, req: api::PidsRequest) -> ttrpc::Result<api::PidsResponse> {
        self.check_id(&req.id)?;
        let g = self.lock();
        let pids = match self.runtime(&g)?.ps(&self.id) {
            Ok(p) => p,
            Err(e) => {
                // Runtime without `ps`: report the processes this shim started and that still run.
                eprintln!("pids: {e}; reporting the shim's own processes");
                g.procs
                    .values()
                    .filter(|p| p.status != Status::Stopped && p.pid != 0)
                    .map(|p| p.pid)
                    .collect()
            }
        };
        let mut r = api::PidsResponse::new();
        for pid in pids {
            let mut pi = ProcessInfo::new();
            pi.pid = pid;
            r.processes.push(pi);
        }
        Ok(r)
    }

    fn pause(&self, _: &TtrpcContext, req: api::PauseRequest) -> ttrpc::Result<Empty> {
        self.check_id(&req.id)?;
        let mut g = self.lock();
        self.runtime(&g)?
            .pause(&self.id)
            .map_err(|e| err(Code::UNKNOWN, e))?;
        if let Some(p) = g.procs.get_mut("") {
            p.status = Status::Paused;
        }
        let mut ev = TaskPaused::new();
        ev.container_id = self.id.clone();
        self.emit(Event::new(&ev));
        Ok(Empty::new())
    }

    fn resume(&self, _: &TtrpcContext, req: api::ResumeRequest) -> ttrpc::Result<Empty> {
        self.check_id(&req.id)?;
        let mut g = self.lock();
        self.runtime(&g)?
            .resume(&self.id)
            .map_err(|e| err(Code::UNKNOWN, e))?;
        if let Some(p) = g.procs.get_mut("") {
            if p.status == Status::Paused {
                p.status = Status::Running;
            }
        }
        let mut ev = TaskResumed::new();
        ev.container_id = self.id.clone();
        self.emit(Event::new(&ev));
        Ok(Empty::new())
    }

    fn checkpoint(&self, _: &TtrpcContext, _: api::CheckpointTaskRequest) -> ttrpc::Result<Empty> {
        Err(err(
            Code::UNIMPLEMENTED,
            "checkpoint is not supported by containerd-shim-hull-v2",
        ))
    }

    fn kill(&self, _: &TtrpcContext, req: api::KillRequest) -> ttrpc::Result<Empty> {
        self.check_id(&req.id)?;
        let g = self.lock();
        let k = key(&req.exec_id);
        let p = g.procs.get(&k).ok_or_else(|| {
            err(
                Code::NOT_FOUND,
                format!("process {:?} not found", req.exec_id),
            )
        })?;
        if k.is_empty() {
            if p.status == Status::Stopped && !req.all {
                return Err(err(Code::NOT_FOUND, "process already finished"));
            }
            self.runtime(&g)?
                .kill(&self.id, req.signal, req.all)
                .map_err(|e| err(Code::UNKNOWN, e))?;
        } else {
            if p.status != Status::Running || p.pid == 0 {
                return Err(err(Code::NOT_FOUND, format!("exec {k:?} is not running")));
            }
            // SAFETY: plain kill(2); the pid is our child's and not yet reaped (status Running).
            if unsafe { libc::kill(p.pid as i32, req.signal as i32) } != 0 {
                return Err(err(
                    Code::UNKNOWN,
                    format!("kill exec {k:?}: {}", std::io::Error::last_os_error()),
                ));
            }
        }
        Ok(Empty::new())
    }

    fn exec(&self, _: &TtrpcContext, req: api::ExecProcessRequest) -> ttrpc::Result<Empty> {
        self.check_id(&req.id)?;
        let mut g = self.lock();
        if req.exec_id.is_empty() {
            return Err(err(Code::INVALID_ARGUMENT, "exec_id must not be empty"));
        }
        let init_running = g.procs.get("").is_some_and(|p| p.status == Status::Running);
        if !init_running {
            return Err(err(Code::FAILED_PRECONDITION, "container is not running"));
        }
        if g.procs.contains_key(&req.exec_id) {
            return Err(err(
                Code::ALREADY_EXISTS,
                format!("exec {:?} already exists", req.exec_id),
            ));
        }
        let spec = req
            .spec
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&spec).map_err(|e| {
            err(
                Code::INVALID_ARGUMENT,
                format!("spec: not a JSON process spec: {e}"),
            )
        })?;
        let file = g
            .bundle
            .join(format!("exec-{}.json", sanitize(&req.exec_id)));
        std::fs::write(&file, &spec)
            .map_err(|e| err(Code::INTERNAL, format!("write {}: {e}", file.display())))?;
        let paths = StdioPaths {
            stdin: req.stdin.clone(),
            stdout: req.stdout.clone(),
            stderr: req.stderr.clone(),
            terminal: req.terminal,
        };
        g.procs.insert(
            req.exec_id.clone(),
            Proc {
                pid: 0,
                status: Status::Created,
                stdio: paths,
                io: IoHandles::default(),
                spec: Some(file),
            },
        );
        let mut ev = TaskExecAdded::new();
        ev.container_id = self.id.clone();
        ev.exec_id = req.exec_id.clone();
        self.emit(Event::new(&ev));
        Ok(Empty::new())
    }

    fn resize_pty(&self, _: &TtrpcContext, req: api::ResizePtyRequest) -> ttrpc::Result<Empty> {
        self.check_id(&req.id)?;
        let g = self.lock();
        let p = g
            .procs
            .get(&key(&req.exec_id))
            .ok_or_else(|| err(Code::NOT_FOUND, "process not found"))?;
        p.io.resize(req.width, req.height)
            .map_err(|e| err(Code::FAILED_PRECONDITION, format!("resize: {e}")))?;
        Ok(Empty::new())
    }

    fn close_io(&self, _: &TtrpcContext, req: api::CloseIORequest) -> ttrpc::Result<Empty> {
        self.check_id(&req.id)?;
        let g = self.lock();
        let p = g
            .procs
            .get(&key(&req.exec_id))
            .ok_or_else(|| err(Code::NOT_FOUND, "process not found"))?;
        if req.stdin {
            p.io.close_stdin();
        }
        Ok(Empty::new())
    }

    fn update(&self, _: &TtrpcContext, req: api::UpdateTaskRequest) -> ttrpc::Result<Empty> {
        self.check_id(&req.id)?;
        let g = self.lock();
        let value = req
            .resources
            .as_ref()
            .map(|a| a.value.clone())
            .unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&value).map_err(|e| {
            err(
                Code::INVALID_ARGUMENT,
                format!("resources: not JSON LinuxResources: {e}"),
            )
        })?;
        let file = g.bundle.join("update-resources.json");
        std::fs::write(&file, &value)
            .map_err(|e| err(Code::INTERNAL, format!("write {}: {e}", file.display())))?;
        let r = self.runtime(&g)?.update(&self.id, &file);
        let _ = std::fs::remove_file(&file);
        r.map_err(|e| err(Code::UNKNOWN, e))?;
        Ok(Empty::new())
    }

    fn wait(&self, _: &TtrpcContext, req: api::WaitRequest) -> ttrpc::Result<api::WaitResponse> {
        self.check_id(&req.id)?;
        let k = key(&req.exec_id);
        let mut g = self.lock();
        loop {
            if !g.procs.contains_key(&k) {
                return Err(err(
                    Code::NOT_FOUND,
                    format!("process {:?} not found", req.exec_id),
                ));
            }
            if let Some(e) = g.table.exit_of(&k) {
                let mut r = api::WaitResponse::new();
                r.exit_status = e.status;
                r.exited_at = ts(e.at);
                return Ok(r);
            }
            g = self.cond.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn stats(&self, _: &TtrpcContext, req: api::StatsRequest) -> ttrpc::Result<api::StatsResponse> {
        self.check_id(&req.id)?;
        let g = self.lock();
        self.runtime(&g)?;
        let cg = self.oom.cgroup(&self.id).ok_or_else(|| {
            err(
                Code::FAILED_PRECONDITION,
                format!("stats: the cgroup of container {} is unknown", self.id),
            )
        })?;
        let any: Any = stats::metrics(&cg);
        let mut r = api::StatsResponse::new();
        r.stats = MessageField::some(any);
        Ok(r)
    }

    fn connect(
        &self,
        _: &TtrpcContext,
        req: api::ConnectRequest,
    ) -> ttrpc::Result<api::ConnectResponse> {
        self.check_id(&req.id)?;
        let g = self.lock();
        let mut r = api::ConnectResponse::new();
        r.shim_pid = std::process::id();
        r.task_pid = g.procs.get("").map(|p| p.pid).unwrap_or(0);
        r.version = concat!("containerd-shim-hull-v2 ", env!("CARGO_PKG_VERSION")).to_string();
        Ok(r)
    }

    fn shutdown(&self, _: &TtrpcContext, req: api::ShutdownRequest) -> ttrpc::Result<Empty> {
        self.check_id(&req.id)?;
        let g = self.lock();
        // Stay while a container still exists, unless told to go now.
        if req.now || g.deleted || g.procs.is_empty() {
            self.exit_requested.store(true, Ordering::SeqCst);
        }
        Ok(Empty::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_event(pid: u32) -> Event {
        let mut ev = TaskStart::new();
        ev.pid = pid;
        Event::new(&ev)
    }

    #[test]
    fn exits_overtake_queued_events_which_keep_their_order() {
        let q = WorkQueue::default();
        q.event(start_event(1));
        q.event(start_event(2));
        q.exit(Exit { pid: 7, raw: 0 });
        q.event(start_event(3));
        q.exit(Exit { pid: 8, raw: 9 });
        assert_eq!(q.next(), Work::Exit(Exit { pid: 7, raw: 0 }));
        assert_eq!(q.next(), Work::Exit(Exit { pid: 8, raw: 9 }));
        for pid in 1..=3 {
            assert_eq!(q.next(), Work::Publish(start_event(pid)));
        }
    }

    #[test]
    fn wait_idle_waits_for_the_worker_to_finish_the_last_item() {
        let q = Arc::new(WorkQueue::default());
        assert!(
            q.wait_idle(std::time::Duration::ZERO),
            "empty queue is idle"
        );
        q.event(start_event(1));
        assert!(!q.wait_idle(std::time::Duration::from_millis(10)));
        let w = q.next();
        assert!(!q.wait_idle(std::time::Duration::from_millis(10)), "busy");
        let q2 = Arc::clone(&q);
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(30));
            q2.done();
        });
        assert!(q.wait_idle(std::time::Duration::from_secs(10)));
        t.join().unwrap();
        assert_eq!(w, Work::Publish(start_event(1)));
    }

    #[test]
    fn next_blocks_until_work_arrives() {
        let q = Arc::new(WorkQueue::default());
        let q2 = Arc::clone(&q);
        let t = std::thread::spawn(move || q2.next());
        std::thread::sleep(std::time::Duration::from_millis(20));
        q.exit(Exit { pid: 3, raw: 0 });
        assert_eq!(t.join().unwrap(), Work::Exit(Exit { pid: 3, raw: 0 }));
    }
}
