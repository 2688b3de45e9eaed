//! `hull exec`: start one more process inside a running container.
//!
//! ```text
//!  hull exec (parent)                                     exec'd process (child)
//!  ──────────────────                                     ──────────────────────
//!  open /proc/<init>/ns/*, compile seccomp, block signals
//!  setns(pid), setns(time): only our *children* are born there
//!  PR_SET_DUMPABLE 0 (inherited by the child)
//!  clone3 [CLONE_INTO_CGROUP on v2] ─────────────────▶    born in the container's pid ns + cgroup
//!  [v1] write pid into every hierarchy (+ --cgroup sub-cgroups)
//!        ── SetupDone ──────────────────────────────▶     setns user, then ipc uts net cgroup mnt
//!                                                         console, rlimits, scheduler, cwd, exec lookup,
//!        ◀──────────────────────────── SeccompFd ──       [NOTIFY] seccomp early
//!                                                         HOME, bounding, user, caps, nnp, umask,
//!                                                         seccomp, execve
//!        ◀──────────────────── EOF (CLOEXEC socket)       exec succeeded
//!  at any step:  ◀──────────────────── Error{step, msg}   the child exits 1, the parent reports
//! ```
//!
//! One fork, no re-exec: the parent joins the pid (and time) namespace for its children only, so
//! the child is born inside them and needs no second fork. The child is non-dumpable from birth
//! until execve, so no container process can open `/proc/<pid>/exe` (the hull binary) or its fds
//! while it is visible in the container's pid namespace (CVE-2019-5736).

use super::child;
use super::proto::{self, Msg};
use crate::error::{Error, Result};
use crate::process::{self, CapPlan, Rlimit};
use crate::sys;
use nix::errno::Errno;
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// A namespace of the container's init to join.
pub struct NsJoin {
    pub flag: libc::c_int,
    pub name: &'static str,
    pub fd: OwnedFd,
}

/// Everything the exec'd process needs, decided in the parent.
pub struct ExecPlan {
    /// Joined by the parent (affect its children only): pid and time.
    pub parent_joins: Vec<NsJoin>,
    /// Joined by the child, user first.
    pub child_joins: Vec<NsJoin>,
    pub rlimits: Vec<Rlimit>,
    pub caps: Option<CapPlan>,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: Option<u32>,
    pub nnp: bool,
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    pub env_strings: Vec<String>,
    pub cwd: String,
    pub console: Option<OwnedFd>,
    pub preserve_fds: i32,
    pub oom_score_adj: Option<i32>,
    pub keyring: Option<CString>,
    pub seccomp: Option<hull_seccomp::Compiled>,
    /// Scheduler, I/O priority, AppArmor profile (as for the init).
    pub extras: crate::sched::ProcessExtras,
    /// execCPUAffinity.final: applied once the process is in the container's cgroup.
    pub cpus_final: Option<Vec<usize>>,
    /// Fds of the parent the child closes first (the state-dir lock).
    pub close_in_child: Vec<RawFd>,
}

/// Where the parent puts the child: v2 CLONE_INTO_CGROUP fd, or cgroup.procs files to write.
pub struct CgroupJoin<'a> {
    pub manager: Option<&'a dyn hull_cgroups::CgroupManager>,
    pub clone_into: Option<OwnedFd>,
    /// Directories of `--cgroup` sub-cgroups (their cgroup.procs get the pid last).
    pub sub_dirs: Vec<PathBuf>,
}

/// What the parent does with a seccomp notify fd: (child pid, fd).
pub type OnSeccomp<'a> = &'a mut dyn FnMut(i32, OwnedFd) -> Result<()>;

