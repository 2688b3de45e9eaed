//! containerd-shim-hull-v2: a small, long-lived containerd shim v2 (ttrpc, synchronous).
//!
//! `start` finds the shim of the container's pod, or binds the socket and launches the
//! long-lived shim (this binary without a command, plus `-socket` and `-listen-fd`) with the
//! listening socket inherited; it writes the `address` file in the bundle and answers with the
//! address in the protocol containerd asked in. `-info` describes the runtime (containerd 2).
//! `delete` cleans up after a shim that died. See docs/shim.md.

mod args;
mod bootstrap;
mod cgroup;
mod container;
mod events;
mod exit;
mod logger;
mod mount;
mod oom;
mod options;
mod reaper;
mod runtime;
mod server;
mod service;
mod stats;
mod stdio;
mod table;
mod task;
mod worker;

use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};

use anyhow::{anyhow, Context, Result};
use args::{Action, Flags};

fn main() {
    // Before any thread exists: SIGCHLD is taken by the reaper thread with sigwait.
    if let Err(e) = reaper::block_sigchld() {
        eprintln!("containerd-shim-hull-v2: block SIGCHLD: {e}");
        std::process::exit(1);
    }
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let r =
        args::parse(argv)
            .map_err(anyhow::Error::from)
            .and_then(|(flags, action)| match action {
                Action::Version => {
                    println!("containerd-shim-hull-v2:");
                    println!("  Version:  {}", env!("CARGO_PKG_VERSION"));
                    println!("  Runtime:  hull (runc-compatible CLI)");
                    Ok(())
                }
                Action::Info => info(),
                Action::Start => start(&flags),
                Action::Delete => delete(&flags),
                Action::Serve => serve(&flags),
            });
    if let Err(e) = r {
        eprintln!("containerd-shim-hull-v2: {e:#}");
        std::process::exit(1);
    }
}

/// stdin as containerd gives it (runtime options or bootstrap params), bounded; nothing when it
/// is a terminal (started by hand).
fn read_stdin() -> Result<Vec<u8>> {
    use std::io::Read;
    // SAFETY: isatty only inspects fd 0.
    if unsafe { libc::isatty(0) } == 1 {
        return Ok(Vec::new());
    }
    let mut buf = Vec::new();
    std::io::stdin()
        .take(10 << 20)
        .read_to_end(&mut buf)
        .context("read stdin")?;
    Ok(buf)
}

/// `start`: find or launch the long-lived shim and print its address.
fn start(flags: &Flags) -> Result<()> {
    let bundle = std::env::current_dir().context("current directory (the bundle)")?;
    let stdin = read_stdin()?;
    let max = std::env::var("MAX_SHIM_VERSION").ok();
    let protocol = bootstrap::detect(&stdin, &flags.id, &flags.namespace, max.as_deref());
    let config = bundle.join("config.json");
    let spec = std::fs::read(&config).with_context(|| format!("read {}", config.display()))?;
    let annotations = bootstrap::annotations(&spec).map_err(|e| anyhow!(e))?;
    let group = bootstrap::group(&flags.id, &annotations);
    let socket = args::socket_path(
        &flags.address,
        &flags.namespace,
        &group.key,
        protocol.socket_dir(),
    );
    let address = format!("unix://{socket}");
    let reply = |address: &str| -> Result<()> {
        write_address(&bundle, address)?;
        std::io::stdout().write_all(&protocol.reply(address))?;
        std::io::stdout().flush()?;
        Ok(())
    };
    let exists = Path::new(&socket).exists();
    if exists && std::os::unix::net::UnixStream::connect(&socket).is_ok() {
        // The shim of this container's group (its pod) serves it too.
        return reply(&address);
    }
    if group.needs_running_shim {
        let why = if exists {
            format!("its socket {socket} does not answer")
        } else {
            format!("no socket {socket}")
        };
        return Err(anyhow!(
            "container {:?} belongs to pod sandbox {:?}, whose shim is not running ({why}): \
             the sandbox must be created again",
            flags.id,
            group.key
        ));
    }
    if exists {
        let _ = std::fs::remove_file(&socket);
    }
    // Bind here, as containerd's Go shim does, and hand the listening socket to the long-lived
    // shim: the address works as soon as this process prints it (connections wait in the
    // backlog), so containerd does not wait for the new process to start up.
    if let Some(dir) = Path::new(&socket).parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let listener = std::os::unix::net::UnixListener::bind(&socket)
        .with_context(|| format!("listen on {socket}"))?;
    let fd = listener.as_raw_fd();
    // Inherited across exec: this process has no other thread that could spawn meanwhile.
    set_cloexec(fd, false).context("pass the listening socket on")?;
    let exe = std::env::current_exe().context("locate own binary")?;
    let mut c = Command::new(exe);
    c.args([
        "-namespace",
        &flags.namespace,
        "-address",
        &flags.address,
        "-publish-binary",
        &flags.publish_binary,
    ])
    .args([
        "-id",
        &flags.id,
        "-socket",
        &socket,
        "-listen-fd",
        &fd.to_string(),
        "-bundle",
    ])
    .arg(&bundle)
    .current_dir(&bundle)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(shim_log(&bundle));
    if flags.debug {
        c.arg("-debug");
    }
    if let Err(e) = c.spawn() {
        let _ = std::fs::remove_file(&socket);
        return Err(e).context("launch the long-lived shim");
    }
    reply(&address)
}

