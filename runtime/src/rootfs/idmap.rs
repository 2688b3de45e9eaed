//! Idmapped mounts (`idmap` / `ridmap` mount options, `uidMappings` / `gidMappings` on a mount):
//! of a bind source (a clone of its tree) or of a fresh filesystem (fsopen/fsconfig/fsmount).
//!
//! The work is split where the privileges are:
//! - in the parent (`hull create`, root in the initial user namespace), before clone: make a
//!   throw-away user namespace holding the mount's mappings, clone the source tree with
//!   `open_tree(OPEN_TREE_CLONE)` (bind) or make a fresh detached mount with
//!   fsopen/fsconfig/fsmount (any other type), and give it the mapping with
//!   `mount_setattr(MOUNT_ATTR_IDMAP)`. Which filesystems allow it is the kernel's choice
//!   (FS_ALLOW_IDMAP: ext4, xfs, btrfs, tmpfs since 6.3; not proc, sysfs or overlay): a refusal
//!   fails `create` naming `mounts[N]` and the filesystem.
//!   Setting an idmap needs CAP_SYS_ADMIN in the user namespace the filesystem was mounted in —
//!   the host's — which a container init inside its own user namespace no longer has.
//! - in the container init, before pivot_root: `move_mount` the detached tree (an fd inherited
//!   through clone) onto the destination, resolved inside the rootfs.
//!
//! A mapping line `containerID hostID size` means: a file owned by `containerID` on disk shows
//! as owned by `hostID` through the mount (the same direction as `linux.uidMappings`, so a
//! rootfs owned by 0 on disk, mounted with the container's own mappings, is owned by the
//! container's root).

use super::mount_api;
use super::options::{fresh_mount, parse_options, MountOptions};
use crate::error::{Error, Result};
use nix::errno::Errno;
use oci_spec::runtime::{LinuxIdMapping, Mount};
use std::ffi::CStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// The mappings an idmapped mount uses: its own, or else the container's (`linux.*Mappings`).
/// Returns the `uid_map` and `gid_map` file contents.
pub fn mappings_for(
    idx: usize,
    m: &Mount,
    container_uid: &[LinuxIdMapping],
    container_gid: &[LinuxIdMapping],
) -> Result<(String, String)> {
    let own_u = m.uid_mappings().as_deref().unwrap_or(&[]);
    let own_g = m.gid_mappings().as_deref().unwrap_or(&[]);
    let (u, g) = match (own_u.is_empty(), own_g.is_empty()) {
        (false, false) => (own_u, own_g),
        (true, true) => (container_uid, container_gid),
        _ => {
            return Err(Error::invalid(format!(
                "mounts[{idx}]: uidMappings and gidMappings must be given together"
            )))
        }
    };
    if u.is_empty() || g.is_empty() {
        return Err(Error::invalid(format!(
            "mounts[{idx}]: an idmapped mount needs uidMappings/gidMappings on the mount or a user namespace with mappings (linux.uidMappings)"
        )));
    }
    let fmt = |v: &[LinuxIdMapping]| -> String {
        v.iter()
            .map(|x| format!("{} {} {}\n", x.container_id(), x.host_id(), x.size()))
            .collect()
    };
    Ok((fmt(u), fmt(g)))
}

