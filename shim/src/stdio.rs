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
use std::sync::Arc;

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
    /// Wakes the stdin copy thread for CloseIO (it owns the write side of the container's
    /// stdin pipe, or a dup of the pty master for a terminal).
    stdin: Option<StdinCloser>,
    /// Read ends of the output fifos, kept open so writers never get SIGPIPE.
    _keep: Vec<File>,
    /// The pty master, for ResizePty.
    pub console: Option<Arc<File>>,
    /// A `binary://` logging process, stopped when the process's stdio goes (Delete).
    _logger: Option<Logger>,
}

impl IoHandles {
    /// CloseIO(stdin): the container sees EOF once what the client wrote before is delivered.
    /// Never blocks: the copy thread drains the fifo and closes.
    pub fn close_stdin(&self) {
        if let Some(s) = &self.stdin {
            s.signal();
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

/// Tells a stdin copy thread to finish: on CloseIO, and when the process's stdio goes.
struct StdinCloser(Arc<OwnedFd>);

impl StdinCloser {
    fn signal(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writes 8 bytes from a live buffer to our eventfd; a full counter (EAGAIN)
        // still leaves the fd readable, which is all the thread looks at.
        unsafe { libc::write(self.0.as_raw_fd(), one.as_ptr().cast(), one.len()) };
    }
}

impl Drop for StdinCloser {
    fn drop(&mut self) {
        // Delete: a terminal's copy thread waits for CloseIO after the client's EOF; end it.
        self.signal();
    }
}

/// Copy the stdin fifo into `dst` until EOF or CloseIO.
///
/// CloseIO races with the data: containerd's CRI closes its end of the fifo and then sends
/// CloseIO at once, while the line it wrote may still sit in the fifo. So CloseIO never drops
/// the container's stdin itself; it wakes this thread, which moves what is left in the fifo into
/// `dst` and only then closes it (containerd's runc shim gets the same order by closing its own
/// writer of the fifo and letting the copy run to EOF). A client that keeps its writer open
/// (ctr) still gets EOF to the container on CloseIO.
///
/// On the client's EOF a pipe is closed (the container sees EOF); a terminal stays open until
/// CloseIO, since closing the master would hang up the session.
fn spawn_stdin_copy(path: String, dst: File, tty: bool) -> io::Result<StdinCloser> {
    // SAFETY: eventfd creates a new fd that nobody else owns.
    let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
    if efd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: efd is a fresh fd owned by nobody else.
    let wake = Arc::new(unsafe { OwnedFd::from_raw_fd(efd) });
    // O_NONBLOCK: opening never waits for the client's writer; poll reports no hang-up until a
    // writer has come and gone.
    let src = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path);
    let thread_wake = Arc::clone(&wake);
    std::thread::Builder::new()
        .name("stdin".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            let mut dst = Some(dst);
            if let Ok(src) = src {
                copy_until_close(src, &mut dst, &thread_wake, tty);
            }
            drop(dst);
        })?;
    Ok(StdinCloser(wake))
}

fn copy_until_close(mut src: File, dst: &mut Option<File>, wake: &OwnedFd, tty: bool) {
    let mut buf = [0u8; 4096];
    let mut src_open = true;
    loop {
        let mut fds = [
            libc::pollfd {
                fd: wake.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: src.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let n = if src_open { 2 } else { 1 };
        // SAFETY: fds is a live array of n pollfd entries.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), n as libc::nfds_t, -1) };
        if r < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if fds[0].revents != 0 {
            // CloseIO (or Delete): deliver what is buffered, then close.
            if src_open {
                while let Ok(n @ 1..) = src.read(&mut buf) {
                    if !forward(dst, &buf[..n]) {
                        break;
                    }
                }
            }
            return;
        }
        if fds[1].revents != 0 {
            match src.read(&mut buf) {
                Ok(0) => {
                    // The client closed its end.
                    if !tty {
                        return;
                    }
                    src_open = false;
                }
                Ok(n) => {
                    if !forward(dst, &buf[..n]) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return,
            }
        }
    }
}

/// Write to the container's stdin; false once it is gone.
fn forward(dst: &mut Option<File>, data: &[u8]) -> bool {
    dst.as_mut().is_some_and(|w| w.write_all(data).is_ok())
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
        h.stdin = Some(spawn_stdin_copy(p.stdin.clone(), w, false)?);
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
        h.stdin = Some(spawn_stdin_copy(
            p.stdin.clone(),
            master.try_clone()?,
            true,
        )?);
    }
    h.console = Some(master);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::time::{Duration, Instant};

    fn fifo(dir: &tempfile::TempDir) -> String {
        let p = dir.path().join("stdin");
        let c = CString::new(p.as_os_str().as_bytes()).unwrap();
        // SAFETY: mkfifo reads a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        p.to_str().unwrap().to_string()
    }

    /// Everything the container's stdin pipe yields until EOF, or None if no EOF comes in 5 s.
    fn read_to_eof(r: File) -> Option<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = r;
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            let _ = tx.send(v);
        });
        rx.recv_timeout(Duration::from_secs(5)).ok()
    }

