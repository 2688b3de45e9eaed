//! One container served by the shim: its record (bundle, runtime, processes with their stdio)
//! and the operations that change it: Create, Start (init or exec) and Delete. All run under the
//! service lock; each queues its event there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use containerd_shim_protos::api;
use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecStarted, TaskIO, TaskStart,
};
use containerd_shim_protos::protobuf::MessageField;
use ttrpc::Code;

use crate::events::Event;
use crate::runtime::{self, ProcIo, Restore, Runtime, Saved, SAVED_FILE};
use crate::service::{err, now, ts, Inner, Service};
use crate::stdio::{self, IoHandles, StdioPaths};
use crate::table::{Exited, ProcKey, Status};
use crate::{mount, options};

/// A process of a container: the init ("") or an exec.
pub struct Proc {
    pub pid: u32,
    pub status: Status,
    pub stdio: StdioPaths,
    pub io: IoHandles,
    /// Exec processes: the process spec file.
    pub spec: Option<PathBuf>,
}

/// What the shim keeps for one container, from a successful Create to its Delete.
pub struct Container {
    pub id: String,
    pub bundle: PathBuf,
    pub runtime: Runtime,
    pub rootfs_mounted: bool,
    /// Created from a checkpoint: Start restores it from these CRIU images (runc's shim does
    /// the restore at Start too, with the stdio set up then).
    pub restore_from: Option<PathBuf>,
    /// The CRIU work directory for checkpoint and restore (options.CriuWorkPath, else
    /// `<bundle>/criu-work`).
    pub criu_work: PathBuf,
    /// "" is the init process; others are exec ids.
    pub procs: HashMap<String, Proc>,
}

impl Container {
    pub fn proc(&self, exec_id: &str) -> ttrpc::Result<&Proc> {
        self.procs
            .get(exec_id)
            .ok_or_else(|| proc_not_found(exec_id))
    }

    pub fn proc_mut(&mut self, exec_id: &str) -> ttrpc::Result<&mut Proc> {
        self.procs
            .get_mut(exec_id)
            .ok_or_else(|| proc_not_found(exec_id))
    }

    /// The init process's status, if it was created.
    pub fn init_status(&self) -> Option<Status> {
        self.procs.get("").map(|p| p.status)
    }
}

