//! Foreground `hull run` / `hull exec`, shared by both: signals blocked and forwarded to the
//! process until it exits, and — with `process.terminal: true` and no --console-socket — hull
//! holds the pty master itself, copying between it and its own stdio (raw mode when stdin is a
//! tty), resizing the pty on SIGWINCH — what runc does.

use crate::error::{Error, Result};
use nix::errno::Errno;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A foreground `run`/`exec`: every signal blocked (forwarded from a signalfd), and our end of
/// the console socket when hull holds the terminal.
pub struct Foreground {
    mask: SignalMask,
    console: Option<OwnedFd>,
}

impl Foreground {
    /// Block every signal; with `console`, also the socket pair whose other end (returned) goes
    /// to the process, which sends the pty master over it.
    pub fn begin(console: bool) -> Result<(Foreground, Option<OwnedFd>)> {
        let mask = SignalMask::block_all();
        let (ours, theirs) = match console {
            true => {
                let (o, t) = console_pair()?;
                (Some(o), Some(t))
            }
            false => (None, None),
        };
        Ok((
            Foreground {
                mask,
                console: ours,
            },
            theirs,
        ))
    }

    /// Forward signals (and the terminal, if the process sent its pty master) until `pid`
    /// exits; its exit code. The signal mask is restored after.
    pub fn wait(self, pid: i32) -> Result<i32> {
        let master = self.console.as_ref().and_then(take_master);
        drop(self.console);
        let code = forward_and_wait(pid, master);
        drop(self.mask);
        code
    }
}

/// A stream socketpair: (ours, the one handed to the container init).
fn console_pair() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair fills two fds on success.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(Error::sys("socketpair (console)", Errno::last()));
    }
    // SAFETY: both fds are new and owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The pty master, if the init sent one (without blocking: it was sent before create returned).
fn take_master(sock: &OwnedFd) -> Option<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .ok()?;
    for c in msg.cmsgs().ok()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&f) = fds.first() {
                // SAFETY: the kernel installed this fd for us.
                return Some(unsafe { OwnedFd::from_raw_fd(f) });
            }
        }
    }
    None
}

/// Puts stdin in raw mode while alive (when it is a terminal).
pub struct RawMode(Option<libc::termios>);

impl RawMode {
    pub fn enter() -> RawMode {
        // SAFETY: isatty/tcgetattr/tcsetattr on fd 0 with a valid termios.
        unsafe {
            if libc::isatty(0) != 1 {
                return RawMode(None);
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return RawMode(None);
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawMode(Some(saved))
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            // SAFETY: restoring the saved termios on fd 0.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &t) };
        }
    }
}

pub fn copy_winsize(master: &OwnedFd) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a valid winsize struct.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

fn write_all(fd: RawFd, mut b: &[u8]) {
    while !b.is_empty() {
        // SAFETY: write from a valid buffer.
        let n = unsafe { libc::write(fd, b.as_ptr() as *const libc::c_void, b.len()) };
        if n <= 0 {
            if n < 0 && Errno::last() == Errno::EINTR {
                continue;
            }
            return;
        }
        b = &b[n as usize..];
    }
}

/// One round of copying: returns false once the master is closed (the container's side is gone).
pub fn pump(
    master: &OwnedFd,
    stdin_open: &mut bool,
    timeout_ms: i32,
    extra: RawFd,
) -> (bool, bool) {
    let mut fds = [
        libc::pollfd {
            fd: if *stdin_open { 0 } else { -1 },
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: extra,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: poll on valid pollfds.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), 3, timeout_ms) };
    if rc <= 0 {
        return (true, false);
    }
    let mut buf = [0u8; 8192];
    let mut alive = true;
    if fds[1].revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
        // SAFETY: read into a valid buffer.
        let n = unsafe {
            libc::read(
                master.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
            )
        };
        if n > 0 {
            write_all(1, &buf[..n as usize]);
        } else {
            alive = false;
        }
    }
    if fds[0].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
        // SAFETY: read into a valid buffer.
        let n = unsafe { libc::read(0, buf.as_mut_ptr() as *mut libc::c_void, buf.len()) };
        if n > 0 {
            write_all(master.as_raw_fd(), &buf[..n as usize]);
        } else {
            *stdin_open = false;
        }
    }
    (alive, fds[2].revents & libc::POLLIN != 0)
}

/// Wait for `pid`, forwarding every other signal we receive to it. Reaps other children too.
fn forward_and_wait(pid: i32, master: Option<std::os::fd::OwnedFd>) -> Result<i32> {
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
        copy_winsize(m);
        RawMode::enter()
    });
    let mut stdin_open = true;
    let mut master_open = master.is_some();
    let res = loop {
        if let Some(code) = reap(pid) {
            // Drain what the container wrote last.
            if let Some(m) = master.as_ref().filter(|_| master_open) {
                let mut no_stdin = false;
                while pump(m, &mut no_stdin, 0, -1).0 {}
            }
            break Ok(code);
        }
        if let Some(m) = master.as_ref().filter(|_| master_open) {
            let (alive, sig_ready) = pump(m, &mut stdin_open, 100, sfd);
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
                copy_winsize(m);
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

/// Every signal blocked while alive (foreground `run`/`exec` forward them from a signalfd); the
/// previous mask comes back on drop.
struct SignalMask(libc::sigset_t);

impl SignalMask {
    fn block_all() -> SignalMask {
        // SAFETY: sigset manipulation on locals and sigprocmask with valid pointers.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::sigprocmask(libc::SIG_BLOCK, &all, &mut old);
            SignalMask(old)
        }
    }
}

impl Drop for SignalMask {
    fn drop(&mut self) {
        // SAFETY: restoring a previously saved mask.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}
