//! `hull pause` / `hull resume`: freeze and thaw the container's cgroup.
//!
//! As runc: a running (or created) container can be paused, only a paused one resumed. The
//! status `paused` is saved in state.json; it holds while the init lives.

use super::state::{Status, Store};
use crate::error::{Error, Result};

fn manager(st: &super::State) -> Result<Box<dyn hull_cgroups::CgroupManager>> {
    super::cgroup_of(st).ok_or_else(|| Error::missing(&st.id, "pause", "cgroup"))
}

pub fn pause(store: &Store, id: &str) -> Result<()> {
    let dir = store.open(id)?;
    let mut st = dir.load_current()?;
    match st.status {
        Status::Running | Status::Created => {}
        s => return Err(Error::wrong_state(id, "pause", s)),
    }
    let cg = manager(&st)?;
    cg.freeze()?;
    st.status = Status::Paused;
    if let Err(e) = dir.save(&st) {
        let _ = cg.thaw();
        return Err(e);
    }
    Ok(())
}

pub fn resume(store: &Store, id: &str) -> Result<()> {
    let dir = store.open(id)?;
    let mut st = dir.load_current()?;
    if st.status != Status::Paused {
        return Err(Error::wrong_state(id, "resume", st.status));
    }
    let cg = manager(&st)?;
    cg.thaw()?;
    st.status = Status::Running;
    dir.save(&st)?;
    Ok(())
}