    fn open_writer(path: &str) -> File {
        // The copy thread opened the read end non-blocking; wait for it like a client would.
        let t = Instant::now();
        loop {
            match OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)
            {
                Ok(f) => return f,
                Err(_) if t.elapsed() < Duration::from_secs(5) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(e) => panic!("open {path} for writing: {e}"),
            }
        }
    }

    /// A stdin fifo with its copy thread running and a client writing into it: (dir, reader of
    /// the container's stdin, closer, client's writer).
    fn copying(terminal: bool) -> (tempfile::TempDir, File, StdinCloser, File) {
        let dir = tempfile::tempdir().unwrap();
        let path = fifo(&dir);
        let (r, w) = pipe().unwrap();
        let closer = spawn_stdin_copy(path.clone(), w, terminal).unwrap();
        let client = open_writer(&path);
        (dir, r, closer, client)
    }

    #[test]
    fn close_io_right_after_the_client_wrote_delivers_the_data() {
        // containerd's CRI attach: write a line, close the fifo, CloseIO at once.
        for round in 0..50 {
            let (_dir, r, closer, mut client) = copying(false);
            client.write_all(b"hello-attach\n").unwrap();
            drop(client);
            closer.signal();
            let got = read_to_eof(r).expect("the container's stdin never reached EOF");
            assert_eq!(
                got, b"hello-attach\n",
                "round {round}: data lost by CloseIO"
            );
            drop(closer);
        }
    }

    #[test]
    fn close_io_ends_stdin_while_the_client_keeps_its_writer() {
        let (_dir, r, closer, mut client) = copying(false);
        client.write_all(b"abc").unwrap();
        closer.signal();
        let got = read_to_eof(r).expect("CloseIO did not give the container EOF");
        assert_eq!(got, b"abc");
        drop(client);
    }

    #[test]
    fn client_eof_closes_a_pipe_but_a_terminal_waits_for_close_io() {
        let (_dir, r, _closer, mut client) = copying(false);
        client.write_all(b"x").unwrap();
        drop(client);
        assert_eq!(read_to_eof(r).expect("pipe not closed on EOF"), b"x");

        let (_dir, mut r, closer, mut client) = copying(true);
        client.write_all(b"y").unwrap();
        drop(client);
        let mut b = [0u8; 1];
        r.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"y");
        // Still open after the client's EOF: a poll for a hang-up times out.
        let mut p = libc::pollfd {
            fd: r.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        let ready = unsafe { libc::poll(&mut p, 1, 200) };
        assert_eq!(ready, 0, "terminal closed on EOF");
        drop(closer); // Delete
        assert_eq!(read_to_eof(r).expect("terminal not closed on Delete"), b"");
    }
}
