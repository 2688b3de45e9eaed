//! The parent/child protocol: typed messages over one SOCK_SEQPACKET socketpair, fds with SCM_RIGHTS.
//!
//! ```text
//!  parent (hull create)                                   child (container init)
//!  ────────────────────                                   ──────────────────────
//!  plan: config → data; open namespace paths,
//!  exec fifo, console socket; socketpair
//!  clone3(every new namespace) ──────────────────────▶    born inside the new namespaces
//!                                                         slow path only (joined pid/time ns):
//!        ◀─────────────────────────────── MapRequest ──   setns joins, unshare the user ns,
//!  write uid_map / gid_map ── MapsDone ─────────────▶     become its root, unshare the rest,
//!        ◀────────────────────────────── Pid(init) ──     fork; the intermediate reports the init
//!  [fast path, user ns] write uid_map / gid_map           fast path without a new user ns or a
//!  add the init to its cgroups                            cgroup ns to unshare late: mounts,
//!  (v1: may wait for an RCU grace period)                 devices meanwhile
//!        ── SetupDone ──────────────────────────────▶     [user ns] become its root; [late cgroup
//!                                                         ns] unshare it; mounts, devices if not done
//!  [hooks] ◀─────────────────────── CreateRuntime ───     (only when prestart/createRuntime hooks exist)
//!  run prestart + createRuntime hooks
//!        ── HooksDone ──────────────────────────────▶     createContainer hooks, pivot_root, masks,
//!                                                         hostname, sysctl, rlimits, user, caps
//!        ◀──────────────────────────────────── Ready ──   blocks opening the exec fifo
//!  write state.json, exit 0                               (`hull start` opens the fifo → exec)
//!
//!  at any step:  ◀──────────────────── Error{step, msg}   the parent kills, cleans up, reports
//! ```
//! A message that arrives out of order is a protocol error: the parent aborts the create.

use nix::errno::Errno;
use std::os::fd::{AsRawFd, BorrowedFd};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Parent → init: ids mapped, cgroup joined; go on.
    SetupDone,
    /// Init → parent: the seccomp notify fd follows as SCM_RIGHTS (NOTIFY + listenerPath).
    SeccompFd,
    MapsDone,
    /// Slow path: the child unshared its user namespace and asks for its maps.
    MapRequest,
    CreateRuntime,
    /// Parent → child after the runtime hooks; carries the state JSON for container hooks.
    HooksDone(Vec<u8>),
    Ready,
    /// The pid of the real container init (slow path), as seen from the parent's pid namespace.
    Pid(i32),
    Error {
        step: String,
        msg: String,
    },
}

impl Msg {
    pub fn name(&self) -> &'static str {
        match self {
            Msg::SetupDone => "SetupDone",
            Msg::SeccompFd => "SeccompFd",
            Msg::MapsDone => "MapsDone",
            Msg::MapRequest => "MapRequest",
            Msg::CreateRuntime => "CreateRuntime",
            Msg::HooksDone(_) => "HooksDone",
            Msg::Ready => "Ready",
            Msg::Pid(_) => "Pid",
            Msg::Error { .. } => "Error",
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Msg::SetupDone => vec![8],
            Msg::SeccompFd => vec![9],
            Msg::MapsDone => vec![1],
            Msg::MapRequest => vec![2],
            Msg::CreateRuntime => vec![3],
            Msg::HooksDone(state) => {
                let mut v = vec![4];
                v.extend_from_slice(state);
                v
            }
            Msg::Ready => vec![5],
            Msg::Pid(p) => {
                let mut v = vec![6];
                v.extend_from_slice(&p.to_le_bytes());
                v
            }
            Msg::Error { step, msg } => {
                let mut v = vec![7];
                v.extend_from_slice(step.as_bytes());
                v.push(0);
                v.extend_from_slice(msg.as_bytes());
                v
            }
        }
    }

    pub fn decode(b: &[u8]) -> Option<Msg> {
        let (&tag, rest) = b.split_first()?;
        Some(match tag {
            8 if rest.is_empty() => Msg::SetupDone,
            9 if rest.is_empty() => Msg::SeccompFd,
            1 if rest.is_empty() => Msg::MapsDone,
            2 if rest.is_empty() => Msg::MapRequest,
            3 if rest.is_empty() => Msg::CreateRuntime,
            4 => Msg::HooksDone(rest.to_vec()),
            5 if rest.is_empty() => Msg::Ready,
            6 => Msg::Pid(i32::from_le_bytes(rest.try_into().ok()?)),
            7 => {
                let nul = rest.iter().position(|&c| c == 0)?;
                Msg::Error {
                    step: String::from_utf8_lossy(&rest[..nul]).into_owned(),
                    msg: String::from_utf8_lossy(&rest[nul + 1..]).into_owned(),
                }
            }
            _ => return None,
        })
    }
}

