//! The container init, from clone3 to execve: ordered steps, each with a named error that is sent
//! to the parent before the child exits.

use super::proto::{self, Msg};
use super::Plan;
use crate::error::{Error, Result};
use crate::rootfs::{self, devices};
use crate::{process, sys};
use nix::errno::Errno;
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Entry point in the child. Never returns.
pub fn main(plan: &Plan, sock: OwnedFd, fast: bool) -> ! {
    let err = match run(plan, sock.as_fd(), fast) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    let (step, msg) = match err {
        Error::Child { step, msg } => (step, msg),
        other => (current_step(), other.to_string()),
    };
    let fifo = FIFO.with(|f| f.get());
    if fifo >= 0 {
        // `hull start` is reading the fifo: the error goes to it.
        let m = format!("container init failed at {step}: {msg}");
        // SAFETY: write from a valid buffer to our fifo fd.
        unsafe { libc::write(fifo, m.as_ptr() as *const libc::c_void, m.len()) };
    } else if READY.with(|r| r.get()) {
        // The parent may be gone (`hull create` exits at Ready): say it on stderr.
        eprintln!("hull: container init failed at {step}: {msg}");
    }
    let _ = proto::send(sock.as_fd(), &Msg::Error { step, msg });
    // SAFETY: _exit never returns and skips atexit handlers of the parent's image.
    unsafe { libc::_exit(1) }
}

thread_local! {
    static FIFO: std::cell::Cell<i32> = const { std::cell::Cell::new(-1) };
    static READY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static STEP: std::cell::Cell<&'static str> = const { std::cell::Cell::new("init") };
}

fn step(name: &'static str) {
    STEP.with(|s| s.set(name));
}

fn current_step() -> String {
    STEP.with(|s| s.get()).to_string()
}

