//! Guards against the known runtime escapes (SECURITY.md): the fds a container may inherit, its
//! cwd, the procfs files the runtime writes, /dev/null as a mask and /dev/console as a target,
//! and the sealed copy of the binary that keeps the host's hull out of `/proc/PID/exe`.

use crate::error::{Error, Result};
use crate::sys::{self, fd_path};
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

// ------------------------------------------------------------------ fds (CVE-2024-21626)

/// Bit n set: fd 3+n was not open when hull started and holds a /dev/null placeholder, so that
/// none of hull's own fds can take a number the caller asked to pass on (`--preserve-fds`,
/// `LISTEN_FDS`). Placeholders are closed on exec like every other fd of hull's.
static PLACEHOLDERS: AtomicU64 = AtomicU64::new(0);
/// Placeholders beyond the bitmap's 64 fds: the first fd number not tracked.
const TRACKED: i32 = 64;

/// Fill the holes in fds 3..3+count with /dev/null (close-on-exec) before hull opens anything.
pub fn reserve_fds(count: i32) {
    let end = 3 + count.clamp(0, TRACKED);
    // SAFETY: F_GETFD only queries the fd table.
    let holes: Vec<i32> = (3..end)
        .filter(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0)
        .collect();
    if holes.is_empty() {
        return;
    }
    let Ok(null) = sys::open_path(c"/dev/null", libc::O_RDONLY) else {
        return;
    };
    // Above the range, so that the source itself does not sit in a hole.
    // SAFETY: F_DUPFD_CLOEXEC duplicates a valid fd to the lowest free number >= end.
    let src = unsafe { libc::fcntl(null.as_raw_fd(), libc::F_DUPFD_CLOEXEC, end) };
    drop(null);
    if src < 0 {
        return;
    }
    let mut bits = 0u64;
    for fd in holes {
        // SAFETY: dup3 onto a free fd number below `end`.
        if unsafe { libc::dup3(src, fd, libc::O_CLOEXEC) } == fd {
            bits |= 1 << (fd - 3);
        }
    }
    // SAFETY: closing the temporary copy made above.
    unsafe { libc::close(src) };
    PLACEHOLDERS.store(bits, Ordering::Relaxed);
}

fn is_placeholder(fd: i32) -> bool {
    let n = fd - 3;
    (0..TRACKED).contains(&n) && PLACEHOLDERS.load(Ordering::Relaxed) & (1 << n) != 0
}

const CLOSE_RANGE_CLOEXEC: u32 = 4;

/// Every fd above stdio and the `preserve` fds after them is closed on exec; the preserved ones
/// (those the caller passed, not hull's placeholders) are kept open. close_range(2) marks them
/// in one call; where it fails (kernel < 5.11: ENOSYS, or CLOSE_RANGE_CLOEXEC unknown: EINVAL,
/// or a seccomp filter) every fd listed in /proc/self/fd is marked, and where that cannot be
/// read either, every fd number up to the NOFILE hard limit (at least 65536).
pub fn close_on_exec_above(preserve: i32) {
    let first = 3 + preserve.max(0) as u32;
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only marks fds; no memory is touched.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if rc != 0 {
        cloexec_fallback(first as i32);
    }
    for fd in 3..first as i32 {
        let flag = if is_placeholder(fd) {
            libc::FD_CLOEXEC
        } else {
            0
        };
        // SAFETY: setting the close-on-exec flag of fds we hold (inherited, preserved ones).
        unsafe { libc::fcntl(fd, libc::F_SETFD, flag) };
    }
}

fn set_cloexec(fd: i32) {
    // SAFETY: F_SETFD on an fd number; an fd that is not open gives EBADF and nothing happens.
    unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
}

fn cloexec_fallback(first: i32) {
    if let Ok(rd) = std::fs::read_dir("/proc/self/fd") {
        let fds: Vec<i32> = rd
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        // (The directory's own fd is in the list, closed by now: EBADF, harmless.)
        for fd in fds.into_iter().filter(|&fd| fd >= first) {
            set_cloexec(fd);
        }
        return;
    }
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) };
    let max = rl.rlim_max.clamp(65536, 1 << 20) as i32;
    for fd in first..max {
        set_cloexec(fd);
    }
}