/// Start the process. Returns its pid (in hull's pid namespace) once it has exec'd.
pub fn spawn(plan: &ExecPlan, cg: CgroupJoin, on_seccomp: OnSeccomp) -> Result<i32> {
    for j in &plan.parent_joins {
        nix::sched::setns(
            j.fd.as_fd(),
            nix::sched::CloneFlags::from_bits_retain(j.flag),
        )
        .map_err(|e| Error::sys(format!("setns {} namespace of the container", j.name), e))?;
    }
    // SAFETY: prctl with integer arguments. The child inherits the flag from its first instruction.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let (parent_sock, child_sock) = super::socketpair()?;
    let into = cg.clone_into.as_ref().map(|f| f.as_raw_fd());
    let pid = match super::clone3(0, into) {
        Ok(p) => p,
        Err(Errno::EBUSY) | Err(Errno::EOPNOTSUPP) if into.is_some() => {
            super::clone3(0, None).map_err(|e| Error::sys("clone3", e))?
        }
        Err(e) => return Err(Error::sys("clone3", e)),
    };
    if pid == 0 {
        drop(parent_sock);
        child_main(plan, child_sock);
    }
    drop(child_sock);
    let sock = parent_sock.as_fd();
    let kill_child = |e: Error| -> Error {
        // SAFETY: kill and reap the child we created.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
            let mut st = 0;
            libc::waitpid(pid, &mut st, 0);
        }
        e
    };
    if into.is_none() {
        if let Some(m) = cg.manager {
            m.add_process(pid).map_err(|e| kill_child(e.into()))?;
        }
    }
    for d in &cg.sub_dirs {
        let p = d.join("cgroup.procs");
        std::fs::write(&p, pid.to_string())
            .map_err(|e| kill_child(Error::io("join --cgroup sub-cgroup", &p, e)))?;
    }
    proto::send(sock, &Msg::SetupDone)
        .map_err(|e| kill_child(Error::sys("send SetupDone to exec child", e)))?;
    loop {
        let (m, fd) =
            proto::recv_fd(sock).map_err(|e| kill_child(Error::sys("recv from exec child", e)))?;
        match m {
            None => return Ok(pid),
            Some(Msg::SeccompFd) => {
                let fd = fd.ok_or_else(|| {
                    kill_child(Error::invalid(
                        "protocol error: SeccompFd without a file descriptor",
                    ))
                })?;
                on_seccomp(pid, fd).map_err(kill_child)?;
            }
            Some(Msg::Error { step, msg }) => {
                let mut st = 0;
                // SAFETY: reap the child, which exits right after sending the error.
                unsafe { libc::waitpid(pid, &mut st, 0) };
                return Err(Error::invalid(format!("exec failed at {step}: {msg}")));
            }
            Some(other) => {
                return Err(kill_child(Error::invalid(format!(
                    "protocol error: unexpected message {} from exec child",
                    other.name()
                ))))
            }
        }
    }
}

thread_local! {
    static STEP: std::cell::Cell<&'static str> = const { std::cell::Cell::new("init") };
}

fn step(name: &'static str) {
    STEP.with(|s| s.set(name));
}

fn child_main(plan: &ExecPlan, sock: OwnedFd) -> ! {
    let err = match child_run(plan, sock.as_fd()) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let (step, msg) = match err {
        Error::Child { step, msg } => (step, msg),
        other => (STEP.with(|s| s.get()).to_string(), other.to_string()),
    };
    let _ = proto::send(sock.as_fd(), &Msg::Error { step, msg });
    // SAFETY: _exit never returns and skips the parent image's atexit handlers.
    unsafe { libc::_exit(1) }
}

