//! Device nodes in the container's /dev: the default set the spec requires, plus `linux.devices`.
//! Outside a user namespace they are mknod'ed; inside one (where mknod is refused) the host node is
//! bind-mounted onto an empty file, as runc does.

use super::resolve::ensure_in_root;
use crate::error::{Error, Result};
use crate::sys::{self, cstr, fd_path, open_in_root};
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// A device node to create, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNode {
    pub path: String,
    /// S_IFCHR, S_IFBLK or S_IFIFO.
    pub kind: libc::mode_t,
    pub major: u64,
    pub minor: u64,
    pub mode: libc::mode_t,
    pub uid: u32,
    pub gid: u32,
}

fn default_dev(name: &str, major: u64, minor: u64) -> DeviceNode {
    DeviceNode {
        path: format!("/dev/{name}"),
        kind: libc::S_IFCHR,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    }
}

/// The devices every container gets (runtime-spec "Default Devices").
pub fn default_devices() -> Vec<DeviceNode> {
    vec![
        default_dev("null", 1, 3),
        default_dev("zero", 1, 5),
        default_dev("full", 1, 7),
        default_dev("random", 1, 8),
        default_dev("urandom", 1, 9),
        default_dev("tty", 5, 0),
    ]
}

/// The full list: defaults, overridden or extended by `linux.devices`.
pub fn plan(spec_devices: &[oci_spec::runtime::LinuxDevice]) -> Result<Vec<DeviceNode>> {
    use oci_spec::runtime::LinuxDeviceType as T;
    let mut out = default_devices();
    for (i, d) in spec_devices.iter().enumerate() {
        let kind = match d.typ() {
            T::C | T::U => libc::S_IFCHR,
            T::B => libc::S_IFBLK,
            T::P => libc::S_IFIFO,
            T::A => {
                return Err(Error::invalid(format!(
                    "linux.devices[{i}].type: \"a\" is not a device type"
                )))
            }
        };
        let path = d.path().to_string_lossy().to_string();
        if !path.starts_with('/') {
            return Err(Error::invalid(format!(
                "linux.devices[{i}].path: {path:?} is not absolute"
            )));
        }
        let node = DeviceNode {
            path,
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        if kind != libc::S_IFIFO && (d.major() < 0 || d.minor() < 0) {
            return Err(Error::invalid(format!(
                "linux.devices[{i}]: major/minor must not be negative"
            )));
        }
        out.retain(|n| n.path != node.path);
        out.push(node);
    }
    Ok(out)
}

/// Create every node inside the rootfs (before pivot_root; `root` is the rootfs dir fd).
pub fn create_all(root: BorrowedFd, nodes: &[DeviceNode], in_userns: bool) -> Result<()> {
    for n in nodes {
        if in_userns {
            bind_host_node(root, n)?;
        } else {
            mknod_node(root, n)?;
        }
    }
    Ok(())
}

fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(0) => ("/", &path[1..]),
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("/", path),
    }
}

