//! `hull exec`: start one more process inside a running container.
//!
//! ```text
//!  hull exec (parent)                                     exec'd process (child)
//!  ──────────────────                                     ──────────────────────
//!  plan::process_plan (as for the init: one ProcessPlan)
//!  open /proc/<init>/ns/*, block signals
//!  setns(pid), setns(time): only our *children* are born there
//!  PR_SET_DUMPABLE 0 (inherited by the child)
//!  clone3 [CLONE_INTO_CGROUP on v2] ─────────────────▶    born in the container's pid ns + cgroup
//!  [v1] write pid into every hierarchy (+ --cgroup sub-cgroups)
//!        ── SetupDone ──────────────────────────────▶     setns user, then ipc uts net cgroup mnt
//!                                                         steps::prepare, as the init: console,
//!                                                         oomScoreAdj, rlimits, scheduler, LSM,
//!                                                         exec lookup,
//!        ◀──────────────────────────── SeccompFd ──       [NOTIFY] seccomp early
//!                                                         HOME, bounding, user, caps, cwd, fds;
//!                                                         steps::exec: nnp, umask, seccomp, execve
//!        ◀──────────────────── EOF (CLOEXEC socket)       exec succeeded
//!  at any step:  ◀──────────────────── Error{step, msg}   the child exits 1, the parent reports
//! ```
//!
//! One fork, no re-exec: the parent joins the pid (and time) namespace for its children only, so
//! the child is born inside them and needs no second fork. The child is non-dumpable from birth
//! until execve, so no container process can open `/proc/<pid>/exe` (the hull binary) or its fds
//! while it is visible in the container's pid namespace (CVE-2019-5736).

use super::plan::ProcessPlan;
use super::proto::{self, Msg};
use super::steps::{self, step};
use crate::error::{Error, Result};
use nix::errno::Errno;
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::PathBuf;

/// A namespace of the container's init to join.
pub struct NsJoin {
    pub flag: libc::c_int,
    pub name: &'static str,
    pub fd: OwnedFd,
}

/// The init's namespaces that differ from ours, opened from /proc/<init>/ns.
#[derive(Default)]
pub struct ExecJoins {
    /// Joined by the parent (they affect its children only): pid and time.
    pub parent: Vec<NsJoin>,
    /// Joined by the child, user first, mount last.
    pub child: Vec<NsJoin>,
}

