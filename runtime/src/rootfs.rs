//! The container's root filesystem: mount options as data (pure, unit-tested), then the steps that
//! apply them — every destination resolved inside the rootfs with openat2(RESOLVE_IN_ROOT) and
//! mounted through its /proc/self/fd path, so a symlink in the image can never aim a mount at the host.

use crate::error::{Error, Result};
use crate::sys::{self, cstr, fd_path, open_in_root};
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// Mount attribute bits for mount_setattr(2).
pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

/// One mount, with its options resolved to flags and data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MountOptions {
    /// MS_* flags to set.
    pub flags: libc::c_ulong,
    /// Propagation changes, applied in order after the mount (MS_SHARED|MS_REC, ...).
    pub propagation: Vec<libc::c_ulong>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) for mount_setattr: set and clear masks.
    pub attr_set: u64,
    pub attr_clr: u64,
    /// Filesystem-specific options passed as mount data.
    pub data: Vec<String>,
    pub tmpcopyup: bool,
    pub idmap: bool,
    /// `ridmap`: the idmap applies to every mount of an rbind tree, not only the top one.
    pub idmap_recursive: bool,
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }
    pub fn data_string(&self) -> String {
        self.data.join(",")
    }
}

/// Map a propagation name to its flags.
pub fn propagation_flag(name: &str) -> Option<libc::c_ulong> {
    Some(match name {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    })
}

