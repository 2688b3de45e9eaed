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
    // Foreground without --console-socket: if the config asks for a terminal, hull is the console.
    let console = if !detach && a.console_socket.is_none() {
        Some(super::tty::console_pair()?)
    } else {
        None
    };
    let mut master = None;
    let result = (|| {
        let args;
        let a = match &console {
            Some((_, theirs)) => {
                args = CreateArgs {
                    console_fd: Some(
                        theirs
                            .try_clone()
                            .map_err(|e| Error::io("dup console fd", "", e))?,
                    ),
                    ..a.clone_args()
                };
                &args
            }
            None => a,
        };
        let (st, dir) = create(store, a)?;
        crate::failpoint::hit("run:after-create");
        if let Some((ours, _)) = &console {
            master = super::tty::take_master(ours);
        }
        let pid = st.pid;
        if let Err(e) = start_locked(&dir, st) {
            drop(dir);
            let _ = super::delete::delete(store, &a.id, true);
            return Err(e);
        }
        drop(dir);
        crate::failpoint::hit("run:after-start");
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
    drop(console);
    let code = forward_and_wait(pid, master);
    restore_signals(&mask);
    crate::failpoint::hit("run:after-exit");
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
pub(crate) fn forward_and_wait(pid: i32, master: Option<std::os::fd::OwnedFd>) -> Result<i32> {
    // SAFETY: signalfd over the full (blocked) set.
    let sfd = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::signalfd(-1, &all, libc::SFD_CLOEXEC)
    };
    if sfd < 0 {
        return Err(Error::sys("signalfd", Errno::last()));
    }
    let _raw = master.as_ref().map(|m| {
        super::tty::copy_winsize(m);
        super::tty::RawMode::enter()
    });
    let mut stdin_open = true;
    let mut master_open = master.is_some();
    let res = loop {
        if let Some(code) = reap(pid) {
            // Drain what the container wrote last.
            if let Some(m) = master.as_ref().filter(|_| master_open) {
                let mut no_stdin = false;
                while super::tty::pump(m, &mut no_stdin, 0, -1).0 {}
            }
            break Ok(code);
        }
        if let Some(m) = master.as_ref().filter(|_| master_open) {
            let (alive, sig_ready) = super::tty::pump(m, &mut stdin_open, 100, sfd);
            master_open = alive;
            if !sig_ready {
                continue;
            }
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
        if sig == libc::SIGWINCH {
            if let Some(m) = &master {
                super::tty::copy_winsize(m);
            }
            continue;
        }
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
