//! The spawn path: the only code that forks. See `proto` for the parent/child protocol.
//!
//! `hull create` is single-threaded, so the child of clone3 may allocate freely (there is no other
//! thread whose locks it could inherit). Everything costly is decided in the parent first — the
//! config is turned into a [`Plan`] of plain data — and the child only carries it out.
//!
//! Fast path (no namespace joined by path): one clone3 with every new-namespace flag.
//! Slow path (some namespace joined by path, or time offsets): clone3 without namespace flags; the
//! child joins (setns), unshares the new ones and, when the pid or time namespace changes, forks
//! once more so that the container init is born inside them. The intermediate reports the init's
//! pid and exits.

pub mod child;
pub mod exec;
pub mod proto;

use crate::error::{Error, Result};
use crate::process::{CapPlan, Rlimit};
use crate::rootfs::devices::DeviceNode;
use crate::spec::Bundle;
use crate::sys;
use nix::errno::Errno;
use oci_spec::runtime::{Hook, LinuxNamespaceType, Mount};
use proto::Msg;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// A namespace to join: the clone flag, an fd opened on its path in the parent, and the path.
pub struct Join {
    pub flag: libc::c_int,
    pub fd: OwnedFd,
    pub path: PathBuf,
}

/// Everything the child needs, decided before clone.
pub struct Plan {
    pub rootfs: PathBuf,
    pub new_ns_flags: u64,
    pub joins: Vec<Join>,
    pub new_user: bool,
    pub uid_map: String,
    pub gid_map: String,
    pub time_offsets: Option<String>,
    pub mounts: Vec<Mount>,
    pub devices: Vec<DeviceNode>,
    pub has_devpts: bool,
    pub no_pivot: bool,
    pub root_propagation: libc::c_ulong,
    pub rootfs_propagation: Option<libc::c_ulong>,
    pub readonly_root: bool,
    pub masked: Vec<String>,
    pub readonly: Vec<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub sysctl: Vec<(String, String)>,
    pub oom_score_adj: Option<i32>,
    pub rlimits: Vec<Rlimit>,
    pub caps: Option<CapPlan>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: u32,
    pub nnp: bool,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub env_strings: Vec<String>,
    pub cwd: String,
    pub terminal: bool,
    pub console: Option<OwnedFd>,
    pub exec_fifo: OwnedFd,
    pub runtime_hooks: bool,
    pub container_hooks: Vec<Hook>,
    pub start_hooks: Vec<Hook>,
    pub preserve_fds: i32,
    pub new_keyring: Option<CString>,
    pub personality: Option<libc::c_ulong>,
    /// Fds of the parent the child must close first (the state-dir lock).
    pub close_in_child: Vec<RawFd>,
    /// The compiled seccomp program (compiled here, in the parent; the child only installs it).
    pub seccomp: Option<hull_seccomp::Compiled>,
    /// A new cgroup namespace must wait until the init joined its cgroup (no CLONE_INTO_CGROUP).
    pub defer_cgroupns: std::cell::Cell<bool>,
    /// Scheduler, I/O priority, LSM profile (see `crate::sched`).
    pub extras: crate::sched::ProcessExtras,
    /// Idmapped bind mounts, prepared here as detached trees by mount index (see `crate::rootfs::idmap`).
    pub idmap_trees: Vec<(usize, OwnedFd)>,
}

fn ns_flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => 0x80, // CLONE_NEWTIME
    }
}

