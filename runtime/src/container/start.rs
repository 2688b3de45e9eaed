//! `hull start`: release the init waiting on the exec fifo, then run poststart hooks.

use super::state::{ContainerDir, State, Status, Store, EXEC_FIFO};
use super::wrong_state;
use crate::error::{Error, Result};
use crate::{failpoint, hooks, logging, sys};
use nix::errno::Errno;
use std::os::fd::AsRawFd;

pub fn start(store: &Store, id: &str) -> Result<()> {
    let dir = store.open(id)?;
    let st = dir.load_current()?;
    failpoint::hit("start:after-open");
    start_locked(&dir, st)
}

/// Start a container whose dir is already locked (shared with `run`).
pub fn start_locked(dir: &ContainerDir, mut st: State) -> Result<()> {
    match st.status {
        Status::Created => {}
        s => return Err(wrong_state(&st.id, "start", s)),
    }
    let fifo = dir.path.join(EXEC_FIFO);
    let c = sys::cstr(&fifo.to_string_lossy())?;
    // Non-blocking open never hangs; it still counts as the reader the init's open waits for.
    let fd = sys::open_path(&c, libc::O_RDONLY | libc::O_NONBLOCK)
        .map_err(|e| Error::sys(format!("open {}", fifo.display()), e))?;
    let pidfd = super::pidfd_for(st.pid, st.start_time);
    let pidfd_raw = pidfd.as_ref().map_or(-1, |p| p.as_raw_fd());
    // First the init's "0": it is about to exec.
    loop {
        let (fifo_ev, init_ev) = poll2(fd.as_raw_fd(), pidfd_raw)?;
        if fifo_ev & libc::POLLIN != 0 {
            let mut b = [0u8; 1];
            // SAFETY: read into a valid one-byte buffer.
            let n = unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr() as *mut libc::c_void, 1) };
            if n == 1 {
                failpoint::hit("start:after-release");
                break;
            }
        }
        if init_ev != 0 || pidfd.is_none() {
            return Err(Error::StartFailed(format!(
                "cannot start container {}: its init process exited before start",
                st.id
            )));
        }
    }
    // The init keeps its end open until execve closes it: wait for that, or for its error report.
    // (When the init dies, its end closes too: the fifo reports the hang-up.)
    let mut report = Vec::new();
    while let Ok((fifo_ev, _)) = poll2(fd.as_raw_fd(), pidfd_raw) {
        if fifo_ev & (libc::POLLIN | libc::POLLHUP) != 0 {
            let mut b = [0u8; 4096];
            // SAFETY: read into a valid buffer.
            let n =
                unsafe { libc::read(fd.as_raw_fd(), b.as_mut_ptr() as *mut libc::c_void, b.len()) };
            if n > 0 {
                report.extend_from_slice(&b[..n as usize]);
                continue;
            }
            if n == 0 || Errno::last() != Errno::EAGAIN {
                break;
            }
        }
    }
    let _ = std::fs::remove_file(&fifo);
    failpoint::hit("start:after-exec");
    if !report.is_empty() {
        return Err(Error::StartFailed(
            String::from_utf8_lossy(&report).into_owned(),
        ));
    }
    // state.json is not rewritten: `running` is read from the exec fifo being gone
    // (state::current_status). One write + rename less per start, and on a disk-backed root
    // no freed block for the filesystem to discard.
    st.status = Status::Running;
    let poststart = std::mem::take(&mut st.poststart);
    if !poststart.is_empty() {
        let json = serde_json::to_vec(&st.spec_json()).expect("json");
        for (i, h) in poststart.iter().enumerate() {
            if let Err(e) = hooks::run("poststart", i, h, &json) {
                logging::warn(&format!("{e}"));
            }
        }
    }
    Ok(())
}

/// poll(2) the exec fifo and the init's pidfd (-1: none) for up to a second; their revents.
fn poll2(fifo: i32, pidfd: i32) -> Result<(i16, i16)> {
    let mut fds = [
        libc::pollfd {
            fd: fifo,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: pidfd,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: poll on valid pollfds (a negative fd is ignored by poll).
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 2, 1000) };
    if rc < 0 && Errno::last() != Errno::EINTR {
        return Err(Error::sys("poll exec fifo", Errno::last()));
    }
    Ok((fds[0].revents, fds[1].revents))
}
