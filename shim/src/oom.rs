//! OOM kills → `TaskOOM` events (topic `/tasks/oom`), as containerd's runc shim publishes them
//! and CRI turns them into the `OOMKilled` reason. Owns each container's [`Cgroup`] (found from
//! its init at Create) for the shim, so `Stats` reads the same directories.
//!
//! One thread (`oom`, started with the first container) sleeps in `epoll_wait` without a timeout:
//! cgroup v2 `memory.events` is watched with inotify (the kernel signals a modification when a
//! counter moves), cgroup v1 with an eventfd registered in `cgroup.event_control` against
//! `memory.oom_control`. Either way the kernel's `oom_kill` counter decides: an event is
//! published once per new kill. The kernel raises the counter *before* it sends SIGKILL to the
//! victim, so [`Watcher::check`], called by the exit path before it queues the init's
//! `TaskExit`, always finds the kill first: TaskOOM precedes TaskExit, whichever side sees it.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard};

use containerd_shim_protos::events::task::TaskOOM;

use crate::cgroup::Cgroup;
use crate::events::Event;

/// The epoll token of the inotify fd; containers' eventfds get 1, 2, …
const INOTIFY_TOKEN: u64 = 0;

/// Where the kernel tells about a container's OOM kills.
enum Source {
    /// v2: an inotify watch descriptor on memory.events.
    Inotify(i32),
    /// v1: the eventfd (epoll token = its key) and the memory.oom_control file it is bound to.
    EventFd { efd: File, _control: File },
}

struct Entry {
    cgroup: Cgroup,
    /// The kernel's oom_kill counter as last looked at (first: at watch time).
    seen: u64,
    /// v1: TaskOOMs published on a notification that the counter has not caught up with yet.
    owed: u64,
    source: Option<Source>,
}

#[derive(Default)]
struct State {
    /// container id → entry
    entries: HashMap<String, Entry>,
    /// epoll token → container id (v1 eventfds)
    tokens: HashMap<u64, String>,
    /// inotify watch descriptor → container id (v2)
    wds: HashMap<i32, String>,
    next_token: u64,
    /// epoll + inotify fds, made with the thread on first use.
    epoll: Option<Arc<OwnedFd>>,
    inotify: Option<Arc<OwnedFd>>,
}

pub type Publish = Box<dyn Fn(Event) + Send + Sync>;

pub struct Watcher {
    state: Mutex<State>,
    publish: Publish,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned to us by a successful syscall; nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn epoll_add(epoll: RawFd, fd: RawFd, token: u64) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: token,
    };
    // SAFETY: both fds are open; `ev` is a valid epoll_event for the duration of the call.
    cvt(unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut ev) })?;
    Ok(())
}