/// Resolve mount options the way runc does: known flags become MS_* bits (set or cleared),
/// propagation and recursive attributes are collected, anything else is filesystem data.
pub fn parse_options(opts: &[String]) -> MountOptions {
    let mut m = MountOptions::default();
    for o in opts {
        let o = o.as_str();
        let (set, clear): (libc::c_ulong, libc::c_ulong) = match o {
            "defaults" => (0, 0),
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "suid" => (0, libc::MS_NOSUID),
            "nosuid" => (libc::MS_NOSUID, 0),
            "dev" => (0, libc::MS_NODEV),
            "nodev" => (libc::MS_NODEV, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "noexec" => (libc::MS_NOEXEC, 0),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "lazytime" => (libc::MS_LAZYTIME, 0),
            "nolazytime" => (0, libc::MS_LAZYTIME),
            "silent" => (libc::MS_SILENT, 0),
            "loud" => (0, libc::MS_SILENT),
            "iversion" => (libc::MS_I_VERSION, 0),
            "noiversion" => (0, libc::MS_I_VERSION),
            "bind" => (libc::MS_BIND, 0),
            "rbind" => (libc::MS_BIND | libc::MS_REC, 0),
            "tmpcopyup" => {
                m.tmpcopyup = true;
                continue;
            }
            "idmap" => {
                m.idmap = true;
                continue;
            }
            "ridmap" => {
                m.idmap = true;
                m.idmap_recursive = true;
                continue;
            }
            _ => {
                if let Some(p) = propagation_flag(o) {
                    m.propagation.push(p);
                    continue;
                }
                if let Some((set, attr)) = recursive_attr(o) {
                    if set {
                        m.attr_set |= attr;
                        if attr & MOUNT_ATTR__ATIME != 0 || attr == MOUNT_ATTR_RELATIME {
                            m.attr_clr |= MOUNT_ATTR__ATIME;
                        }
                    } else {
                        m.attr_clr |= attr;
                    }
                    continue;
                }
                m.data.push(o.to_string());
                continue;
            }
        };
        m.flags |= set;
        m.flags &= !clear;
    }
    m
}

/// `rro`, `rnosuid`, ... → (set?, MOUNT_ATTR_*).
fn recursive_attr(o: &str) -> Option<(bool, u64)> {
    Some(match o {
        "rro" => (true, MOUNT_ATTR_RDONLY),
        "rrw" => (false, MOUNT_ATTR_RDONLY),
        "rnosuid" => (true, MOUNT_ATTR_NOSUID),
        "rsuid" => (false, MOUNT_ATTR_NOSUID),
        "rnodev" => (true, MOUNT_ATTR_NODEV),
        "rdev" => (false, MOUNT_ATTR_NODEV),
        "rnoexec" => (true, MOUNT_ATTR_NOEXEC),
        "rexec" => (false, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (true, MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (false, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (true, MOUNT_ATTR_RELATIME),
        "rnorelatime" => (false, MOUNT_ATTR__ATIME),
        "rnoatime" => (true, MOUNT_ATTR_NOATIME),
        "ratime" => (false, MOUNT_ATTR_NOATIME),
        "rstrictatime" => (true, MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (false, MOUNT_ATTR_STRICTATIME),
        "rnosymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// Create (if needed) and open the destination `dest` inside `root`, as a directory or an empty
/// file. Every component is resolved with RESOLVE_IN_ROOT, and created relative to the fd of its
/// already-resolved parent, so nothing is created or opened outside the rootfs.
pub fn ensure_in_root(root: BorrowedFd, dest: &str, dir: bool) -> Result<OwnedFd> {
    ensure_in_root_depth(root, dest, dir, 0)
}

/// A dangling symlink on the way (`/escape -> /some/host/path` in the image, target missing) is
/// followed the way RESOLVE_IN_ROOT would follow it — inside the rootfs — and the rest of the
/// path is created there, as runc's securejoin + MkdirAll does.
fn ensure_in_root_depth(root: BorrowedFd, dest: &str, dir: bool, depth: u32) -> Result<OwnedFd> {
    if depth > 40 {
        return Err(Error::sys(
            format!("resolve {dest} in rootfs"),
            Errno::ELOOP,
        ));
    }
    // Most destinations exist in the image: one openat2 then, no walk.
    if let Ok(fd) = open_in_root(root, dest, libc::O_PATH) {
        return Ok(fd);
    }
    let comps: Vec<&str> = dest
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut parent: OwnedFd = open_in_root(root, "/", libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| Error::sys("open rootfs", e))?;
    let mut sofar = String::new();
    for (i, c) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        sofar.push('/');
        sofar.push_str(c);
        match open_in_root(root, &sofar, libc::O_PATH) {
            Ok(fd) => {
                parent = fd;
                continue;
            }
            Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::sys(format!("resolve {sofar} in rootfs"), e)),
        }
        let name = cstr(c)?;
        if let Some(target) = dangling_symlink(parent.as_fd(), &name) {
            let base = if target.starts_with('/') {
                String::new()
            } else {
                sofar[..sofar.len() - c.len() - 1].to_string()
            };
            let rest = comps[i + 1..].join("/");
            let next = format!("{base}/{target}/{rest}");
            return ensure_in_root_depth(root, &next, dir, depth + 1);
        }
        if last && !dir {
            // SAFETY: openat relative to a valid directory fd; O_NOFOLLOW|O_EXCL create a new regular file.
            let fd = unsafe {
                libc::openat(
                    parent.as_raw_fd(),
                    name.as_ptr(),
                    libc::O_CREAT
                        | libc::O_EXCL
                        | libc::O_WRONLY
                        | libc::O_NOFOLLOW
                        | libc::O_CLOEXEC,
                    0o644,
                )
            };
            if fd < 0 && Errno::last() != Errno::EEXIST {
                return Err(Error::sys(
                    format!("create {sofar} in rootfs"),
                    Errno::last(),
                ));
            }
            if fd >= 0 {
                // SAFETY: fd was just returned by openat and is closed exactly once here.
                unsafe { libc::close(fd) };
            }
        } else {
            // SAFETY: mkdirat relative to a valid directory fd.
            let rc = unsafe { libc::mkdirat(parent.as_raw_fd(), name.as_ptr(), 0o755) };
            if rc != 0 && Errno::last() != Errno::EEXIST {
                return Err(Error::sys(
                    format!("mkdir {sofar} in rootfs"),
                    Errno::last(),
                ));
            }
        }
        parent = open_in_root(root, &sofar, libc::O_PATH)
            .map_err(|e| Error::sys(format!("resolve {sofar} in rootfs"), e))?;
    }
    Ok(parent)
}

/// The target of `name` in `dir` when it is a symlink (that did not resolve).
fn dangling_symlink(dir: BorrowedFd, name: &std::ffi::CStr) -> Option<String> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: readlinkat relative to a valid dir fd into a buffer of the given size.
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
        )
    };
    if n <= 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// The mount(2) call for one OCI mount, done onto an already-resolved destination fd.
pub struct MountCtx<'a> {
    pub root: BorrowedFd<'a>,
    pub in_userns: bool,
    /// Detached idmapped trees prepared by the parent, by mount index (see `crate::idmap`).
    pub idmap_trees: &'a [(usize, OwnedFd)],
}

fn is_dir_source(typ: &str, source: &str, opts: &MountOptions) -> bool {
    if opts.is_bind() {
        return std::fs::metadata(source)
            .map(|m| m.is_dir())
            .unwrap_or(true);
    }
    let _ = typ;
    true
}

/// Mount one `mounts[]` entry inside the rootfs.
pub fn mount_entry(ctx: &MountCtx, idx: usize, m: &oci_spec::runtime::Mount) -> Result<()> {
    let dest = m.destination().to_string_lossy().to_string();
    let typ = m.typ().clone().unwrap_or_default();
    let source = m
        .source()
        .as_ref()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
    let what = || format!("mounts[{idx}] {dest} (type {typ:?}, source {source:?})");
    let idmap_tree = ctx
        .idmap_trees
        .iter()
        .find(|(i, _)| *i == idx)
        .map(|(_, fd)| fd.as_fd());
    if opts.idmap && idmap_tree.is_none() {
        return Err(Error::invalid(format!(
            "{}: idmapped mount was not prepared (bind mounts only)",
            what()
        )));
    }
    if opts.is_bind() && !opts.data.is_empty() {
        // The kernel ignores data on a bind mount: an unknown word there is a typo that would
        // silently leave the mount without the intended flag (runc ignores it; hull refuses).
        return Err(Error::invalid(format!(
            "{}: unknown option(s) {:?} for a bind mount",
            what(),
            opts.data
        )));
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroup(ctx, &dest, &opts, &what);
    }
    if opts.is_bind() && !Path::new(&source).exists() {
        return Err(Error::invalid(format!(
            "{}: bind source does not exist",
            what()
        )));
    }
    let dir = is_dir_source(&typ, &source, &opts);
    let target_fd = ensure_in_root(ctx.root, &dest, dir).map_err(|e| wrap(e, &what))?;
    let target = fd_path(target_fd.as_raw_fd());
    let src = cstr(if source.is_empty() { &typ } else { &source })?;
    let data = opts.data_string();
    let data_c = if data.is_empty() {
        None
    } else {
        Some(cstr(&data)?)
    };
    if let Some(tree) = idmap_tree {
        crate::idmap::attach(tree, &target)
            .map_err(|e| Error::sys(format!("move_mount idmapped {}", what()), e))?;
    }
    if opts.is_bind() {
        if idmap_tree.is_none() {
            sys::mount(
                Some(&src),
                &target,
                None,
                opts.flags & (libc::MS_BIND | libc::MS_REC),
                None,
                &what,
            )?;
        }
        // Flags other than bind/rec need a remount of the new bind mount (MS_REMOUNT|MS_BIND).
        let extra = opts.flags & !(libc::MS_BIND | libc::MS_REC | libc::MS_REMOUNT);
        if extra != 0 {
            // Reopen: the fd points at the covered directory, the new mount is on top of it.
            let top = open_in_root(ctx.root, &dest, libc::O_PATH)
                .map_err(|e| Error::sys(format!("reopen {}", what()), e))?;
            let locked = if ctx.in_userns {
                locked_flags(top.as_fd())
            } else {
                0
            };
            sys::mount(
                None,
                &fd_path(top.as_raw_fd()),
                None,
                libc::MS_BIND | libc::MS_REMOUNT | extra | locked,
                None,
                &what,
            )?;
        }
    } else {
        let t = cstr(&typ)?;
        let what_data = || {
            if data.is_empty() {
                what()
            } else {
                format!("{} with data {data:?}", what())
            }
        };
        let r = sys::mount(
            Some(&src),
            &target,
            Some(&t),
            opts.flags & !libc::MS_REMOUNT,
            data_c.as_deref(),
            &what_data,
        );
        if let Err(e) = r {
            // Like runc: inside a user namespace, sysfs may only be bind-mounted from the host.
            if typ == "sysfs" && ctx.in_userns {
                sys::mount(
                    Some(&cstr("/sys")?),
                    &target,
                    None,
                    libc::MS_BIND | libc::MS_REC,
                    None,
                    &what,
                )?;
            } else {
                return Err(e);
            }
        }
        if opts.tmpcopyup && typ == "tmpfs" {
            // The new tmpfs hides what the image had at `dest`; copy it up from the covered dir.
            let top = open_in_root(ctx.root, &dest, libc::O_PATH | libc::O_DIRECTORY)
                .map_err(|e| Error::sys(format!("reopen {}", what()), e))?;
            copy_up(target_fd.as_fd(), top.as_fd()).map_err(|e| wrap(e, &what))?;
        }
    }
    let top = if opts.propagation.is_empty() && opts.attr_set == 0 && opts.attr_clr == 0 {
        None
    } else {
        Some(
            open_in_root(ctx.root, &dest, libc::O_PATH)
                .map_err(|e| Error::sys(format!("reopen {}", what()), e))?,
        )
    };
    if let Some(top) = &top {
        for p in &opts.propagation {
            sys::mount(None, &fd_path(top.as_raw_fd()), None, *p, None, &what)?;
        }
        if opts.attr_set != 0 || opts.attr_clr != 0 {
            mount_setattr(top.as_fd(), opts.attr_set, opts.attr_clr, true)
                .map_err(|e| Error::sys(format!("mount_setattr {}", what()), e))?;
        }
    }
    Ok(())
}

fn wrap(e: Error, what: &dyn Fn() -> String) -> Error {
    match e {
        Error::Sys { op, errno } => Error::Sys {
            op: format!("{}: {op}", what()),
            errno,
        },
        other => other,
    }
}

/// Flags of an existing mount that a user namespace may not clear (nosuid, nodev, noexec, atime).
fn locked_flags(fd: BorrowedFd) -> libc::c_ulong {
    // SAFETY: statvfs into a zeroed struct for a valid fd.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is valid; st is a valid out pointer.
    if unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) } != 0 {
        return 0;
    }
    let f = st.f_flag;
    let mut out = 0;
    for (st_flag, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f & st_flag != 0 {
            out |= ms;
        }
    }
    out
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

pub fn mount_setattr(fd: BorrowedFd, set: u64, clr: u64, recursive: bool) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    let flags = libc::AT_EMPTY_PATH | if recursive { libc::AT_RECURSIVE } else { 0 };
    // SAFETY: mount_setattr with a valid fd, empty path + AT_EMPTY_PATH, and a correctly sized attr.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            flags as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Copy the tree under `from` (a dir fd, the directory a tmpfs now covers) into `to` (the tmpfs).
fn copy_up(from: BorrowedFd, to: BorrowedFd) -> Result<()> {
    // Both are O_PATH fds: re-open them through /proc to read and write.
    let src = format!("/proc/self/fd/{}", from.as_raw_fd());
    let dst = format!("/proc/self/fd/{}", to.as_raw_fd());
    copy_tree(Path::new(&src), Path::new(&dst))
}

fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let rd = std::fs::read_dir(src).map_err(|e| Error::io("tmpcopyup read", src, e))?;
    for ent in rd.flatten() {
        let p = ent.path();
        let q = dst.join(ent.file_name());
        let md = std::fs::symlink_metadata(&p).map_err(|e| Error::io("tmpcopyup stat", &p, e))?;
        let ft = md.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&q).map_err(|e| Error::io("tmpcopyup mkdir", &q, e))?;
            copy_tree(&p, &q)?;
        } else if ft.is_symlink() {
            let t = std::fs::read_link(&p).map_err(|e| Error::io("tmpcopyup readlink", &p, e))?;
            std::os::unix::fs::symlink(&t, &q)
                .map_err(|e| Error::io("tmpcopyup symlink", &q, e))?;
        } else if ft.is_file() {
            std::fs::copy(&p, &q).map_err(|e| Error::io("tmpcopyup copy", &q, e))?;
        } else {
            continue;
        }
        if !ft.is_symlink() {
            let _ = std::fs::set_permissions(&q, std::fs::Permissions::from_mode(md.mode()));
            let _ = std::os::unix::fs::lchown(&q, Some(md.uid()), Some(md.gid()));
        }
    }
    Ok(())
}

