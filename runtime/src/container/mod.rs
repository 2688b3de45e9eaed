//! The container verbs. Each checks the state transition and refuses the wrong one clearly.

pub mod checkpoint;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod restore;
pub mod run;
pub mod start;
pub mod state;
pub mod status;
pub mod tty;
pub mod update;

pub use state::{ContainerDir, State, Status, Store};

use crate::error::{Error, Result};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The runtime-spec version hull implements.
pub const OCI_VERSION: &str = "1.2.0";

/// A pidfd for `pid`, checked to still be the process recorded (same start time).
pub fn pidfd_for(pid: i32, start_time: u64) -> Option<OwnedFd> {
    // SAFETY: pidfd_open with a pid and no flags.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if rc < 0 {
        return None;
    }
    // SAFETY: the kernel returned a new fd that we own.
    let fd = unsafe { OwnedFd::from_raw_fd(rc as i32) };
    // The pid could have been reused before pidfd_open: check it is still our process.
    if !state::process_alive(pid, start_time) {
        return None;
    }
    Some(fd)
}

/// Send a signal through a pidfd (immune to pid reuse once the fd is open).
pub fn pidfd_signal(fd: &OwnedFd, sig: i32) -> Result<()> {
    // SAFETY: pidfd_send_signal with a valid pidfd, a signal number and no siginfo.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if rc != 0 {
        return Err(Error::sys(format!("signal {sig}"), Errno::last()));
    }
    Ok(())
}

/// Wait until the process behind a pidfd exits, up to `timeout`. True when it exited.
pub fn pidfd_wait(fd: &OwnedFd, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: poll on one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc > 0 {
            return true;
        }
        if rc == 0 || (rc < 0 && Errno::last() != Errno::EINTR) {
            return start.elapsed() < timeout && rc > 0;
        }
    }
}

/// The config copy saved at create time (hooks, process defaults for exec).
pub fn saved_spec(dir: &ContainerDir) -> Option<oci_spec::runtime::Spec> {
    let raw = std::fs::read(dir.path.join(state::CONFIG_COPY)).ok()?;
    crate::spec::parse_config(&raw).ok()
}

/// The error runc gives for a verb in the wrong state.
pub fn wrong_state(id: &str, verb: &'static str, st: Status) -> Error {
    Error::wrong_state(id, verb, st)
}

/// The container's cgroup manager, re-opened from the path saved in its state.
pub fn cgroup_of(st: &State) -> Option<Box<dyn hull_cgroups::CgroupManager>> {
    let p = st.cgroup_path.as_deref()?;
    let path = hull_cgroups::CgroupPath::from_json(p).ok()?;
    hull_cgroups::manager(&path).ok()
}
