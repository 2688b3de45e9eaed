//! The child-side steps that carry out a [`ProcessPlan`], shared by the container init
//! (`child`) and `hull exec` (`exec`): from the console to execve, each a small function, with
//! the step recorder that names the step an error happened in.

use super::plan::ProcessPlan;
use super::proto::{self, Msg};
use crate::error::{Error, Result};
use crate::{process, sys};
use nix::errno::Errno;
use std::convert::Infallible;
use std::ffi::{CStr, CString};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

thread_local! {
    static FIFO: std::cell::Cell<i32> = const { std::cell::Cell::new(-1) };
    static READY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static STEP: std::cell::Cell<&'static str> = const { std::cell::Cell::new("init") };
}

/// Record the step now running (named in the error if it fails).
pub fn step(name: &'static str) {
    STEP.with(|s| s.set(name));
}

/// The init said Ready: `hull create` may be gone, errors also go to stderr.
pub fn mark_ready() {
    READY.with(|r| r.set(true));
}

/// `hull start` reads the exec fifo: errors go there. (Leaked on purpose: it must outlive the
/// steps to carry an error report; execve closes it.)
pub fn report_to_fifo(fifo: OwnedFd) {
    FIFO.with(|f| f.set(fifo.into_raw_fd()));
}

/// Report `err` (to the fifo, stderr or the parent, whichever listens) and exit 1.
pub fn fail(sock: BorrowedFd, err: Error) -> ! {
    let (step, msg) = match err {
        Error::Child { step, msg } => (step, msg),
        other => (STEP.with(|s| s.get()).to_string(), other.to_string()),
    };
    let fifo = FIFO.with(|f| f.get());
    if fifo >= 0 {
        let m = format!("container init failed at {step}: {msg}");
        // SAFETY: write from a valid buffer to our fifo fd.
        unsafe { libc::write(fifo, m.as_ptr() as *const libc::c_void, m.len()) };
    } else if READY.with(|r| r.get()) {
        // The parent may be gone (`hull create` exits at Ready): say it on stderr.
        eprintln!("hull: container init failed at {step}: {msg}");
    }
    let _ = proto::send(sock, &Msg::Error { step, msg });
    // SAFETY: _exit never returns and skips atexit handlers of the parent's image.
    unsafe { libc::_exit(1) }
}

/// Wait for message `want` from the parent; anything else is a protocol error.
pub fn expect(sock: BorrowedFd, want: &str) -> Result<Msg> {
    match proto::recv(sock).map_err(|e| Error::sys("recv from parent", e))? {
        None => Err(Error::invalid(format!(
            "parent closed the sync socket while the child waited for {want}"
        ))),
        Some(m) if m.name() == want => Ok(m),
        Some(m) => Err(Error::invalid(format!(
            "protocol error: got {} while waiting for {want}",
            m.name()
        ))),
    }
}

pub fn send(sock: BorrowedFd, m: &Msg) -> Result<()> {
    proto::send(sock, m).map_err(|e| Error::sys(format!("send {}", m.name()), e))
}

/// First thing after clone: close the parent's fds we must not hold (the state-dir lock), stay
/// non-dumpable until execve — no process of the container (a joined pid namespace may hold
/// some) can open /proc/<pid>/exe, the hull binary, or our fds (CVE-2019-5736's path) — and die
/// with the parent while it still sets us up. `stay_dumpable`: an unprivileged parent still has to
/// open our `/proc/<pid>/uid_map` (rootless; the child drops it once the maps are written).
pub fn prologue(close_in_child: &[RawFd], stay_dumpable: bool) {
    for &fd in close_in_child {
        // SAFETY: closing an inherited copy of a parent fd we never use.
        unsafe { libc::close(fd) };
    }
    // SAFETY: prctl with integer arguments.
    unsafe {
        if !stay_dumpable {
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        }
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
    }
}

/// Enter the cgroups whose files the parent opened (`hull_cgroups::open_join_file`), then close
/// this copy of them: nothing of the host's cgroupfs stays open in the container's process.
pub fn join_cgroups(files: &[(std::path::PathBuf, OwnedFd)]) -> Result<()> {
    for (path, f) in files {
        hull_cgroups::join_self(f.as_fd()).map_err(|e| {
            Error::sys(
                format!("join the container's cgroup: write 0 to {}", path.display()),
                e,
            )
        })?;
    }
    close_copies(files);
    Ok(())
}