/// A `cgroup` mount: cgroup2 on a unified host; on v1/hybrid hosts a tmpfs with every mounted
/// hierarchy below it (as runc does), read-only when asked.
fn mount_cgroup(
    ctx: &MountCtx,
    dest: &str,
    opts: &MountOptions,
    what: &dyn Fn() -> String,
) -> Result<()> {
    let hier = host_cgroup_hierarchies();
    let flags = opts.flags & (libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
    let target_fd = ensure_in_root(ctx.root, dest, true)?;
    let unified_only = hier.iter().all(|h| h.fstype == "cgroup2");
    if unified_only {
        return sys::mount(
            Some(c"cgroup2"),
            &fd_path(target_fd.as_raw_fd()),
            Some(c"cgroup2"),
            flags,
            None,
            what,
        );
    }
    sys::mount(
        Some(c"tmpfs"),
        &fd_path(target_fd.as_raw_fd()),
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some(c"mode=755"),
        what,
    )?;
    for h in &hier {
        let sub = format!("{}/{}", dest.trim_end_matches('/'), h.name);
        let fd = ensure_in_root(ctx.root, &sub, true)?;
        let t = cstr(&h.fstype)?;
        let data = if h.fstype == "cgroup" {
            Some(cstr(&h.options)?)
        } else {
            None
        };
        sys::mount(
            Some(&t),
            &fd_path(fd.as_raw_fd()),
            Some(&t),
            flags,
            data.as_deref(),
            what,
        )?;
        // cpu,cpuacct co-mounts get the per-controller symlinks runc creates.
        if h.name.contains(',') {
            for part in h.name.split(',') {
                let link = format!("{}/{}", dest.trim_end_matches('/'), part);
                let dirfd = open_in_root(ctx.root, dest, libc::O_PATH | libc::O_DIRECTORY)
                    .map_err(|e| Error::sys(format!("open {dest}"), e))?;
                let _ = link;
                let _ = nix::unistd::symlinkat(h.name.as_str(), dirfd.as_fd(), part);
            }
        }
    }
    if flags & libc::MS_RDONLY != 0 {
        let top = open_in_root(ctx.root, dest, libc::O_PATH)
            .map_err(|e| Error::sys(format!("reopen {dest}"), e))?;
        sys::mount(
            None,
            &fd_path(top.as_raw_fd()),
            None,
            libc::MS_BIND
                | libc::MS_REMOUNT
                | libc::MS_RDONLY
                | libc::MS_NOSUID
                | libc::MS_NODEV
                | libc::MS_NOEXEC,
            None,
            what,
        )?;
    }
    Ok(())
}

#[derive(Debug, PartialEq)]
pub struct Hierarchy {
    /// Directory name under /sys/fs/cgroup ("memory", "cpu,cpuacct", "unified", "systemd").
    pub name: String,
    pub fstype: String,
    /// Super options to mount it again (e.g. "memory" or "none,name=systemd").
    pub options: String,
}

/// The cgroup hierarchies mounted on the host: statfs of their usual places under
/// /sys/fs/cgroup (cost independent of the number of host mounts), else /proc/self/mountinfo.
pub fn host_cgroup_hierarchies() -> Vec<Hierarchy> {
    use hull_cgroups::mountinfo;
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if let Ok(own) = mountinfo::parse_proc_cgroup(&own) {
        if let Some(m) = mountinfo::default_mounts(&own, &mountinfo::statfs_magic) {
            if !m.is_empty() {
                return hierarchies_from_mounts(&m);
            }
        }
    }
    let data = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_cgroup_mountinfo(&data)
}

/// [`Hierarchy`]s of mounts found by [`hull_cgroups::mountinfo::default_mounts`]: the options
/// to mount a v1 hierarchy again are its controllers (or name=); flags such as `xattr` of the
/// host's mount are not known there (the kernel keeps the existing hierarchy's own).
pub fn hierarchies_from_mounts(mounts: &[hull_cgroups::mountinfo::CgroupMount]) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for m in mounts {
        let name = m
            .mount_point
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.is_empty() || out.iter().any(|h| h.name == name) {
            continue;
        }
        out.push(Hierarchy {
            name,
            fstype: if m.v2 { "cgroup2" } else { "cgroup" }.to_string(),
            options: m.controllers.join(","),
        });
    }
    out
}

