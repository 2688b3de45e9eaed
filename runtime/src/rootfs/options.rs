//! Mount options as data: the words of an OCI `mounts[].options` list resolved to MS_* flags,
//! propagation changes, recursive mount_setattr attributes and filesystem data. Pure, unit-tested.

use super::mount_api::{
    MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME, MOUNT_ATTR_NOEXEC,
    MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY, MOUNT_ATTR_RELATIME,
    MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME,
};
use super::propagation::propagation_flag;

/// One mount, with its options resolved to flags and data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MountOptions {
    /// MS_* flags to set.
    pub flags: libc::c_ulong,
    /// Propagation changes, applied in order after the mount (MS_SHARED|MS_REC, ...).
    pub propagation: Vec<libc::c_ulong>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) for mount_setattr: set and clear masks.
    pub attr_set: u64,
    pub attr_clr: u64,
    /// Filesystem-specific options passed as mount data.
    pub data: Vec<String>,
    pub tmpcopyup: bool,
    pub idmap: bool,
    /// `ridmap`: the idmap applies to every mount of an rbind tree, not only the top one.
    pub idmap_recursive: bool,
}

impl MountOptions {
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }
    pub fn data_string(&self) -> String {
        self.data.join(",")
    }
}

/// Resolve mount options the way runc does: known flags become MS_* bits (set or cleared),
/// propagation and recursive attributes are collected, anything else is filesystem data.
pub fn parse_options(opts: &[String]) -> MountOptions {
    let mut m = MountOptions::default();
    for o in opts {
        let o = o.as_str();
        let (set, clear): (libc::c_ulong, libc::c_ulong) = match o {
            "defaults" => (0, 0),
            "ro" => (libc::MS_RDONLY, 0),
            "rw" => (0, libc::MS_RDONLY),
            "suid" => (0, libc::MS_NOSUID),
            "nosuid" => (libc::MS_NOSUID, 0),
            "dev" => (0, libc::MS_NODEV),
            "nodev" => (libc::MS_NODEV, 0),
            "exec" => (0, libc::MS_NOEXEC),
            "noexec" => (libc::MS_NOEXEC, 0),
            "sync" => (libc::MS_SYNCHRONOUS, 0),
            "async" => (0, libc::MS_SYNCHRONOUS),
            "dirsync" => (libc::MS_DIRSYNC, 0),
            "remount" => (libc::MS_REMOUNT, 0),
            "mand" => (libc::MS_MANDLOCK, 0),
            "nomand" => (0, libc::MS_MANDLOCK),
            "atime" => (0, libc::MS_NOATIME),
            "noatime" => (libc::MS_NOATIME, 0),
            "diratime" => (0, libc::MS_NODIRATIME),
            "nodiratime" => (libc::MS_NODIRATIME, 0),
            "relatime" => (libc::MS_RELATIME, 0),
            "norelatime" => (0, libc::MS_RELATIME),
            "strictatime" => (libc::MS_STRICTATIME, 0),
            "nostrictatime" => (0, libc::MS_STRICTATIME),
            "lazytime" => (libc::MS_LAZYTIME, 0),
            "nolazytime" => (0, libc::MS_LAZYTIME),
            "silent" => (libc::MS_SILENT, 0),
            "loud" => (0, libc::MS_SILENT),
            "iversion" => (libc::MS_I_VERSION, 0),
            "noiversion" => (0, libc::MS_I_VERSION),
            "bind" => (libc::MS_BIND, 0),
            "rbind" => (libc::MS_BIND | libc::MS_REC, 0),
            "tmpcopyup" => {
                m.tmpcopyup = true;
                continue;
            }
            "idmap" => {
                m.idmap = true;
                continue;
            }
            "ridmap" => {
                m.idmap = true;
                m.idmap_recursive = true;
                continue;
            }
            _ => {
                if let Some(p) = propagation_flag(o) {
                    m.propagation.push(p);
                    continue;
                }
                if let Some((set, attr)) = recursive_attr(o) {
                    if set {
                        m.attr_set |= attr;
                        if attr & MOUNT_ATTR__ATIME != 0 || attr == MOUNT_ATTR_RELATIME {
                            m.attr_clr |= MOUNT_ATTR__ATIME;
                        }
                    } else {
                        m.attr_clr |= attr;
                    }
                    continue;
                }
                m.data.push(o.to_string());
                continue;
            }
        };
        m.flags |= set;
        m.flags &= !clear;
    }
    m
}

/// How a non-bind mount is made with the new mount API (fsopen/fsconfig/fsmount), for idmapped
/// mounts of a fresh filesystem: the same effect as mount(2) with these options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FreshMount {
    /// Per-mount MOUNT_ATTR_* bits for fsmount(2) (`ro`, `nosuid`, `nodev`, `noexec`, atime).
    pub attrs: u64,
    /// Superblock flags as fsconfig(FSCONFIG_SET_FLAG) keys (`ro`, `sync`, `dirsync`, ...).
    pub sb_flags: Vec<&'static str>,
    /// Filesystem data: `key=value` (FSCONFIG_SET_STRING) or a bare `key` (FSCONFIG_SET_FLAG).
    pub params: Vec<(String, Option<String>)>,
}

