//! Mount propagation: the OCI propagation names (`rprivate`, `rslave`, ...) as MS_* flags, and
//! making the mount that holds the rootfs private before pivot_root, as runc does.

use crate::error::{Error, Result};
use crate::sys;

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

/// pivot_root refuses a new root whose mount, or whose parent mount, is shared, and the bind of
/// the rootfs onto itself must not propagate to the host: as runc, make the mount that holds
/// `path` private if it is shared.
///
/// Cost independent of the number of mounts on the host (one per container's rootfs under
/// podman or containerd): nothing to do after a recursive non-shared propagation change of "/"
/// (the default rslave: no mount of this namespace is shared any more); otherwise the mount is
/// found by walking up `path` with statx's mount id and asked about with statmount (Linux 6.8),
/// and /proc/self/mountinfo is read only where the kernel lacks those.
pub fn make_parent_private(path: &std::path::Path, root_propagation: libc::c_ulong) -> Result<()> {
    if !may_leave_shared(root_propagation) {
        return Ok(());
    }
    let shared = mount_of(path).and_then(|(mp, id)| Some((mp, statmount_shared(id)?)));
    match shared {
        Some((_, false)) => Ok(()),
        Some((mp, true)) => {
            let c = sys::cstr(&mp.to_string_lossy())?;
            sys::mount(None, &c, None, libc::MS_PRIVATE, None, &|| {
                format!("make {} private", mp.display())
            })
        }
        None => make_parent_private_mountinfo(path),
    }
}

/// Can "/" changed with these propagation flags leave a shared mount in the namespace?
/// Only a recursive slave, private or unbindable change reaches every mount.
pub fn may_leave_shared(flags: libc::c_ulong) -> bool {
    flags & libc::MS_REC == 0 || flags & libc::MS_SHARED != 0
}

const STATX_MNT_ID_UNIQUE: u32 = 0x4000;
const STATMOUNT_MNT_BASIC: u64 = 0x2;
/// statmount's number, the same on every architecture (added after the tables were unified).
const SYS_STATMOUNT: libc::c_long = 457;

/// statx(2) unique mount id of `path` (Linux 6.8+), None if the kernel does not give one.
fn unique_mnt_id(path: &std::path::Path) -> Option<u64> {
    let c = sys::cstr(&path.to_string_lossy()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statx>::zeroed();
    // SAFETY: `c` is NUL-terminated and `st` is a statx buffer the kernel fills.
    let r = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c.as_ptr(),
            0,
            STATX_MNT_ID_UNIQUE,
            st.as_mut_ptr(),
        )
    };
    if r != 0 {
        return None;
    }
    // SAFETY: statx returned 0 and the buffer was zeroed before, so every field is initialised.
    let st = unsafe { st.assume_init() };
    (st.stx_mask & STATX_MNT_ID_UNIQUE != 0).then_some(st.stx_mnt_id)
}

/// The mount point of the mount that holds `path` (canonical): the highest ancestor with the
/// same mount id. With its unique mount id.
fn mount_of(path: &std::path::Path) -> Option<(std::path::PathBuf, u64)> {
    let id = unique_mnt_id(path)?;
    let mut mp = path;
    while let Some(parent) = mp.parent() {
        if unique_mnt_id(parent)? != id {
            break;
        }
        mp = parent;
    }
    Some((mp.to_path_buf(), id))
}