pub fn parse_cgroup_mountinfo(data: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in data.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mut post = post.split(' ');
        let fstype = post.next().unwrap_or("");
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let _src = post.next();
        let sopts = post.next().unwrap_or("");
        let mountpoint = pre.split(' ').nth(4).unwrap_or("");
        let name = mountpoint.rsplit('/').next().unwrap_or("").to_string();
        if name.is_empty() || out.iter().any(|h: &Hierarchy| h.name == name) {
            continue;
        }
        let options = sopts
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect::<Vec<_>>()
            .join(",");
        out.push(Hierarchy {
            name,
            fstype: fstype.to_string(),
            options,
        });
    }
    out
}

/// pivot_root into `rootfs` (already a mount point) and detach the old root.
pub fn pivot_root(rootfs: &Path) -> Result<()> {
    let newroot = sys::open_path(
        &cstr(&rootfs.to_string_lossy())?,
        libc::O_DIRECTORY | libc::O_RDONLY,
    )
    .map_err(|e| Error::sys(format!("open {}", rootfs.display()), e))?;
    let oldroot = sys::open_path(c"/", libc::O_DIRECTORY | libc::O_RDONLY)
        .map_err(|e| Error::sys("open /", e))?;
    nix::unistd::fchdir(&newroot).map_err(|e| Error::sys("fchdir rootfs", e))?;
    nix::unistd::pivot_root(".", ".").map_err(|e| Error::sys("pivot_root", e))?;
    nix::unistd::fchdir(&oldroot).map_err(|e| Error::sys("fchdir old root", e))?;
    // Keep unmount events of the old root from propagating to the host.
    sys::mount(
        None,
        c".",
        None,
        libc::MS_SLAVE | libc::MS_REC,
        None,
        &|| "old root (make rslave)".into(),
    )?;
    sys::umount2(c".", libc::MNT_DETACH)?;
    nix::unistd::chdir("/").map_err(|e| Error::sys("chdir /", e))?;
    Ok(())
}

