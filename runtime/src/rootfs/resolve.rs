//! Destinations inside the rootfs: every path opened or created with openat2(RESOLVE_IN_ROOT)
//! relative to the rootfs fd, so a symlink in the image can never aim a mount at the host.

use crate::error::{Error, Result};
use crate::sys::{cstr, open_in_root};
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys;
    use std::path::Path;

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
