//! `hull run`: create + start, then (unless detached) forward signals to the container and return
//! its exit code (128+signal when it was killed), deleting it afterwards unless `--keep`.

use super::create::{create, CreateArgs};
use super::start::start_locked;
use super::state::Store;
use crate::error::{Error, Result};
use nix::errno::Errno;

pub fn run(store: &Store, a: &CreateArgs, detach: bool, keep: bool) -> Result<i32> {
    let mask = if detach { None } else { Some(block_signals()) };
    if !detach {
        // A slow-path init is our grandchild: make it reparent to us so we can wait for it.
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }
    let result = (|| {
        let (st, dir) = create(store, a)?;
        let pid = st.pid;
        if let Err(e) = start_locked(&dir, st) {
            drop(dir);
            let _ = super::delete::delete(store, &a.id, true);
            return Err(e);
        }
        drop(dir);
        Ok(pid)
    })();
    let pid = match result {
        Ok(p) => p,
        Err(e) => {
            if let Some(m) = mask {
                restore_signals(&m);
            }
            return Err(e);
        }
    };
    let Some(mask) = mask else {
        return Ok(0);
    };
    let code = forward_and_wait(pid);
    restore_signals(&mask);
    if !keep {
        super::delete::delete(store, &a.id, true)?;
    }
    code
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: sigset manipulation on locals and sigprocmask with valid pointers.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigprocmask(libc::SIG_BLOCK, &all, &mut old);
        old
    }
}

fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: restoring a previously saved mask.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}

/// Wait for `pid`, forwarding every other signal we receive to it. Reaps other children too.
fn forward_and_wait(pid: i32) -> Result<i32> {
    // SAFETY: signalfd over the full (blocked) set.
    let sfd = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::signalfd(-1, &all, libc::SFD_CLOEXEC)
    };
    if sfd < 0 {
        return Err(Error::sys("signalfd", Errno::last()));
    }
    let res = loop {
        if let Some(code) = reap(pid) {
            break Ok(code);
        }
        // SAFETY: a zeroed plain-data struct.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        // SAFETY: reading one signalfd_siginfo from a valid signalfd into `info`.
        let n = unsafe {
            libc::read(
                sfd,
                &mut info as *mut _ as *mut libc::c_void,
                std::mem::size_of::<libc::signalfd_siginfo>(),
            )
        };
        if n < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            break Err(Error::sys("read signalfd", Errno::last()));
        }
        let sig = info.ssi_signo as i32;
        if sig != libc::SIGCHLD {
            // SAFETY: forwarding a signal to the container init.
            unsafe { libc::kill(pid, sig) };
        }
    };
    // SAFETY: closing the fd we opened.
    unsafe { libc::close(sfd) };
    res
}

fn reap(pid: i32) -> Option<i32> {
    loop {
        let mut st = 0;
        // SAFETY: non-blocking wait for any child.
        let r = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
        if r <= 0 {
            if r < 0 && Errno::last() == Errno::ECHILD {
                // No children at all: the init is gone without us seeing it.
                return Some(if crate::container::state::proc_stat(pid).is_some() {
                    return None;
                } else {
                    255
                });
            }
            return None;
        }
        if r == pid {
            return Some(crate::spawn::exit_code(st));
        }
    }
}
