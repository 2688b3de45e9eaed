//! `linux.maskedPaths` and `linux.readonlyPaths`, applied inside the new root after pivot_root.

use super::mount_api::locked_flags;
use crate::error::{Error, Result};
use crate::sys::{self, cstr};
use std::os::fd::AsFd;
use std::path::Path;

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
        let target = sys::open_in_root(root.as_fd(), path, libc::O_PATH)
            .map_err(|e| Error::sys(what(), e))?;
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
