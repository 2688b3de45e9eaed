//! The shim's state behind its one lock: the containers it serves (one [`Container`] record
//! each: a pod's sandbox and its containers share one shim), the table mapping pids to processes, and the way out to the worker (events, exits).
//! Request handlers: task.rs; per-container operations: container.rs; exits/events: worker.rs.
//!
//! Runtime commands run under the lock, so calls serialise, as in containerd's runc shim. The
//! reaper thread never takes this lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use containerd_shim_protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim_protos::protobuf::MessageField;
use ttrpc::Code;

use crate::container::Container;
use crate::events::{Event, Forwarder, Publisher};
use crate::oom;
use crate::reaper::Monitor;
use crate::table::Table;
use crate::worker::WorkQueue;

#[derive(Default)]
pub struct Inner {
    /// By container id.
    pub containers: HashMap<String, Container>,
    /// Every process of every container, by pid.
    pub table: Table,
}

pub struct Service {
    pub namespace: String,
    pub(crate) monitor: Arc<Monitor>,
    inner: Mutex<Inner>,
    /// Signalled on every exit (`Wait`).
    pub(crate) cond: Condvar,
    queue: Arc<WorkQueue>,
    /// Shutdown was accepted: the process exits once the reply is out.
    exit_requested: AtomicBool,
    /// Used by the worker thread only.
    publisher: Mutex<Publisher>,
    /// The containers' cgroups: OOM events and Stats.
    pub(crate) oom: Arc<oom::Watcher>,
}

pub(crate) fn err(code: Code, msg: impl ToString) -> ttrpc::Error {
    ttrpc::Error::RpcStatus(ttrpc::get_status(code, msg))
}

/// Seconds and nanoseconds since the epoch.
pub(crate) fn now() -> (i64, i32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos() as i32)
}

pub(crate) fn ts(at: (i64, i32)) -> MessageField<Timestamp> {
    let mut t = Timestamp::new();
    t.seconds = at.0;
    t.nanos = at.1;
    MessageField::some(t)
}

impl Service {
    pub fn new(
        namespace: String,
        address: String,
        publish_binary: String,
        monitor: Arc<Monitor>,
        queue: Arc<WorkQueue>,
    ) -> Service {
        let publisher = Publisher {
            namespace: namespace.clone(),
            address,
            publish_binary,
            forwarder: None,
            monitor: Arc::clone(&monitor),
        };
        let q = Arc::clone(&queue);
        Service {
            oom: oom::Watcher::new(Box::new(move |e| q.event(e))),
            namespace,
            monitor,
            inner: Mutex::new(Inner::default()),
            cond: Condvar::new(),
            queue,
            exit_requested: AtomicBool::new(false),
            publisher: Mutex::new(publisher),
        }
    }

    /// Publish events with `Events.Forward` to containerd's ttrpc address (`TTRPC_ADDRESS`).
    pub fn forward_to(self, ttrpc_address: Option<String>) -> Service {
        self.publisher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .forwarder = ttrpc_address
            .filter(|a| !a.is_empty())
            .map(|a| Forwarder::new(&a));
        self
    }

    /// Shutdown said to go (checked after each reply is written).
    pub fn exit_requested(&self) -> bool {
        self.exit_requested.load(Ordering::SeqCst)
    }

    pub(crate) fn request_exit(&self) {
        self.exit_requested.store(true, Ordering::SeqCst);
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue an event for containerd. Call it under the service lock, where the state change it
    /// announces happened: events leave in the order they were queued.
    pub fn publish(&self, ev: Event) {
        self.queue.event(ev);
    }

    /// Worker thread: send one event now.
    pub(crate) fn deliver(&self, ev: &Event) {
        self.publisher
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(ev);
    }
}

impl Inner {
    pub fn container(&self, id: &str) -> ttrpc::Result<&Container> {
        self.containers.get(id).ok_or_else(|| not_created(id))
    }

    pub fn container_mut(&mut self, id: &str) -> ttrpc::Result<&mut Container> {
        self.containers.get_mut(id).ok_or_else(|| not_created(id))
    }
}

fn not_created(id: &str) -> ttrpc::Error {
    err(Code::NOT_FOUND, format!("container {id:?} not created"))
}