fn child_run(plan: &ExecPlan, sock: BorrowedFd) -> Result<Infallible> {
    for &fd in &plan.close_in_child {
        // SAFETY: closing an inherited copy of a parent fd we never use.
        unsafe { libc::close(fd) };
    }
    // Already non-dumpable (inherited); say it again so no change above can undo it.
    // SAFETY: prctl with integer arguments.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
    }
    // The host's procfs, before joining the container's mount namespace (see crate::guard).
    step("procfs");
    crate::guard::open_host_proc()?;
    step("cgroup");
    match proto::recv(sock).map_err(|e| Error::sys("recv from parent", e))? {
        Some(Msg::SetupDone) => {}
        other => {
            return Err(Error::invalid(format!(
                "protocol error: expected SetupDone, got {:?}",
                other.map(|m| m.name())
            )))
        }
    }
    if let Some(cpus) = &plan.cpus_final {
        step("execCPUAffinity");
        crate::sched::apply_cpu_affinity(cpus)?;
    }
    step("namespaces");
    for j in &plan.child_joins {
        nix::sched::setns(
            j.fd.as_fd(),
            nix::sched::CloneFlags::from_bits_retain(j.flag),
        )
        .map_err(|e| Error::sys(format!("setns {} namespace of the container", j.name), e))?;
    }
    if let Some(name) = &plan.keyring {
        step("keyring");
        // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, name) with a valid C string.
        let rc = unsafe { libc::syscall(libc::SYS_keyctl, 1, name.as_ptr()) };
        if rc < 0 && !matches!(Errno::last(), Errno::ENOSYS | Errno::EPERM | Errno::EACCES) {
            return Err(Error::sys("join session keyring", Errno::last()));
        }
    }
    if let Some(console) = &plan.console {
        step("console");
        setup_console(console.as_fd())?;
    }
    if let Some(adj) = plan.oom_score_adj {
        step("oomScoreAdj");
        crate::guard::proc_write("self/oom_score_adj", adj.to_string().as_bytes())
            .map_err(|e| Error::invalid(format!("process.oomScoreAdj {adj}: {e}")))?;
    }
    step("rlimits");
    process::apply_rlimits(&plan.rlimits)?;
    step("scheduler");
    plan.extras.apply()?;
    step("cwd");
    nix::unistd::chdir(plan.cwd.as_str())
        .map_err(|e| Error::sys(format!("chdir to cwd {}", plan.cwd), e))?;
    step("exec lookup");
    let exe = process::find_executable(&plan.args[0].to_string_lossy(), &plan.env_strings)?;
    child::install_early_seccomp(plan.seccomp.as_ref(), plan.nnp, sock, step)?;
    step("user");
    // As runc's setupUser: no HOME → the user's home in the container's /etc/passwd (the mount
    // namespace is joined: "/" is the container's root).
    let home_env = process::env_with_home(&plan.env_strings, plan.uid)?;
    let env = home_env.as_ref().unwrap_or(&plan.env);
    child::become_user(plan.caps.as_ref(), plan.uid, plan.gid, &plan.groups, step)?;
    step("cwd");
    // Again as the target user: a cwd it may not enter is an error, as for the init.
    nix::unistd::chdir(plan.cwd.as_str())
        .map_err(|e| Error::sys(format!("chdir to cwd {}", plan.cwd), e))?;
    crate::guard::check_cwd(&plan.cwd)?;
    step("fds");
    child::close_on_exec_above(plan.preserve_fds);
    step("exec");
    if plan.nnp {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Error::sys("set no_new_privs", Errno::last()));
        }
    }
    // SAFETY: sigset manipulation on a local, then sigprocmask/signal/umask/prctl with valid args.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        if let Some(m) = plan.umask {
            libc::umask(m as libc::mode_t);
        }
        // From here the process belongs to the container: hull exec's death must not kill it.
        libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0);
    }
    step("apparmor");
    plan.extras.apply_lsm()?;
    if let Some(sc) = &plan.seccomp {
        if plan.nnp && !sc.uses_notify() {
            step("seccomp");
            sc.install()?;
        }
    }
    let e = nix::unistd::execve(&exe, &plan.args, env).unwrap_err();
    Err(Error::sys(
        format!("exec {}", plan.args[0].to_string_lossy()),
        e,
    ))
}

/// Open a pty in the container's devpts, send the master to --console-socket, and make the
/// slave our stdio and controlling terminal.
fn setup_console(console: BorrowedFd) -> Result<()> {
    let ptmx = sys::open_path(c"/dev/ptmx", libc::O_RDWR | libc::O_NOCTTY)
        .map_err(|e| Error::sys("open /dev/ptmx", e))?;
    let mut name = [0 as libc::c_char; 128];
    // SAFETY: unlockpt/ptsname_r on a valid pty master fd, into a sized buffer.
    unsafe {
        if libc::unlockpt(ptmx.as_raw_fd()) != 0 {
            return Err(Error::sys("unlockpt", Errno::last()));
        }
        if libc::ptsname_r(ptmx.as_raw_fd(), name.as_mut_ptr(), name.len()) != 0 {
            return Err(Error::sys("ptsname", Errno::last()));
        }
    }
    // SAFETY: ptsname_r NUL-terminated the buffer.
    let pts = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) }.to_owned();
    let slave = sys::open_path(&pts, libc::O_RDWR | libc::O_NOCTTY)
        .map_err(|e| Error::sys(format!("open {}", pts.to_string_lossy()), e))?;
    proto::send_fd(console, pts.to_bytes(), ptmx.as_fd())
        .map_err(|e| Error::sys("send pty master to --console-socket", e))?;
    drop(ptmx);
    // SAFETY: setsid, then stdio onto the pty slave and make it the controlling terminal.
    unsafe {
        libc::setsid();
        for fd in 0..3 {
            if libc::dup2(slave.as_raw_fd(), fd) < 0 {
                return Err(Error::sys("dup2 pty slave", Errno::last()));
            }
        }
        if libc::ioctl(0, libc::TIOCSCTTY, 0) != 0 {
            return Err(Error::sys("TIOCSCTTY", Errno::last()));
        }
    }
    Ok(())
}