fn expect(sock: BorrowedFd, want: &str) -> Result<Msg> {
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

fn send(sock: BorrowedFd, m: &Msg) -> Result<()> {
    proto::send(sock, m).map_err(|e| Error::sys(format!("send {}", m.name()), e))
}

fn run(plan: &Plan, sock: BorrowedFd, fast: bool) -> Result<Infallible> {
    for &fd in &plan.close_in_child {
        // SAFETY: closing an inherited copy of a parent fd we never use.
        unsafe { libc::close(fd) };
    }
    // SAFETY: umask has no failure mode; device modes are then set exactly.
    unsafe { libc::umask(0) };
    // Non-dumpable until execve: no process of the container (a joined pid namespace may hold
    // some) can open /proc/<init>/exe — the hull binary — or our fds (CVE-2019-5736's path).
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    // Die with the parent while it is still setting us up (cleared before exec).
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };

    step("namespaces");
    // SetupDone says the parent has put us in our cgroups. On cgroup v1 the first write to a
    // cgroup.procs file waits for an RCU grace period (milliseconds), so the rootfs is prepared
    // meanwhile unless something needs the cgroups (or the maps) first: a new user namespace
    // (its maps), or a cgroup namespace created here (its root is our cgroup at unshare).
    // SetupDone is awaited before anything runs on the container's behalf (hooks, exec), as
    // runc applies its device rules only after the rootfs is prepared.
    let new_cgroupns = plan.new_ns_flags & libc::CLONE_NEWCGROUP as u64 != 0;
    let setup_first = !fast || plan.new_user || (plan.defer_cgroupns.get() && new_cgroupns);
    if !fast {
        slow_path_namespaces(plan, sock)?;
    } else if setup_first {
        expect(sock, "SetupDone")?;
        if plan.new_user {
            become_userns_root(plan)?;
        }
    }
    if plan.defer_cgroupns.get() && new_cgroupns {
        // Now that the parent put us in our cgroup, it becomes the root of our cgroup namespace.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| Error::sys("unshare cgroup namespace", e))?;
    }

    if let Some(name) = &plan.new_keyring {
        step("keyring");
        // SAFETY: keyctl(KEYCTL_JOIN_SESSION_KEYRING, name) with a valid C string.
        let rc = unsafe { libc::syscall(libc::SYS_keyctl, 1, name.as_ptr()) };
        if rc < 0 && !matches!(Errno::last(), Errno::ENOSYS | Errno::EPERM | Errno::EACCES) {
            return Err(Error::sys("join session keyring", Errno::last()));
        }
    }

    step("hostname");
    if let Some(h) = plan.hostname.as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).map_err(|e| Error::sys(format!("sethostname {h:?}"), e))?;
    }
    if let Some(d) = plan.domainname.as_deref().filter(|h| !h.is_empty()) {
        // SAFETY: setdomainname with a valid buffer and its length.
        if unsafe { libc::setdomainname(d.as_ptr() as *const libc::c_char, d.len()) } != 0 {
            return Err(Error::sys(format!("setdomainname {d:?}"), Errno::last()));
        }
    }

    step("rootfs");
    prepare_rootfs(plan)?;
    if !setup_first {
        step("cgroups");
        expect(sock, "SetupDone")?;
    }

    if plan.runtime_hooks || !plan.container_hooks.is_empty() {
        step("hooks");
    }
    let mut state_json = Vec::new();
    if plan.runtime_hooks {
        send(sock, &Msg::CreateRuntime)?;
        match expect(sock, "HooksDone")? {
            Msg::HooksDone(s) => state_json = s,
            _ => unreachable!(),
        }
    }
    if !plan.container_hooks.is_empty() {
        crate::hooks::run_all("createContainer", &plan.container_hooks, &state_json)?;
    }

    step("pivot_root");
    if plan.no_pivot {
        rootfs::move_root(&plan.rootfs)?;
    } else {
        rootfs::pivot_root(&plan.rootfs)?;
    }
    if let Some(p) = plan.rootfs_propagation {
        sys::mount(None, c"/", None, p, None, &|| {
            "linux.rootfsPropagation on /".into()
        })?;
    }

    // As runc: a missing process.cwd is created (as root, before the user switch).
    if !plan.cwd.is_empty() && plan.cwd != "/" {
        let _ = std::fs::create_dir_all(&plan.cwd);
    }

    step("sysctl");
    for (k, v) in &plan.sysctl {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        sys::write_file(&path, v.as_bytes())
            .map_err(|e| Error::invalid(format!("linux.sysctl {k}={v}: {e}")))?;
    }

    step("maskedPaths");
    for p in &plan.masked {
        rootfs::mask_path(p)?;
    }
    step("readonlyPaths");
    for p in &plan.readonly {
        rootfs::readonly_path(p)?;
    }
    if plan.readonly_root {
        step("root.readonly");
        rootfs::readonly_root()?;
    }

    if plan.terminal {
        step("console");
        setup_console(plan)?;
    }

    step("oomScoreAdj");
    if let Some(adj) = plan.oom_score_adj {
        sys::write_file("/proc/self/oom_score_adj", adj.to_string().as_bytes())
            .map_err(|e| {
                Error::invalid(format!(
                    "process.oomScoreAdj {adj}: {e} (going below the runtime's own value needs CAP_SYS_RESOURCE)"
                ))
            })?;
    }

    step("rlimits");
    process::apply_rlimits(&plan.rlimits)?;

    step("scheduler");
    plan.extras.apply()?;
    plan.extras.apply_lsm()?;

    if let Some(p) = plan.personality {
        step("personality");
        // SAFETY: personality with an integer persona.
        if unsafe { libc::personality(p) } < 0 {
            return Err(Error::sys("linux.personality", Errno::last()));
        }
    }

    step("exec lookup");
    let exe = process::find_executable(&plan.args[0].to_string_lossy(), &plan.env_strings)?;

    install_early_seccomp(plan.seccomp.as_ref(), plan.nnp, sock, step)?;

    step("user");
    // As runc's setupUser: no HOME → the user's home in the container's /etc/passwd (read here,
    // after pivot_root and before the user switch).
    let home_env = process::env_with_home(&plan.env_strings, plan.uid)?;
    let env = home_env.as_ref().unwrap_or(&plan.env);
    become_user(plan.caps.as_ref(), plan.uid, plan.gid, &plan.groups, step)?;
    // The credential change left us non-dumpable: until exec, no process in the container can
    // open /proc/<init>/exe or /proc/<init>/fd (the host binary and our fds). Keep it that way.
    step("cwd");
    nix::unistd::chdir(plan.cwd.as_str())
        .map_err(|e| Error::sys(format!("chdir to process.cwd {}", plan.cwd), e))?;

    step("fds");
    close_on_exec_above(plan.preserve_fds);

    step("ready");
    // `hull create` exits once we are ready: from here on its death must not kill us.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, 0, 0, 0, 0) };
    send(sock, &Msg::Ready)?;
    READY.with(|r| r.set(true));
    let fifo = wait_for_start(plan)?;
    // From here `hull start` keeps reading the fifo: our errors go there, and the exec closes it.
    // (Leaked on purpose: it must outlive `run` to carry an error report; exec closes it.)
    FIFO.with(|f| f.set(std::os::fd::IntoRawFd::into_raw_fd(fifo)));

    if !plan.start_hooks.is_empty() {
        step("startContainer hooks");
        let mut st: serde_json::Value =
            serde_json::from_slice(&state_json).unwrap_or(serde_json::json!({}));
        st["status"] = "created".into();
        let bytes = serde_json::to_vec(&st).unwrap_or_default();
        crate::hooks::run_all("startContainer", &plan.start_hooks, &bytes)?;
    }

    step("exec");
    if plan.nnp {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(Error::sys("set no_new_privs", Errno::last()));
        }
    }
    reset_signals();
    // SAFETY: umask has no failure mode.
    unsafe { libc::umask(plan.umask as libc::mode_t) };
    if let Some(sc) = &plan.seccomp {
        if plan.nnp && !sc.uses_notify() {
            // As close to execve as possible: the fewer syscalls after it, the fewer a profile must allow.
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

fn become_userns_root(plan: &Plan) -> Result<()> {
    let maps_zero = |m: &str| {
        m.lines().any(|l| {
            let mut it = l.split_whitespace();
            let (Some(c), Some(_), Some(n)) = (it.next(), it.next(), it.next()) else {
                return false;
            };
            let (c, n): (u64, u64) = (c.parse().unwrap_or(1), n.parse().unwrap_or(0));
            c == 0 && n > 0
        })
    };
    if maps_zero(&plan.gid_map) {
        // SAFETY: plain id syscall.
        if unsafe { libc::setresgid(0, 0, 0) } != 0 {
            return Err(Error::sys("setresgid 0 in user namespace", Errno::last()));
        }
    }
    if maps_zero(&plan.uid_map) {
        // SAFETY: plain id syscall.
        if unsafe { libc::setresuid(0, 0, 0) } != 0 {
            return Err(Error::sys("setresuid 0 in user namespace", Errno::last()));
        }
    }
    Ok(())
}

/// Join namespaces by path, create the new ones, and fork once more if the pid or time namespace
/// changed. Returns in the process that becomes the container init.
fn slow_path_namespaces(plan: &Plan, sock: BorrowedFd) -> Result<()> {
    let user_join = plan.joins.iter().find(|j| j.flag == libc::CLONE_NEWUSER);
    if let Some(j) = user_join {
        nix::sched::setns(j.fd.as_fd(), nix::sched::CloneFlags::CLONE_NEWUSER)
            .map_err(|e| Error::sys(format!("setns user {}", j.path.display()), e))?;
    }
    for j in plan.joins.iter().filter(|j| j.flag != libc::CLONE_NEWUSER) {
        nix::sched::setns(
            j.fd.as_fd(),
            nix::sched::CloneFlags::from_bits_retain(j.flag),
        )
        .map_err(|e| Error::sys(format!("setns {}", j.path.display()), e))?;
    }
    if user_join.is_some() {
        // SAFETY: plain id syscalls (become root of the joined user namespace when mapped).
        unsafe {
            libc::setresgid(0, 0, 0);
            libc::setresuid(0, 0, 0);
        }
    }
    if plan.new_user {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
            .map_err(|e| Error::sys("unshare user namespace", e))?;
        send(sock, &Msg::MapRequest)?;
        expect(sock, "MapsDone")?;
        become_userns_root(plan)?;
    }
    // The cgroup namespace waits until the parent has put the init in its cgroup.
    let rest = plan.new_ns_flags & !(libc::CLONE_NEWUSER as u64 | libc::CLONE_NEWCGROUP as u64);
    if rest != 0 {
        nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(
            rest as libc::c_int,
        ))
        .map_err(|e| Error::sys("unshare namespaces", e))?;
    }
    if let Some(offs) = &plan.time_offsets {
        sys::write_file("/proc/self/timens_offsets", offs.as_bytes())
            .map_err(|e| Error::invalid(format!("linux.timeOffsets: {e}")))?;
    }
    let pid_changes = plan.new_ns_flags & (libc::CLONE_NEWPID as u64 | 0x80) != 0
        || plan
            .joins
            .iter()
            .any(|j| j.flag == libc::CLONE_NEWPID || j.flag == 0x80);
    if !pid_changes {
        send(sock, &Msg::Pid(std::process::id() as i32))?;
        expect(sock, "SetupDone")?;
        return unshare_cgroupns(plan);
    }
    // SAFETY: single-threaded process; the child continues running Rust code like after fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::sys("fork container init", Errno::last()));
    }
    if pid == 0 {
        expect(sock, "SetupDone")?;
        return unshare_cgroupns(plan);
    }
    let _ = proto::send(sock, &Msg::Pid(pid));
    // SAFETY: the intermediate's job is done.
    unsafe { libc::_exit(0) }
}