pub const MAX_MSG: usize = 256 * 1024;

pub fn send(sock: BorrowedFd, m: &Msg) -> nix::Result<()> {
    let b = m.encode();
    loop {
        // SAFETY: send from a valid buffer on a valid socket.
        let rc = unsafe {
            libc::send(
                sock.as_raw_fd(),
                b.as_ptr() as *const libc::c_void,
                b.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if rc >= 0 {
            return Ok(());
        }
        if Errno::last() != Errno::EINTR {
            return Err(Errno::last());
        }
    }
}

/// Receive one message. `Ok(None)` means the other side closed (it exited).
pub fn recv(sock: BorrowedFd) -> nix::Result<Option<Msg>> {
    let mut buf = vec![0u8; MAX_MSG];
    loop {
        // SAFETY: recv into a valid buffer of the given length.
        let rc = unsafe {
            libc::recv(
                sock.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if rc > 0 {
            return Ok(Msg::decode(&buf[..rc as usize]).or(Some(Msg::Error {
                step: "protocol".into(),
                msg: "undecodable message".into(),
            })));
        }
        if rc == 0 {
            return Ok(None);
        }
        if Errno::last() != Errno::EINTR {
            return Err(Errno::last());
        }
    }
}

/// Receive one message that carries an fd (SCM_RIGHTS).
pub fn recv_fd(sock: BorrowedFd) -> nix::Result<(Option<Msg>, Option<std::os::fd::OwnedFd>)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::os::fd::FromRawFd;
    let mut buf = vec![0u8; MAX_MSG];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let mut reset_seen = false;
    let msg = loop {
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            // A peer that exits with one of our messages unread (e.g. the init failing while the
            // parent sends SetupDone) makes the first recv report ECONNRESET, once; what the
            // peer sent before it exited (its Error) is still queued behind it.
            Err(Errno::ECONNRESET) if !reset_seen => reset_seen = true,
            r => break r?,
        }
    };
    let mut fd = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for f in fds {
                // SAFETY: the kernel installed this fd for us.
                fd = Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(f) });
            }
        }
    }
    let n = msg.bytes;
    if n == 0 {
        return Ok((None, fd));
    }
    let m = Msg::decode(&buf[..n]).unwrap_or(Msg::Error {
        step: "protocol".into(),
        msg: "undecodable message".into(),
    });
    Ok((Some(m), fd))
}

/// Send `fd` with SCM_RIGHTS over a unix socket, with `data` as the message body (the
/// console-socket protocol of runc: the body is the pty's name).
pub fn send_fd(sock: BorrowedFd, data: &[u8], fd: BorrowedFd) -> nix::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let iov = [std::io::IoSlice::new(data)];
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        for m in [
            Msg::SetupDone,
            Msg::SeccompFd,
            Msg::MapsDone,
            Msg::MapRequest,
            Msg::CreateRuntime,
            Msg::HooksDone(b"{\"a\":1}".to_vec()),
            Msg::Ready,
            Msg::Pid(4242),
            Msg::Error {
                step: "mounts".into(),
                msg: "mount /proc: EPERM".into(),
            },
        ] {
            assert_eq!(Msg::decode(&m.encode()), Some(m));
        }
        assert_eq!(Msg::decode(&[]), None);
        assert_eq!(Msg::decode(&[99]), None);
        assert_eq!(Msg::decode(&[1, 0]), None);
    }
}
