//! The container init, from clone3 to execve: the namespaces it creates or joins, its rootfs,
//! then the process steps it shares with `hull exec` (`steps`). Each step has a named error
//! that is sent to the parent before the child exits.

use super::proto::Msg;
use super::steps::{self, expect, send, step};
use super::InitPlan;
use crate::error::{Error, Result};
use crate::rootfs::{self, devices};
use crate::sys;
use nix::errno::Errno;
use std::convert::Infallible;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Entry point in the child. Never returns.
pub fn main(plan: &InitPlan, sock: OwnedFd) -> ! {
    let err = match run(plan, sock.as_fd()) {
        Ok(never) => match never {},
        Err(e) => e,
    };
    steps::fail(sock.as_fd(), err)
}

fn run(plan: &InitPlan, sock: BorrowedFd) -> Result<Infallible> {
    steps::prologue(&plan.close_in_child, plan.namespaces.maps_need_dumpable);
    step("cgroups");
    steps::join_cgroups(&plan.join_cgroups)?;
    let unified = plan.join_unified.as_slice();
    if plan.clone_into_failed.get() {
        steps::join_cgroups(unified)?;
    } else {
        steps::close_copies(unified);
    }
    // The host's procfs, before any mount of the container: every procfs write goes through it.
    crate::guard::open_host_proc()?;
    // SAFETY: umask has no failure mode; device modes are then set exactly.
    unsafe { libc::umask(0) };
    let ns = &plan.namespaces;
    let fast = ns.fast();

    step("namespaces");
    // SetupDone says the parent has put us in our cgroups. On cgroup v1 the first write to a
    // cgroup.procs file waits for an RCU grace period (milliseconds), so the rootfs is prepared
    // meanwhile unless something needs the cgroups (or the maps) first: a new user namespace
    // (its maps), or a cgroup namespace created here (its root is our cgroup at unshare).
    // SetupDone is awaited before anything runs on the container's behalf (hooks, exec), as
    // runc applies its device rules only after the rootfs is prepared.
    let new_cgroupns = ns.creates(libc::CLONE_NEWCGROUP);
    let setup_first = !fast || ns.new_user || (plan.defer_cgroupns.get() && new_cgroupns);
    if !fast {
        slow_path_namespaces(plan, sock)?;
    } else if setup_first {
        expect(sock, "SetupDone")?;
        if ns.new_user {
            become_userns_root(plan)?;
        }
    }
    if ns.maps_need_dumpable {
        crate::rootless::drop_dumpable();
    }
    if plan.defer_cgroupns.get() && new_cgroupns {
        // Now that the parent put us in our cgroup, it becomes the root of our cgroup namespace.
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| Error::sys("unshare cgroup namespace", e))?;
    }

    steps::join_keyring(&plan.process)?;

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

    if plan.hooks.runtime || !plan.hooks.create_container.is_empty() {
        step("hooks");
    }
    let mut state_json = Vec::new();
    if plan.hooks.runtime {
        send(sock, &Msg::CreateRuntime)?;
        match expect(sock, "HooksDone")? {
            Msg::HooksDone(s) => state_json = s,
            _ => unreachable!(),
        }
    }
    if !plan.hooks.create_container.is_empty() {
        crate::hooks::run_all("createContainer", &plan.hooks.create_container, &state_json)?;
    }

    step("pivot_root");
    let r = &plan.rootfs;
    if r.no_pivot {
        rootfs::move_root(&r.path)?;
    } else {
        rootfs::pivot_root(&r.path)?;
    }
    if let Some(p) = r.rootfs_propagation {
        sys::mount(None, c"/", None, p, None, &|| {
            "linux.rootfsPropagation on /".into()
        })?;
    }

    rootfs::devices::reopen_dev_null()?;

    // As runc: a missing process.cwd is created (as root, before the user switch).
    let cwd = &plan.process.cwd;
    if !cwd.is_empty() && cwd != "/" {
        let _ = std::fs::create_dir_all(cwd);
    }

    step("sysctl");
    for (k, v) in &plan.sysctl {
        let path = format!("sys/{}", k.replace('.', "/"));
        crate::guard::proc_write(&path, v.as_bytes())
            .map_err(|e| Error::invalid(format!("linux.sysctl {k}={v}: {e}")))?;
    }

    step("maskedPaths");
    for p in &r.masked {
        rootfs::mask_path(p)?;
    }
    step("readonlyPaths");
    for p in &r.readonly {
        rootfs::readonly_path(p)?;
    }
    if r.readonly_root {
        step("root.readonly");
        rootfs::readonly_root()?;
    }

    let console = plan.console.as_ref().map(|c| steps::Console {
        socket: c.as_fd(),
        dev_console: true,
    });
    let prepared = steps::prepare(&plan.process, console, plan.preserve_fds, sock)?;

    step("ready");
    // `hull create` exits once we are ready: from here on its death must not kill us.
    steps::detach_from_parent();
    send(sock, &Msg::Ready)?;
    steps::mark_ready();
    let fifo = wait_for_start(plan)?;
    // From here `hull start` keeps reading the fifo: our errors go there, and the exec closes it.
    steps::report_to_fifo(fifo);

    if !plan.hooks.start_container.is_empty() {
        step("startContainer hooks");
        let mut st: serde_json::Value =
            serde_json::from_slice(&state_json).unwrap_or(serde_json::json!({}));
        st["status"] = "created".into();
        let bytes = serde_json::to_vec(&st).unwrap_or_default();
        crate::hooks::run_all("startContainer", &plan.hooks.start_container, &bytes)?;
    }
    steps::exec(prepared)
}

