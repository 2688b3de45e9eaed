//! Talking to CRIU the way runc does: `criu swrk FD` started on one end of a SOCK_SEQPACKET
//! socketpair, one `criu_req` protobuf per datagram, `criu_resp` back. While it works CRIU sends
//! NOTIFY messages (its action scripts: "network-lock", "post-dump", "setup-namespaces",
//! "post-restore", "orphan-pts-master", ...), each answered with a NOTIFY request before it goes
//! on; the last response has the type of the request.
//!
//! ```text
//! hull                                   criu swrk 3
//!  | -- Req{DUMP|RESTORE, opts} ------------> |
//!  | <------------- Resp{NOTIFY, "post-dump"} |   (0..n times; a pts master rides along
//!  | -- Req{NOTIFY, notify_success} --------> |    "orphan-pts-master" as SCM_RIGHTS)
//!  | <------------ Resp{DUMP, success, ...} -- |
//! ```
//!
//! Only `checkpoint` and `restore` reach this module: no other verb pays for it.

pub mod rpc;

use crate::error::{Error, Result};
use nix::errno::Errno;
use prost::Message;
use rpc::{Req, ReqType, Resp};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

/// The criu binary: `--criu PATH` (global flag, as runc), else `criu` found on PATH.
pub fn binary(flag: Option<&str>) -> Result<PathBuf> {
    let name = flag.unwrap_or("criu");
    if name.contains('/') {
        let p = PathBuf::from(name);
        return match p.is_file() {
            true => Ok(p),
            false => Err(Error::invalid(format!(
                "--criu {name}: no such file (install criu, or name its path with --criu)"
            ))),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::invalid(format!(
                "criu: {name} not found on PATH (install criu, or name its path with --criu)"
            ))
        })
}

/// A running `criu swrk` and our end of its socket.
pub struct Swrk {
    sock: OwnedFd,
    child: Child,
}

/// What a NOTIFY carried: the script name, CRIU's pid field, and an fd if one was attached.
pub struct Notice {
    pub script: String,
    pub pid: i32,
    pub fd: Option<OwnedFd>,
}

impl Swrk {
    /// Start `criu swrk 3`, its end of the socketpair as fd 3 (stdio inherited from hull).
    pub fn start(criu: &Path) -> Result<Swrk> {
        let (ours, theirs) = crate::spawn::socketpair()?;
        let t = theirs.as_raw_fd();
        let mut cmd = Command::new(criu);
        cmd.arg("swrk").arg("3");
        // SAFETY: between fork and exec only dup2/fcntl, which are async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                if t == 3 {
                    if libc::fcntl(3, libc::F_SETFD, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                } else if libc::dup2(t, 3) != 3 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            })
        };
        let child = cmd
            .spawn()
            .map_err(|e| Error::io("start criu swrk", criu, e))?;
        drop(theirs);
        Ok(Swrk { sock: ours, child })
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn send(&self, req: &Req) -> Result<()> {
        let buf = req.encode_to_vec();
        // SAFETY: send of an initialised buffer on our socket.
        let n = unsafe {
            libc::send(
                self.sock.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 || n as usize != buf.len() {
            return Err(Error::sys("send to criu", Errno::last()));
        }
        Ok(())
    }

    fn recv(&self) -> Result<(Resp, Option<OwnedFd>)> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let mut buf = vec![0u8; 10 * 4096];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let msg = loop {
                match recvmsg::<()>(
                    self.sock.as_raw_fd(),
                    &mut iov,
                    Some(&mut space),
                    MsgFlags::MSG_CMSG_CLOEXEC,
                ) {
                    Err(Errno::EINTR) => continue,
                    r => break r,
                }
            }
            .map_err(|e| Error::sys("read from criu", e))?;
            let mut fd = None;
            if let Ok(cmsgs) = msg.cmsgs() {
                for c in cmsgs {
                    if let ControlMessageOwned::ScmRights(fds) = c {
                        for (i, &f) in fds.iter().enumerate() {
                            // SAFETY: the kernel installed these fds for us.
                            let owned = unsafe { OwnedFd::from_raw_fd(f) };
                            if i == 0 && fd.is_none() {
                                fd = Some(owned);
                            }
                        }
                    }
                }
            }
            (msg.bytes, fd)
        };
        if n == 0 {
            return Err(Error::StartFailed(
                "criu closed its socket without an answer".into(),
            ));
        }
        let resp =
            Resp::decode(&buf[..n]).map_err(|e| Error::invalid(format!("criu's answer: {e}")))?;
        Ok((resp, fd))
    }

    /// Send `req`, answer CRIU's notifications through `on_notify`, and return its final response
    /// (whatever its `success`). An error from `on_notify` is reported to CRIU as a failed
    /// notification (it then aborts) and returned.
    pub fn call(&self, req: &Req, on_notify: &mut dyn FnMut(Notice) -> Result<()>) -> Result<Resp> {
        self.send(req)?;
        loop {
            let (resp, fd) = self.recv()?;
            if resp.r#type != ReqType::Notify as i32 {
                if resp.r#type != req.r#type {
                    return Err(Error::invalid(format!(
                        "criu answered type {} to a request of type {}",
                        resp.r#type, req.r#type
                    )));
                }
                return Ok(resp);
            }
            let n = resp.notify.clone().unwrap_or_default();
            let notice = Notice {
                script: n.script.unwrap_or_default(),
                pid: n.pid.unwrap_or(0),
                fd,
            };
            let r = on_notify(notice);
            self.send(&Req {
                r#type: ReqType::Notify as i32,
                notify_success: Some(r.is_ok()),
                ..Default::default()
            })?;
            r?;
        }
    }

    /// Close the socket and reap criu.
    pub fn finish(mut self) {
        drop(self.sock);
        let _ = self.child.wait();
    }
}

/// CRIU's version (a VERSION request to a fresh swrk).
pub fn version(criu: &Path) -> Result<rpc::Version> {
    let s = Swrk::start(criu)?;
    let r = s.call(
        &Req {
            r#type: ReqType::Version as i32,
            ..Default::default()
        },
        &mut |_| Ok(()),
    );
    s.finish();
    let r = r?;
    r.version
        .filter(|_| r.success)
        .ok_or_else(|| Error::invalid("criu: VERSION request failed"))
}

/// The error for a failed request: CRIU's message and the last lines of its log.
pub fn failure(what: &str, resp: &Resp, log: &Path) -> Error {
    let mut msg = format!("criu {what} failed");
    if let Some(m) = resp.cr_errmsg.as_deref().filter(|m| !m.is_empty()) {
        msg.push_str(&format!(": {m}"));
    }
    if let Some(e) = resp.cr_errno.filter(|e| *e != 0) {
        msg.push_str(&format!(" (errno {e})"));
    }
    msg.push_str(&format!("; log {}", log.display()));
    if let Ok(text) = std::fs::read_to_string(log) {
        let lines: Vec<&str> = text.lines().collect();
        let tail = &lines[lines.len().saturating_sub(10)..];
        if !tail.is_empty() {
            msg.push_str(", last lines:\n");
            msg.push_str(&tail.join("\n"));
        }
    }
    Error::StartFailed(msg)
}

/// Open a directory for CRIU (which reads it as /proc/HULL/fd/N, so it may be close-on-exec).
pub fn open_dir(p: &Path, flag: &str) -> Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(p)
        .map_err(|e| Error::invalid(format!("{flag} {}: {e}", p.display())))?;
    Ok(f.into())
}
