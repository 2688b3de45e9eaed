//! `binary://` stdio: containerd's logging-binary contract, as its runc shim keeps it
//! (pkg/process/io.go `NewBinaryIO`, `NewBinaryCmd`). `binary:///path/to/logger?key=value&flag`
//! runs `/path/to/logger key value flag ""` with only `CONTAINER_ID` and `CONTAINER_NAMESPACE` in
//! its environment, stdin/stdout/stderr on /dev/null, the container's stdout as fd 3, its stderr
//! as fd 4 and fd 5 a pipe the logger writes to or closes once it is ready; the shim waits for
//! that before the container starts. Stopped with SIGTERM (then SIGKILL) when the process is
//! deleted, as the Go shim does; the shim keeps no write end, so the logger also sees EOF as
//! soon as the container's last writer is gone.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

use crate::reaper::Monitor;

/// How long a logger may take to signal ready on fd 5 (the Go shim waits without a bound; a
/// logger that never answers would hold the shim's lock forever).
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// After SIGTERM at delete, how long the logger gets to flush before SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a logger whose pipes were closed may take to finish before SIGTERM.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A parsed `binary://` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryUri {
    pub path: PathBuf,
    pub args: Vec<String>,
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Percent-decoding; `plus` also turns '+' into a space (query strings).
fn unescape(s: &str, plus: bool, field: &str) -> io::Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let v = b
                    .get(i + 1)
                    .and_then(|&h| hex(h))
                    .zip(b.get(i + 2).and_then(|&l| hex(l)))
                    .map(|(h, l)| h * 16 + l)
                    .ok_or_else(|| invalid(format!("{field}: bad %-escape in {s:?}")))?;
                out.push(v);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| invalid(format!("{field}: {s:?} is not UTF-8")))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl BinaryUri {
    /// Parse `uri` (which starts with `binary://`); `field` names it in errors.
    pub fn parse(uri: &str, field: &str) -> io::Result<BinaryUri> {
        let rest = uri
            .strip_prefix("binary://")
            .ok_or_else(|| invalid(format!("{field}: {uri:?} is not a binary:// URI")))?;
        let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if !path.starts_with('/') {
            return Err(invalid(format!(
                "{field}: {uri:?}: the logging binary must be an absolute path (binary:///path)"
            )));
        }
        let path = PathBuf::from(unescape(path, false, field)?);
        // Each key once, in order, with its first value ("" for a key without one), as Go's
        // url.Query() gives them to NewBinaryCmd.
        let mut seen: Vec<String> = Vec::new();
        let mut args = Vec::new();
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let k = unescape(k, true, field)?;
            if seen.contains(&k) {
                continue;
            }
            seen.push(k.clone());
            args.push(k);
            args.push(unescape(v, true, field)?);
        }
        Ok(BinaryUri { path, args })
    }
}

/// A running logging binary (stopped on drop).
pub struct Logger {
    pid: i32,
    /// Its exit status, from the reaper; None once received.
    exited: Option<Receiver<i32>>,
}

/// The container's ends of the logger's pipes.
pub struct LoggerIo {
    pub stdout: File,
    pub stderr: File,
    pub logger: Logger,
}

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> io::Result<(File, File)> {
    let mut fds: [RawFd; 2] = [0; 2];
    // SAFETY: pipe2 writes two fds into the array we pass.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just created for us and are owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// Wait until `r` is readable or hung up, at most `limit`.
fn wait_readable(r: &File, limit: Duration) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd: r.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = limit.as_millis().min(i32::MAX as u128) as i32;
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut p, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(n > 0);
    }
}