/// A user namespace holding the given maps, as an fd on /proc/<pid>/ns/user of a short-lived
/// child (killed and reaped before returning: the fd keeps the namespace alive).
pub fn userns_with_maps(uid_map: &str, gid_map: &str) -> Result<OwnedFd> {
    // SAFETY: `hull create` is single-threaded; the child only calls async-signal-safe
    // functions (unshare, pause, _exit) and never returns into Rust code of the parent.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::sys("fork (idmap user namespace)", Errno::last()));
    }
    if pid == 0 {
        // SAFETY: unshare/pause/_exit with plain arguments in the forked child.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if libc::unshare(libc::CLONE_NEWUSER) != 0 {
                libc::_exit(1);
            }
            libc::kill(libc::getpid(), libc::SIGSTOP);
            loop {
                libc::pause();
            }
        }
    }
    let result = (|| {
        // Wait until the child has unshared (it stops itself right after).
        let mut st = 0;
        // SAFETY: waitpid on our own child with WUNTRACED.
        let rc = unsafe { libc::waitpid(pid, &mut st, libc::WUNTRACED) };
        if rc != pid || !libc::WIFSTOPPED(st) {
            return Err(Error::invalid(
                "idmapped mount: could not create a user namespace for the mapping",
            ));
        }
        write(&format!("/proc/{pid}/uid_map"), uid_map, "uidMappings")?;
        write(&format!("/proc/{pid}/gid_map"), gid_map, "gidMappings")?;
        let p = crate::sys::cstr(&format!("/proc/{pid}/ns/user"))?;
        crate::sys::open_path(&p, libc::O_RDONLY)
            .map_err(|e| Error::sys("open idmap user namespace", e))
    })();
    // SAFETY: kill and reap our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        let mut st = 0;
        libc::waitpid(pid, &mut st, 0);
    }
    result
}

fn write(path: &str, data: &str, field: &str) -> Result<()> {
    crate::sys::write_file(path, data.as_bytes())
        .map_err(|e| Error::invalid(format!("idmapped mount {field} {data:?}: {e}")))
}

/// Clone the tree at `source` (a host path) detached (with its submounts when `rec`), and idmap
/// it through `userns` (every mount of the tree when `idmap_rec`, else the top one).
pub fn idmapped_tree(
    source: &CStr,
    rec: bool,
    idmap_rec: bool,
    userns: BorrowedFd,
) -> nix::Result<OwnedFd> {
    let tree = mount_api::clone_tree(source, rec)?;
    mount_api::set_idmap(tree.as_fd(), userns, idmap_rec)?;
    Ok(tree)
}

/// Filesystems whose instance belongs to the namespaces of the process that mounts it: one made
/// here, in `hull create`, would show the host's processes, network or IPC objects.
const NAMESPACED_FS: &[&str] = &["proc", "sysfs", "mqueue", "devpts", "cgroup", "cgroup2"];

/// A fresh detached mount of `typ` (fsopen/fsconfig/fsmount with the mount's options) idmapped
/// through `userns`. The error names the filesystem and what the kernel said; every fd made here
/// is closed on the way out, so a refusal leaves nothing behind.
pub fn fresh_idmapped(
    typ: &str,
    source: &str,
    opts: &MountOptions,
    userns: BorrowedFd,
) -> std::result::Result<OwnedFd, String> {
    if typ.is_empty() {
        return Err("an idmapped mount of a filesystem needs its \"type\"".into());
    }
    let plan = fresh_mount(opts);
    let c = |s: &str| crate::sys::cstr(s).map_err(|e| e.to_string());
    let fs = mount_api::fs_open(&c(typ)?).map_err(|e| {
        format!(
            "fsopen filesystem {typ:?}: {e}{}",
            if e == Errno::ENODEV {
                " (unknown to this kernel)"
            } else {
                ""
            }
        )
    })?;
    let fsf = fs.as_fd();
    let said = |what: String, e: Errno| {
        let log = mount_api::fs_log(fsf);
        if log.is_empty() {
            format!("filesystem {typ:?}: {what}: {e}")
        } else {
            format!("filesystem {typ:?}: {what}: {e} (kernel: {log})")
        }
    };
    if !source.is_empty() {
        mount_api::fs_string(fsf, &c("source")?, &c(source)?)
            .map_err(|e| said(format!("source {source:?}"), e))?;
    }
    for k in &plan.sb_flags {
        mount_api::fs_flag(fsf, &c(k)?).map_err(|e| said(format!("flag {k:?}"), e))?;
    }
    for (k, v) in &plan.params {
        match v {
            Some(v) => mount_api::fs_string(fsf, &c(k)?, &c(v)?)
                .map_err(|e| said(format!("option {k}={v}"), e))?,
            None => mount_api::fs_flag(fsf, &c(k)?).map_err(|e| said(format!("option {k}"), e))?,
        }
    }
    mount_api::fs_create(fsf).map_err(|e| said("create".into(), e))?;
    let mnt = mount_api::fs_mount(fsf, plan.attrs).map_err(|e| said("fsmount".into(), e))?;
    mount_api::set_idmap(mnt.as_fd(), userns, false).map_err(|e| {
        if e == Errno::EINVAL {
            format!(
                "the kernel refuses idmapped mounts of filesystem {typ:?} (it does not allow idmapping on this kernel): mount_setattr(MOUNT_ATTR_IDMAP): {e}"
            )
        } else {
            format!("filesystem {typ:?}: mount_setattr(MOUNT_ATTR_IDMAP): {e}")
        }
    })?;
    if NAMESPACED_FS.contains(&typ) {
        return Err(format!(
            "idmapped mounts of filesystem {typ:?} are not supported (its instance would be made outside the container's namespaces)"
        ));
    }
    Ok(mnt)
}

