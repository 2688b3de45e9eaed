//! The container's stdio, from the paths containerd gives (fifos, `file://` and `binary://`
//! URIs, or nothing).
//!
//! Memory and threads are the point here: stdout/stderr fifos are handed straight to the
//! container (no copy thread, no buffer in the shim). The shim keeps a read end of each fifo open
//! so a client that goes away (`ctr run -d`) never makes the container die of SIGPIPE, as
//! containerd's runc shim does. stdin goes through a pipe and one copy thread, so `CloseIO` can
//! close it. A terminal's pty master comes over a console socket; two threads copy it.
//! `binary://` starts a logging binary on pipes (src/logger.rs).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::logger::{self, BinaryUri, Logger};
use crate::reaper::Monitor;
use crate::runtime::ProcIo;

/// Who the output belongs to, for a `binary://` logger's environment.
pub struct LogContext<'a> {
    /// The container id for the init, the exec id for an exec process (as containerd's runc
    /// shim sets CONTAINER_ID).
    pub id: &'a str,
    pub namespace: &'a str,
    pub monitor: &'a Monitor,
}

/// stdio paths as containerd sends them.
#[derive(Debug, Clone, Default)]
pub struct StdioPaths {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
    pub terminal: bool,
}

/// What the shim keeps for a process's stdio.
#[derive(Default)]
pub struct IoHandles {
    /// Write side of the container's stdin pipe (or the pty master for a terminal).
    stdin: Option<Arc<Mutex<Option<File>>>>,
    /// Read ends of the output fifos, kept open so writers never get SIGPIPE.
    _keep: Vec<File>,
    /// The pty master, for ResizePty.
    pub console: Option<Arc<File>>,
    /// A `binary://` logging process, stopped when the process's stdio goes (Delete).
    _logger: Option<Logger>,
}

impl IoHandles {
    /// CloseIO(stdin): the container sees EOF.
    pub fn close_stdin(&self) {
        if let Some(s) = &self.stdin {
            if let Some(f) = s.lock().unwrap_or_else(|e| e.into_inner()).take() {
                drop(f);
            }
        }
    }

    pub fn resize(&self, width: u32, height: u32) -> io::Result<()> {
        let Some(c) = &self.console else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "process has no terminal",
            ));
        };
        let ws = libc::winsize {
            ws_row: height as u16,
            ws_col: width as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from a valid pointer; the fd is a live pty master.
        let r = unsafe { libc::ioctl(c.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The container's stdout and stderr writers, and what the shim keeps for them.
struct Outputs {
    stdout: Option<File>,
    stderr: Option<File>,
    keep: Vec<File>,
    logger: Option<Logger>,
}

/// Open stdout and stderr. A `binary://` stdout starts one logger for both (containerd sends
/// the same URI in both fields; as its runc shim, the stdout URI decides); a different
/// non-empty stderr is refused.
fn open_outputs(p: &StdioPaths, ctx: &LogContext) -> io::Result<Outputs> {
    let binary = |u: &str| u.starts_with("binary://");
    if binary(&p.stdout) {
        if !(p.stderr.is_empty() || p.stderr == p.stdout) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "stderr: {:?} must be empty or the same binary:// URI as stdout ({:?})",
                    p.stderr, p.stdout
                ),
            ));
        }
        let uri = BinaryUri::parse(&p.stdout, "stdout")?;
        let l = logger::start(&uri, ctx.id, ctx.namespace, ctx.monitor, "stdout")?;
        return Ok(Outputs {
            stdout: Some(l.stdout),
            stderr: Some(l.stderr),
            keep: Vec::new(),
            logger: Some(l.logger),
        });
    }
    if binary(&p.stderr) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "stderr: binary:// logging needs the same URI in stdout (stdout is {:?})",
                p.stdout
            ),
        ));
    }
    let (stdout, keep_out) = open_output(&p.stdout, "stdout")?;
    let (stderr, keep_err) = open_output(&p.stderr, "stderr")?;
    Ok(Outputs {
        stdout,
        stderr,
        keep: keep_out.into_iter().chain(keep_err).collect(),
        logger: None,
    })
}

/// An output destination: `""` (none), `file:///path`, or a fifo/file path.
/// Returns the container's writer and, for a fifo, the read end the shim keeps.
fn open_output(uri: &str, field: &str) -> io::Result<(Option<File>, Option<File>)> {
    if uri.is_empty() {
        return Ok((None, None));
    }
    let path = uri.strip_prefix("file://").unwrap_or(uri);
    let meta = std::fs::metadata(path);
    let is_fifo = meta.as_ref().map(|m| {
        use std::os::unix::fs::FileTypeExt;
        m.file_type().is_fifo()
    });
    if let Ok(true) = is_fifo {
        let keep = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{field}: open fifo {path}: {e}")))?;
        // A reader exists now (ours), so this open does not block.
        let w = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{field}: open fifo {path}: {e}")))?;
        return Ok((Some(w), Some(keep)));
    }
    let f = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{field}: open {path}: {e}")))?;
    Ok((Some(f), None))
}

