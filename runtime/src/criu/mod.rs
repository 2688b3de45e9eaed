//! A CRIU RPC client: runs `criu swrk FD` on one end of a SOCK_SEQPACKET socketpair, sends a
//! CriuReq, answers every NOTIFY callback and returns the final CriuResp. Errors carry criu's
//! message, its log file path and the log's last lines.

pub mod wire;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use wire::{decode, Enc, Val};

/// Request types of rpc.proto's `criu_req_type`.
pub const DUMP: u64 = 1;
pub const RESTORE: u64 = 2;
pub const PRE_DUMP: u64 = 4;
pub const NOTIFY: u64 = 6;
pub const VERSION: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum CriuError {
    #[error("criu: cannot run {bin:?}: {source}")]
    Spawn { bin: String, source: std::io::Error },
    #[error("criu: {op}: {source}")]
    Io {
        op: &'static str,
        source: std::io::Error,
    },
    #[error("criu: malformed reply")]
    Malformed,
    #[error("criu {what} failed{errmsg}{log}")]
    Failed {
        what: &'static str,
        /// ": criu's cr_errmsg (errno)" or empty.
        errmsg: String,
        /// "\nlog LOGFILE:\n last lines" or empty.
        log: String,
    },
}

/// The CriuOpts fields hull sets (rpc.proto field numbers in the encoder).
#[derive(Default, Debug, Clone)]
pub struct Opts {
    pub images_dir_fd: RawFd,
    pub work_dir_fd: Option<RawFd>,
    pub pid: Option<i32>,
    pub leave_running: bool,
    pub ext_unix_sk: bool,
    pub tcp_established: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub log_file: String,
    pub root: Option<String>,
    pub parent_img: Option<String>,
    pub track_mem: bool,
    pub auto_dedup: bool,
    pub page_server: Option<(String, i32)>,
    /// (mountpoint inside the container, external key or path).
    pub ext_mnt: Vec<(String, String)>,
    pub manage_cgroups_mode: Option<u64>,
    pub external: Vec<String>,
    pub empty_ns: u32,
    pub freeze_cgroup: Option<String>,
    pub lazy_pages: bool,
    pub orphan_pts_master: bool,
    pub rst_sibling: bool,
}

impl Opts {
    fn encode(&self) -> Enc {
        let mut e = Enc::default();
        e.int(1, self.images_dir_fd);
        if let Some(pid) = self.pid {
            e.int(2, pid);
        }
        e.bool(3, self.leave_running)
            .bool(4, self.ext_unix_sk)
            .bool(5, self.tcp_established)
            .bool(7, self.shell_job)
            .bool(8, self.file_locks)
            .int(9, 4)
            .str(10, &self.log_file)
            .bool(12, true);
        if let Some((addr, port)) = &self.page_server {
            let mut ps = Enc::default();
            ps.str(1, addr).int(2, *port);
            e.msg(11, &ps);
        }
        if let Some(r) = &self.root {
            e.str(13, r);
        }
        if let Some(p) = &self.parent_img {
            e.str(14, p);
        }
        e.bool(15, self.track_mem).bool(16, self.auto_dedup);
        if let Some(fd) = self.work_dir_fd {
            e.int(17, fd);
        }
        for (k, v) in &self.ext_mnt {
            let mut m = Enc::default();
            m.str(1, k).str(2, v);
            e.msg(23, &m);
        }
        e.bool(24, true);
        if self.rst_sibling {
            e.bool(26, true);
        }
        if let Some(mode) = self.manage_cgroups_mode {
            e.uint(34, mode);
        }
        for x in &self.external {
            e.str(37, x);
        }
        if self.empty_ns != 0 {
            e.uint(38, u64::from(self.empty_ns));
        }
        if let Some(f) = &self.freeze_cgroup {
            e.str(44, f);
        }
        e.bool(48, self.lazy_pages).bool(50, self.orphan_pts_master);
        e
    }
}