// ------------------------------------------------------------------------- cwd

/// After chdir(process.cwd): the cwd must be inside the process's root. A cwd reached through
/// a magic link (`/proc/self/fd/N` of an fd to a host directory) is outside it, and getcwd(2)
/// then answers "(unreachable)/..." instead of an absolute path.
pub fn check_cwd(cwd: &str) -> Result<()> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: the raw getcwd syscall writes at most buf.len() bytes into buf.
    let n = unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        return Err(Error::sys(
            format!("process.cwd {cwd}: getcwd"),
            Errno::last(),
        ));
    }
    if buf.first() != Some(&b'/') {
        return Err(Error::invalid(format!(
            "process.cwd {cwd}: resolves outside the container's root filesystem (refused)"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------- procfs (CVE-2025-52881)

const PROC_SUPER_MAGIC: libc::c_long = 0x9fa0;
const PROC_ROOT_INO: u64 = 1;
const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

/// The host's procfs, opened by the container init (or exec'd process) before anything of the
/// container is mounted: the writes below go through it, never through a path of the container.
static PROC_FD: AtomicI32 = AtomicI32::new(-1);

fn is_procfs(fd: BorrowedFd) -> bool {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: fstatfs fills the struct for a valid fd.
    let rc = unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) };
    // SAFETY: fstatfs returned 0, the struct is initialised.
    rc == 0 && unsafe { st.assume_init() }.f_type as libc::c_long == PROC_SUPER_MAGIC
}

/// Open and check the procfs root at /proc (the host's, in a process that has not mounted the
/// container's yet). Kept for the life of the process, close-on-exec.
pub fn open_host_proc() -> Result<()> {
    let fd = sys::open_path(c"/proc", libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| Error::sys("open /proc", e))?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| Error::sys("stat /proc", e))?;
    if !is_procfs(std::os::fd::AsFd::as_fd(&fd)) || st.st_ino != PROC_ROOT_INO {
        return Err(Error::invalid(
            "/proc is not the root of a procfs: cannot write procfs files safely",
        ));
    }
    let old = PROC_FD.swap(std::os::fd::IntoRawFd::into_raw_fd(fd), Ordering::Relaxed);
    if old >= 0 {
        // SAFETY: the previous handle was ours and is replaced.
        unsafe { libc::close(old) };
    }
    Ok(())
}

/// Open `rel` ("sys/kernel/domainname", "self/oom_score_adj") under the verified procfs: no
/// symlink (but `self`, which the kernel answers), no magic link, no crossing into another
/// mount, and the file opened must be on procfs.
fn open_proc(rel: &str, flags: libc::c_int) -> std::result::Result<OwnedFd, Errno> {
    let root = PROC_FD.load(Ordering::Relaxed);
    if root < 0 {
        return Err(Errno::EBADF);
    }
    // SAFETY: PROC_FD holds an fd this process opened and never closes while in use.
    let root = unsafe { BorrowedFd::borrow_raw(root) };
    let rel = match rel.strip_prefix("self/") {
        Some(rest) => {
            let pid = nix::fcntl::readlinkat(root, "self")?;
            format!("{}/{rest}", pid.to_string_lossy())
        }
        None => rel.to_string(),
    };
    let fd = openat2(
        root,
        &rel,
        flags | libc::O_NOFOLLOW,
        RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    )?;
    if !is_procfs(std::os::fd::AsFd::as_fd(&fd)) {
        return Err(Errno::EXDEV);
    }
    Ok(fd)
}

fn openat2(
    dir: BorrowedFd,
    path: &str,
    flags: libc::c_int,
    resolve: u64,
) -> std::result::Result<OwnedFd, Errno> {
    #[repr(C)]
    struct OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    }
    let p = CString::new(path).map_err(|_| Errno::EINVAL)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    loop {
        // SAFETY: openat2 with a valid dirfd, path and a correctly sized open_how.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                p.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if rc >= 0 {
            // SAFETY: the kernel returned a new fd that we now own.
            return Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) });
        }
        match Errno::last() {
            Errno::EAGAIN | Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

/// Write a procfs file through the verified procfs handle (see [`open_host_proc`]).
pub fn proc_write(rel: &str, data: &[u8]) -> Result<()> {
    let path = format!("/proc/{rel}");
    let fd = open_proc(rel, libc::O_WRONLY).map_err(|e| Error::sys(format!("open {path}"), e))?;
    let f = std::fs::File::from(fd);
    std::io::Write::write_all(&mut &f, data).map_err(|e| Error::io("write", &path, e))
}

/// Read a procfs file through the verified procfs handle.
pub fn proc_read(rel: &str) -> Result<String> {
    let path = format!("/proc/{rel}");
    let fd = open_proc(rel, libc::O_RDONLY).map_err(|e| Error::sys(format!("open {path}"), e))?;
    std::io::read_to_string(std::fs::File::from(fd)).map_err(|e| Error::io("read", &path, e))
}

// ------------------------------------------------- /dev/null as a mask (CVE-2025-31133)

/// Open the container's /dev/null (after pivot_root) without following a symlink and check it
/// is the null device, char 1:3: a mask made from anything else would bind that file instead.
pub fn open_dev_null() -> Result<OwnedFd> {
    let fd = sys::open_path(c"/dev/null", libc::O_PATH | libc::O_NOFOLLOW)
        .map_err(|e| Error::sys("maskedPaths: open /dev/null", e))?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| Error::sys("stat /dev/null", e))?;
    let is_chr = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
    if !is_chr || st.st_rdev != libc::makedev(1, 3) {
        return Err(Error::invalid(format!(
            "maskedPaths: /dev/null in the container is not the null device (char 1:3; mode {:o}, rdev {}:{}): refusing to mask with it",
            st.st_mode,
            libc::major(st.st_rdev),
            libc::minor(st.st_rdev)
        )));
    }
    Ok(fd)
}

