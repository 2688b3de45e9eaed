//! `hull delete [-f]`: remove a stopped (or created) container; `-f` kills a running one first.

use super::state::{ContainerDir, State, Status, Store};
use crate::error::{Error, Result};
use crate::{failpoint, hooks, logging};
use std::time::Duration;

/// Delete `id`. Understands every state a container can be left in, a half-created one included
/// (its creator killed): the init is killed if it still lives (checked by start time), then the
/// cgroup and the directory go. As runc: `-f` of a container that does not exist succeeds.
pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    store.sweep_stale();
    let dir = match store.open(id) {
        Ok(d) => d,
        Err(e) if force && e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    failpoint::hit("delete:after-open");
    let st = match dir.load_current() {
        Ok(st) => st,
        Err(e @ Error::CorruptState { .. }) => {
            // Nothing in it can be trusted (a torn write after power loss, or edited by hand):
            // what it named died with the machine; the directory is all that is left.
            logging::warn(&format!("{e}: removing it"));
            return dir.remove();
        }
        Err(e) => return Err(e),
    };
    match st.status {
        Status::Stopped => {}
        Status::Created | Status::Creating => kill_and_wait(&st)?,
        Status::Running | Status::Paused if force => kill_and_wait(&st)?,
        s => return Err(Error::wrong_state(id, "delete", s)),
    }
    failpoint::hit("delete:after-kill");
    destroy(dir, st)
}

fn kill_and_wait(st: &State) -> Result<()> {
    if let Some(cg) = super::cgroup_of(st) {
        let _ = cg.kill_all(libc::SIGKILL);
        if st.status == Status::Paused {
            // Frozen (v1) tasks only die once thawed.
            let _ = cg.thaw();
        }
    }
    for pid in super::kill::container_pids(st) {
        // SAFETY: SIGKILL to the container's processes.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    if let Some(fd) = super::pidfd_for(st.pid, st.start_time) {
        let _ = super::pidfd_signal(&fd, libc::SIGKILL);
        if !super::pidfd_wait(&fd, Duration::from_secs(10)) {
            return Err(Error::Unkillable {
                id: st.id.clone(),
                pid: st.pid,
            });
        }
    }
    Ok(())
}

/// Remove everything the container owns, then run poststop hooks (failures only warn).
pub fn destroy(dir: ContainerDir, mut st: State) -> Result<()> {
    if let Some(cg) = super::cgroup_of(&st) {
        // Processes left in the cgroup (a stopped init's orphans) go first, then the cgroup.
        if !cg.pids().unwrap_or_default().is_empty() {
            let _ = cg.kill_all(libc::SIGKILL);
        }
        cg.destroy()?;
    }
    failpoint::hit("delete:after-cgroup");
    dir.remove()?;
    st.status = Status::Stopped;
    let poststop = std::mem::take(&mut st.poststop);
    if !poststop.is_empty() {
        let json = serde_json::to_vec(&st.spec_json()).expect("json");
        for (i, h) in poststop.iter().enumerate() {
            if let Err(e) = hooks::run("poststop", i, h, &json) {
                logging::warn(&format!("{e}"));
            }
        }
    }
    Ok(())
}
