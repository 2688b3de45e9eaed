//! The new mount API as safe wrappers: the MOUNT_ATTR_* bits, mount_setattr(2), open_tree(2)
//! clones, fsopen(2)/fsconfig(2)/fsmount(2) fresh detached mounts and move_mount(2). Kernel ABI only; the rules of when to call them live in the callers.

use nix::errno::Errno;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

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
/// Give a mount the id mapping of a user namespace (with `userns_fd`).
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
/// Follow the /proc/self/fd magic link of the target.
const MOVE_MOUNT_T_SYMLINKS: libc::c_uint = 0x10;

const FSOPEN_CLOEXEC: libc::c_uint = 0x1;
const FSMOUNT_CLOEXEC: libc::c_uint = 0x1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` refers to (and every mount below it when `recursive`).
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

/// Set the id mapping of `userns` on the (detached) mount tree `tree`; on every mount of it when
/// `recursive`, else on the top one.
pub fn set_idmap(tree: BorrowedFd, userns: BorrowedFd, recursive: bool) -> nix::Result<()> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    let at = libc::AT_EMPTY_PATH as libc::c_uint
        | if recursive {
            libc::AT_RECURSIVE as libc::c_uint
        } else {
            0
        };
    // SAFETY: mount_setattr on the detached tree fd with an empty path, a correctly sized attr.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            at,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `source` (with its submounts when
/// `rec`), as an fd that attaches nowhere until [`attach`].
pub fn clone_tree(source: &CStr, rec: bool) -> nix::Result<OwnedFd> {
    let flags = OPEN_TREE_CLONE
        | libc::O_CLOEXEC as libc::c_uint
        | if rec {
            libc::AT_RECURSIVE as libc::c_uint
        } else {
            0
        };
    // SAFETY: open_tree with AT_FDCWD, a valid NUL-terminated path and flags.
    let rc = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, source.as_ptr(), flags) };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

/// A filesystem context from fsopen(2) of `fstype`, to configure with [`fs_flag`]/[`fs_string`],
/// then [`fs_create`] and [`fs_mount`].
pub fn fs_open(fstype: &CStr) -> nix::Result<OwnedFd> {
    // SAFETY: fsopen with a valid NUL-terminated type name.
    let rc = unsafe { libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), FSOPEN_CLOEXEC) };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

fn fsconfig(
    fs: BorrowedFd,
    cmd: libc::c_uint,
    key: Option<&CStr>,
    value: Option<&CStr>,
) -> nix::Result<()> {
    let k = key.map_or(std::ptr::null(), |k| k.as_ptr());
    let v = value.map_or(std::ptr::null(), |v| v.as_ptr());
    // SAFETY: fsconfig on a filesystem context fd with NUL-terminated strings (or NULL) and aux 0.
    let rc = unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, k, v, 0) };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// fsconfig(FSCONFIG_SET_FLAG): a parameter without a value (`ro`, `sync`, `newinstance`).
pub fn fs_flag(fs: BorrowedFd, key: &CStr) -> nix::Result<()> {
    fsconfig(fs, FSCONFIG_SET_FLAG, Some(key), None)
}

/// fsconfig(FSCONFIG_SET_STRING): `key=value` (also `source`).
pub fn fs_string(fs: BorrowedFd, key: &CStr, value: &CStr) -> nix::Result<()> {
    fsconfig(fs, FSCONFIG_SET_STRING, Some(key), Some(value))
}

/// fsconfig(FSCONFIG_CMD_CREATE): make the superblock.
pub fn fs_create(fs: BorrowedFd) -> nix::Result<()> {
    fsconfig(fs, FSCONFIG_CMD_CREATE, None, None)
}

/// fsmount(2): a detached mount of the created superblock with the MOUNT_ATTR_* `attrs`.
pub fn fs_mount(fs: BorrowedFd, attrs: u64) -> nix::Result<OwnedFd> {
    // SAFETY: fsmount on a created filesystem context fd.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            attrs as libc::c_uint,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel returned a new fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

/// The messages the filesystem logged on its context fd (`e tmpfs: Bad value for 'size'`), joined.
pub fn fs_log(fs: BorrowedFd) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    for _ in 0..8 {
        // SAFETY: read into a buffer we own from a valid fd; a context fd never blocks on read.
        let n = unsafe { libc::read(fs.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        out.push(
            String::from_utf8_lossy(&buf[..n as usize])
                .trim()
                .to_string(),
        );
    }
    out.join("; ")
}

/// Attach a detached tree onto `target` (a /proc/self/fd path resolved inside the rootfs).
pub fn attach(tree: BorrowedFd, target: &CStr) -> nix::Result<()> {
    // SAFETY: move_mount from a detached tree fd (empty path) onto a valid target path.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS,
        )
    };
    if rc != 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Flags of an existing mount that a user namespace may not clear (nosuid, nodev, noexec, atime).
pub fn locked_flags(fd: BorrowedFd) -> libc::c_ulong {
    // SAFETY: statvfs into a zeroed struct for a valid fd.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is valid; st is a valid out pointer.
    if unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) } != 0 {
        return 0;
    }
    let f = st.f_flag;
    let mut out = 0;
    // statvfs(3) ST_RELATIME (Linux value; the libc crate names it for glibc only).
    const ST_RELATIME: libc::c_ulong = 4096;
    for (st_flag, ms) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f & st_flag != 0 {
            out |= ms;
        }
    }
    out
}
