//! Mount the rootfs that containerd hands over in `CreateTaskRequest.rootfs` onto `bundle/rootfs`,
//! as containerd's runc shim does (overlay from the snapshotter, or bind mounts).

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::Path;

/// A mount resolved into `mount(2)` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub fstype: Option<String>,
    pub source: String,
    pub flags: MsFlags,
    /// Flags to apply with a second (remount) call: a bind mount ignores them on the first.
    pub remount_flags: Option<MsFlags>,
    pub data: String,
}

/// Turn (type, source, options) into mount(2) arguments. Unknown options go to the data string
/// (overlay's lowerdir=…, tmpfs's size=…), like mount(8).
pub fn resolve(fstype: &str, source: &str, options: &[String]) -> Resolved {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for o in options {
        let (set, clear) = match o.as_str() {
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "defaults" | "async" => (MsFlags::empty(), MsFlags::empty()),
            other => {
                data.push(other.to_string());
                continue;
            }
        };
        flags.insert(set);
        flags.remove(clear);
    }
    let is_bind = flags.contains(MsFlags::MS_BIND) || fstype == "bind" || fstype == "rbind";
    if fstype == "bind" {
        flags.insert(MsFlags::MS_BIND);
    }
    if fstype == "rbind" {
        flags.insert(MsFlags::MS_BIND | MsFlags::MS_REC);
    }
    let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC);
    let remount_flags =
        (is_bind && !extra.is_empty()).then(|| extra | MsFlags::MS_BIND | MsFlags::MS_REMOUNT);
    Resolved {
        fstype: (!is_bind && !fstype.is_empty()).then(|| fstype.to_string()),
        source: source.to_string(),
        flags,
        remount_flags,
        data: data.join(","),
    }
}

/// Mount every entry onto `target`, in order. On error, undo what was mounted.
pub fn mount_all(mounts: &[Resolved], target: &Path) -> Result<(), String> {
    for (i, m) in mounts.iter().enumerate() {
        let data = (!m.data.is_empty()).then_some(m.data.as_str());
        let r = mount(
            Some(m.source.as_str()),
            target,
            m.fstype.as_deref(),
            m.flags,
            data,
        )
        .and_then(|_| match m.remount_flags {
            Some(f) => mount(None::<&str>, target, None::<&str>, f, None::<&str>),
            None => Ok(()),
        });
        if let Err(e) = r {
            for _ in 0..i {
                let _ = umount2(target, MntFlags::MNT_DETACH);
            }
            return Err(format!(
                "rootfs[{i}]: mount {} (type {:?}) on {}: {e}",
                m.source,
                m.fstype.as_deref().unwrap_or("bind"),
                target.display()
            ));
        }
    }
    Ok(())
}

/// Unmount everything stacked on `target` (ignores "not mounted").
pub fn unmount_all(target: &Path) {
    for _ in 0..16 {
        if umount2(target, MntFlags::MNT_DETACH).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn overlay_options_go_to_data() {
        let r = resolve(
            "overlay",
            "overlay",
            &s(&["index=off", "lowerdir=/a:/b", "upperdir=/u", "workdir=/w"]),
        );
        assert_eq!(r.fstype.as_deref(), Some("overlay"));
        assert_eq!(r.flags, MsFlags::empty());
        assert_eq!(r.data, "index=off,lowerdir=/a:/b,upperdir=/u,workdir=/w");
        assert_eq!(r.remount_flags, None);
    }

    #[test]
    fn read_only_bind_needs_a_remount() {
        let r = resolve("bind", "/src", &s(&["rbind", "ro"]));
        assert_eq!(r.fstype, None);
        assert!(r
            .flags
            .contains(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(
            r.remount_flags,
            Some(MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REMOUNT)
        );
        assert_eq!(r.data, "");
    }

    #[test]
    fn later_options_win() {
        let r = resolve("tmpfs", "tmpfs", &s(&["ro", "rw", "nosuid", "size=1m"]));
        assert!(!r.flags.contains(MsFlags::MS_RDONLY));
        assert!(r.flags.contains(MsFlags::MS_NOSUID));
        assert_eq!(r.data, "size=1m");
        let plain = resolve("bind", "/x", &s(&["rbind"]));
        assert_eq!(plain.remount_flags, None);
    }
}