/// Start the logger for process `id` in `namespace` and wait until it is ready.
pub fn start(
    uri: &BinaryUri,
    id: &str,
    namespace: &str,
    monitor: &Monitor,
    field: &str,
) -> io::Result<LoggerIo> {
    let what = || format!("{field}: logging binary {}", uri.path.display());
    if !uri.path.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{}: not found", what()),
        ));
    }
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (ready_r, ready_w) = pipe()?;
    let src = [out_r.as_raw_fd(), err_r.as_raw_fd(), ready_w.as_raw_fd()];
    let mut cmd = Command::new(&uri.path);
    cmd.args(&uri.args)
        .env_clear()
        .env("CONTAINER_ID", id)
        .env("CONTAINER_NAMESPACE", namespace)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: the closure runs in the forked child before exec and only calls fcntl and dup2,
    // which are async-signal-safe; it allocates nothing. The sources are first moved above fd 10
    // (close-on-exec copies) so placing them on 3, 4, 5 cannot overwrite one another. fds 3-5
    // are taken in this process while it spawns (the pipes above were allocated lowest-first),
    // so std's own exec-status pipe is never among the targets.
    unsafe {
        cmd.pre_exec(move || {
            let mut high = [0; 3];
            for (h, s) in high.iter_mut().zip(src) {
                *h = libc::fcntl(s, libc::F_DUPFD_CLOEXEC, 10);
                if *h < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            for (target, h) in (3..).zip(high) {
                if libc::dup2(h, target) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let (child, exited) = monitor
        .spawn(&mut cmd)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", what())))?;
    drop((out_r, err_r, ready_w));
    let mut logger = Logger {
        pid: child.id() as i32,
        exited: Some(exited),
    };
    match wait_readable(&ready_r, READY_TIMEOUT) {
        Ok(true) => {}
        Ok(false) => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{}: not ready (fd 5 neither written nor closed) within {} s",
                    what(),
                    READY_TIMEOUT.as_secs()
                ),
            ))
        }
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", what()))),
    }
    let mut b = [0u8; 1];
    let _ = (&ready_r).read(&mut b);
    // A logger that already died (EOF on fd 5 because it exited) would leave the container
    // writing into a pipe nobody reads.
    if let Some(Ok(raw)) = logger.exited.as_ref().map(Receiver::try_recv) {
        logger.exited = None;
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            format!(
                "{}: exited with status {} before the container started",
                what(),
                crate::exit::exit_status(raw)
            ),
        ));
    }
    Ok(LoggerIo {
        stdout: out_w,
        stderr: err_w,
        logger,
    })
}

impl Drop for Logger {
    fn drop(&mut self) {
        use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
        let Some(rx) = self.exited.take() else { return };
        if !matches!(rx.try_recv(), Err(TryRecvError::Empty)) {
            return;
        }
        // Its pipes are closed by now (they are dropped first): give it the time to drain them
        // and exit by itself, as containerd's shim does, before it is told to stop.
        if rx.recv_timeout(DRAIN_TIMEOUT).is_ok() {
            return;
        }
        // SAFETY: plain kill(2) of our own child, not yet reaped (no exit received).
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
        if let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(STOP_TIMEOUT) {
            // SAFETY: as above.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
            let _ = rx.recv_timeout(STOP_TIMEOUT);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_path_and_query_become_argv() {
        let u = BinaryUri::parse(
            "binary:///usr/local/bin/my%20logger?id=abc&tag=a+b%2Fc&flag&id=dup",
            "stdout",
        )
        .unwrap();
        assert_eq!(u.path, PathBuf::from("/usr/local/bin/my logger"));
        assert_eq!(u.args, ["id", "abc", "tag", "a b/c", "flag", ""]);
        assert_eq!(
            BinaryUri::parse("binary:///bin/l", "stdout").unwrap().args,
            Vec::<String>::new()
        );
    }

    #[test]
    fn bad_uris_name_the_field() {
        let e = BinaryUri::parse("binary://relative/logger", "stdout").unwrap_err();
        assert!(e.to_string().starts_with("stdout: "), "{e}");
        assert!(e.to_string().contains("absolute"), "{e}");
        let e = BinaryUri::parse("binary:///bin/l?x=%zz", "stderr").unwrap_err();
        assert!(e.to_string().starts_with("stderr: "), "{e}");
    }
}
