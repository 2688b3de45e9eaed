//! Entering the rootfs: pivot_root (detaching the old root) or, with --no-pivot, MS_MOVE + chroot;
//! and `root.readonly` once inside.

use super::mount_api::locked_flags;
use crate::error::{Error, Result};
use crate::sys::{self, cstr};
use std::os::fd::AsFd;
use std::path::Path;

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
