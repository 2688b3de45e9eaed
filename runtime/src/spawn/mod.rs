//! The spawn path: the only code that forks. See `proto` for the parent/child protocol.
//!
//! `hull create` is single-threaded, so the child of clone3 may allocate freely (there is no other
//! thread whose locks it could inherit). Everything costly is decided in the parent first — the
//! config is turned into plain data by the pure functions of [`plan`] — one [`plan::ProcessPlan`]
//! for the init and for `exec` — and the child only carries it out: `child` (what only the init
//! does: namespaces, rootfs), `exec` (what only `exec` does: join), `steps` (the process, shared).
//!
//! Fast path (no namespace joined by path): one clone3 with every new-namespace flag.
//! Slow path (some namespace joined by path, or time offsets): clone3 without namespace flags; the
//! child joins (setns), unshares the new ones and, when the pid or time namespace changes, forks
//! once more so that the container init is born inside them. The intermediate reports the init's
//! pid and exits.

pub mod child;
pub mod exec;
pub mod plan;
pub mod proto;
pub mod steps;
pub mod vfork;

use crate::error::{Error, Result};
use crate::spec::Bundle;
use crate::sys;
use nix::errno::Errno;
use plan::{ConsoleTo, NamespacePlan, ProcessPlan, Role, RootfsPlan};
use proto::Msg;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// A namespace to join: the clone flag, an fd opened on its path in the parent, and the path.
pub struct Join {
    pub flag: libc::c_int,
    pub fd: OwnedFd,
    pub path: PathBuf,
}

/// The container init: its process (as for `exec`), plus what only the init has — the
/// namespaces it creates or joins, its rootfs, hostname, sysctls, hooks — and the fds opened for
/// it. Built by [`plan`]: the pure [`plan::init_spec`], then the fds.
pub struct InitPlan {
    pub process: ProcessPlan,
    pub namespaces: NamespacePlan,
    /// `namespaces.joins`, opened (same order).
    pub joins: Vec<Join>,
    pub rootfs: RootfsPlan,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub sysctl: Vec<(String, String)>,
    pub hooks: plan::HookPlan,
    /// Where the pty master goes (`process.terminal`).
    pub console: Option<OwnedFd>,
    pub exec_fifo: OwnedFd,
    pub preserve_fds: i32,
    /// Fds of the parent the child must close first (the state-dir lock).
    pub close_in_child: Vec<RawFd>,
    /// A new cgroup namespace must wait until the init joined its cgroup (no CLONE_INTO_CGROUP).
    pub defer_cgroupns: std::cell::Cell<bool>,
    /// Cgroup files the init writes "0" to at birth to join its cgroups itself (v1 `tasks`, see
    /// `hull_cgroups::join_self`); empty when the parent places it (by pid or CLONE_INTO_CGROUP).
    pub join_cgroups: Vec<(std::path::PathBuf, OwnedFd)>,
    /// A hybrid host's unified cgroup.procs: the init is born there (CLONE_INTO_CGROUP) and
    /// writes "0" to it only when clone3 could not place it (`clone_into_failed`).
    pub join_unified: Option<(std::path::PathBuf, OwnedFd)>,
    /// Set before the fallback clone when clone3 refused CLONE_INTO_CGROUP.
    pub clone_into_failed: std::cell::Cell<bool>,
    /// Idmapped bind mounts, prepared here as detached trees by mount index (see `crate::rootfs::idmap`).
    pub idmap_trees: Vec<(usize, OwnedFd)>,
}

pub struct CreateOpts {
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// Socket activation: the first `listen_fds` of the preserved fds are LISTEN_FDS.
    pub listen_fds: i32,
    pub console_socket: Option<PathBuf>,
    /// A connected socket to send the pty master over (foreground `hull run` with a terminal).
    pub console_fd: Option<OwnedFd>,
    pub container_id: String,
}