/// Close the child's copies of fds the parent owns (the child leaves by execve or exit and
/// never drops them).
pub fn close_copies(files: &[(std::path::PathBuf, OwnedFd)]) {
    for (_, f) in files {
        // SAFETY: closing this process's copy of an inherited fd that nothing here uses again.
        unsafe { libc::close(f.as_raw_fd()) };
    }
}

/// Join the session keyring named in the plan (a kernel or LSM that refuses keyrings is fine).
pub fn join_keyring(p: &ProcessPlan) -> Result<()> {
    if let Some(name) = &p.keyring {
        step("keyring");
        // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, name) with a valid C string.
        let rc = unsafe { libc::syscall(libc::SYS_keyctl, 1, name.as_ptr()) };
        if rc < 0 && !matches!(Errno::last(), Errno::ENOSYS | Errno::EPERM | Errno::EACCES) {
            return Err(Error::sys("join session keyring", Errno::last()));
        }
    }
    Ok(())
}

/// Where the terminal goes: the socket the pty master is sent over, and whether the pty also
/// becomes /dev/console (the init, as runc does).
pub struct Console<'a> {
    pub socket: BorrowedFd<'a>,
    pub dev_console: bool,
}

/// What the process steps leave for the last one: the executable and the environment.
pub struct Prepared<'a> {
    exe: CString,
    home_env: Option<Vec<CString>>,
    plan: &'a ProcessPlan,
}

/// The process steps, in order, up to the point where only execve is left: console,
/// oomScoreAdj, rlimits, scheduler and LSM, personality, executable lookup, an early seccomp
/// filter, HOME, user and capabilities, cwd, fds to keep.
pub fn prepare<'a>(
    p: &'a ProcessPlan,
    console: Option<Console>,
    preserve_fds: i32,
    sock: BorrowedFd,
) -> Result<Prepared<'a>> {
    match console {
        Some(c) => {
            step("console");
            setup_console(c)?;
        }
        None => {
            // A session (and process group) of its own, as runc's init and exec processes
            // always get: the caller's session lies outside the container (CRIU refuses to
            // dump a task whose session leader is outside its pid namespace). EPERM, when
            // already a group leader, leaves things as they are.
            // SAFETY: setsid has no arguments.
            unsafe { libc::setsid() };
        }
    }
    if let Some(adj) = p.oom_score_adj {
        step("oomScoreAdj");
        crate::guard::proc_write("self/oom_score_adj", adj.to_string().as_bytes()).map_err(|e| {
            Error::invalid(format!(
                "process.oomScoreAdj {adj}: {e} (going below the runtime's own value needs CAP_SYS_RESOURCE)"
            ))
        })?;
    }
    step("rlimits");
    process::apply_rlimits(&p.rlimits)?;
    step("scheduler");
    p.extras.apply()?;
    p.extras.apply_lsm()?;
    if let Some(pers) = p.personality {
        step("personality");
        // SAFETY: personality with an integer persona.
        if unsafe { libc::personality(pers) } < 0 {
            return Err(Error::sys("linux.personality", Errno::last()));
        }
    }
    step("exec lookup");
    if p.lookup_in_cwd {
        // `./x` or a relative PATH entry resolves against the cwd; failing to enter it as root
        // is reported after the user switch below.
        let _ = nix::unistd::chdir(p.cwd.as_str());
    }
    let exe = process::find_executable(&p.args[0].to_string_lossy(), &p.env_strings)?;
    install_early_seccomp(p, sock)?;
    step("user");
    // As runc's setupUser: no HOME → the user's home in the container's /etc/passwd (read here,
    // in the container's root, before the user switch).
    let home_env = process::env_with_home(&p.env_strings, p.uid)?;
    become_user(p)?;
    // The credential change left us non-dumpable: until exec, no process in the container can
    // open /proc/<pid>/exe or /proc/<pid>/fd (the host binary and our fds). Keep it that way.
    step("cwd");
    nix::unistd::chdir(p.cwd.as_str())
        .map_err(|e| Error::sys(format!("chdir to process.cwd {}", p.cwd), e))?;
    crate::guard::check_cwd(&p.cwd)?;
    step("fds");
    close_on_exec_above(preserve_fds);
    Ok(Prepared {
        exe,
        home_env,
        plan: p,
    })
}

