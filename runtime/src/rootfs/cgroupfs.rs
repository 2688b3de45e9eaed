//! A `cgroup` mount inside the container: cgroup2 on a unified host, or on v1/hybrid hosts a
//! tmpfs holding every host hierarchy (as runc does), found from hull-cgroups' mountinfo.

use super::options::MountOptions;
use super::resolve::ensure_in_root;
use crate::error::{Error, Result};
use crate::sys::{self, cstr, fd_path, open_in_root};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// A `cgroup` mount: cgroup2 on a unified host; on v1/hybrid hosts a tmpfs with every mounted
/// hierarchy below it (as runc does), read-only when asked.
pub(super) fn mount_cgroup(
    root: BorrowedFd,
    dest: &str,
    opts: &MountOptions,
    what: &dyn Fn() -> String,
) -> Result<()> {
    let hier = host_cgroup_hierarchies();
    let flags = opts.flags & (libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC);
    let target_fd = ensure_in_root(root, dest, true)?;
    let unified_only = hier.iter().all(|h| h.fstype == "cgroup2");
    if unified_only {
        return sys::mount(
            Some(c"cgroup2"),
            &fd_path(target_fd.as_raw_fd()),
            Some(c"cgroup2"),
            flags,
            None,
            what,
        )
        .or_else(|e| {
            let under = target_fd.as_fd();
            bind_host_hierarchy(e, "/sys/fs/cgroup", root, dest, under, flags, what)
        });
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
        let fd = ensure_in_root(root, &sub, true)?;
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
        )
        .or_else(|e| {
            let host = format!("/sys/fs/cgroup/{}", h.name);
            bind_host_hierarchy(e, &host, root, &sub, fd.as_fd(), flags, what)
        })?;
        // cpu,cpuacct co-mounts get the per-controller symlinks runc creates.
        if h.name.contains(',') {
            for part in h.name.split(',') {
                let dirfd = open_in_root(root, dest, libc::O_PATH | libc::O_DIRECTORY)
                    .map_err(|e| Error::sys(format!("open {dest}"), e))?;
                let _ = nix::unistd::symlinkat(h.name.as_str(), dirfd.as_fd(), part);
            }
        }
    }
    if flags & libc::MS_RDONLY != 0 {
        let top = open_in_root(root, dest, libc::O_PATH)
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

/// A `cgroup` mount refused in a user namespace that owns no cgroup namespace (rootless podman on
/// a v1 or hybrid host, as `cgroupns=host`): bind the host's hierarchy `host` onto `dest` (in
/// `root`, already opened as `under`) instead, then give it the mount's `flags` (read-only etc.)
/// with a bind remount, as runc does. Outside a user namespace the error stands.
fn bind_host_hierarchy(
    err: Error,
    host: &str,
    root: BorrowedFd,
    dest: &str,
    under: BorrowedFd,
    flags: libc::c_ulong,
    what: &dyn Fn() -> String,
) -> Result<()> {
    if crate::rootless::in_initial_userns() {
        return Err(err);
    }
    let src = cstr(host)?;
    let bind = libc::MS_BIND | libc::MS_REC;
    sys::mount(
        Some(&src),
        &fd_path(under.as_raw_fd()),
        None,
        bind,
        None,
        what,
    )?;
    if flags == 0 {
        return Ok(());
    }
    // Reopen: `under` is the covered directory; the remount must name the new mount on top of
    // it (else EINVAL), and keep the flags the user namespace may not clear (nosuid, atime...).
    let top = open_in_root(root, dest, libc::O_PATH)
        .map_err(|e| Error::sys(format!("reopen {dest}"), e))?;
    let locked = super::mount_api::locked_flags(top.as_fd());
    let remount = libc::MS_BIND | libc::MS_REMOUNT | flags | locked;
    sys::mount(None, &fd_path(top.as_raw_fd()), None, remount, None, what)
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

/// [`Hierarchy`]s of every cgroup mount in mountinfo text (the fallback of
/// [`host_cgroup_hierarchies`]); the options to mount one again are its super-block options.
pub fn parse_cgroup_mountinfo(data: &str) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for e in hull_cgroups::mountinfo::entries(data).flatten() {
        if e.fstype != "cgroup" && e.fstype != "cgroup2" {
            continue;
        }
        let name = e.mount_point.rsplit('/').next().unwrap_or("").to_string();
        if name.is_empty() || out.iter().any(|h| h.name == name) {
            continue;
        }
        let options = e
            .super_options
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect::<Vec<_>>()
            .join(",");
        out.push(Hierarchy {
            name,
            fstype: e.fstype.to_string(),
            options,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