/// --no-pivot: move the rootfs over / and chroot into it.
pub fn move_root(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).map_err(|e| Error::sys("chdir rootfs", e))?;
    sys::mount(Some(c"."), c"/", None, libc::MS_MOVE, None, &|| {
        "rootfs onto / (MS_MOVE)".into()
    })?;
    nix::unistd::chroot(".").map_err(|e| Error::sys("chroot", e))?;
    nix::unistd::chdir("/").map_err(|e| Error::sys("chdir /", e))?;
    Ok(())
}

/// maskedPaths: /dev/null over files, an empty read-only tmpfs over directories. Missing paths are
/// skipped. The /dev/null bound is checked to be the null device first (`crate::guard`).
pub fn mask_path(path: &str) -> Result<()> {
    let c = cstr(path)?;
    let md = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("maskedPaths: stat", path, e)),
    };
    let what = || format!("maskedPaths {path}");
    if md.is_dir() {
        sys::mount(
            Some(c"tmpfs"),
            &c,
            Some(c"tmpfs"),
            libc::MS_RDONLY,
            None,
            &what,
        )
    } else {
        let null = crate::guard::open_dev_null()?;
        // The target without magic links (a symlink in the image stays inside the root).
        let root = sys::open_path(c"/", libc::O_PATH | libc::O_DIRECTORY)
            .map_err(|e| Error::sys("open /", e))?;
        let target =
            open_in_root(root.as_fd(), path, libc::O_PATH).map_err(|e| Error::sys(what(), e))?;
        crate::guard::bind_fd(null.as_fd(), target.as_fd(), &what)
    }
}

