//! The worker thread and its queue: exits of container processes and event publishing.
//!
//! The reaper thread cannot take the service lock (runtime commands run under it and wait for
//! their exit status from the reaper), so it hands exits here. One queue, one thread: exits first
//! (a `Wait` never waits behind a publication), events in the order they were produced.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};

use containerd_shim_protos::events::task::TaskExit;

use crate::events::Event;
use crate::exit::exit_status;
use crate::reaper::Exit;
use crate::service::{now, ts, Inner, Service};
use crate::table::{Exited, ProcKey, Status};

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

impl Queued {
    fn idle(&self) -> bool {
        !self.busy && self.exits.is_empty() && self.events.is_empty()
    }
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
        if q.idle() {
            self.idle.notify_all();
        }
    }

    /// Wait until everything queued has been handled (events published), at most `limit`.
    /// Returns whether it got there.
    pub fn wait_idle(&self, limit: std::time::Duration) -> bool {
        let q = self.queue();
        let (q, _) = self
            .idle
            .wait_timeout_while(q, limit, |q| !q.idle())
            .unwrap_or_else(|e| e.into_inner());
        q.idle()
    }
}

impl Service {
    /// Worker thread: exits and publishing, strictly in queue order.
    pub fn work(&self, w: Work) {
        match w {
            Work::Exit(e) => self.on_exit(e),
            Work::Publish(ev) => self.deliver(&ev),
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

    /// Record the exit of process `k` and announce it (TaskExit), waking its `Wait`s.
    pub(crate) fn finish(&self, g: &mut Inner, k: &ProcKey, e: Exited) {
        let Some(p) = g
            .containers
            .get_mut(&k.container)
            .and_then(|c| c.procs.get_mut(&k.exec))
        else {
            return;
        };
        p.status = Status::Stopped;
        if k.is_init() {
            // An OOM kill of the init is announced before its exit.
            self.oom.check(&k.container);
        }
        let mut ev = TaskExit::new();
        ev.container_id = k.container.clone();
        ev.id = if k.is_init() {
            k.container.clone()
        } else {
            k.exec.clone()
        };
        ev.pid = p.pid;
        ev.exit_status = e.status;
        ev.exited_at = ts(e.at);
        self.publish(Event::new(&ev));
        self.cond.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_shim_protos::events::task::TaskStart;
    use std::sync::Arc;

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