/// Bind-mount the file `src` onto `target`, both given as fds: open_tree(OPEN_TREE_CLONE) +
/// move_mount (Linux 5.2), so no path is resolved at all — after pivot_root a path such as
/// /proc/self/fd/N would go through the container's procfs, which a mount in the config can
/// cover. Kernels without the new mount API: mount(2) through the /proc/self/fd paths.
pub fn bind_fd(src: BorrowedFd, target: BorrowedFd, what: &dyn Fn() -> String) -> Result<()> {
    const OPEN_TREE_CLONE: u32 = 1;
    const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x04;
    const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
    // SAFETY: open_tree on a valid fd with an empty path; returns a new fd or -1.
    let tree = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            src.as_raw_fd(),
            c"".as_ptr(),
            OPEN_TREE_CLONE | libc::O_CLOEXEC as u32 | libc::AT_EMPTY_PATH as u32,
        )
    };
    if tree < 0 {
        if Errno::last() == Errno::ENOSYS {
            return sys::mount(
                Some(&fd_path(src.as_raw_fd())),
                &fd_path(target.as_raw_fd()),
                None,
                libc::MS_BIND,
                None,
                what,
            );
        }
        return Err(Error::sys(format!("open_tree {}", what()), Errno::last()));
    }
    // SAFETY: the kernel returned a new fd that we now own.
    let tree = unsafe { OwnedFd::from_raw_fd(tree as RawFd) };
    // SAFETY: move_mount between two valid fds with empty paths.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc != 0 {
        return Err(Error::sys(format!("move_mount {}", what()), Errno::last()));
    }
    Ok(())
}