/// readonlyPaths: bind the path onto itself and remount it read-only. Missing paths are skipped.
pub fn readonly_path(path: &str) -> Result<()> {
    let c = cstr(path)?;
    if !Path::new(path).exists() {
        return Ok(());
    }
    let what = || format!("readonlyPaths {path}");
    sys::mount(
        Some(&c),
        &c,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
        &what,
    )?;
    let fd = sys::open_path(&c, libc::O_PATH).map_err(|e| Error::sys(what(), e))?;
    let locked = locked_flags(fd.as_fd());
    sys::mount(
        None,
        &c,
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_REC | locked,
        None,
        &what,
    )
}

/// root.readonly: remount / read-only, keeping the flags it already has.
pub fn readonly_root() -> Result<()> {
    let fd = sys::open_path(c"/", libc::O_PATH).map_err(|e| Error::sys("open /", e))?;
    let locked = locked_flags(fd.as_fd());
    sys::mount(
        None,
        c"/",
        None,
        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | locked,
        None,
        &|| "root.readonly".into(),
    )
}

pub type CStrings = Vec<CString>;

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> MountOptions {
        parse_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_set_and_clear_in_order() {
        let m = p(&["nosuid", "noexec", "nodev", "ro"]);
        assert_eq!(
            m.flags,
            libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV | libc::MS_RDONLY
        );
        let m = p(&["ro", "rw"]);
        assert_eq!(m.flags & libc::MS_RDONLY, 0);
        let m = p(&["rbind", "rprivate"]);
        assert!(m.is_bind());
        assert_eq!(m.flags & libc::MS_REC, libc::MS_REC);
        assert_eq!(m.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
    }

    #[test]
    fn unknown_options_are_data() {
        let m = p(&["nosuid", "mode=755", "size=65536k", "newinstance"]);
        assert_eq!(m.data_string(), "mode=755,size=65536k,newinstance");
        assert_eq!(m.flags, libc::MS_NOSUID);
    }

    #[test]
    fn recursive_attributes() {
        let m = p(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(
            m.attr_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(m.attr_clr, MOUNT_ATTR__ATIME);
        let m = p(&["rrw"]);
        assert_eq!(m.attr_clr, MOUNT_ATTR_RDONLY);
        let m = p(&["tmpcopyup", "idmap"]);
        assert!(m.tmpcopyup && m.idmap);
    }

    #[test]
    fn cgroup_hierarchies_from_mountinfo() {
        let mi = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";
        let h = parse_cgroup_mountinfo(mi);
        assert_eq!(h.len(), 4);
        assert_eq!(h[0].name, "cpu,cpuacct");
        assert_eq!(h[0].options, "cpu,cpuacct");
        assert_eq!(h[2].options, "xattr,name=systemd");
        assert_eq!(h[3].fstype, "cgroup2");
    }

    #[test]
    fn cgroup_hierarchies_from_default_mounts() {
        use hull_cgroups::mountinfo::{self, CGROUP2_SUPER_MAGIC, CGROUP_SUPER_MAGIC, TMPFS_MAGIC};
        let own =
            mountinfo::parse_proc_cgroup("3:cpu,cpuacct:/\n2:memory:/a\n1:name=systemd:/\n0::/\n")
                .unwrap();
        let magic = |p: &std::path::Path| match p.to_str()? {
            "/sys/fs/cgroup" => Some(TMPFS_MAGIC),
            "/sys/fs/cgroup/unified" => Some(CGROUP2_SUPER_MAGIC),
            "/sys/fs/cgroup/cpu,cpuacct"
            | "/sys/fs/cgroup/memory"
            | "/sys/fs/cgroup/memory/a"
            | "/sys/fs/cgroup/systemd" => Some(CGROUP_SUPER_MAGIC),
            _ => None,
        };
        let m = mountinfo::default_mounts(&own, &magic).unwrap();
        let h = hierarchies_from_mounts(&m);
        let names: Vec<&str> = h.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["systemd", "memory", "cpu,cpuacct", "unified"]);
        assert_eq!(h[0].options, "name=systemd");
        assert_eq!(h[2].options, "cpu,cpuacct");
        assert_eq!(h[2].fstype, "cgroup");
        assert_eq!(h[3].fstype, "cgroup2");
    }

    #[test]
    fn ensure_in_root_stays_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir(&root).unwrap();
        // A symlink pointing at an absolute host path must resolve inside the root.
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        let rfd = sys::open_path(
            &cstr(&root.to_string_lossy()).unwrap(),
            libc::O_PATH | libc::O_DIRECTORY,
        )
        .unwrap();
        let fd = ensure_in_root(rfd.as_fd(), "/escape/hull-should-be-inside", true).unwrap();
        drop(fd);
        assert!(root.join("hull-should-be-inside").is_dir());
        assert!(!Path::new("/hull-should-be-inside").exists());
        let fd = ensure_in_root(rfd.as_fd(), "/a/b/file", false).unwrap();
        drop(fd);
        assert!(root.join("a/b/file").is_file());
        // `..` cannot climb out either.
        ensure_in_root(rfd.as_fd(), "/../../x", true).unwrap();
        assert!(root.join("x").is_dir());
        // A dangling absolute symlink is followed inside the root, and the rest created there.
        std::os::unix::fs::symlink("/hull-nonexistent-abs/deeper", root.join("dangle")).unwrap();
        ensure_in_root(rfd.as_fd(), "/dangle/x", true).unwrap();
        assert!(root.join("hull-nonexistent-abs/deeper/x").is_dir());
        assert!(!Path::new("/hull-nonexistent-abs").exists());
        std::os::unix::fs::symlink("rel/target", root.join("dangle2")).unwrap();
        ensure_in_root(rfd.as_fd(), "/a/../dangle2/f", false).unwrap();
        assert!(root.join("rel/target/f").is_file());
        // A loop is an error, not a hang.
        std::os::unix::fs::symlink("/loop", root.join("loop")).unwrap();
        assert!(ensure_in_root(rfd.as_fd(), "/loop/x", true).is_err());
    }
}