/// The fsconfig/fsmount form of a mount's options. MS_SILENT and MS_I_VERSION have no fsconfig
/// key common to all filesystems and are dropped (mount(2) treats them as hints too); the
/// propagation and recursive attributes are applied after the attach, as for any mount.
pub fn fresh_mount(o: &MountOptions) -> FreshMount {
    let f = o.flags;
    let mut attrs = 0;
    for (ms, attr) in [
        (libc::MS_RDONLY, MOUNT_ATTR_RDONLY),
        (libc::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (libc::MS_NODEV, MOUNT_ATTR_NODEV),
        (libc::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (libc::MS_NODIRATIME, MOUNT_ATTR_NODIRATIME),
    ] {
        if f & ms != 0 {
            attrs |= attr;
        }
    }
    // mount(2)'s rule: strictatime beats noatime, the default is relatime.
    attrs |= if f & libc::MS_STRICTATIME != 0 {
        MOUNT_ATTR_STRICTATIME
    } else if f & libc::MS_NOATIME != 0 {
        MOUNT_ATTR_NOATIME
    } else {
        MOUNT_ATTR_RELATIME
    };
    let mut sb_flags = Vec::new();
    for (ms, key) in [
        (libc::MS_RDONLY, "ro"),
        (libc::MS_SYNCHRONOUS, "sync"),
        (libc::MS_DIRSYNC, "dirsync"),
        (libc::MS_LAZYTIME, "lazytime"),
        (libc::MS_MANDLOCK, "mand"),
    ] {
        if f & ms != 0 {
            sb_flags.push(key);
        }
    }
    let params = o
        .data
        .iter()
        .flat_map(|w| w.split(','))
        .filter(|w| !w.is_empty())
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w.to_string(), None),
        })
        .collect();
    FreshMount {
        attrs,
        sb_flags,
        params,
    }
}

/// `rro`, `rnosuid`, ... → (set?, MOUNT_ATTR_*).
fn recursive_attr(o: &str) -> Option<(bool, u64)> {
    Some(match o {
        "rro" => (true, MOUNT_ATTR_RDONLY),
        "rrw" => (false, MOUNT_ATTR_RDONLY),
        "rnosuid" => (true, MOUNT_ATTR_NOSUID),
        "rsuid" => (false, MOUNT_ATTR_NOSUID),
        "rnodev" => (true, MOUNT_ATTR_NODEV),
        "rdev" => (false, MOUNT_ATTR_NODEV),
        "rnoexec" => (true, MOUNT_ATTR_NOEXEC),
        "rexec" => (false, MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (true, MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (false, MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (true, MOUNT_ATTR_RELATIME),
        "rnorelatime" => (false, MOUNT_ATTR__ATIME),
        "rnoatime" => (true, MOUNT_ATTR_NOATIME),
        "ratime" => (false, MOUNT_ATTR_NOATIME),
        "rstrictatime" => (true, MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (false, MOUNT_ATTR_STRICTATIME),
        "rnosymfollow" => (true, MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (false, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> MountOptions {
        parse_options(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_set_and_clear_in_order() {
        let m = p(&["nosuid", "noexec", "nodev", "ro"]);
        assert_eq!(
            m.flags,
            libc::MS_NOSUID | libc::MS_NOEXEC | libc::MS_NODEV | libc::MS_RDONLY
        );
        let m = p(&["ro", "rw"]);
        assert_eq!(m.flags & libc::MS_RDONLY, 0);
        let m = p(&["rbind", "rprivate"]);
        assert!(m.is_bind());
        assert_eq!(m.flags & libc::MS_REC, libc::MS_REC);
        assert_eq!(m.propagation, vec![libc::MS_PRIVATE | libc::MS_REC]);
    }

    #[test]
    fn unknown_options_are_data() {
        let m = p(&["nosuid", "mode=755", "size=65536k", "newinstance"]);
        assert_eq!(m.data_string(), "mode=755,size=65536k,newinstance");
        assert_eq!(m.flags, libc::MS_NOSUID);
    }

    #[test]
    fn recursive_attributes() {
        let m = p(&["rbind", "rro", "rnosuid", "rnoatime"]);
        assert_eq!(
            m.attr_set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOATIME
        );
        assert_eq!(m.attr_clr, MOUNT_ATTR__ATIME);
        let m = p(&["rrw"]);
        assert_eq!(m.attr_clr, MOUNT_ATTR_RDONLY);
        let m = p(&["tmpcopyup", "idmap"]);
        assert!(m.tmpcopyup && m.idmap);
    }

    #[test]
    fn fresh_mount_splits_flags_attrs_and_data() {
        let f = fresh_mount(&p(&[
            "ro",
            "nosuid",
            "nodev",
            "noatime",
            "sync",
            "size=1m,mode=750",
            "huge=never",
            "noswap",
            "rprivate",
            "rnoexec",
        ]));
        assert_eq!(
            f.attrs,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOATIME
        );
        assert_eq!(f.sb_flags, vec!["ro", "sync"]);
        let s = |k: &str, v: &str| (k.to_string(), Some(v.to_string()));
        assert_eq!(
            f.params,
            vec![
                s("size", "1m"),
                s("mode", "750"),
                s("huge", "never"),
                ("noswap".to_string(), None)
            ]
        );
        // strictatime wins over noatime, as in mount(2); relatime is the default (0).
        let f = fresh_mount(&p(&["noatime", "strictatime", "noexec"]));
        assert_eq!(f.attrs, MOUNT_ATTR_STRICTATIME | MOUNT_ATTR_NOEXEC);
        let f = fresh_mount(&p(&["rw"]));
        assert_eq!((f.attrs, f.sb_flags.len(), f.params.len()), (0, 0, 0));
    }
}
