//! Thin, checked wrappers over the system calls the container setup uses.
//! Each returns the errno with the name of the call and its main argument.

use crate::error::{Error, Result};
use nix::errno::Errno;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// The identity of the namespace a `/proc/PID/ns/NAME` link names, as the link's text
/// ("net:[4026531840]": the nsfs inode, unique per namespace). Reading the link is about half
/// the kernel work of stat'ing through it (no nsfs dentry is looked up).
pub fn ns_id(path: &str) -> Option<std::path::PathBuf> {
    std::fs::read_link(path).ok()
}

pub fn cstr(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::invalid(format!("{s:?}: contains a NUL byte")))
}

/// mount(2). `what` names the mount in the error.
pub fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
    what: &dyn Fn() -> String,
) -> Result<()> {
    // SAFETY: all pointers are valid NUL-terminated strings or NULL, as mount(2) expects.
    let rc = unsafe {
        libc::mount(
            source.map_or(std::ptr::null(), |s| s.as_ptr()),
            target.as_ptr(),
            fstype.map_or(std::ptr::null(), |s| s.as_ptr()),
            flags,
            data.map_or(std::ptr::null(), |s| s.as_ptr() as *const libc::c_void),
        )
    };
    if rc != 0 {
        return Err(Error::sys(format!("mount {}", what()), Errno::last()));
    }
    Ok(())
}

pub fn umount2(target: &CStr, flags: libc::c_int) -> Result<()> {
    // SAFETY: valid NUL-terminated path.
    let rc = unsafe { libc::umount2(target.as_ptr(), flags) };
    if rc != 0 {
        return Err(Error::sys(
            format!("umount {}", target.to_string_lossy()),
            Errno::last(),
        ));
    }
    Ok(())
}

/// The /proc/self/fd path of an fd: mounting onto it mounts onto the file the fd resolved to.
pub fn fd_path(fd: RawFd) -> CString {
    CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL")
}

pub const RESOLVE_IN_ROOT: u64 = 0x10;
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

/// openat2(2) with RESOLVE_IN_ROOT: `path` is resolved as if `root` were `/`, so `..` and
/// absolute symlinks cannot leave it.
pub fn open_in_root(root: BorrowedFd, path: &str, flags: libc::c_int) -> nix::Result<OwnedFd> {
    let p = CString::new(path.trim_start_matches('/')).map_err(|_| Errno::EINVAL)?;
    let p = if p.as_bytes().is_empty() {
        CString::new(".").expect("no NUL")
    } else {
        p
    };
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    loop {
        // SAFETY: openat2 with a valid dirfd, path and a correctly sized open_how.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                p.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if rc >= 0 {
            // SAFETY: the kernel returned a new fd that we now own.
            return Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) });
        }
        let e = Errno::last();
        if e != Errno::EAGAIN && e != Errno::EINTR {
            return Err(e);
        }
    }
}

pub fn open_path(path: &CStr, flags: libc::c_int) -> nix::Result<OwnedFd> {
    // SAFETY: valid NUL-terminated path.
    let rc = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC) };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: new fd owned by us.
    Ok(unsafe { OwnedFd::from_raw_fd(rc) })
}

/// Write a whole buffer to a file by path (for /proc and /sys knobs).
pub fn write_file(path: &str, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    f.write_all(data).map_err(|e| Error::io("write", path, e))
}