/// Turn a validated bundle into a plan ([`plan::init_spec`], pure), then open what it names:
/// namespace paths, the console socket, the idmapped mount trees. The exec fifo is given.
pub fn plan(b: &Bundle, opts: &CreateOpts, exec_fifo: OwnedFd) -> Result<InitPlan> {
    let host = plan::Host::current();
    let init_opts = plan::InitOpts {
        no_pivot: opts.no_pivot,
        keyring: (!opts.no_new_keyring).then_some(opts.container_id.as_str()),
        listen_fds: opts.listen_fds,
    };
    let spec = plan::init_spec(&b.spec, &b.rootfs, &init_opts, &host)?;
    for w in &spec.process.warnings {
        crate::logging::warn(w);
    }
    if let Some(sc) = &spec.process.seccomp {
        for w in sc.warnings() {
            crate::logging::warn(&format!("linux.seccomp: {w}"));
        }
    }
    let console_to = plan::console_to(
        Role::Init,
        spec.process.terminal,
        opts.console_socket.is_some(),
        opts.console_fd.is_some(),
    )?;
    let console = match (console_to, &opts.console_socket, &opts.console_fd) {
        (ConsoleTo::Socket, Some(p), _) => Some(connect_console(p)?),
        (ConsoleTo::Foreground, _, Some(f)) => Some(
            f.try_clone()
                .map_err(|e| Error::io("dup console fd", "", e))?,
        ),
        _ => None,
    };
    let mut joins = Vec::with_capacity(spec.namespaces.joins.len());
    for j in &spec.namespaces.joins {
        let fd = sys::open_path(&sys::cstr(&j.path.to_string_lossy())?, libc::O_RDONLY).map_err(
            |e| {
                Error::invalid(format!(
                    "linux.namespaces: {} namespace path {}: {e}",
                    j.typ,
                    j.path.display()
                ))
            },
        )?;
        joins.push(Join {
            flag: j.flag,
            fd,
            path: j.path.clone(),
        });
    }
    let linux = b.spec.linux().clone().unwrap_or_default();
    let idmap_trees = crate::rootfs::idmap::prepare(
        &spec.rootfs.mounts,
        linux.uid_mappings().as_deref().unwrap_or(&[]),
        linux.gid_mappings().as_deref().unwrap_or(&[]),
    )?;
    Ok(InitPlan {
        process: spec.process,
        namespaces: plan::NamespacePlan {
            maps_need_dumpable: spec.namespaces.new_user && !crate::rootless::privileged(),
            runtime_in_userns: !crate::rootless::in_initial_userns(),
            ..spec.namespaces
        },
        joins,
        rootfs: spec.rootfs,
        hostname: spec.hostname,
        domainname: spec.domainname,
        sysctl: spec.sysctl,
        hooks: spec.hooks,
        console,
        exec_fifo,
        preserve_fds: opts.preserve_fds,
        close_in_child: Vec::new(),
        defer_cgroupns: std::cell::Cell::new(false),
        join_cgroups: Vec::new(),
        join_unified: None,
        clone_into_failed: std::cell::Cell::new(false),
        idmap_trees,
    })
}

fn connect_console(path: &std::path::Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| Error::io("connect console socket", path, e))?;
    Ok(s.into())
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// clone3 behaving like fork (no CLONE_VM): returns 0 in the child, the pid in the parent.
pub(crate) fn clone3(flags: u64, cgroup_fd: Option<RawFd>) -> nix::Result<libc::pid_t> {
    let mut args = CloneArgs {
        flags,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 without CLONE_VM duplicates the address space like fork; `args` is valid and
    // correctly sized. The caller is single-threaded, so the child may continue running Rust code.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(rc as libc::pid_t)
}

/// clone(2) like fork (no new stack: the child runs on a copy of ours), with namespace flags.
fn clone_fork(flags: u64) -> nix::Result<libc::pid_t> {
    // SAFETY: raw clone without CLONE_VM and with a NULL stack duplicates the process like fork
    // (x86_64/aarch64 argument order: flags, stack, parent_tid, child_tid, tls). The caller is
    // single-threaded.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags as libc::c_ulong) | libc::SIGCHLD as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(rc as libc::pid_t)
}

/// The result of a successful spawn: the init's pid, waiting on the exec fifo.
pub struct Spawned {
    pub pid: i32,
}

/// The parent's view of a child in flight: kill and reap it if the create fails.
struct ChildGuard {
    pids: Vec<i32>,
    armed: bool,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        for &p in &self.pids {
            // SAFETY: kill/waitpid on pids this process created.
            unsafe {
                libc::kill(p, libc::SIGKILL);
            }
        }
        for &p in &self.pids {
            let mut st = 0;
            // SAFETY: reap our own child; for a non-child (slow-path init) this returns ECHILD.
            unsafe { libc::waitpid(p, &mut st, 0) };
        }
    }
}

/// Hooks the parent runs while the child waits (prestart + createRuntime), with the state JSON.
pub type RuntimeHooks<'a> = &'a mut dyn FnMut(i32) -> Result<Vec<u8>>;

/// What the parent does when the init hands over its seccomp notify fd.
pub type SeccompListener<'a> = &'a mut dyn FnMut(i32, OwnedFd) -> Result<()>;

/// Send SetupDone. The init may have failed meanwhile (it prepares its rootfs while the parent
/// sets up cgroups): then its error, already in the socket, is the one to report.
fn send_setup_done(sock: BorrowedFd) -> Result<()> {
    let Err(e) = proto::send(sock, &Msg::SetupDone) else {
        return Ok(());
    };
    match proto::recv_fd(sock) {
        Ok((Some(Msg::Error { step, msg }), _)) => Err(Error::Child { step, msg }),
        _ => Err(Error::sys("send SetupDone", e)),
    }
}

