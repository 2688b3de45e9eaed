//! Which process an exit belongs to — the bookkeeping that must never lose an exit code.
//!
//! An exit can reach the shim before the shim knows the pid (the process ran and died before the
//! runtime command that started it returned and its pid file was read). Such exits wait in a
//! small "unclaimed" list and are claimed when the pid becomes known. Pure data: unit-tested.

use std::collections::VecDeque;

/// Exits nobody claimed yet, bounded (orphans reparented to us that we never started also land
/// here; the oldest are dropped first).
const UNCLAIMED_MAX: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exited {
    pub status: u32,
    /// Seconds and nanoseconds since the epoch.
    pub at: (i64, i32),
}

/// Lifecycle status, as containerd's `containerd.v1.types.Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

/// One process of the shim: its container and its exec id ("" for the container's init).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProcKey {
    pub container: String,
    pub exec: String,
}

impl ProcKey {
    pub fn new(container: &str, exec: &str) -> ProcKey {
        ProcKey {
            container: container.to_string(),
            exec: exec.to_string(),
        }
    }

    /// The container's init process.
    pub fn is_init(&self) -> bool {
        self.exec.is_empty()
    }
}

#[derive(Debug, Default)]
pub struct Table {
    /// (process, pid, exit)
    procs: Vec<(ProcKey, u32, Option<Exited>)>,
    unclaimed: VecDeque<(u32, Exited)>,
}

impl Table {
    /// A process whose pid is now known. Returns its exit if it already happened.
    pub fn learn(&mut self, key: &ProcKey, pid: u32) -> Option<Exited> {
        let claimed = self
            .unclaimed
            .iter()
            .position(|(p, _)| *p == pid)
            .and_then(|i| self.unclaimed.remove(i))
            .map(|(_, e)| e);
        self.procs.retain(|(k, _, _)| k != key);
        self.procs.push((key.clone(), pid, claimed));
        claimed
    }

    /// A reaped pid: returns the key of the process it belonged to (first exit only).
    pub fn exited(&mut self, pid: u32, e: Exited) -> Option<ProcKey> {
        if let Some(p) = self
            .procs
            .iter_mut()
            .find(|(_, p, x)| *p == pid && x.is_none())
        {
            p.2 = Some(e);
            return Some(p.0.clone());
        }
        if self.unclaimed.len() == UNCLAIMED_MAX {
            self.unclaimed.pop_front();
        }
        self.unclaimed.push_back((pid, e));
        None
    }

    pub fn exit_of(&self, key: &ProcKey) -> Option<Exited> {
        self.procs
            .iter()
            .find(|(k, _, _)| k == key)
            .and_then(|p| p.2)
    }

    pub fn forget(&mut self, key: &ProcKey) {
        self.procs.retain(|(k, _, _)| k != key);
    }

    /// Drop every process of a deleted container.
    pub fn forget_container(&mut self, container: &str) {
        self.procs.retain(|(k, _, _)| k.container != container);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: Exited = Exited {
        status: 3,
        at: (1, 2),
    };

    fn k(c: &str, e: &str) -> ProcKey {
        ProcKey::new(c, e)
    }

    #[test]
    fn exit_after_pid_known() {
        let mut t = Table::default();
        assert_eq!(t.learn(&k("c", ""), 100), None);
        assert_eq!(t.exited(100, E), Some(k("c", "")));
        assert_eq!(t.exit_of(&k("c", "")), Some(E));
        // A second exit for the same pid (reuse) is not attributed to the dead process.
        assert_eq!(
            t.exited(
                100,
                Exited {
                    status: 9,
                    at: (0, 0)
                }
            ),
            None
        );
        assert_eq!(t.exit_of(&k("c", "")), Some(E));
    }

    #[test]
    fn exit_before_pid_known_is_not_lost() {
        let mut t = Table::default();
        assert_eq!(t.exited(200, E), None);
        assert_eq!(t.learn(&k("c", "exec1"), 200), Some(E));
        assert_eq!(t.exit_of(&k("c", "exec1")), Some(E));
        // Claimed once only.
        assert_eq!(t.learn(&k("c", "exec2"), 200), None);
    }

    #[test]
    fn containers_keep_their_own_processes() {
        let mut t = Table::default();
        t.learn(&k("pause", ""), 10);
        t.learn(&k("app", ""), 11);
        t.learn(&k("app", "sh"), 12);
        assert_eq!(t.exited(11, E), Some(k("app", "")));
        assert_eq!(t.exit_of(&k("pause", "")), None);
        assert_eq!(t.exit_of(&k("app", "")), Some(E));
        t.forget_container("app");
        assert_eq!(t.exit_of(&k("app", "")), None);
        assert_eq!(t.exited(12, E), None, "forgotten with its container");
        assert_eq!(t.exited(10, E), Some(k("pause", "")));
    }

    #[test]
    fn unclaimed_is_bounded() {
        let mut t = Table::default();
        for pid in 0..(UNCLAIMED_MAX as u32 + 10) {
            t.exited(1000 + pid, E);
        }
        assert_eq!(t.learn(&k("c", "x"), 1000), None, "oldest dropped");
        assert_eq!(
            t.learn(&k("c", "y"), 1000 + UNCLAIMED_MAX as u32 + 9),
            Some(E)
        );
    }
}
