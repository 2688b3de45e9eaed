//! The container's root filesystem, in the order the init applies it: propagation and the rootfs
//! bind, `mounts[]` (options parsed as data first), device nodes, pivot_root, masked and read-only
//! paths. Every destination is resolved inside the rootfs (see `resolve`), never on the host.
//!
//! Module map (who uses what; no cycles: each file only imports the ones listed before it):
//! - `mount_api`: the new mount API syscalls (mount_setattr, open_tree, fsopen/fsconfig/fsmount,
//!   move_mount), kernel ABI only.
//! - `propagation`: propagation names → MS_* flags; make the rootfs' parent mount private.
//! - `options`: `mounts[].options` → [`MountOptions`] (pure).
//! - `resolve`: [`ensure_in_root`], openat2(RESOLVE_IN_ROOT) create-and-open.
//! - `cgroupfs`: a `cgroup` mount (cgroup2, or a tmpfs of v1 hierarchies on hybrid hosts).
//! - `mounts`: [`mount_entry`], one OCI mount onto its resolved destination.
//! - `idmap`: idmapped mounts, bind or fresh filesystem (detached mounts prepared in the parent,
//!   attached in the child).
//! - `devices`: device nodes and the /dev symlinks.
//! - `pivot`, `masked`: entering the new root; maskedPaths, readonlyPaths, root.readonly.

mod cgroupfs;
pub mod devices;
pub mod idmap;
mod masked;
pub mod mount_api;
mod mounts;
mod options;
mod pivot;
mod propagation;
mod resolve;

pub use cgroupfs::{
    hierarchies_from_mounts, host_cgroup_hierarchies, parse_cgroup_mountinfo, Hierarchy,
};
pub use masked::{mask_path, readonly_path};
pub use mount_api::{
    mount_setattr, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME,
    MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME,
};
pub use mounts::{mount_entry, MountCtx};
pub use options::{parse_options, MountOptions};
pub use pivot::{move_root, pivot_root, readonly_root};
pub use propagation::{make_parent_private, may_leave_shared, propagation_flag};
pub use resolve::ensure_in_root;
