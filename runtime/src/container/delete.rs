//! `hull delete [-f]`: remove a stopped (or created) container; `-f` kills a running one first.

use super::state::{ContainerDir, State, Status, Store};
use crate::error::{Error, Result};
use crate::{hooks, logging};
use std::time::Duration;

pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let dir = match store.open(id) {
        Ok(d) => d,
        Err(Error::State(m)) if force && m.contains("does not exist") => return Ok(()),
        Err(e) => return Err(e),
    };
    let st = dir.load_current()?;
    match st.status {
        Status::Stopped => {}
        Status::Created | Status::Creating => kill_and_wait(&st)?,
        Status::Running | Status::Paused if force => kill_and_wait(&st)?,
        s => {
            return Err(Error::State(format!(
                "cannot delete container {id} that is not stopped: {s}"
            )))
        }
    }
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
            return Err(Error::State(format!(
                "container {}: init {} did not die after SIGKILL",
                st.id, st.pid
            )));
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