/// From here the process belongs to the container: the death of hull must not kill it.
pub fn detach_from_parent() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
}

/// The last step: no_new_privs, clean signals, the umask, the seccomp filter, execve.
pub fn exec(prep: Prepared) -> Result<Infallible> {
    let p = prep.plan;
    step("exec");
    if p.nnp {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Error::sys("set no_new_privs", Errno::last()));
        }
    }
    reset_signals();
    // SAFETY: umask has no failure mode.
    unsafe { libc::umask(p.umask as libc::mode_t) };
    if let Some(sc) = p.seccomp.as_ref().filter(|_| !p.seccomp_early) {
        // As close to execve as possible: the fewer syscalls after it, the fewer a profile must allow.
        step("seccomp");
        sc.install()?;
    }
    let env = prep.home_env.as_ref().unwrap_or(&p.env);
    let e = nix::unistd::execve(&prep.exe, &p.args, env).unwrap_err();
    Err(Error::sys(
        format!("exec {}", p.args[0].to_string_lossy()),
        e,
    ))
}

/// Open a pty in the container's devpts, send the master over the console socket, and make the
/// slave our stdio and controlling terminal.
fn setup_console(c: Console) -> Result<()> {
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
    let pts = unsafe { CStr::from_ptr(name.as_ptr()) }.to_owned();
    let slave = sys::open_path(&pts, libc::O_RDWR | libc::O_NOCTTY)
        .map_err(|e| Error::sys(format!("open {}", pts.to_string_lossy()), e))?;
    proto::send_fd(c.socket, pts.to_bytes(), ptmx.as_fd())
        .map_err(|e| Error::sys("send pty master to --console-socket", e))?;
    drop(ptmx);
    if c.dev_console {
        // The pty also appears as /dev/console (as runc does): bound from the slave we hold onto
        // the verified /dev/console (never through a symlink), by fd.
        let target = crate::guard::console_target()?;
        crate::guard::bind_fd(slave.as_fd(), target.as_fd(), &|| {
            "bind the pty onto /dev/console".into()
        })?;
    }
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

/// The process starts with an empty signal mask and default dispositions (Rust's runtime ignores
/// SIGPIPE, and `hull run`/`hull exec` block the signals they forward; neither may leak in).
fn reset_signals() {
    // SAFETY: sigset manipulation on a local, then sigprocmask/signal with valid arguments.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The seccomp filter, when the plan says it goes in early (see `ProcessPlan::seccomp_early`);
/// a notify filter's fd goes to the parent.
fn install_early_seccomp(p: &ProcessPlan, sock: BorrowedFd) -> Result<()> {
    if let Some(sc) = p.seccomp.as_ref().filter(|_| p.seccomp_early) {
        step("seccomp");
        if let Some(fd) = sc.install()? {
            proto::send_fd(sock, &Msg::SeccompFd.encode(), fd.as_fd())
                .map_err(|e| Error::sys("send seccomp notify fd", e))?;
        }
    }
    Ok(())
}

/// Bounding set, then groups/gid/uid (keeping capabilities across), then the other four sets.
fn become_user(p: &ProcessPlan) -> Result<()> {
    if let Some(c) = &p.caps {
        process::apply_bounding(c)?;
    }
    let setgroups_ok = crate::guard::proc_read("self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    process::switch_user(p.uid, p.gid, &p.groups, setgroups_ok)?;
    step("capabilities");
    if let Some(c) = &p.caps {
        process::apply_caps(c)?;
    }
    Ok(())
}

/// Every fd above stdio and the `preserve` fds after them is closed on exec; the preserved ones
/// are kept open (with a fallback where close_range fails: see `crate::guard`).
fn close_on_exec_above(preserve: i32) {
    crate::guard::close_on_exec_above(preserve);
}
