//! Failpoints: the named places in create/start/run/exec/delete where a crash is injected to
//! prove that `delete -f` can always clean up. Compiled in only with the `failpoints` cargo
//! feature; without it [`hit`] is an empty inline function.
//!
//! `HULL_FAILPOINT=NAME` makes hull SIGKILL itself when it reaches NAME (as the OOM killer or a
//! killed shim would). NAME is one of [`POINTS`].

/// Every failpoint, in the order a lifecycle reaches them.
pub const POINTS: &[&str] = &[
    "create:before-state-rename",
    "create:after-state",
    "create:after-fifo",
    "create:after-config-copy",
    "create:after-plan",
    "create:after-cgroup",
    "create:after-clone",
    "create:after-pid",
    "create:after-spawn",
    "create:after-created",
    "start:after-open",
    "start:after-release",
    "start:after-exec",
    "run:after-create",
    "run:after-start",
    "run:after-exit",
    "exec:after-open",
    "exec:after-spawn",
    "delete:after-open",
    "delete:after-kill",
    "delete:after-cgroup",
    "delete:before-state-remove",
];

/// Crash here if `HULL_FAILPOINT` names this point (only with the `failpoints` feature).
#[inline(always)]
pub fn hit(name: &'static str) {
    #[cfg(feature = "failpoints")]
    imp::hit(name);
    #[cfg(not(feature = "failpoints"))]
    let _ = name;
}

#[cfg(feature = "failpoints")]
mod imp {
    use std::sync::OnceLock;

    static ARMED: OnceLock<Option<String>> = OnceLock::new();

    pub fn hit(name: &'static str) {
        debug_assert!(
            super::POINTS.contains(&name),
            "failpoint {name} missing from POINTS"
        );
        let armed = ARMED.get_or_init(|| std::env::var("HULL_FAILPOINT").ok());
        if armed.as_deref() == Some(name) {
            // SAFETY: kill(2) of our own process; SIGKILL cannot be caught, nothing runs after.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn points_are_unique_and_named_by_verb() {
        let mut seen = std::collections::HashSet::new();
        for p in super::POINTS {
            assert!(seen.insert(p), "{p} listed twice");
            let verb = p.split(':').next().unwrap();
            assert!(
                ["create", "start", "run", "exec", "delete"].contains(&verb),
                "{p}"
            );
        }
        // Unarmed (no HULL_FAILPOINT in the test env), a hit is a no-op.
        super::hit("delete:after-open");
    }
}