/// Reopen one of our fds (e.g. the O_PATH exec fifo) with `flags` through the verified procfs
/// (`<pid>/fd/<fd>` under it), not through the container's /proc.
pub fn reopen_fd(fd: BorrowedFd, flags: libc::c_int) -> std::result::Result<OwnedFd, Errno> {
    let root = PROC_FD.load(Ordering::Relaxed);
    if root < 0 {
        return sys::open_path(&fd_path(fd.as_raw_fd()), flags);
    }
    // SAFETY: PROC_FD holds an fd this process opened and never closes while in use.
    let root = unsafe { BorrowedFd::borrow_raw(root) };
    let pid = nix::fcntl::readlinkat(root, "self")?;
    let rel = format!("{}/fd/{}", pid.to_string_lossy(), fd.as_raw_fd());
    // Plain openat: every component is generated by the kernel in the host's procfs (no mount of
    // the container's is on it); the last is the magic link to our own file.
    let fd = nix::fcntl::openat(
        root,
        rel.as_str(),
        nix::fcntl::OFlag::from_bits_retain(flags | libc::O_CLOEXEC),
        nix::sys::stat::Mode::empty(),
    )?;
    Ok(fd)
}

// --------------------------------------------- /dev/console as a target (CVE-2025-52565)

/// The container's /dev/console (after pivot_root) as an fd to bind the pty onto: a regular
/// file or a char device in /dev itself, never through a symlink. A symlink (or anything else)
/// found there is replaced by an empty file.
pub fn console_target() -> Result<OwnedFd> {
    let root = sys::open_path(c"/", libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| Error::sys("open /", e))?;
    let root = std::os::fd::AsFd::as_fd(&root);
    let strict = sys::RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | sys::RESOLVE_NO_MAGICLINKS;
    let dev = openat2(root, "dev", libc::O_PATH | libc::O_DIRECTORY, strict)
        .map_err(|e| Error::sys("/dev/console: open /dev (without symlinks)", e))?;
    let dev = std::os::fd::AsFd::as_fd(&dev);
    let ok = |fd: &OwnedFd| {
        nix::sys::stat::fstat(fd)
            .map(|st| matches!(st.st_mode & libc::S_IFMT, libc::S_IFREG | libc::S_IFCHR))
            .unwrap_or(false)
    };
    if let Ok(fd) = openat2(dev, "console", libc::O_PATH | libc::O_NOFOLLOW, strict) {
        if ok(&fd) {
            return Ok(fd);
        }
    }
    // Missing, a symlink, or neither a file nor a device: (re)create it as an empty file.
    match nix::unistd::unlinkat(dev, "console", nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(Error::sys("/dev/console: remove what is there", e)),
    }
    let fd = nix::fcntl::openat(
        dev,
        "console",
        nix::fcntl::OFlag::O_CREAT
            | nix::fcntl::OFlag::O_EXCL
            | nix::fcntl::OFlag::O_WRONLY
            | nix::fcntl::OFlag::O_NOFOLLOW
            | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| Error::sys("/dev/console: create", e))?;
    drop(fd);
    let fd = openat2(dev, "console", libc::O_PATH | libc::O_NOFOLLOW, strict)
        .map_err(|e| Error::sys("/dev/console: reopen", e))?;
    if !ok(&fd) {
        return Err(Error::invalid("/dev/console: not a file after creating it"));
    }
    Ok(fd)
}

// ------------------------------------------- the hull binary (CVE-2019-5736)

/// Is this process already running from a sealed memfd (see [`seal_self`])?
fn running_sealed() -> bool {
    let Ok(exe) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: F_GET_SEALS on a valid fd; a regular file answers EINVAL.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & libc::F_SEAL_WRITE != 0
}