impl Watcher {
    /// `publish` queues an event; it is called with the watcher's lock held (that lock is never
    /// taken while the service lock is wanted, so the service may hold its own around calls).
    pub fn new(publish: Publish) -> Arc<Watcher> {
        Arc::new(Watcher {
            state: Mutex::new(State::default()),
            publish,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start watching container `id`, whose init is `pid`. The cgroup is found and kept even when
    /// the OOM watch cannot be set up (no memory controller): Stats still works then, and the
    /// reason is returned.
    pub fn watch(self: &Arc<Self>, id: &str, pid: u32) -> io::Result<()> {
        let cgroup = Cgroup::of_pid(pid)?;
        let mut st = self.lock();
        let seen = cgroup.oom_kills().unwrap_or(0);
        let source = self.source(&mut st, id, &cgroup);
        let err = source
            .as_ref()
            .err()
            .map(|e| io::Error::new(e.kind(), e.to_string()));
        st.entries.insert(
            id.to_string(),
            Entry {
                cgroup,
                seen,
                owed: 0,
                source: source.ok(),
            },
        );
        match err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The epoll fd, with the thread waiting on it (made on first use).
    fn epoll(self: &Arc<Self>, st: &mut State) -> io::Result<Arc<OwnedFd>> {
        if let Some(e) = &st.epoll {
            return Ok(Arc::clone(e));
        }
        // SAFETY: plain syscall with a flag argument.
        let ep = Arc::new(owned(cvt(unsafe {
            libc::epoll_create1(libc::EPOLL_CLOEXEC)
        })?));
        let me = Arc::clone(self);
        let fd = Arc::clone(&ep);
        std::thread::Builder::new()
            .name("oom".into())
            .stack_size(64 * 1024)
            .spawn(move || me.run(&fd))?;
        st.epoll = Some(Arc::clone(&ep));
        Ok(ep)
    }

    fn source(self: &Arc<Self>, st: &mut State, id: &str, cg: &Cgroup) -> io::Result<Source> {
        let ep = self.epoll(st)?;
        match cg {
            Cgroup::V2(dir) => {
                let ino = match &st.inotify {
                    Some(i) => Arc::clone(i),
                    None => {
                        // SAFETY: plain syscall with flags.
                        let i = Arc::new(owned(cvt(unsafe {
                            libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK)
                        })?));
                        epoll_add(ep.as_raw_fd(), i.as_raw_fd(), INOTIFY_TOKEN)?;
                        st.inotify = Some(Arc::clone(&i));
                        i
                    }
                };
                let file = dir.join("memory.events");
                let c = std::ffi::CString::new(file.as_os_str().as_encoded_bytes())
                    .map_err(io::Error::other)?;
                // SAFETY: valid inotify fd and NUL-terminated path.
                let wd = unsafe {
                    libc::inotify_add_watch(ino.as_raw_fd(), c.as_ptr(), libc::IN_MODIFY)
                };
                if wd < 0 {
                    let e = io::Error::last_os_error();
                    return Err(io::Error::new(
                        e.kind(),
                        format!("inotify {}: {e}", file.display()),
                    ));
                }
                st.wds.insert(wd, id.to_string());
                Ok(Source::Inotify(wd))
            }
            Cgroup::V1(_) => {
                let dir = cg.dir("memory").ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "no v1 memory cgroup")
                })?;
                let control = File::open(dir.join("memory.oom_control"))?;
                // SAFETY: plain syscall with flags.
                let efd = File::from(owned(cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) })?));
                let mut ctl = std::fs::OpenOptions::new()
                    .write(true)
                    .open(dir.join("cgroup.event_control"))?;
                ctl.write_all(format!("{} {}", efd.as_raw_fd(), control.as_raw_fd()).as_bytes())
                    .map_err(|e| {
                        io::Error::new(
                            e.kind(),
                            format!("{}/cgroup.event_control: {e}", dir.display()),
                        )
                    })?;
                st.next_token += 1;
                let token = st.next_token;
                epoll_add(ep.as_raw_fd(), efd.as_raw_fd(), token)?;
                st.tokens.insert(token, id.to_string());
                Ok(Source::EventFd {
                    efd,
                    _control: control,
                })
            }
        }
    }

    /// The cgroup found for `id` at watch time.
    pub fn cgroup(&self, id: &str) -> Option<Cgroup> {
        self.lock().entries.get(id).map(|e| e.cgroup.clone())
    }

    /// Publish TaskOOM for `id` if the kernel counted a kill since the last one published.
    pub fn check(&self, id: &str) {
        let mut st = self.lock();
        Self::check_locked(&mut st, id, &self.publish);
    }

    fn check_locked(st: &mut State, id: &str, publish: &Publish) {
        let Some(e) = st.entries.get_mut(id) else {
            return;
        };
        let Ok(n) = e.cgroup.oom_kills() else { return };
        if n > e.seen {
            let rise = n - e.seen;
            e.seen = n;
            if rise > e.owed {
                publish(oom_event(id));
            }
            e.owed = e.owed.saturating_sub(rise);
        }
    }

    /// v1: the memcg's OOM notification fires when the cgroup runs out of memory, *before* the
    /// kernel picks and kills a victim (memcg1_oom_prepare), so the counter usually has not moved
    /// yet: publish now, as containerd does, and let the coming counter rise settle the debt.
    fn notified_locked(st: &mut State, id: &str, publish: &Publish) {
        let Some(e) = st.entries.get_mut(id) else {
            return;
        };
        let n = e.cgroup.oom_kills().unwrap_or(e.seen);
        if n > e.seen {
            e.owed = e.owed.saturating_sub(n - e.seen);
            e.seen = n;
        } else {
            e.owed += 1;
        }
        publish(oom_event(id));
    }

    /// Stop watching `id` (its task was deleted).
    pub fn forget(&self, id: &str) {
        let mut st = self.lock();
        let Some(e) = st.entries.remove(id) else {
            return;
        };
        match e.source {
            Some(Source::Inotify(wd)) => {
                st.wds.remove(&wd);
                if let Some(i) = &st.inotify {
                    // SAFETY: plain syscall on our inotify fd; a stale wd only gives EINVAL.
                    unsafe { libc::inotify_rm_watch(i.as_raw_fd(), wd) };
                }
            }
            Some(Source::EventFd { efd, .. }) => {
                st.tokens.retain(|_, v| v != id);
                if let Some(ep) = &st.epoll {
                    // SAFETY: plain syscall; the fd is still open (closed when `efd` drops).
                    unsafe {
                        libc::epoll_ctl(
                            ep.as_raw_fd(),
                            libc::EPOLL_CTL_DEL,
                            efd.as_raw_fd(),
                            std::ptr::null_mut(),
                        )
                    };
                }
                // Closing the eventfd unregisters it from the cgroup.
                drop(efd);
            }
            None => {}
        }
    }

    /// The `oom` thread: sleeps until the kernel reports something.
    fn run(&self, epoll: &OwnedFd) {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        loop {
            // SAFETY: `evs` is a valid buffer of 8 events; infinite timeout.
            let n = unsafe { libc::epoll_wait(epoll.as_raw_fd(), evs.as_mut_ptr(), 8, -1) };
            if n < 0 {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                eprintln!("oom watcher: epoll_wait: {}", io::Error::last_os_error());
                return;
            }
            for ev in &evs[..n as usize] {
                let token = ev.u64;
                let mut st = self.lock();
                if token == INOTIFY_TOKEN {
                    for wd in read_inotify(&st) {
                        if let Some(id) = st.wds.get(&wd).cloned() {
                            Self::check_locked(&mut st, &id, &self.publish);
                        }
                    }
                    continue;
                }
                let Some(id) = st.tokens.get(&token).cloned() else {
                    continue;
                };
                let mut gone = false;
                if let Some(Entry {
                    source: Some(Source::EventFd { efd, .. }),
                    cgroup,
                    ..
                }) = st.entries.get(&id)
                {
                    let mut b = [0u8; 8];
                    let _ = (&*efd).read(&mut b);
                    // The eventfd also fires when the cgroup is removed.
                    gone = !cgroup.dir("memory").is_some_and(|d| d.exists());
                }
                if gone {
                    drop(st);
                    self.forget(&id);
                } else {
                    Self::notified_locked(&mut st, &id, &self.publish);
                }
            }
        }
    }
}