use crate::logger::pipe;

/// Copy the stdin fifo into `dst` until EOF or CloseIO.
fn spawn_stdin_copy(path: String, dst: Arc<Mutex<Option<File>>>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("stdin".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            // Blocks until the client opens its write end; then EOF when it closes it.
            let Ok(mut src) = File::open(&path) else {
                return;
            };
            let mut buf = [0u8; 4096];
            loop {
                let n = match src.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let mut g = dst.lock().unwrap_or_else(|e| e.into_inner());
                let ok = g.as_mut().is_some_and(|w| w.write_all(&buf[..n]).is_ok());
                if !ok {
                    break;
                }
            }
            // EOF from the client: the container sees EOF too (unless it is a terminal, where
            // closing the master would hang up the session; CloseIO handles that case).
            let mut g = dst.lock().unwrap_or_else(|e| e.into_inner());
            if g.as_ref().is_some_and(|f| !is_tty(f)) {
                g.take();
            }
        })?;
    Ok(())
}

fn is_tty(f: &File) -> bool {
    // SAFETY: isatty only inspects the fd.
    unsafe { libc::isatty(f.as_raw_fd()) == 1 }
}

/// stdio for a process without a terminal.
pub fn setup_pipes(p: &StdioPaths, ctx: &LogContext) -> io::Result<(ProcIo, IoHandles)> {
    let o = open_outputs(p, ctx)?;
    let (stdout, stderr) = (o.stdout, o.stderr);
    let mut h = IoHandles {
        _keep: o.keep,
        _logger: o.logger,
        ..IoHandles::default()
    };
    let mut stdin = None;
    if !p.stdin.is_empty() {
        let (r, w) = pipe()?;
        let w = Arc::new(Mutex::new(Some(w)));
        spawn_stdin_copy(p.stdin.clone(), Arc::clone(&w))?;
        h.stdin = Some(w);
        stdin = Some(r);
    }
    Ok((
        ProcIo {
            stdin,
            stdout,
            stderr,
        },
        h,
    ))
}

/// A console socket the runtime sends the pty master to (`--console-socket`).
pub struct ConsoleSocket {
    pub path: PathBuf,
    listener: UnixListener,
}

impl ConsoleSocket {
    pub fn new() -> io::Result<ConsoleSocket> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("hull-shim-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        Ok(ConsoleSocket { path, listener })
    }

    /// Take the master the runtime sent (it has already connected and sent it when the runtime
    /// command returned successfully, so this does not wait).
    pub fn receive(&self) -> io::Result<File> {
        self.listener.set_nonblocking(true)?;
        let (conn, _) = self.listener.accept().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "console socket {}: runtime sent no terminal: {e}",
                    self.path.display()
                ),
            )
        })?;
        conn.set_nonblocking(false)?;
        let mut buf = [0u8; 4096];
        let mut iov = [io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = nix::sys::socket::recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        for c in msg.cmsgs() {
            if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
                if let Some(fd) = fds.first() {
                    // SAFETY: the kernel just installed this fd in our table for us; we own it.
                    return Ok(File::from(unsafe { OwnedFd::from_raw_fd(*fd) }));
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "console socket: message carried no fd",
        ))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Wire a received pty master to the client's fifos: master → stdout, stdin → master.
/// A terminal has one output stream: stderr is not used (a logger's fd 4 sees EOF).
pub fn attach_console(master: File, p: &StdioPaths, ctx: &LogContext) -> io::Result<IoHandles> {
    let o = open_outputs(p, ctx)?;
    let out = o.stdout;
    let mut h = IoHandles {
        _keep: o.keep,
        _logger: o.logger,
        ..IoHandles::default()
    };
    let master = Arc::new(master);
    if let Some(mut out) = out {
        let m = master.try_clone()?;
        std::thread::Builder::new()
            .name("console".into())
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut m = m;
                let mut buf = [0u8; 4096];
                // EIO once every slave fd is closed (the process exited).
                while let Ok(n) = m.read(&mut buf) {
                    if n == 0 || out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            })?;
    }
    if !p.stdin.is_empty() {
        let w = Arc::new(Mutex::new(Some(master.try_clone()?)));
        spawn_stdin_copy(p.stdin.clone(), Arc::clone(&w))?;
        h.stdin = Some(w);
    }
    h.console = Some(master);
    Ok(h)
}