fn become_userns_root(plan: &InitPlan) -> Result<()> {
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
    if maps_zero(&plan.namespaces.gid_map) {
        // SAFETY: plain id syscall.
        if unsafe { libc::setresgid(0, 0, 0) } != 0 {
            return Err(Error::sys("setresgid 0 in user namespace", Errno::last()));
        }
    }
    if maps_zero(&plan.namespaces.uid_map) {
        // SAFETY: plain id syscall.
        if unsafe { libc::setresuid(0, 0, 0) } != 0 {
            return Err(Error::sys("setresuid 0 in user namespace", Errno::last()));
        }
    }
    Ok(())
}

/// Join namespaces by path, create the new ones, and fork once more if the pid or time namespace
/// changed. Returns in the process that becomes the container init.
fn slow_path_namespaces(plan: &InitPlan, sock: BorrowedFd) -> Result<()> {
    let ns = &plan.namespaces;
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
    if ns.new_user {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER)
            .map_err(|e| Error::sys("unshare user namespace", e))?;
        send(sock, &Msg::MapRequest)?;
        expect(sock, "MapsDone")?;
        become_userns_root(plan)?;
    }
    // The cgroup namespace waits until the parent has put the init in its cgroup.
    let rest = ns.new_flags & !(libc::CLONE_NEWUSER as u64 | libc::CLONE_NEWCGROUP as u64);
    if rest != 0 {
        nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(
            rest as libc::c_int,
        ))
        .map_err(|e| Error::sys("unshare namespaces", e))?;
    }
    if let Some(offs) = &ns.time_offsets {
        crate::guard::proc_write("self/timens_offsets", offs.as_bytes())
            .map_err(|e| Error::invalid(format!("linux.timeOffsets: {e}")))?;
    }
    if !ns.pid_changes() {
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
    let _ = super::proto::send(sock, &Msg::Pid(pid));
    // SAFETY: the intermediate's job is done.
    unsafe { libc::_exit(0) }
}

fn unshare_cgroupns(plan: &InitPlan) -> Result<()> {
    if plan.namespaces.creates(libc::CLONE_NEWCGROUP) && !plan.defer_cgroupns.get() {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| Error::sys("unshare cgroup namespace", e))?;
    }
    Ok(())
}

fn prepare_rootfs(plan: &InitPlan) -> Result<()> {
    let r = &plan.rootfs;
    let rootfs = sys::cstr(&r.path.to_string_lossy())?;
    sys::mount(None, c"/", None, r.root_propagation, None, &|| {
        "/ (rootfs propagation)".into()
    })?;
    // pivot_root needs the new root's parent mount to be private.
    rootfs::make_parent_private(&r.path, r.root_propagation)?;
    sys::mount(
        Some(&rootfs),
        &rootfs,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
        &|| format!("bind rootfs {}", r.path.display()),
    )?;
    let root = sys::open_path(&rootfs, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| Error::sys(format!("open rootfs {}", r.path.display()), e))?;
    let in_userns = plan.namespaces.in_userns();
    let ctx = rootfs::MountCtx {
        root: root.as_fd(),
        in_userns,
        idmap_trees: &plan.idmap_trees,
    };
    step("mounts");
    for (i, m) in r.mounts.iter().enumerate() {
        rootfs::mount_entry(&ctx, i, m)?;
    }
    step("devices");
    devices::create_all(root.as_fd(), &r.devices, in_userns)?;
    devices::create_symlinks(root.as_fd(), r.has_devpts)?;
    Ok(())
}

/// Block until `hull start` opens the exec fifo for reading, then tell it we are going. The fd
/// stays open (close-on-exec): `start` reads until it closes, so it learns whether the exec (and
/// the startContainer hooks before it) succeeded.
fn wait_for_start(plan: &InitPlan) -> Result<OwnedFd> {
    let fd = crate::guard::reopen_fd(plan.exec_fifo.as_fd(), libc::O_WRONLY)
        .map_err(|e| Error::sys("open exec fifo", e))?;
    // SAFETY: write one byte from a valid buffer.
    let rc = unsafe { libc::write(fd.as_raw_fd(), b"0".as_ptr() as *const libc::c_void, 1) };
    if rc != 1 {
        return Err(Error::sys("write exec fifo", Errno::last()));
    }
    Ok(fd)
}