fn mknod_node(root: BorrowedFd, n: &DeviceNode) -> Result<()> {
    let (dir, name) = split_parent(&n.path);
    let dfd = ensure_in_root(root, dir, true)?;
    let dfd = open_in_root(root, dir, libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| Error::sys(format!("open {dir}"), e))
        .or_else(|_| Ok::<_, Error>(dfd))?;
    let cname = cstr(name)?;
    // Replace whatever the image had there.
    // SAFETY: unlinkat relative to a valid dir fd.
    unsafe { libc::unlinkat(dfd.as_raw_fd(), cname.as_ptr(), 0) };
    let dev = libc::makedev(n.major as u32, n.minor as u32);
    // SAFETY: mknodat relative to a valid dir fd with a NUL-terminated name.
    let rc = unsafe { libc::mknodat(dfd.as_raw_fd(), cname.as_ptr(), n.kind | n.mode, dev) };
    if rc != 0 {
        return Err(Error::sys(
            format!("linux.devices: mknod {}", n.path),
            Errno::last(),
        ));
    }
    // SAFETY: fchownat/fchmodat relative to a valid dir fd; no symlink following.
    let rc = unsafe {
        libc::fchownat(
            dfd.as_raw_fd(),
            cname.as_ptr(),
            n.uid,
            n.gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc != 0 {
        return Err(Error::sys(
            format!("linux.devices: chown {}", n.path),
            Errno::last(),
        ));
    }
    // mknod's mode is reduced by the umask: set it exactly.
    // SAFETY: as above.
    let rc = unsafe { libc::fchmodat(dfd.as_raw_fd(), cname.as_ptr(), n.mode, 0) };
    if rc != 0 {
        return Err(Error::sys(
            format!("linux.devices: chmod {}", n.path),
            Errno::last(),
        ));
    }
    Ok(())
}

fn bind_host_node(root: BorrowedFd, n: &DeviceNode) -> Result<()> {
    let host = format!("/dev/{}", n.path.trim_start_matches("/dev/"));
    let src = if std::path::Path::new(&n.path).exists() {
        n.path.clone()
    } else {
        host
    };
    let target = ensure_in_root(root, &n.path, false)?;
    sys::mount(
        Some(&cstr(&src)?),
        &fd_path(target.as_raw_fd()),
        None,
        libc::MS_BIND,
        None,
        &|| format!("linux.devices: bind {} (user namespace)", n.path),
    )
}

/// The /dev symlinks: fd, stdin, stdout, stderr (and core when /proc/kcore exists), and
/// /dev/ptmx → pts/ptmx when a devpts is mounted at /dev/pts.
pub fn create_symlinks(root: BorrowedFd, has_devpts: bool) -> Result<()> {
    let dev = ensure_in_root(root, "/dev", true)?;
    let dev = open_in_root(root, "/dev", libc::O_PATH | libc::O_DIRECTORY)
        .map_err(|e| Error::sys("open /dev", e))
        .or_else(|_| Ok::<_, Error>(dev))?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if std::path::Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    if has_devpts {
        let name = c"ptmx";
        // SAFETY: unlinkat relative to a valid dir fd.
        unsafe { libc::unlinkat(dev.as_raw_fd(), name.as_ptr(), 0) };
        links.push(("pts/ptmx", "ptmx"));
    }
    for (target, name) in links {
        match nix::unistd::symlinkat(target, dev.as_fd(), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(Error::sys(format!("symlink /dev/{name}"), e)),
        }
    }
    Ok(())
}

/// After pivot_root, as runc: a stdio fd that is a /dev/null (an engine gives a container without
/// stdin the host's) is replaced by the container's own /dev/null, so that no fd of the
/// container names a file of the host's mount namespace (CRIU cannot dump one: "Can't lookup
/// mount"). Three fstats when there is none; no /dev/null in the new root leaves them as they are.
pub fn reopen_dev_null() -> Result<()> {
    let null = libc::makedev(1, 3);
    let is_null = |fd: i32| {
        // SAFETY: a zeroed libc::stat is a valid value of that plain struct.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat fills the struct we own; an unopened fd only makes it fail.
        let rc = unsafe { libc::fstat(fd, &mut st) };
        rc == 0 && st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == null
    };
    let fds: Vec<i32> = (0..3).filter(|&fd| is_null(fd)).collect();
    if fds.is_empty() {
        return Ok(());
    }
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("open", std::path::Path::new("/dev/null"), e)),
    };
    for fd in fds {
        // SAFETY: dup3 onto a stdio number this process owns; no close-on-exec (it is stdio).
        if unsafe { libc::dup3(f.as_raw_fd(), fd, 0) } < 0 {
            return Err(Error::sys("reopen /dev/null as stdio", Errno::last()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxDeviceBuilder, LinuxDeviceType};

    #[test]
    fn defaults_are_present_and_overridable() {
        let d = plan(&[]).unwrap();
        let names: Vec<_> = d.iter().map(|n| n.path.as_str()).collect();
        for p in [
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/random",
            "/dev/urandom",
            "/dev/tty",
        ] {
            assert!(names.contains(&p), "{p}");
        }
        let custom = LinuxDeviceBuilder::default()
            .path("/dev/null")
            .typ(LinuxDeviceType::C)
            .major(1)
            .minor(3)
            .file_mode(0o600u32)
            .uid(5u32)
            .build()
            .unwrap();
        let fuse = LinuxDeviceBuilder::default()
            .path("/dev/fuse")
            .typ(LinuxDeviceType::C)
            .major(10)
            .minor(229)
            .build()
            .unwrap();
        let d = plan(&[custom, fuse]).unwrap();
        assert_eq!(d.len(), 7);
        let null = d.iter().find(|n| n.path == "/dev/null").unwrap();
        assert_eq!((null.mode, null.uid), (0o600, 5));
        assert!(d.iter().any(|n| n.path == "/dev/fuse" && n.minor == 229));
    }

    #[test]
    fn rejects_bad_types() {
        let bad = LinuxDeviceBuilder::default()
            .path("/dev/x")
            .typ(LinuxDeviceType::A)
            .build()
            .unwrap();
        assert!(plan(&[bad]).unwrap_err().to_string().contains("devices[0]"));
    }
}