fn unshare_cgroupns(plan: &Plan) -> Result<()> {
    if plan.new_ns_flags & libc::CLONE_NEWCGROUP as u64 != 0 && !plan.defer_cgroupns.get() {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| Error::sys("unshare cgroup namespace", e))?;
    }
    Ok(())
}

fn prepare_rootfs(plan: &Plan) -> Result<()> {
    let rootfs = sys::cstr(&plan.rootfs.to_string_lossy())?;
    sys::mount(None, c"/", None, plan.root_propagation, None, &|| {
        "/ (rootfs propagation)".into()
    })?;
    // pivot_root needs the new root's parent mount to be private.
    rootfs::make_parent_private(&plan.rootfs, plan.root_propagation)?;
    sys::mount(
        Some(&rootfs),
        &rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
        &|| format!("bind rootfs {}", plan.rootfs.display()),
    )?;
    let root = sys::open_path(&rootfs, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| Error::sys(format!("open rootfs {}", plan.rootfs.display()), e))?;
    let in_userns = plan.new_user || plan.joins.iter().any(|j| j.flag == libc::CLONE_NEWUSER);
    let ctx = rootfs::MountCtx {
        root: root.as_fd(),
        in_userns,
        idmap_trees: &plan.idmap_trees,
    };
    step("mounts");
    for (i, m) in plan.mounts.iter().enumerate() {
        rootfs::mount_entry(&ctx, i, m)?;
    }
    step("devices");
    devices::create_all(root.as_fd(), &plan.devices, in_userns)?;
    devices::create_symlinks(root.as_fd(), plan.has_devpts)?;
    Ok(())
}