/// Is mount `id` shared? statmount(2) (Linux 6.8+); None where the kernel lacks it.
fn statmount_shared(id: u64) -> Option<bool> {
    // struct mnt_id_req { u32 size; u32 spare; u64 mnt_id; u64 param; }
    #[repr(C)]
    struct MntIdReq {
        size: u32,
        spare: u32,
        mnt_id: u64,
        param: u64,
    }
    let req = MntIdReq {
        size: std::mem::size_of::<MntIdReq>() as u32,
        spare: 0,
        mnt_id: id,
        param: STATMOUNT_MNT_BASIC,
    };
    // struct statmount: u64 `mask` at byte 8, u64 `mnt_propagation` at byte 72; the rest unused.
    let mut buf = [0u64; 128];
    // SAFETY: statmount reads `req` and writes at most size_of_val(&buf) bytes into `buf`.
    let r = unsafe {
        libc::syscall(
            SYS_STATMOUNT,
            &req as *const MntIdReq,
            buf.as_mut_ptr(),
            std::mem::size_of_val(&buf),
            0u32,
        )
    };
    if r != 0 || buf[1] & STATMOUNT_MNT_BASIC == 0 {
        return None;
    }
    Some(buf[9] & libc::MS_SHARED != 0)
}

/// Fallback for kernels without statmount: find the mount in /proc/self/mountinfo.
fn make_parent_private_mountinfo(path: &std::path::Path) -> Result<()> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("read", "/proc/self/mountinfo", e))?;
    let (mp, shared) = match holding_mount(&info, &path.to_string_lossy()) {
        Some(m) => m,
        None => return Ok(()),
    };
    if shared {
        let c = sys::cstr(&mp)?;
        sys::mount(None, &c, None, libc::MS_PRIVATE, None, &|| {
            format!("make {mp} private")
        })?;
    }
    Ok(())
}

/// The mount point of the mount that holds `path` in mountinfo text (the last, longest mount
/// point at or above it: the one on top) and whether it is shared.
fn holding_mount(info: &str, path: &str) -> Option<(String, bool)> {
    let mut best: Option<(String, bool)> = None;
    for e in hull_cgroups::mountinfo::entries(info).flatten() {
        let mp = e.mount_point.as_ref();
        let under = mp == "/"
            || path
                .strip_prefix(mp)
                .is_some_and(|r| r.is_empty() || r.starts_with('/'));
        if under && best.as_ref().is_none_or(|(b, _)| mp.len() >= b.len()) {
            best = Some((mp.to_string(), e.is_shared()));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::{holding_mount, may_leave_shared};

    #[test]
    fn the_mount_on_top_that_holds_a_path_and_its_sharing() {
        let mi = "\
22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/vda rw
30 22 0:25 / /var/lib rw,relatime shared:5 - tmpfs tmpfs rw
31 30 0:26 / /var/lib/c rw,relatime - overlay overlay rw,lowerdir=/l
32 22 0:27 / /var/lib/c\\040d rw,relatime master:3 - tmpfs t rw
33 30 0:28 / /var/lib/c rw,relatime shared:9 master:2 - tmpfs tmpfs rw
";
        // The later of two mounts on one point is the one on top.
        assert_eq!(
            holding_mount(mi, "/var/lib/c/rootfs"),
            Some(("/var/lib/c".into(), true))
        );
        assert_eq!(
            holding_mount(mi, "/var/lib/cx"),
            Some(("/var/lib".into(), true))
        );
        // Escaped mount points are compared unescaped; master: alone is not shared.
        assert_eq!(
            holding_mount(mi, "/var/lib/c d/x"),
            Some(("/var/lib/c d".into(), false))
        );
        assert_eq!(holding_mount(mi, "/etc"), Some(("/".into(), true)));
        assert_eq!(holding_mount("", "/etc"), None);
    }

    #[test]
    fn only_recursive_non_shared_root_propagation_skips_the_lookup() {
        use libc::{MS_PRIVATE, MS_REC, MS_SHARED, MS_SLAVE, MS_UNBINDABLE};
        for f in [
            MS_SLAVE | MS_REC,
            MS_PRIVATE | MS_REC,
            MS_UNBINDABLE | MS_REC,
        ] {
            assert!(!may_leave_shared(f), "{f:#x}");
        }
        for f in [
            MS_SLAVE,
            MS_PRIVATE,
            MS_SHARED,
            MS_SHARED | MS_REC,
            MS_UNBINDABLE,
        ] {
            assert!(may_leave_shared(f), "{f:#x}");
        }
    }
}