/// Prepare every idmapped mount of a config (in the parent): (mount index, detached tree).
pub fn prepare(
    mounts: &[Mount],
    container_uid: &[LinuxIdMapping],
    container_gid: &[LinuxIdMapping],
) -> Result<Vec<(usize, OwnedFd)>> {
    let mut out = Vec::new();
    let mut cache: Vec<((String, String), OwnedFd)> = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let opts = parse_options(m.options().as_deref().unwrap_or(&[]));
        let has_maps = m.uid_mappings().as_ref().is_some_and(|v| !v.is_empty())
            || m.gid_mappings().as_ref().is_some_and(|v| !v.is_empty());
        if !opts.idmap && !has_maps {
            continue;
        }
        let dest = m.destination().display();
        let typ = m.typ().clone().unwrap_or_default();
        if !opts.is_bind() && (typ == "cgroup" || typ == "cgroup2") {
            return Err(Error::invalid(format!(
                "mounts[{i}] {dest}: idmapped cgroup mounts are not supported"
            )));
        }
        let maps = mappings_for(i, m, container_uid, container_gid)?;
        let pos = match cache.iter().position(|(k, _)| *k == maps) {
            Some(p) => p,
            None => {
                let fd = userns_with_maps(&maps.0, &maps.1)
                    .map_err(|e| Error::invalid(format!("mounts[{i}] {dest}: {e}")))?;
                cache.push((maps, fd));
                cache.len() - 1
            }
        };
        let source = m
            .source()
            .as_ref()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let userns = cache[pos].1.as_fd();
        let tree = if opts.is_bind() {
            let rec = opts.flags & libc::MS_REC != 0;
            let c = crate::sys::cstr(&source)?;
            idmapped_tree(&c, rec, rec && opts.idmap_recursive, userns).map_err(|e| {
                Error::invalid(format!(
                    "mounts[{i}] {dest}: idmapped mount of {source:?}: {e}{}",
                    if e == Errno::EINVAL {
                        " (the source filesystem may not support idmapped mounts)"
                    } else {
                        ""
                    }
                ))
            })?
        } else {
            fresh_idmapped(&typ, &source, &opts, userns)
                .map_err(|e| Error::invalid(format!("mounts[{i}] {dest}: {e}")))?
        };
        out.push((i, tree));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(v: serde_json::Value) -> Mount {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn mappings_come_from_the_mount_or_the_container() {
        let m = mount(
            serde_json::json!({"destination": "/m", "source": "/s", "options": ["bind", "idmap"],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
            "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 10}]}),
        );
        let (u, g) = mappings_for(0, &m, &[], &[]).unwrap();
        assert_eq!(u, "0 1000 10\n");
        assert_eq!(g, "0 2000 10\n");
        let m = mount(
            serde_json::json!({"destination": "/m", "source": "/s", "options": ["bind", "idmap"]}),
        );
        let cu: Vec<LinuxIdMapping> = serde_json::from_value(
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
        )
        .unwrap();
        let (u, g) = mappings_for(0, &m, &cu, &cu).unwrap();
        assert_eq!(u, "0 100000 65536\n");
        assert_eq!(g, u);
        let e = mappings_for(3, &m, &[], &[]).unwrap_err().to_string();
        assert!(e.contains("mounts[3]") && e.contains("uidMappings"), "{e}");
    }
}