/// Re-execute hull (same argv, env and fds) from a sealed, anonymous copy of itself, so that
/// `/proc/PID/exe` of every hull process a container can see is that copy, which cannot be
/// written, and never the host's binary. Costs one copy of the binary (about 1 ms for the
/// release build); only done where [`create_needs_seal`] / [`exec_needs_seal`] say a container
/// process could get past the non-dumpable guard. Returns only on failure (or when sealed).
pub fn seal_self() -> Result<()> {
    if running_sealed() {
        return Ok(());
    }
    let mut exe = std::fs::File::open("/proc/self/exe")
        .map_err(|e| Error::io("open", "/proc/self/exe", e))?;
    // SAFETY: memfd_create with a valid name and flags; returns a new fd or -1.
    let mfd = unsafe {
        libc::memfd_create(
            c"hull".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if mfd < 0 {
        return Err(Error::sys("memfd_create (sealed hull)", Errno::last()));
    }
    // SAFETY: a new fd we own.
    let mut mem = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(mfd) });
    std::io::copy(&mut exe, &mut mem).map_err(|e| Error::io("copy", "/proc/self/exe", e))?;
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    // SAFETY: F_ADD_SEALS on our memfd.
    if unsafe { libc::fcntl(mem.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(Error::sys("seal the hull copy", Errno::last()));
    }
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(std::os::unix::ffi::OsStrExt::as_bytes(a.as_os_str())))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| Error::invalid("argv contains a NUL byte"))?;
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let mut b = std::os::unix::ffi::OsStrExt::as_bytes(k.as_os_str()).to_vec();
            b.push(b'=');
            b.extend_from_slice(std::os::unix::ffi::OsStrExt::as_bytes(v.as_os_str()));
            CString::new(b).ok()
        })
        .collect();
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    // SAFETY: execveat with a valid fd, an empty path and NULL-terminated argv/envp arrays whose
    // strings outlive the call (it only returns on failure).
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            mem.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(Error::sys("re-exec the sealed hull copy", Errno::last()))
}

const CAP_SYS_PTRACE: u32 = 19;

fn ns_inode(path: &str) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
}

fn lists_ptrace(caps: &Option<oci_spec::runtime::Capabilities>) -> bool {
    caps.as_ref().is_some_and(|s| {
        s.iter()
            .any(|c| c == &oci_spec::runtime::Capability::SysPtrace)
    })
}

/// Could a process of this container open /proc/PID/exe of a non-dumpable hull process? Only
/// with CAP_SYS_PTRACE over hull's user namespace: the container shares it (no user namespace
/// of its own) and either its capability set keeps CAP_SYS_PTRACE (or is absent: all of
/// hull's), or it shares its pid namespace (joined by path, or the host's), whose other
/// processes hull knows nothing about.
pub fn create_needs_seal(spec: &oci_spec::runtime::Spec) -> bool {
    use oci_spec::runtime::LinuxNamespaceType as T;
    let linux = spec.linux().clone().unwrap_or_default();
    let nss = linux.namespaces().clone().unwrap_or_default();
    let own_user = ns_inode("/proc/self/ns/user");
    if let Some(n) = nss.iter().find(|n| n.typ() == T::User) {
        match n.path() {
            None => return false,
            Some(p) if ns_inode(&p.to_string_lossy()) != own_user => return false,
            Some(_) => {}
        }
    }
    let shared_pid = nss
        .iter()
        .find(|n| n.typ() == T::Pid)
        .is_none_or(|n| n.path().is_some());
    let ptrace = match spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
    {
        None => true,
        Some(c) => lists_ptrace(c.bounding()) || lists_ptrace(c.permitted()),
    };
    shared_pid || ptrace
}

/// The same question for `hull exec` into the container whose init is `init_pid`: the init's
/// bounding set (what its processes can hold), the exec'd process's own set, and whether the
/// init shares its pid namespace (it is not pid 1 there).
pub fn exec_needs_seal(init_pid: i32, process: &oci_spec::runtime::Process) -> bool {
    if sys::ns_id(&format!("/proc/{init_pid}/ns/user")) != sys::ns_id("/proc/self/ns/user") {
        return false;
    }
    let status = std::fs::read_to_string(format!("/proc/{init_pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    let bnd = field("CapBnd:")
        .and_then(|v| u64::from_str_radix(&v, 16).ok())
        .unwrap_or(u64::MAX);
    let shared_pid = field("NSpid:")
        .map(|v| v.split_whitespace().last() != Some("1"))
        .unwrap_or(true);
    let own = match process.capabilities() {
        None => true,
        Some(c) => lists_ptrace(c.bounding()) || lists_ptrace(c.permitted()),
    };
    bnd & (1 << CAP_SYS_PTRACE) != 0 || shared_pid || own
}