fn proc_not_found(exec_id: &str) -> ttrpc::Error {
    err(Code::NOT_FOUND, format!("process {exec_id:?} not found"))
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

/// A file name part from an exec id.
pub fn sanitize(s: &str) -> String {
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

/// The runtime root a Create's options name (or the default for the namespace).
pub fn options_root(req: &api::CreateTaskRequest, namespace: &str) -> Option<PathBuf> {
    let (url, value) = req
        .options
        .as_ref()
        .map(|a| (a.type_url.as_str(), a.value.as_slice()))
        .unwrap_or(("", &[]));
    let o = options::decode(url, value).ok()?;
    Some(if o.root.is_empty() {
        runtime::default_root(namespace)
    } else {
        PathBuf::from(o.root)
    })
}

impl Service {
    /// Who a process's output belongs to, for a `binary://` logger: `id` is the container id for
    /// an init, the exec id for an exec process.
    fn log_context<'a>(&'a self, id: &'a str) -> stdio::LogContext<'a> {
        stdio::LogContext {
            id,
            namespace: &self.namespace,
            monitor: &self.monitor,
        }
    }

    pub(crate) fn create_container(&self, req: &api::CreateTaskRequest) -> ttrpc::Result<u32> {
        if !req.parent_checkpoint.is_empty() {
            return Err(err(
                Code::UNIMPLEMENTED,
                "parent_checkpoint: restoring a pre-dump chain is not supported",
            ));
        }
        let mut g = self.lock();
        if g.containers.contains_key(&req.id) {
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
        let binary = runtime::resolve_binary(&opts.binary_name)
            .map_err(|e| err(Code::INVALID_ARGUMENT, e))?;
        let root = if opts.root.is_empty() {
            runtime::default_root(&self.namespace)
        } else {
            PathBuf::from(&opts.root)
        };
        runtime::make_root(&root).map_err(|e| {
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
        let criu_work = if opts.criu_work_path.is_empty() {
            bundle.join("criu-work")
        } else {
            PathBuf::from(&opts.criu_work_path)
        };
        // From a checkpoint nothing runs until Start restores it: pid 0, no stdio yet.
        let restore_from = (!req.checkpoint.is_empty()).then(|| PathBuf::from(&req.checkpoint));
        let (pid, io) = match &restore_from {
            Some(dir) if !dir.is_dir() => {
                undo(mounted);
                return Err(err(
                    Code::INVALID_ARGUMENT,
                    format!("checkpoint {}: not a directory", dir.display()),
                ));
            }
            Some(_) => (0, IoHandles::default()),
            None => {
                let log = self.log_context(&req.id);
                let io = match spawn_with_io(&paths, &log, |pio, console| {
                    rt.create(&req.id, &bundle, &pid_file, console, pio)
                }) {
                    Ok(io) => io,
                    Err(e) => {
                        undo(mounted);
                        return Err(e);
                    }
                };
                match read_pid(&pid_file) {
                    Ok(p) => (p, io),
                    Err(e) => {
                        let _ = rt.delete(&req.id, true);
                        undo(mounted);
                        return Err(e);
                    }
                }
            }
        };
        let init = Proc {
            pid,
            status: Status::Created,
            stdio: paths.clone(),
            io,
            spec: None,
        };
        g.containers.insert(
            req.id.clone(),
            Container {
                id: req.id.clone(),
                bundle,
                runtime: rt,
                rootfs_mounted: mounted,
                restore_from,
                criu_work,
                procs: HashMap::from([(String::new(), init)]),
            },
        );
        let key = ProcKey::new(&req.id, "");
        let mut early = None;
        if pid != 0 {
            early = g.table.learn(&key, pid);
            if let Err(e) = self.oom.watch(&req.id, pid) {
                eprintln!("create {}: no OOM events: {e}", req.id);
            }
        }

        self.publish(Event::new(&task_create(req, &paths, pid)));
        if let Some(e) = early {
            self.finish(&mut g, &key, e);
        }
        Ok(pid)
    }

    pub(crate) fn start_process(&self, req: &api::StartRequest) -> ttrpc::Result<u32> {
        let mut g = self.lock();
        let c = g.container(&req.id)?;
        let p = c.proc(&req.exec_id)?;
        if p.status != Status::Created {
            return Err(err(
                Code::FAILED_PRECONDITION,
                format!("process {:?} is {:?}, not created", req.exec_id, p.status),
            ));
        }
        let key = ProcKey::new(&req.id, &req.exec_id);
        if key.is_init() && c.restore_from.is_some() {
            return self.restore_init(&mut g, &req.id);
        }
        if key.is_init() {
            let pid = p.pid;
            c.runtime.start(&c.id).map_err(|e| err(Code::UNKNOWN, e))?;
            let p = g.container_mut(&req.id)?.proc_mut("")?;
            if p.status == Status::Created {
                p.status = Status::Running;
            }
            let mut ev = TaskStart::new();
            ev.container_id = req.id.clone();
            ev.pid = pid;
            self.publish(Event::new(&ev));
            return Ok(pid);
        }
        // Exec process.
        let spec = p.spec.clone().unwrap_or_default();
        let paths = p.stdio.clone();
        let pid_file = c.bundle.join(format!("exec-{}.pid", sanitize(&key.exec)));
        let _ = std::fs::remove_file(&pid_file);
        let log = self.log_context(&key.exec);
        let io = spawn_with_io(&paths, &log, |pio, console| {
            c.runtime.exec(&c.id, &spec, &pid_file, console, pio)
        })?;
        let pid = read_pid(&pid_file)?;
        let _ = std::fs::remove_file(&pid_file);
        let p = g.container_mut(&req.id)?.proc_mut(&key.exec)?;
        p.pid = pid;
        p.io = io;
        p.status = Status::Running;
        let early = g.table.learn(&key, pid);
        let mut ev = TaskExecStarted::new();
        ev.container_id = req.id.clone();
        ev.exec_id = key.exec.clone();
        ev.pid = pid;
        self.publish(Event::new(&ev));
        if let Some(e) = early {
            self.finish(&mut g, &key, e);
        }
        Ok(pid)
    }

    /// Start of a container created from a checkpoint: `restore --detach` with the init's
    /// stdio, then it is running (TaskStart) and watched like a started init.
    fn restore_init(&self, g: &mut Inner, id: &str) -> ttrpc::Result<u32> {
        let c = g.container(id)?;
        let p = c.proc("")?;
        let r = Restore {
            bundle: c.bundle.clone(),
            image: c.restore_from.clone().unwrap_or_default(),
            work: c.criu_work.clone(),
            pid_file: c.bundle.join("init.pid"),
        };
        let _ = std::fs::remove_file(&r.pid_file);
        let paths = p.stdio.clone();
        let log = self.log_context(id);
        let io = spawn_with_io(&paths, &log, |pio, console| {
            c.runtime.restore(id, &r, console, pio)
        })?;
        let pid = read_pid(&r.pid_file)?;
        let c = g.container_mut(id)?;
        c.restore_from = None;
        let p = c.proc_mut("")?;
        p.pid = pid;
        p.io = io;
        p.status = Status::Running;
        let key = ProcKey::new(id, "");
        let early = g.table.learn(&key, pid);
        if let Err(e) = self.oom.watch(id, pid) {
            eprintln!("restore {id}: no OOM events: {e}");
        }
        let mut ev = TaskStart::new();
        ev.container_id = id.to_string();
        ev.pid = pid;
        self.publish(Event::new(&ev));
        if let Some(e) = early {
            self.finish(g, &key, e);
        }
        Ok(pid)
    }

    pub(crate) fn delete_process(
        &self,
        req: &api::DeleteRequest,
    ) -> ttrpc::Result<api::DeleteResponse> {
        let mut g = self.lock();
        let key = ProcKey::new(&req.id, &req.exec_id);
        let c = g.container(&req.id)?;
        let p = c.proc(&key.exec)?;
        if !key.is_init() && p.status == Status::Running {
            return Err(err(
                Code::FAILED_PRECONDITION,
                format!("exec {:?} is still running", key.exec),
            ));
        }
        let pid = p.pid;
        let exit = g.table.exit_of(&key).unwrap_or(Exited {
            status: 0,
            at: now(),
        });
        if key.is_init() {
            let rt = &c.runtime;
            if let Err(e) = rt.delete(&c.id, true) {
                // Gone already (deleted behind our back) is what Delete wants; anything else fails.
                if rt.root.join(&c.id).exists() {
                    return Err(err(Code::UNKNOWN, e));
                }
            }
            if c.rootfs_mounted {
                mount::unmount_all(&c.bundle.join("rootfs"));
            }
            let _ = std::fs::remove_file(c.bundle.join("init.pid"));
            // The per-namespace state root goes with its last container (fails while not empty).
            runtime::remove_root(&rt.root);
            g.containers.remove(&req.id);
            g.table.forget_container(&req.id);
            self.oom.forget(&req.id);
            let mut ev = TaskDelete::new();
            ev.container_id = req.id.clone();
            ev.id = req.id.clone();
            ev.pid = pid;
            ev.exit_status = exit.status;
            ev.exited_at = ts(exit.at);
            self.publish(Event::new(&ev));
        } else {
            if let Some(spec) = p.spec.clone() {
                let _ = std::fs::remove_file(spec);
            }
            g.container_mut(&req.id)?.procs.remove(&key.exec);
            g.table.forget(&key);
        }
        let mut r = api::DeleteResponse::new();
        r.pid = pid;
        r.exit_status = exit.status;
        r.exited_at = ts(exit.at);
        Ok(r)
    }
}

/// The TaskCreate event of a Create (pid 0 for one from a checkpoint, restored at Start).
fn task_create(req: &api::CreateTaskRequest, paths: &StdioPaths, pid: u32) -> TaskCreate {
    let mut ev = TaskCreate::new();
    ev.container_id = req.id.clone();
    ev.bundle = req.bundle.clone();
    ev.rootfs = req.rootfs.clone();
    let mut tio = TaskIO::new();
    tio.stdin = paths.stdin.clone();
    tio.stdout = paths.stdout.clone();
    tio.stderr = paths.stderr.clone();
    tio.terminal = paths.terminal;
    ev.io = MessageField::some(tio);
    ev.checkpoint = req.checkpoint.clone();
    ev.pid = pid;
    ev
}

/// Set up stdio (pipes or console socket), run `f`, and wire the terminal if any.
pub(crate) fn spawn_with_io(
    paths: &StdioPaths,
    log: &stdio::LogContext,
    f: impl FnOnce(ProcIo, Option<&Path>) -> runtime::Result<()>,
) -> ttrpc::Result<IoHandles> {
    let io_err = |e: std::io::Error| err(Code::INVALID_ARGUMENT, e);
    if paths.terminal {
        let cs = stdio::ConsoleSocket::new()
            .map_err(|e| err(Code::INTERNAL, format!("console socket: {e}")))?;
        let none = ProcIo {
            stdin: None,
            stdout: None,
            stderr: None,
        };
        f(none, Some(&cs.path)).map_err(|e| err(Code::UNKNOWN, e))?;
        let master = cs.receive().map_err(|e| err(Code::INTERNAL, e))?;
        stdio::attach_console(master, paths, log).map_err(io_err)
    } else {
        let (pio, handles) = stdio::setup_pipes(paths, log).map_err(io_err)?;
        f(pio, None).map_err(|e| err(Code::UNKNOWN, e))?;
        Ok(handles)
    }
}
