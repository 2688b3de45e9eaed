//! The `mounts[]` step: one OCI mount done onto its destination resolved inside the rootfs and
//! mounted through its /proc/self/fd path (bind + remount, fs mounts, tmpcopyup, idmapped trees
//! of binds and of fresh filesystems,
//! propagation and recursive attributes).

use super::cgroupfs::mount_cgroup;
use super::mount_api::{self, locked_flags, mount_setattr};
use super::options::{parse_options, MountOptions};
use super::resolve::ensure_in_root;
use crate::error::{Error, Result};
use crate::sys::{self, cstr, fd_path, open_in_root};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The mount(2) call for one OCI mount, done onto an already-resolved destination fd.
pub struct MountCtx<'a> {
    pub root: BorrowedFd<'a>,
    pub in_userns: bool,
    /// Detached idmapped trees prepared by the parent, by mount index (see [`super::idmap`]).
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
            "{}: idmapped mount was not prepared",
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
        return mount_cgroup(ctx.root, &dest, &opts, &what);
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
        mount_api::attach(tree, &target)
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
        // An idmapped fresh filesystem was mounted (with its flags and data) by the parent and
        // attached above.
        let r = match idmap_tree {
            Some(_) => Ok(()),
            None => sys::mount(
                Some(&src),
                &target,
                Some(&t),
                opts.flags & !libc::MS_REMOUNT,
                data_c.as_deref(),
                &what_data,
            ),
        };
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
            copy_up(target_fd.as_fd(), top.as_fd()).map_err(|e| match (e, idmap_tree) {
                (e @ Error::Sys { .. }, _) => wrap(e, &what),
                // The copy goes through the idmapping: ids it does not map give EOVERFLOW.
                (e, Some(_)) => Error::invalid(format!(
                    "{}: {e} (tmpcopyup writes through the idmapping: it must map the container's ids)",
                    what()
                )),
                (e, None) => Error::invalid(format!("{}: {e}", what())),
            })?;
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