/// The parts of a CriuResp hull reads.
#[derive(Debug, Default)]
pub struct Resp {
    pub typ: u64,
    pub success: bool,
    pub errno: Option<i32>,
    pub errmsg: Option<String>,
    pub notify_script: Option<String>,
    pub restored_pid: Option<i32>,
    /// (major, minor, sublevel).
    pub version: Option<(i32, i32, i32)>,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn parse_resp(b: &[u8]) -> Option<Resp> {
    let mut r = Resp::default();
    for (f, v) in decode(b)? {
        match (f, v) {
            (1, Val::Int(t)) => r.typ = t,
            (2, Val::Int(s)) => r.success = s != 0,
            (4, Val::Bytes(m)) => {
                for (f, v) in decode(m)? {
                    if let (1, Val::Int(p)) = (f, v) {
                        r.restored_pid = Some(p as i32);
                    }
                }
            }
            (5, Val::Bytes(m)) => {
                for (f, v) in decode(m)? {
                    if let (1, Val::Bytes(s)) = (f, v) {
                        r.notify_script = Some(text(s));
                    }
                }
            }
            (7, Val::Int(e)) => r.errno = Some(e as i32),
            (9, Val::Bytes(s)) => r.errmsg = Some(text(s)),
            (10, Val::Bytes(m)) => {
                let (mut a, mut b2, mut c) = (0, 0, 0);
                for (f, v) in decode(m)? {
                    match (f, v) {
                        (1, Val::Int(x)) => a = x as i32,
                        (2, Val::Int(x)) => b2 = x as i32,
                        (4, Val::Int(x)) => c = x as i32,
                        _ => {}
                    }
                }
                r.version = Some((a, b2, c));
            }
            _ => {}
        }
    }
    Some(r)
}

/// The criu binary: `--criu PATH` if given, else `criu` from PATH.
pub fn binary(flag: Option<&str>) -> String {
    flag.unwrap_or("criu").to_string()
}

/// Last `n` lines of a log file, indented, for error messages.
pub fn log_tail(path: &Path, n: usize) -> String {
    let Ok(f) = File::open(path) else {
        return String::new();
    };
    let lines: Vec<String> = BufReader::new(f).lines().map_while(|l| l.ok()).collect();
    let start = lines.len().saturating_sub(n);
    lines[start..]
        .iter()
        .map(|l| format!("  {l}\n"))
        .collect::<String>()
}

/// A running `criu swrk`.
struct Swrk {
    sock: OwnedFd,
    child: Child,
}

fn socketpair() -> Result<(OwnedFd, OwnedFd), CriuError> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid 2-int array; both ends CLOEXEC; the child's end
    // is made inheritable by the caller.
    let r = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if r != 0 {
        return Err(CriuError::Io {
            op: "socketpair",
            source: std::io::Error::last_os_error(),
        });
    }
    // SAFETY: socketpair returned two new fds we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Clear FD_CLOEXEC so criu inherits `fd`.
pub fn inherit(fd: RawFd) -> Result<(), CriuError> {
    // SAFETY: F_SETFD on an fd the caller owns.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } != 0 {
        return Err(CriuError::Io {
            op: "fcntl(F_SETFD)",
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(())
}

impl Swrk {
    fn start(bin: &str) -> Result<Self, CriuError> {
        let (ours, theirs) = socketpair()?;
        inherit(theirs.as_raw_fd())?;
        let child = Command::new(bin)
            .arg("swrk")
            .arg(theirs.as_raw_fd().to_string())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|source| CriuError::Spawn {
                bin: bin.to_string(),
                source,
            })?;
        drop(theirs);
        Ok(Swrk { sock: ours, child })
    }

    fn send(&self, msg: &Enc) -> Result<(), CriuError> {
        // SAFETY: sends msg's bytes on our socket.
        let n = unsafe {
            libc::send(
                self.sock.as_raw_fd(),
                msg.0.as_ptr().cast(),
                msg.0.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 || n as usize != msg.0.len() {
            return Err(CriuError::Io {
                op: "send",
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(())
    }

    /// One reply; `None` when criu closed the socket.
    fn recv(&self) -> Result<Option<Resp>, CriuError> {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: receives into buf, which is buf.len() bytes long.
            let n =
                unsafe { libc::recv(self.sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(CriuError::Io {
                    op: "recv",
                    source: e,
                });
            }
            if n == 0 {
                return Ok(None);
            }
            return parse_resp(&buf[..n as usize])
                .map(Some)
                .ok_or(CriuError::Malformed);
        }
    }
}

impl Drop for Swrk {
    fn drop(&mut self) {
        // criu exits once its socket closes; reap it.
        let _ = nix::sys::socket::shutdown(self.sock.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        let _ = self.child.wait();
    }
}

/// Send one request and run it to its end, calling `on_notify(script)` for every NOTIFY (an
/// error from it answers the notify with failure, which makes criu abort).
pub fn call(
    bin: &str,
    what: &'static str,
    typ: u64,
    opts: Option<&Opts>,
    log: Option<&Path>,
    mut on_notify: impl FnMut(&str) -> Result<(), String>,
) -> Result<Resp, CriuError> {
    let swrk = Swrk::start(bin)?;
    let mut req = Enc::default();
    req.uint(1, typ);
    if let Some(o) = opts {
        req.msg(2, &o.encode());
    }
    swrk.send(&req)?;
    let mut notify_err: Option<String> = None;
    loop {
        let Some(r) = swrk.recv()? else {
            return Err(failed(what, None, notify_err.as_deref(), log));
        };
        if r.typ == NOTIFY {
            let script = r.notify_script.clone().unwrap_or_default();
            let ok = match on_notify(&script) {
                Ok(()) => true,
                Err(e) => {
                    notify_err = Some(format!("{script}: {e}"));
                    false
                }
            };
            let mut ans = Enc::default();
            ans.uint(1, NOTIFY).bool(3, ok);
            swrk.send(&ans)?;
            continue;
        }
        if !r.success {
            return Err(failed(what, Some(&r), notify_err.as_deref(), log));
        }
        return Ok(r);
    }
}

fn failed(
    what: &'static str,
    r: Option<&Resp>,
    notify: Option<&str>,
    log: Option<&Path>,
) -> CriuError {
    let mut errmsg = String::new();
    if let Some(r) = r {
        if let Some(m) = &r.errmsg {
            errmsg.push_str(&format!(": {m}"));
        }
        if let Some(e) = r.errno.filter(|e| *e != 0) {
            errmsg.push_str(&format!(" ({})", std::io::Error::from_raw_os_error(e)));
        }
    } else {
        errmsg.push_str(": criu exited without a reply");
    }
    if let Some(n) = notify {
        errmsg.push_str(&format!("; notify callback {n}"));
    }
    let log = match log {
        Some(p) => format!("\nlog {}:\n{}", p.display(), log_tail(p, 8).trim_end()),
        None => String::new(),
    };
    CriuError::Failed { what, errmsg, log }
}

/// criu's version through the VERSION request, e.g. (3, 17, 1).
pub fn version(bin: &str) -> Result<(i32, i32, i32), CriuError> {
    let r = call(bin, "version", VERSION, None, None, |_| Ok(()))?;
    r.version.ok_or(CriuError::Malformed)
}

/// The directory `p`, opened without O_CLOEXEC so criu inherits it.
pub fn open_dir(p: &Path) -> std::io::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        p,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(std::io::Error::from)?;
    Ok(fd)
}

/// The manage-cgroups-mode names runc accepts.
pub fn cgroups_mode(s: &str) -> Option<u64> {
    Some(match s {
        "ignore" => 0,
        "soft" => 3,
        "full" => 4,
        "strict" => 5,
        _ => return None,
    })
}

/// Path of the log file `name` in `work` (for error messages).
pub fn log_path(work: &Path, name: &str) -> PathBuf {
    work.join(name)
}