fn oom_event(id: &str) -> Event {
    let mut ev = TaskOOM::new();
    ev.container_id = id.to_string();
    Event::new(&ev)
}

/// Drain the inotify fd; the watch descriptors that reported a modification.
fn read_inotify(st: &State) -> Vec<i32> {
    let Some(i) = &st.inotify else {
        return Vec::new();
    };
    let mut wds = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        // SAFETY: reading into a buffer we own, of the length given.
        let n = unsafe { libc::read(i.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        let mut off = 0usize;
        let hdr = std::mem::size_of::<libc::inotify_event>();
        while off + hdr <= n as usize {
            // SAFETY: the kernel wrote whole inotify_event records; read_unaligned copes with
            // the byte buffer's alignment.
            let e: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(buf.as_ptr().add(off).cast()) };
            if e.mask & libc::IN_MODIFY != 0 && !wds.contains(&e.wd) {
                wds.push(e.wd);
            }
            off += hdr + e.len as usize;
        }
    }
    wds
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// inotify on an ordinary file stands in for memory.events: the same watch, read and
    /// counter logic as on cgroupfs (the real kernel path runs in the shim's integration tests).
    #[test]
    fn v2_counter_change_publishes_once_per_new_kill() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("c1");
        std::fs::create_dir_all(&d).unwrap();
        let f = d.join("memory.events");
        std::fs::write(&f, "oom 1\noom_kill 1\n").unwrap();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let w = Watcher::new(Box::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }));
        // Register by hand (watch() needs a real pid's /proc entry).
        {
            let mut st = w.lock();
            let cg = Cgroup::V2(d.clone());
            let src = w.source(&mut st, "c1", &cg).unwrap();
            st.entries.insert(
                "c1".into(),
                Entry {
                    cgroup: cg,
                    seen: 1,
                    owed: 0,
                    source: Some(src),
                },
            );
        }
        // A change that is not a new kill publishes nothing.
        std::fs::write(&f, "oom 2\noom_kill 1\n").unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        std::fs::write(&f, "oom 3\noom_kill 2\n").unwrap();
        let ev = rx.recv_timeout(Duration::from_secs(5)).expect("TaskOOM");
        assert_eq!(ev.topic, "/tasks/oom");
        let m: TaskOOM = protobuf::Message::parse_from_bytes(&ev.any.value).unwrap();
        assert_eq!(m.container_id, "c1");
        assert_eq!(ev.any.type_url, "containerd.events.TaskOOM");
        // The exit path's check finds nothing new: no duplicate.
        w.check("c1");
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
        // After forget, changes are not reported.
        w.forget("c1");
        std::fs::write(&f, "oom 4\noom_kill 3\n").unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        assert!(w.cgroup("c1").is_none());
    }

    #[test]
    fn check_publishes_a_kill_the_thread_has_not_seen() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("memory.events");
        std::fs::write(&f, "oom_kill 0\n").unwrap();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let w = Watcher::new(Box::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }));
        w.lock().entries.insert(
            "c2".into(),
            Entry {
                cgroup: Cgroup::V2(t.path().to_path_buf()),
                seen: 0,
                owed: 0,
                source: None,
            },
        );
        std::fs::write(&f, "oom_kill 1\n").unwrap();
        w.check("c2");
        assert_eq!(rx.try_recv().unwrap().topic, "/tasks/oom");
        w.check("c2");
        assert!(rx.try_recv().is_err());
    }

    /// v1 order: notification (counter not yet raised) → published; the kill raises the counter
    /// → the exit path's check publishes nothing more. A second OOM is published again.
    #[test]
    fn v1_notification_before_the_kill_is_published_once() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("memory.oom_control");
        std::fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n").unwrap();
        let (tx, rx) = mpsc::channel();
        let tx = Mutex::new(tx);
        let w = Watcher::new(Box::new(move |e| {
            let _ = tx.lock().unwrap().send(e);
        }));
        let cg = Cgroup::V1([("memory".to_string(), t.path().to_path_buf())].into());
        w.lock().entries.insert(
            "c3".into(),
            Entry {
                cgroup: cg,
                seen: 0,
                owed: 0,
                source: None,
            },
        );
        let notified = || Watcher::notified_locked(&mut w.lock(), "c3", &w.publish);
        notified();
        assert!(rx.try_recv().is_ok(), "published on the notification");
        std::fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n").unwrap();
        w.check("c3");
        assert!(rx.try_recv().is_err(), "the kill was already announced");
        // The next OOM: this time the counter is already up when the notification is handled.
        std::fs::write(&f, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        notified();
        assert!(rx.try_recv().is_ok());
        w.check("c3");
        assert!(rx.try_recv().is_err());
    }
}
