//! Child reaping for a subreaper that also runs short-lived CLI commands.
//!
//! One thread waits for SIGCHLD (blocked in every thread, taken with `sigwait`) and reaps every
//! child with `waitpid(-1, WNOHANG)`. A command we spawn must never lose its exit to that loop, so
//! `Monitor::spawn` registers interest in the pid *while holding the lock that dispatch needs*:
//! the reaper may reap the pid at once, but it can only hand the status out after the subscriber
//! is in place (containerd's runc shim does the same, "subscribe before start").
//! Exits nobody subscribed to (the container's processes, reparented to us) go to a channel.

use std::collections::HashMap;
use std::io::{self, Read};
use std::process::{Child, Command};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{SigSet, Signal};

/// A reaped child: pid and raw wait status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub pid: i32,
    pub raw: i32,
}

pub struct Monitor {
    subscribers: Mutex<HashMap<i32, SyncSender<i32>>>,
}

/// Output of a finished command.
pub struct Output {
    pub raw_status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Block SIGCHLD in the calling thread (and so in every thread it creates later).
/// Call first thing in `main`, before any thread exists.
pub fn block_sigchld() -> nix::Result<()> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    set.thread_block()
}

impl Monitor {
    /// Start the reaper thread. Exits nobody subscribed to are handed to `unclaimed`.
    pub fn start(unclaimed: Box<dyn Fn(Exit) + Send>) -> io::Result<Arc<Monitor>> {
        let m = Arc::new(Monitor {
            subscribers: Mutex::new(HashMap::new()),
        });
        let m2 = Arc::clone(&m);
        std::thread::Builder::new()
            .name("reaper".into())
            .stack_size(64 * 1024)
            .spawn(move || m2.reap_loop(unclaimed))?;
        Ok(m)
    }

    fn reap_loop(&self, unclaimed: Box<dyn Fn(Exit) + Send>) {
        let mut set = SigSet::empty();
        set.add(Signal::SIGCHLD);
        loop {
            // Reap first: children may have exited before this thread started waiting.
            loop {
                let mut raw = 0;
                // SAFETY: waitpid with a valid out-pointer; WNOHANG never blocks.
                let pid = unsafe { libc::waitpid(-1, &mut raw, libc::WNOHANG) };
                if pid <= 0 {
                    break;
                }
                let sub = self
                    .subscribers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&pid);
                match sub {
                    Some(tx) => {
                        let _ = tx.send(raw);
                    }
                    None => {
                        unclaimed(Exit { pid, raw });
                    }
                }
            }
            let _ = set.wait();
        }
    }

    /// Spawn `cmd` with its exit registered before anything can reap it.
    pub fn spawn(&self, cmd: &mut Command) -> io::Result<(Child, Receiver<i32>)> {
        let mut subs = self.subscribers.lock().unwrap_or_else(|e| e.into_inner());
        let child = cmd.spawn()?;
        let (tx, rx) = sync_channel(1);
        subs.insert(child.id() as i32, tx);
        Ok((child, rx))
    }

    /// Run `cmd` to completion, collecting piped stdout/stderr (the caller sets them piped).
    pub fn output(&self, cmd: &mut Command) -> io::Result<Output> {
        let (mut child, rx) = self.spawn(cmd)?;
        let mut stdout = Vec::new();
        let mut stderr = Vec::new();
        if let Some(mut o) = child.stdout.take() {
            o.read_to_end(&mut stdout)?;
        }
        if let Some(mut e) = child.stderr.take() {
            e.read_to_end(&mut stderr)?;
        }
        let raw_status = rx
            .recv()
            .map_err(|_| io::Error::other("reaper thread is gone"))?;
        Ok(Output {
            raw_status,
            stdout,
            stderr,
        })
    }
}

/// Whether `pid` is a live process: it exists and is not a zombie waiting for our reap (a zombie
/// still answers `kill(pid, 0)`, so /proc/PID/stat's state field decides).
pub fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    match stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
    {
        Some(state) => state != "Z" && state != "X",
        None => false,
    }
}

#[cfg(test)]
mod alive_tests {
    use super::alive;

    #[test]
    fn live_zombie_and_gone() {
        assert!(alive(std::process::id() as i32), "this process is alive");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        // not reaped yet: a zombie once it has exited
        let t = std::time::Instant::now();
        while alive(pid) && t.elapsed() < std::time::Duration::from_secs(5) {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(
            !alive(pid),
            "an exited, unreaped child is a zombie, not alive"
        );
        assert!(
            std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "zombie still listed"
        );
        child.wait().unwrap();
        assert!(!alive(pid), "a reaped child is gone");
    }
}