/// The exec'd process: the same [`ProcessPlan`] as an init, and the namespaces it joins instead
/// of creating them (no rootfs, no hooks: the container has them already).
pub struct ExecPlan {
    pub process: ProcessPlan,
    pub joins: ExecJoins,
    /// Where the pty master goes (`--tty`).
    pub console: Option<OwnedFd>,
    pub preserve_fds: i32,
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
    for j in &plan.joins.parent {
        nix::sched::setns(
            j.fd.as_fd(),
            nix::sched::CloneFlags::from_bits_retain(j.flag),
        )
        .map_err(|e| Error::sys(format!("setns {} namespace of the container", j.name), e))?;
    }
    // SAFETY: prctl with integer arguments. The child inherits the flag from its first instruction.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let (parent_sock, child_sock) = super::socketpair()?;
    // v1: the child writes itself into the cgroups at birth and is born in a hybrid host's
    // unified cgroup (no global lock, see CgroupManager::open_self_join); the `--cgroup`
    // sub-cgroups last.
    let j = match (&cg.clone_into, cg.manager) {
        (None, Some(m)) => m.open_self_join()?,
        _ => hull_cgroups::SelfJoin::default(),
    };
    let joined = !j.is_empty();
    let mut self_join = j.files;
    if joined {
        for d in &cg.sub_dirs {
            self_join.push(hull_cgroups::open_join_file(d)?);
        }
    }
    // Where clone3 puts the child: the v2 cgroup, or a hybrid host's unified twin (whose
    // cgroup.procs the child writes itself if clone3 cannot).
    let (unified_dir, mut unified_procs) = j.clone_into.unzip();
    let mut into = cg.clone_into.as_ref().or(unified_dir.as_ref());
    let vfork = vfork_allowed(plan);
    if vfork {
        // The child shares our memory: the procfs handle it uses is ours, opened here.
        crate::guard::open_host_proc()?;
    }
    let fds = (child_sock.as_raw_fd(), parent_sock.as_raw_fd());
    let (pid, by_parent, vforked) = loop {
        // The parent writes the pid into the cgroups when neither clone3 nor the child can, and
        // then the child must wait for it (no CLONE_VFORK: the parent would be suspended).
        let by_parent =
            !joined && (into.is_none() && cg.manager.is_some() || !cg.sub_dirs.is_empty());
        let vforked = vfork && !by_parent;
        let into_fd = into.map(|f| f.as_raw_fd());
        let r = if vforked {
            super::vfork::clone3_vfork(into_fd, || child_main(plan, &self_join, fds, true))
        } else {
            super::clone3(0, into_fd).inspect(|&p| {
                if p == 0 {
                    child_main(plan, &self_join, fds, false)
                }
            })
        };
        match r {
            Ok(p) => break (p, by_parent, vforked),
            Err(Errno::EBUSY) | Err(Errno::EOPNOTSUPP) if into.is_some() => {
                if let Some(procs) = unified_procs.take() {
                    // Not born in the unified cgroup: the child writes itself there, first.
                    self_join.insert(0, procs);
                }
                into = None;
            }
            Err(e) => return Err(Error::sys("clone3", e)),
        }
    };
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
    drop(self_join);
    drop(unified_procs);
    if by_parent {
        if let Some(m) = cg.manager.filter(|_| into.is_none()) {
            m.add_process(pid).map_err(|e| kill_child(e.into()))?;
        }
        for d in &cg.sub_dirs {
            let p = d.join("cgroup.procs");
            std::fs::write(&p, pid.to_string())
                .map_err(|e| kill_child(Error::io("join --cgroup sub-cgroup", &p, e)))?;
        }
    }
    if !vforked {
        // The vfork child did not wait: it has exec'd (or failed) by now.
        proto::send(sock, &Msg::SetupDone)
            .map_err(|e| kill_child(Error::sys("send SetupDone to exec child", e)))?;
    }
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

/// The child: `fds` are (its socket, the parent's end to close). `vforked`: it runs on the
/// suspended parent's memory (see super::vfork) and does not wait for SetupDone.
fn child_main(
    plan: &ExecPlan,
    cgroups: &[(PathBuf, OwnedFd)],
    fds: (RawFd, RawFd),
    vforked: bool,
) -> ! {
    // SAFETY: the child's copy of the parent's end; `sock` is ours until execve closes it.
    let sock = unsafe {
        libc::close(fds.1);
        BorrowedFd::borrow_raw(fds.0)
    };
    let err = match child_run(plan, cgroups, sock, vforked) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    steps::fail(sock, err)
}

fn child_run(
    plan: &ExecPlan,
    cgroups: &[(PathBuf, OwnedFd)],
    sock: BorrowedFd,
    vforked: bool,
) -> Result<Infallible> {
    // Already non-dumpable (inherited); say it again so no change above can undo it.
    steps::prologue(&plan.close_in_child, false);
    step("cgroup");
    steps::join_cgroups(cgroups)?;
    if !vforked {
        // The host's procfs, before joining the container's mount namespace (see crate::guard);
        // a vfork child uses the one the parent opened (its memory is the parent's).
        crate::guard::open_host_proc()?;
        match proto::recv(sock).map_err(|e| Error::sys("recv from parent", e))? {
            Some(Msg::SetupDone) => {}
            other => {
                return Err(Error::invalid(format!(
                    "protocol error: expected SetupDone, got {:?}",
                    other.map(|m| m.name())
                )))
            }
        }
    }
    if let Some(cpus) = &plan.process.cpu_affinity.last {
        step("execCPUAffinity");
        crate::sched::apply_cpu_affinity(cpus)?;
    }
    step("namespaces");
    for j in &plan.joins.child {
        nix::sched::setns(
            j.fd.as_fd(),
            nix::sched::CloneFlags::from_bits_retain(j.flag),
        )
        .map_err(|e| Error::sys(format!("setns {} namespace of the container", j.name), e))?;
    }
    steps::join_keyring(&plan.process)?;
    let console = plan.console.as_ref().map(|c| steps::Console {
        socket: c.as_fd(),
        dev_console: false,
    });
    let prepared = steps::prepare(&plan.process, console, plan.preserve_fds, sock)?;
    // From here the process belongs to the container: hull exec's death must not kill it.
    steps::detach_from_parent();
    steps::exec(prepared)
}

/// Whether the exec child may run as a CLONE_VM|CLONE_VFORK child (super::vfork): the build
/// supports it, hull is single-threaded, no time namespace is entered (the kernel refuses
/// CLONE_VM there), and no seccomp notify fd must reach a listener before execve (the suspended
/// parent could not forward it while the child's syscalls wait for an answer).
fn vfork_allowed(plan: &ExecPlan) -> bool {
    super::vfork::SUPPORTED
        && super::vfork::single_threaded()
        && std::env::var_os("HULL_NO_VFORK").is_none()
        && !plan
            .joins
            .parent
            .iter()
            .any(|j| j.flag == libc::CLONE_NEWTIME)
        && !plan
            .process
            .seccomp
            .as_ref()
            .is_some_and(|s| s.uses_notify())
}