fn id_map(maps: &[oci_spec::runtime::LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

pub struct CreateOpts {
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    pub console_socket: Option<PathBuf>,
    /// A connected socket to send the pty master over (foreground `hull run` with a terminal).
    pub console_fd: Option<OwnedFd>,
    pub container_id: String,
}

/// Turn a validated bundle into a plan. Opens namespace paths, the console socket and the exec fifo.
pub fn plan(b: &Bundle, opts: &CreateOpts, exec_fifo: OwnedFd) -> Result<Plan> {
    let spec = &b.spec;
    let process = spec.process().as_ref().expect("validated");
    let linux = spec.linux().clone().unwrap_or_default();
    let mut new_ns_flags = 0u64;
    let mut joins = Vec::new();
    let mut new_user = false;
    let mut has_mnt = false;
    let mut time_new = false;
    for ns in linux.namespaces().iter().flatten() {
        let flag = ns_flag(ns.typ());
        if ns.typ() == LinuxNamespaceType::Mount {
            has_mnt = true;
        }
        match ns.path() {
            None => {
                if ns.typ() == LinuxNamespaceType::User {
                    new_user = true;
                }
                if ns.typ() == LinuxNamespaceType::Time {
                    time_new = true;
                }
                new_ns_flags |= flag as u64;
            }
            Some(p) => {
                let fd = sys::open_path(&sys::cstr(&p.to_string_lossy())?, libc::O_RDONLY)
                    .map_err(|e| {
                        Error::invalid(format!(
                            "linux.namespaces: {} namespace path {}: {e}",
                            ns.typ(),
                            p.display()
                        ))
                    })?;
                joins.push(Join {
                    flag,
                    fd,
                    path: p.clone(),
                });
            }
        }
    }
    if !has_mnt {
        return Err(Error::invalid(
            "linux.namespaces: a mount namespace is required (hull does not set up a rootfs in the host's mount namespace)",
        ));
    }
    let time_offsets = if let Some(offs) = linux.time_offsets() {
        if !time_new {
            return Err(Error::invalid(
                "linux.timeOffsets: requires a new time namespace",
            ));
        }
        let mut s = String::new();
        for (clock, o) in offs {
            let name = match clock.as_str() {
                "monotonic" => "monotonic",
                "boottime" => "boottime",
                other => {
                    return Err(Error::invalid(format!(
                        "linux.timeOffsets: unknown clock {other:?} (monotonic or boottime)"
                    )))
                }
            };
            s.push_str(&format!(
                "{name} {} {}\n",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            ));
        }
        Some(s)
    } else {
        None
    };
    let mounts = spec.mounts().clone().unwrap_or_default();
    let idmap_trees = crate::rootfs::idmap::prepare(
        &mounts,
        linux.uid_mappings().as_deref().unwrap_or(&[]),
        linux.gid_mappings().as_deref().unwrap_or(&[]),
    )?;
    let has_devpts = mounts.iter().any(|m| {
        m.destination() == std::path::Path::new("/dev/pts") && m.typ().as_deref() == Some("devpts")
    });
    let devices = crate::rootfs::devices::plan(linux.devices().as_deref().unwrap_or(&[]))?;
    let rootfs_propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => None,
        Some(p) => Some(crate::rootfs::propagation_flag(p).ok_or_else(|| {
            Error::invalid(format!("linux.rootfsPropagation: unknown value {p:?}"))
        })?),
    };
    let mut sysctl: Vec<(String, String)> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    sysctl.sort();
    let held = crate::process::held_caps();
    let can_raise = caps::has_cap(
        None,
        caps::CapSet::Effective,
        caps::Capability::CAP_SYS_RESOURCE,
    )
    .unwrap_or(false);
    let user = process.user();
    let args = process
        .args()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
        .map(|(i, a)| {
            CString::new(a.as_str())
                .map_err(|_| Error::invalid(format!("process.args[{i}]: contains a NUL byte")))
        })
        .collect::<Result<Vec<_>>>()?;
    let env_strings = process.env().clone().unwrap_or_default();
    let env = env_strings
        .iter()
        .enumerate()
        .map(|(i, a)| {
            CString::new(a.as_str())
                .map_err(|_| Error::invalid(format!("process.env[{i}]: contains a NUL byte")))
        })
        .collect::<Result<Vec<_>>>()?;
    let terminal = process.terminal().unwrap_or(false);
    let console =
        match (&opts.console_socket, terminal) {
            (Some(p), true) => Some(connect_console(p)?),
            (None, true) if opts.console_fd.is_some() => opts
                .console_fd
                .as_ref()
                .map(|f| f.try_clone())
                .transpose()
                .map_err(|e| Error::io("dup console fd", "", e))?,
            (None, true) => return Err(Error::invalid(
                "process.terminal: true needs --console-socket (or `hull run` in the foreground)",
            )),
            (Some(_), false) => {
                return Err(Error::invalid(
                    "--console-socket given but process.terminal is false",
                ))
            }
            (None, false) => None,
        };
    let extras = crate::sched::ProcessExtras::plan(spec)?;
    let personality = linux.personality().as_ref().map(|p| match p.domain() {
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0x0000,
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
    });
    let no_new_keyring = opts.no_new_keyring;
    let seccomp = match linux.seccomp() {
        None => None,
        Some(sc) => {
            let c = hull_seccomp::compile(sc)?;
            for w in c.warnings() {
                crate::logging::warn(&format!("linux.seccomp: {w}"));
            }
            Some(c)
        }
    };
    Ok(Plan {
        rootfs: b.rootfs.clone(),
        new_ns_flags,
        joins,
        new_user,
        uid_map: id_map(linux.uid_mappings().as_deref().unwrap_or(&[])),
        gid_map: id_map(linux.gid_mappings().as_deref().unwrap_or(&[])),
        time_offsets,
        mounts,
        devices,
        has_devpts,
        no_pivot: opts.no_pivot,
        root_propagation: rootfs_propagation.unwrap_or(libc::MS_SLAVE | libc::MS_REC),
        rootfs_propagation,
        readonly_root: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        masked: linux.masked_paths().clone().unwrap_or_default(),
        readonly: linux.readonly_paths().clone().unwrap_or_default(),
        hostname: spec.hostname().clone(),
        domainname: spec.domainname().clone(),
        sysctl,
        oom_score_adj: process.oom_score_adj(),
        rlimits: crate::process::rlimit_plan(process, can_raise)?,
        caps: crate::process::cap_plan(process, &held),
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask().unwrap_or(0o022),
        nnp: process.no_new_privileges().unwrap_or(false),
        args,
        env,
        env_strings,
        cwd: process.cwd().to_string_lossy().to_string(),
        terminal,
        console,
        exec_fifo,
        runtime_hooks: !crate::hooks::of(spec, "prestart").is_empty()
            || !crate::hooks::of(spec, "createRuntime").is_empty(),
        container_hooks: crate::hooks::of(spec, "createContainer"),
        start_hooks: crate::hooks::of(spec, "startContainer"),
        preserve_fds: opts.preserve_fds,
        new_keyring: if no_new_keyring {
            None
        } else {
            CString::new(opts.container_id.as_str()).ok()
        },
        personality,
        close_in_child: Vec::new(),
        seccomp,
        defer_cgroupns: std::cell::Cell::new(false),
        extras,
        idmap_trees,
    })
}

fn connect_console(path: &std::path::Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| Error::io("connect console socket", path, e))?;
    Ok(s.into())
}

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
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
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
    plan: &Plan,
    cgroup_fd: Option<RawFd>,
    on_pid: &mut dyn FnMut(i32) -> Result<()>,
    on_runtime_hooks: RuntimeHooks,
    on_seccomp: SeccompListener,
) -> Result<Spawned> {
    let (parent_sock, child_sock) = socketpair()?;
    let fast = plan.joins.is_empty() && plan.time_offsets.is_none();
    let mut flags = if fast { plan.new_ns_flags } else { 0 };
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
            clone3(strip(flags), None).map_err(|e| Error::sys("clone3", e))?
        }
        Err(Errno::ENOSYS) | Err(Errno::EPERM) => {
            // clone3 filtered (valgrind, Docker's default seccomp profile): plain clone, which
            // takes the same namespace flags but cannot place the child in a cgroup.
            plan.defer_cgroupns.set(true);
            clone_fork(strip(flags)).map_err(|e| Error::sys("clone", e))?
        }
        Err(e) => return Err(Error::sys("clone3", e)),
    };
    if pid == 0 {
        drop(parent_sock);
        child::main(plan, child_sock, fast);
    }
    drop(child_sock);
    let mut guard = ChildGuard {
        pids: vec![pid],
        armed: true,
    };
    let sock = parent_sock.as_fd();
    let mut init_pid = pid;
    if fast {
        if plan.new_user {
            write_maps(pid, plan)?;
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
            Some(Msg::MapRequest) if !fast && plan.new_user => {
                write_maps(pid, plan)?;
                proto::send(sock, &Msg::MapsDone).map_err(|e| Error::sys("send MapsDone", e))?;
            }
            Some(Msg::Pid(p)) if !fast && !sent_pid => {
                // The intermediate has exited (or is about to): reap it; the init is `p`.
                let mut st = 0;
                // SAFETY: reap our own child.
                unsafe { libc::waitpid(pid, &mut st, 0) };
                guard.pids = vec![p];
                init_pid = p;
                sent_pid = true;
                on_pid(p)?;
                send_setup_done(sock)?;
            }
            Some(Msg::CreateRuntime) if plan.runtime_hooks && sent_pid => {
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

fn write_maps(pid: i32, plan: &Plan) -> Result<()> {
    if !plan.gid_map.is_empty() {
        sys::write_file(&format!("/proc/{pid}/gid_map"), plan.gid_map.as_bytes())
            .map_err(|e| Error::invalid(format!("linux.gidMappings: {e}")))?;
    }
    if !plan.uid_map.is_empty() {
        sys::write_file(&format!("/proc/{pid}/uid_map"), plan.uid_map.as_bytes())
            .map_err(|e| Error::invalid(format!("linux.uidMappings: {e}")))?;
    }
    Ok(())
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

#[allow(dead_code)]
fn raw(fd: &OwnedFd) -> RawFd {
    fd.as_raw_fd()
}
