//! The task service's request handlers (`containerd.task.v2.Task`, also served as v3): each
//! finds the container the request names (one shim serves every container of a pod; an unknown
//! id is NotFound) and its process, then runs the operation under the service lock. Create,
//! Start and Delete live with the container record (container.rs).

use containerd_shim_protos::api::{self, Empty};
use containerd_shim_protos::events::task::{TaskExecAdded, TaskPaused, TaskResumed};
use containerd_shim_protos::protobuf::well_known_types::any::Any;
use containerd_shim_protos::protobuf::MessageField;
use containerd_shim_protos::types::task::{ProcessInfo, Status as PbStatus};
use containerd_shim_protos::Task;
use ttrpc::{Code, TtrpcContext};

use crate::container::{options_root, sanitize, Proc};
use crate::events::Event;
use crate::service::{err, ts, Service};
use crate::stdio::{IoHandles, StdioPaths};
use crate::table::{ProcKey, Status};
use crate::{runtime, stats};

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
        let g = self.lock();
        let c = g.container(&req.id)?;
        let p = c.proc(&req.exec_id)?;
        let mut r = api::StateResponse::new();
        r.id = if req.exec_id.is_empty() {
            c.id.clone()
        } else {
            req.exec_id.clone()
        };
        r.exec_id = req.exec_id.clone();
        r.bundle = c.bundle.to_string_lossy().into_owned();
        r.pid = p.pid;
        let init_paused = c.init_status() == Some(Status::Paused);
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
        if let Some(e) = g.table.exit_of(&ProcKey::new(&req.id, &req.exec_id)) {
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
        let pid = self.create_container(&req).inspect_err(|_| {
            // A failed Create leaves nothing behind: not even the (empty) per-namespace root.
            if !self.lock().containers.contains_key(&req.id) {
                if let Some(root) = options_root(&req, &self.namespace) {
                    runtime::remove_root(&root);
                }
            }
        })?;
        let mut r = api::CreateTaskResponse::new();
        r.pid = pid;
        Ok(r)
    }

    fn start(&self, _: &TtrpcContext, req: api::StartRequest) -> ttrpc::Result<api::StartResponse> {
        let pid = self.start_process(&req)?;
        let mut r = api::StartResponse::new();
        r.pid = pid;
        Ok(r)
    }

    fn delete(
        &self,
        _: &TtrpcContext,
        req: api::DeleteRequest,
    ) -> ttrpc::Result<api::DeleteResponse> {
        self.delete_process(&req)
    }

    fn pids(&self, _: &TtrpcContext, req: api::PidsRequest) -> ttrpc::Result<api::PidsResponse> {
        let g = self.lock();
        let c = g.container(&req.id)?;
        let pids = match c.runtime.ps(&c.id) {
            Ok(p) => p,
            Err(e) => {
                // Runtime without `ps`: report the processes this shim started and that still run.
                eprintln!("pids: {e}; reporting the shim's own processes");
                c.procs
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
        let mut g = self.lock();
        let c = g.container_mut(&req.id)?;
        c.runtime.pause(&c.id).map_err(|e| err(Code::UNKNOWN, e))?;
        if let Some(p) = c.procs.get_mut("") {
            p.status = Status::Paused;
        }
        let mut ev = TaskPaused::new();
        ev.container_id = req.id.clone();
        self.publish(Event::new(&ev));
        Ok(Empty::new())
    }

    fn resume(&self, _: &TtrpcContext, req: api::ResumeRequest) -> ttrpc::Result<Empty> {
        let mut g = self.lock();
        let c = g.container_mut(&req.id)?;
        c.runtime.resume(&c.id).map_err(|e| err(Code::UNKNOWN, e))?;
        if let Some(p) = c.procs.get_mut("") {
            if p.status == Status::Paused {
                p.status = Status::Running;
            }
        }
        let mut ev = TaskResumed::new();
        ev.container_id = req.id.clone();
        self.publish(Event::new(&ev));
        Ok(Empty::new())
    }

    fn checkpoint(
        &self,
        _: &TtrpcContext,
        req: api::CheckpointTaskRequest,
    ) -> ttrpc::Result<Empty> {
        let g = self.lock();
        let c = g.container(&req.id)?;
        let p = c.proc("")?;
        if !matches!(p.status, Status::Running | Status::Paused) {
            return Err(err(
                Code::FAILED_PRECONDITION,
                format!(
                    "container {} is {:?}: only a running one can be checkpointed",
                    c.id, p.status
                ),
            ));
        }
        let (url, value) = req
            .options
            .as_ref()
            .map(|a| (a.type_url.as_str(), a.value.as_slice()))
            .unwrap_or(("", &[]));
        let o = crate::options::decode_checkpoint(url, value)
            .map_err(|e| err(Code::INVALID_ARGUMENT, e.0))?;
        let image = if o.image_path.is_empty() {
            req.path.clone()
        } else {
            o.image_path.clone()
        };
        if image.is_empty() {
            return Err(err(
                Code::INVALID_ARGUMENT,
                "checkpoint: neither path nor options.image_path names where the images go",
            ));
        }
        // A work path containerd names is kept (it holds CRIU's logs); the shim's own goes.
        let own_work = o.work_path.is_empty();
        let work = if own_work {
            c.criu_work.clone()
        } else {
            o.work_path.clone().into()
        };
        let ck = runtime::Checkpoint {
            image: image.into(),
            work: work.clone(),
            exit: o.exit,
            open_tcp: o.open_tcp,
            external_unix_sockets: o.external_unix_sockets,
            terminal: o.terminal,
            file_locks: o.file_locks,
            empty_namespaces: o.empty_namespaces.clone(),
            cgroups_mode: o.cgroups_mode.clone(),
        };
        let r = c.runtime.checkpoint(&c.id, &ck);
        if let Err(e) = r {
            // As runc's shim: CRIU's log survives in the bundle, named in the error.
            let kept = c.bundle.join("criu-dump.log");
            let note = match std::fs::copy(work.join("dump.log"), &kept) {
                Ok(_) => format!(" (CRIU log: {})", kept.display()),
                Err(_) => String::new(),
            };
            if own_work {
                let _ = std::fs::remove_dir_all(&work);
            }
            return Err(err(Code::UNKNOWN, format!("{e}{note}")));
        }
        if own_work {
            let _ = std::fs::remove_dir_all(&work);
        }
        Ok(Empty::new())
    }

    fn kill(&self, _: &TtrpcContext, req: api::KillRequest) -> ttrpc::Result<Empty> {
        let g = self.lock();
        let c = g.container(&req.id)?;
        let p = c.proc(&req.exec_id)?;
        if req.exec_id.is_empty() {
            if p.status == Status::Stopped && !req.all {
                return Err(err(Code::NOT_FOUND, "process already finished"));
            }
            if let Err(e) = c.runtime.kill(&c.id, req.signal, req.all) {
                // The init may have died since the last reap (a zombie the runtime already sees
                // as stopped): containerd (WithProcessKill) expects NotFound then, as runc's
                // shim answers.
                if p.pid > 0 && !crate::reaper::alive(p.pid as i32) {
                    return Err(err(Code::NOT_FOUND, "process already finished"));
                }
                return Err(err(Code::UNKNOWN, e));
            }
        } else {
            let k = &req.exec_id;
            if p.pid == 0 {
                // Never started (or its start failed): nothing will ever exit, so not NotFound,
                // which containerd's WithProcessKill answers by waiting for an exit (a minute
                // per failed ExecSync); runc's shim answers FailedPrecondition too.
                return Err(err(
                    Code::FAILED_PRECONDITION,
                    format!("exec {k:?}: process not created"),
                ));
            }
            if p.status != Status::Running {
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
        let mut g = self.lock();
        let c = g.container_mut(&req.id)?;
        if req.exec_id.is_empty() {
            return Err(err(Code::INVALID_ARGUMENT, "exec_id must not be empty"));
        }
        if c.init_status() != Some(Status::Running) {
            return Err(err(Code::FAILED_PRECONDITION, "container is not running"));
        }
        if c.procs.contains_key(&req.exec_id) {
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
        let file = c
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
        c.procs.insert(
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
        ev.container_id = req.id.clone();
        ev.exec_id = req.exec_id.clone();
        self.publish(Event::new(&ev));
        Ok(Empty::new())
    }

    fn resize_pty(&self, _: &TtrpcContext, req: api::ResizePtyRequest) -> ttrpc::Result<Empty> {
        let g = self.lock();
        let p = g.container(&req.id)?.proc(&req.exec_id)?;
        p.io.resize(req.width, req.height)
            .map_err(|e| err(Code::FAILED_PRECONDITION, format!("resize: {e}")))?;
        Ok(Empty::new())
    }

    fn close_io(&self, _: &TtrpcContext, req: api::CloseIORequest) -> ttrpc::Result<Empty> {
        let g = self.lock();
        let p = g.container(&req.id)?.proc(&req.exec_id)?;
        if req.stdin {
            p.io.close_stdin();
        }
        Ok(Empty::new())
    }

    fn update(&self, _: &TtrpcContext, req: api::UpdateTaskRequest) -> ttrpc::Result<Empty> {
        let g = self.lock();
        let c = g.container(&req.id)?;
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
        let file = c.bundle.join("update-resources.json");
        std::fs::write(&file, &value)
            .map_err(|e| err(Code::INTERNAL, format!("write {}: {e}", file.display())))?;
        let r = c.runtime.update(&c.id, &file);
        let _ = std::fs::remove_file(&file);
        r.map_err(|e| err(Code::UNKNOWN, e))?;
        Ok(Empty::new())
    }

    fn wait(&self, _: &TtrpcContext, req: api::WaitRequest) -> ttrpc::Result<api::WaitResponse> {
        let key = ProcKey::new(&req.id, &req.exec_id);
        let mut g = self.lock();
        loop {
            // The container or process may be deleted while this waits.
            g.container(&req.id)?.proc(&req.exec_id)?;
            if let Some(e) = g.table.exit_of(&key) {
                let mut r = api::WaitResponse::new();
                r.exit_status = e.status;
                r.exited_at = ts(e.at);
                return Ok(r);
            }
            g = self.cond.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn stats(&self, _: &TtrpcContext, req: api::StatsRequest) -> ttrpc::Result<api::StatsResponse> {
        let g = self.lock();
        g.container(&req.id)?;
        let cg = self.oom.cgroup(&req.id).ok_or_else(|| {
            err(
                Code::FAILED_PRECONDITION,
                format!("stats: the cgroup of container {} is unknown", req.id),
            )
        })?;
        let any: Any = stats::metrics(&cg);
        let mut r = api::StatsResponse::new();
        r.stats = MessageField::some(any);
        Ok(r)
    }

    /// Also before Create (no task pid yet), as containerd's runc shim answers.
    fn connect(
        &self,
        _: &TtrpcContext,
        req: api::ConnectRequest,
    ) -> ttrpc::Result<api::ConnectResponse> {
        let g = self.lock();
        let mut r = api::ConnectResponse::new();
        r.shim_pid = std::process::id();
        r.task_pid = g
            .containers
            .get(&req.id)
            .and_then(|c| c.procs.get(""))
            .map(|p| p.pid)
            .unwrap_or(0);
        r.version = concat!("containerd-shim-hull-v2 ", env!("CARGO_PKG_VERSION")).to_string();
        Ok(r)
    }

    /// containerd calls Shutdown after each task's Delete (not after the Delete of a container of
    /// a sandbox, in containerd 2): the shim goes once it serves no container any more. With
    /// containers left (other containers of the pod) it is a no-op whatever the request says, as
    /// in containerd's runc shim; the id is not checked for the same reason.
    fn shutdown(&self, _: &TtrpcContext, _: api::ShutdownRequest) -> ttrpc::Result<Empty> {
        if self.lock().containers.is_empty() {
            self.request_exit();
        }
        Ok(Empty::new())
    }
}