/// Spawn the container init. `on_runtime_hooks(pid)` runs prestart/createRuntime hooks and
/// returns the state JSON the container hooks get.
pub fn spawn(
    plan: &InitPlan,
    cgroup_fd: Option<RawFd>,
    on_pid: &mut dyn FnMut(i32) -> Result<()>,
    on_runtime_hooks: RuntimeHooks,
    on_seccomp: SeccompListener,
) -> Result<Spawned> {
    let (parent_sock, child_sock) = socketpair()?;
    let ns = &plan.namespaces;
    let fast = ns.fast();
    let mut flags = if fast { ns.new_flags } else { 0 };
    let strip = |f: u64| f & !(libc::CLONE_NEWCGROUP as u64);
    if plan.defer_cgroupns.get() {
        flags = strip(flags);
    }
    let pid = match clone3(flags, cgroup_fd) {
        Ok(p) => p,
        Err(Errno::EBUSY) | Err(Errno::EOPNOTSUPP) if cgroup_fd.is_some() => {
            // Not into the cgroup at birth after all: the parent adds the pid, the cgroup
            // namespace waits for that.
            plan.defer_cgroupns.set(true);
            plan.clone_into_failed.set(true);
            clone3(strip(flags), None).map_err(|e| Error::sys("clone3", e))?
        }
        Err(Errno::ENOSYS) | Err(Errno::EPERM) => {
            // clone3 filtered (valgrind, Docker's default seccomp profile): plain clone, which
            // takes the same namespace flags but cannot place the child in a cgroup.
            plan.defer_cgroupns.set(true);
            plan.clone_into_failed.set(true);
            clone_fork(strip(flags)).map_err(|e| Error::sys("clone", e))?
        }
        Err(e) => return Err(Error::sys("clone3", e)),
    };
    if pid == 0 {
        drop(parent_sock);
        child::main(plan, child_sock);
    }
    drop(child_sock);
    let mut guard = ChildGuard {
        pids: vec![pid],
        armed: true,
    };
    let sock = parent_sock.as_fd();
    let mut init_pid = pid;
    if fast {
        if ns.new_user {
            write_maps(pid, ns)?;
        }
        on_pid(pid)?;
        send_setup_done(sock)?;
    }
    let mut sent_pid = fast;
    loop {
        let (m, fd) =
            proto::recv_fd(sock).map_err(|e| Error::sys("recv from container init", e))?;
        match m {
            Some(Msg::SeccompFd) if sent_pid => {
                let fd = fd.ok_or_else(|| {
                    Error::invalid("protocol error: SeccompFd without a file descriptor")
                })?;
                on_seccomp(init_pid, fd)?;
            }
            None => {
                let status = reap_status(pid);
                return Err(Error::Child {
                    step: "init".into(),
                    msg: format!("container init exited before it was ready ({status})"),
                });
            }
            Some(Msg::Error { step, msg }) => {
                return Err(Error::Child { step, msg });
            }
            Some(Msg::MapRequest) if !fast && ns.new_user => {
                write_maps(pid, ns)?;
                proto::send(sock, &Msg::MapsDone).map_err(|e| Error::sys("send MapsDone", e))?;
            }
            Some(Msg::Pid(p)) if !fast && !sent_pid => {
                // The intermediate has exited (or is about to): reap it; the init is `p`.
                // Without a pid namespace change the child itself is the init (p == pid): it
                // waits for SetupDone, so it must not be waited for here.
                if p != pid {
                    let mut st = 0;
                    // SAFETY: reap our own child.
                    unsafe { libc::waitpid(pid, &mut st, 0) };
                }
                guard.pids = vec![p];
                init_pid = p;
                sent_pid = true;
                on_pid(p)?;
                send_setup_done(sock)?;
            }
            Some(Msg::CreateRuntime) if plan.hooks.runtime && sent_pid => {
                let state = on_runtime_hooks(init_pid)?;
                proto::send(sock, &Msg::HooksDone(state))
                    .map_err(|e| Error::sys("send HooksDone", e))?;
            }
            Some(Msg::Ready) if sent_pid => break,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "protocol error: unexpected message {} from container init",
                    other.name()
                )))
            }
        }
    }
    guard.armed = false;
    Ok(Spawned { pid: init_pid })
}

pub(crate) fn socketpair() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair fills two fds on success.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if rc != 0 {
        return Err(Error::sys("socketpair", Errno::last()));
    }
    // SAFETY: both fds were just created and are owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn write_maps(pid: i32, plan: &NamespacePlan) -> Result<()> {
    crate::rootless::write_maps(pid, &plan.uid_map, &plan.gid_map)
}

fn reap_status(pid: i32) -> String {
    let mut st = 0;
    // SAFETY: reap our own child.
    let rc = unsafe { libc::waitpid(pid, &mut st, 0) };
    if rc != pid {
        return "status unknown".into();
    }
    if libc::WIFEXITED(st) {
        format!("exit status {}", libc::WEXITSTATUS(st))
    } else if libc::WIFSIGNALED(st) {
        format!("killed by signal {}", libc::WTERMSIG(st))
    } else {
        format!("wait status {st}")
    }
}

/// Exit status of a wait status as a shell would report it (128+signal when killed).
pub fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        255
    }
}
