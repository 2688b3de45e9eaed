//! `listenerPath`: hand the seccomp notify fd to the agent (runtime-spec config-linux.md
//! "seccomp", runtime.md "container process state"). One connection per container, one
//! `ContainerProcessState` JSON with the fd as SCM_RIGHTS, then close.

use std::io::{IoSlice, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};

use crate::SeccompError;

/// `ociVersion` sent when `state` has none.
pub const OCI_VERSION: &str = "1.2.0";

/// Build the ContainerProcessState document (`fds` names the single fd sent: "seccompFd").
pub fn process_state(pid: i32, metadata: &str, state: &serde_json::Value) -> serde_json::Value {
    let version = state
        .get("ociVersion")
        .and_then(|v| v.as_str())
        .unwrap_or(OCI_VERSION);
    serde_json::json!({
        "ociVersion": version,
        "fds": ["seccompFd"],
        "pid": pid,
        "metadata": metadata,
        "state": state,
    })
}

/// SCMP_ACT_NOTIFY + listenerPath: connect to the unix socket at `listener_path` and send the
/// JSON ContainerProcessState {ociVersion, fds:["seccompFd"], pid, metadata, state} with the
/// notify fd as SCM_RIGHTS (attached to the first byte).
pub fn send_to_listener(
    listener_path: &Path,
    notify_fd: BorrowedFd,
    pid: i32,
    metadata: &str,
    state: &serde_json::Value,
) -> Result<(), SeccompError> {
    let err = |op: &'static str, source: std::io::Error| SeccompError::Listener {
        path: listener_path.to_path_buf(),
        op,
        source,
    };
    let doc = serde_json::to_vec(&process_state(pid, metadata, state))
        .map_err(|e| err("encode state", std::io::Error::other(e)))?;
    let mut sock = UnixStream::connect(listener_path).map_err(|e| err("connect", e))?;
    let fds = [notify_fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let sent = loop {
        match sendmsg::<()>(
            sock.as_raw_fd(),
            &[IoSlice::new(&doc)],
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => break r.map_err(|e| err("sendmsg", e.into()))?,
        }
    };
    // A stream socket may take the document in several pieces; the fd went with the first.
    sock.write_all(&doc[sent..]).map_err(|e| err("write", e))?;
    sock.shutdown(std::net::Shutdown::Write)
        .map_err(|e| err("shutdown", e))?;
    Ok(())
}