/// `-info` (containerd 2): the RuntimeInfo protobuf, with the runtime's `features` document.
fn info() -> Result<()> {
    use protobuf::Message;
    let options = bootstrap::info_options(&read_stdin()?).map_err(|e| anyhow!(e))?;
    let opts = match &options {
        Some(a) => options::decode(&a.type_url, &a.value).map_err(|e| anyhow!(e.0))?,
        None => options::decode("", &[]).map_err(|e| anyhow!(e.0))?,
    };
    let binary = runtime::resolve_binary(&opts.binary_name).map_err(|e| anyhow!(e))?;
    // A runtime without `features` (older runc-compatible CLIs) still gets an answer.
    let features = Command::new(&binary)
        .arg("features")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| o.stdout)
        .filter(|b| serde_json::from_slice::<serde_json::Value>(b).is_ok());
    let info = bootstrap::runtime_info(options, features);
    std::io::stdout().write_all(&info.write_to_bytes()?)?;
    std::io::stdout().flush()?;
    Ok(())
}

fn set_cloexec(fd: std::os::fd::RawFd, on: bool) -> std::io::Result<()> {
    let flag = if on { libc::FD_CLOEXEC } else { 0 };
    // SAFETY: F_SETFD with plain flags on an fd this process owns.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, flag) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Where the long-lived shim's stderr goes: the bundle's `log` fifo when containerd reads it.
fn shim_log(bundle: &Path) -> Stdio {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(bundle.join("log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

fn write_address(bundle: &Path, address: &str) -> Result<()> {
    let tmp = bundle.join(".address.tmp");
    std::fs::write(&tmp, address).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, bundle.join("address")).context("write the address file")?;
    Ok(())
}

/// The long-lived shim.
fn serve(flags: &Flags) -> Result<()> {
    // One malloc arena for all threads: glibc would give each thread that allocates its own.
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    #[cfg(target_env = "gnu")]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1)
    };
    // New session: containerd's process group signals must not reach us.
    let _ = nix::unistd::setsid();
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        let e = anyhow!(
            "PR_SET_CHILD_SUBREAPER: {}",
            std::io::Error::last_os_error()
        );
        let _ = std::fs::remove_file(&flags.socket);
        return Err(e);
    }
    listen(flags)
}

fn listen(flags: &Flags) -> Result<()> {
    let queue = Arc::new(worker::WorkQueue::default());
    let reaper_queue = Arc::clone(&queue);
    let monitor = reaper::Monitor::start(Box::new(move |e| reaper_queue.exit(e)))
        .context("start the reaper thread")?;
    let svc = Arc::new(
        service::Service::new(
            flags.namespace.clone(),
            flags.address.clone(),
            flags.publish_binary.clone(),
            monitor,
            Arc::clone(&queue),
        )
        .forward_to(std::env::var("TTRPC_ADDRESS").ok()),
    );
    let worker = Arc::clone(&svc);
    let worker_queue = Arc::clone(&queue);
    std::thread::Builder::new()
        .name("worker".into())
        .stack_size(256 * 1024)
        .spawn(move || loop {
            worker.work(worker_queue.next());
            worker_queue.done();
        })
        .context("start the worker thread")?;

    // containerd 1.6 calls containerd.task.v2.Task; containerd 2 may call v3. Same messages.
    let mut methods = containerd_shim_protos::create_task(svc.clone());
    let v2: HashMap<_, _> = containerd_shim_protos::create_task(svc.clone())
        .into_iter()
        .map(|(k, v)| {
            (
                k.replace("/containerd.task.v3.Task/", "/containerd.task.v2.Task/"),
                v,
            )
        })
        .collect();
    methods.extend(v2);

    let socket = PathBuf::from(&flags.socket);
    let listener = if flags.listen_fd.is_empty() {
        // Started by hand (not by `start`): bind here.
        if let Some(dir) = socket.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        let _ = std::fs::remove_file(&socket);
        std::os::unix::net::UnixListener::bind(&socket)
            .with_context(|| format!("listen on {}", socket.display()))?
    } else {
        let fd: std::os::fd::RawFd = flags
            .listen_fd
            .parse()
            .with_context(|| format!("-listen-fd {:?}", flags.listen_fd))?;
        // Not inherited by the runtime commands this process spawns.
        set_cloexec(fd, true).context("-listen-fd: not an open descriptor")?;
        // SAFETY: `start` passed this listening socket to us and keeps no use of it; nothing
        // else in this process refers to the fd, so the listener owns it from here on.
        unsafe { std::os::unix::net::UnixListener::from_raw_fd(fd) }
    };

    // Once Shutdown has been accepted and its reply written: publish what is still queued
    // (TaskDelete), as containerd's shim drains its publisher, then go. containerd does not wait
    // for this process; it closes the connection and runs `SHIM delete` right after the reply.
    let exit_socket = socket.clone();
    let after: server::AfterReply = Arc::new(move || {
        if svc.exit_requested() {
            let _ = std::fs::remove_file(&exit_socket);
            if !queue.wait_idle(std::time::Duration::from_secs(5)) {
                eprintln!("shutdown: events still queued after 5 s; exiting anyway");
            }
            std::process::exit(0);
        }
    });

    server::serve(listener, Arc::new(methods), after).context("serve ttrpc")?;
    Ok(())
}

/// `delete`: the shim is gone; remove the container and report it killed.
fn delete(flags: &Flags) -> Result<()> {
    use protobuf::Message;
    let bundle = if flags.bundle.is_empty() {
        std::env::current_dir().context("current directory (the bundle)")?
    } else {
        PathBuf::from(&flags.bundle)
    };
    let saved: Option<runtime::Saved> = std::fs::read(bundle.join(runtime::SAVED_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let (binary, root) = match saved {
        Some(s) => (s.binary, s.root),
        None => (
            runtime::resolve_binary("").map_err(|e| anyhow!(e))?,
            runtime::default_root(&flags.namespace),
        ),
    };
    // After a normal Delete the runtime has no state left for this id: running `hull delete
    // --force` would only fail (and cost a process start on containerd's `ctr run --rm` path).
    if root.join(&flags.id).exists() {
        let (tx, _rx) = mpsc::channel();
        let monitor = reaper::Monitor::start(Box::new(move |e| {
            let _ = tx.send(e);
        }))?;
        let rt = runtime::Runtime {
            binary,
            root: root.clone(),
            log: bundle.join("log.json"),
            monitor,
        };
        if let Err(e) = rt.delete(&flags.id, true) {
            // Already gone is fine: delete must be idempotent.
            eprintln!("containerd-shim-hull-v2 delete: {e}");
        }
    }
    mount::unmount_all(&bundle.join("rootfs"));
    runtime::remove_root(&root);
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut r = containerd_shim_protos::api::DeleteResponse::new();
    r.exit_status = 128 + libc::SIGKILL as u32;
    let mut t = protobuf::well_known_types::timestamp::Timestamp::new();
    t.seconds = d.as_secs() as i64;
    t.nanos = d.subsec_nanos() as i32;
    r.exited_at = protobuf::MessageField::some(t);
    std::io::stdout().write_all(&r.write_to_bytes()?)?;
    std::io::stdout().flush()?;
    Ok(())
}