fn setup_console(plan: &Plan) -> Result<()> {
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
    let console = plan
        .console
        .as_ref()
        .expect("terminal has a console socket");
    proto::send_fd(console.as_fd(), pts.to_bytes(), ptmx.as_fd())
        .map_err(|e| Error::sys("send pty master to --console-socket", e))?;
    drop(ptmx);
    // The pty also appears as /dev/console (as runc does).
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open("/dev/console");
    sys::mount(
        Some(&pts),
        c"/dev/console",
        None,
        libc::MS_BIND,
        None,
        &|| "bind the pty onto /dev/console".into(),
    )?;
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

/// Block until `hull start` opens the exec fifo for reading, then tell it we are going.
/// Block until `hull start` opens the exec fifo for reading, then tell it we are going. The fd
/// stays open (close-on-exec): `start` reads until it closes, so it learns whether the exec (and
/// the startContainer hooks before it) succeeded.
fn wait_for_start(plan: &Plan) -> Result<OwnedFd> {
    let path = sys::fd_path(plan.exec_fifo.as_raw_fd());
    let fd = sys::open_path(&path, libc::O_WRONLY).map_err(|e| Error::sys("open exec fifo", e))?;
    // SAFETY: write one byte from a valid buffer.
    let rc = unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr() as *const libc::c_void, 1) };
    if rc != 1 {
        return Err(Error::sys("write exec fifo", Errno::last()));
    }
    Ok(fd)
}

/// The container starts with an empty signal mask and default dispositions (Rust's runtime ignores
/// SIGPIPE, and `hull run` blocks the signals it forwards; neither may leak into the container).
fn reset_signals() {
    // SAFETY: sigset manipulation on a local, then sigprocmask/signal with valid arguments.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Without no_new_privs a seccomp filter must go in while we still hold CAP_SYS_ADMIN; a notify
/// filter must go in before the parent stops listening, so its fd can reach the agent. Otherwise
/// the filter waits until right before execve. Shared by the init and `hull exec` (each passes
/// its own step recorder, so errors name the step of the process that failed).
pub(super) fn install_early_seccomp(
    seccomp: Option<&hull_seccomp::Compiled>,
    nnp: bool,
    sock: BorrowedFd,
    step: fn(&'static str),
) -> Result<()> {
    if let Some(sc) = seccomp {
        if sc.uses_notify() || !nnp {
            step("seccomp");
            if let Some(fd) = sc.install()? {
                proto::send_fd(sock, &Msg::SeccompFd.encode(), fd.as_fd())
                    .map_err(|e| Error::sys("send seccomp notify fd", e))?;
            }
        }
    }
    Ok(())
}

/// Bounding set, then groups/gid/uid (keeping capabilities across), then the other four sets.
pub(super) fn become_user(
    caps: Option<&process::CapPlan>,
    uid: u32,
    gid: u32,
    groups: &[u32],
    step: fn(&'static str),
) -> Result<()> {
    if let Some(c) = caps {
        process::apply_bounding(c)?;
    }
    let setgroups_ok = std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    process::switch_user(uid, gid, groups, setgroups_ok)?;
    step("capabilities");
    if let Some(c) = caps {
        process::apply_caps(c)?;
    }
    Ok(())
}

/// Every fd above stdio and the `preserve` fds after them is closed on exec; the preserved ones
/// are kept open.
pub(super) fn close_on_exec_above(preserve: i32) {
    let first = 3 + preserve.max(0) as u32;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only marks fds; no memory is touched.
    unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 4u32) };
    for fd in 3..first as i32 {
        // SAFETY: clearing FD_CLOEXEC on inherited, preserved fds.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
}
