//! The one parser of /proc/<pid>/mountinfo for hull (runtime, rootfs and cgroups use it:
//! [`entries`] / [`MountEntry`]), and on top of it which cgroup hierarchies are mounted where
//! and which cgroup a process is in (/proc/<pid>/cgroup).
use crate::{CgroupError, Layout};
use std::path::{Path, PathBuf};

pub use hull_procinfo::{parse_line, unescape, MountEntry};

/// Every mount of a mountinfo text, in order; a malformed line is an error naming its number
/// (callers that only look for one mount may skip those with `.flatten()`).
pub fn entries(text: &str) -> impl Iterator<Item = Result<MountEntry<'_>, CgroupError>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            parse_line(line).map_err(|reason| CgroupError::Parse {
                path: PathBuf::from("/proc/self/mountinfo"),
                reason: format!("line {}: {reason}: {line:?}", n + 1),
            })
        })
}

/// One cgroup (v1) or cgroup2 mount from /proc/self/mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMount {
    pub mount_point: PathBuf,
    /// The cgroup path (inside the hierarchy) that is mounted there (mountinfo field 4, "root").
    pub root: String,
    /// v1: controller names and named hierarchies ("name=systemd"); empty for cgroup2.
    pub controllers: Vec<String>,
    pub v2: bool,
}

/// Super-block options of a v1 cgroup mount that are not controllers.
const V1_NON_CONTROLLER_OPTS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "clone_children",
    "noprefix",
    "cpuset_v2_mode",
    "favordynmods",
    "nofavordynmods",
    "all",
    "none",
];

/// Parse the cgroup and cgroup2 mounts out of mountinfo text.
pub fn parse_mountinfo(text: &str) -> Result<Vec<CgroupMount>, CgroupError> {
    let mut mounts = Vec::new();
    for e in entries(text) {
        let e = e?;
        let v2 = match e.fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers = if v2 {
            Vec::new()
        } else {
            e.super_options
                .split(',')
                .filter(|o| {
                    !V1_NON_CONTROLLER_OPTS.contains(o)
                        && !o.starts_with("release_agent=")
                        && !o.is_empty()
                })
                .map(str::to_string)
                .collect()
        };
        mounts.push(CgroupMount {
            mount_point: PathBuf::from(e.mount_point.as_ref()),
            root: e.root.into_owned(),
            controllers,
            v2,
        });
    }
    Ok(mounts)
}

/// Decide the layout from the mounts: v1 controller mounts + cgroup2 → hybrid, only cgroup2 →
/// unified, only v1 → legacy. Named v1 hierarchies (name=systemd) alone do not make a host v1.
pub fn layout_from_mounts(
    mounts: &[CgroupMount],
    filesystems: Option<&str>,
) -> Result<Layout, CgroupError> {
    let has_v2 = mounts.iter().any(|m| m.v2);
    let has_v1_ctrl = mounts
        .iter()
        .any(|m| !m.v2 && m.controllers.iter().any(|c| !c.starts_with("name=")));
    match (has_v1_ctrl, has_v2) {
        (true, true) => Ok(Layout::Hybrid),
        (true, false) => Ok(Layout::Legacy),
        (false, true) => Ok(Layout::Unified),
        (false, false) => {
            let hint = match filesystems {
                Some(fs) if fs.lines().any(|l| l.split_whitespace().last() == Some("cgroup2")) => {
                    "; the kernel supports cgroup2: mount it with `mount -t cgroup2 none /sys/fs/cgroup`"
                }
                Some(_) => "; /proc/filesystems lists no cgroup2 either",
                None => "",
            };
            Err(CgroupError::NoCgroupMount(hint.to_string()))
        }
    }
}

/// [`layout_from_mounts`], reading /proc/filesystems only to explain a failure.
pub fn layout_with_hint(mounts: &[CgroupMount]) -> Result<Layout, CgroupError> {
    layout_from_mounts(mounts, None).or_else(|_| {
        let fs = std::fs::read_to_string("/proc/filesystems").ok();
        layout_from_mounts(mounts, fs.as_deref())
    })
}

/// The cgroup2 mount to use: /sys/fs/cgroup if it is one, else /sys/fs/cgroup/unified, else the first.
pub fn v2_mount(mounts: &[CgroupMount]) -> Option<&CgroupMount> {
    let v2: Vec<&CgroupMount> = mounts.iter().filter(|m| m.v2).collect();
    v2.iter()
        .find(|m| m.mount_point == Path::new("/sys/fs/cgroup"))
        .or_else(|| {
            v2.iter()
                .find(|m| m.mount_point == Path::new("/sys/fs/cgroup/unified"))
        })
        .or_else(|| v2.first())
        .copied()
}

/// The v1 mount carrying `controller` (first one found, as the kernel allows one hierarchy per controller).
pub fn v1_mount<'a>(mounts: &'a [CgroupMount], controller: &str) -> Option<&'a CgroupMount> {
    mounts
        .iter()
        .find(|m| !m.v2 && m.controllers.iter().any(|c| c == controller))
}

/// One line of /proc/<pid>/cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcCgroup {
    pub hierarchy: u32,
    /// Empty for the cgroup2 line ("0::/path").
    pub controllers: Vec<String>,
    pub path: String,
}

pub fn parse_proc_cgroup(text: &str) -> Result<Vec<ProcCgroup>, CgroupError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let line = hull_procinfo::parse_cgroup_line(l).ok_or_else(|| CgroupError::Parse {
                path: PathBuf::from("/proc/self/cgroup"),
                reason: format!("bad line {l:?}"),
            })?;
            Ok(ProcCgroup {
                hierarchy: line.hierarchy,
                controllers: line.controller_names().map(str::to_string).collect(),
                path: line.path.to_string(),
            })
        })
        .collect()
}

/// Host facts needed to resolve paths and validate: mounts and the caller's own cgroups.
#[derive(Clone, Debug)]
pub struct HostCgroups {
    pub layout: Layout,
    pub mounts: Vec<CgroupMount>,
    pub own: Vec<ProcCgroup>,
}

impl HostCgroups {
    /// The host's cgroup mounts and the caller's cgroups: from the usual places under
    /// /sys/fs/cgroup when they are there ([`default_mounts`]: statfs, cost independent of the
    /// number of mounts on the host), else from /proc/self/mountinfo.
    pub fn read() -> Result<Self, CgroupError> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| CgroupError::io("/proc/self/cgroup", e))?;
        let own = parse_proc_cgroup(&own)?;
        if let Some(mounts) = default_mounts(&own, &statfs_magic) {
            if let Ok(layout) = layout_from_mounts(&mounts, None) {
                return Ok(HostCgroups {
                    layout,
                    mounts,
                    own,
                });
            }
        }
        Self::read_mountinfo(own)
    }

    /// [`Self::read`] without the fast path: every cgroup mount from /proc/self/mountinfo.
    pub fn read_mountinfo(own: Vec<ProcCgroup>) -> Result<Self, CgroupError> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| CgroupError::io("/proc/self/mountinfo", e))?;
        let mounts = parse_mountinfo(&text)?;
        let layout = layout_with_hint(&mounts)?;
        Ok(HostCgroups {
            layout,
            mounts,
            own,
        })
    }

    /// The caller's cgroup in the hierarchy of `controller` ("" = the cgroup2 hierarchy).
    pub fn own_path(&self, controller: &str) -> Option<&str> {
        self.own
            .iter()
            .find(|p| {
                if controller.is_empty() {
                    p.hierarchy == 0 && p.controllers.is_empty()
                } else {
                    p.controllers.iter().any(|c| c == controller)
                }
            })
            .map(|p| p.path.as_str())
    }

    /// v1 controllers (and named hierarchies) mounted, in mount order, without duplicates.
    pub fn v1_controllers(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for m in self.mounts.iter().filter(|m| !m.v2) {
            for c in &m.controllers {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        }
        out
    }
}

/// Directory of cgroup `inner` (absolute inside the hierarchy) under mount `m`, honouring the
/// mount's root (inside a cgroup namespace or a bind mount the root is not "/").
pub fn dir_in_mount(m: &CgroupMount, inner: &str) -> PathBuf {
    let root = m.root.trim_end_matches('/');
    let rel = inner
        .strip_prefix(root)
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .unwrap_or(inner);
    let rel = rel.trim_start_matches('/');
    if rel.is_empty() {
        m.mount_point.clone()
    } else {
        m.mount_point.join(rel)
    }
}

/// statfs(2) f_type of the filesystem at `path`, None if it cannot be stat'ed.
pub type FsMagic = dyn Fn(&Path) -> Option<i64>;

pub const TMPFS_MAGIC: i64 = 0x0102_1994;
pub const CGROUP_SUPER_MAGIC: i64 = 0x0027_e0eb;
pub const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// statfs(2) of `path`: its filesystem's magic number.
/// Below /sys/fs/cgroup: fstatfs of an O_PATH open walked from its descriptor (see fs.rs).
pub fn statfs_magic(path: &Path) -> Option<i64> {
    let mut st = std::mem::MaybeUninit::<libc::statfs>::uninit();
    let r = if path.starts_with(crate::fs::CGROUP_ROOT) && path != Path::new(crate::fs::CGROUP_ROOT)
    {
        let f = crate::fs::open(path, libc::O_PATH).ok()?;
        // SAFETY: `f` is an open descriptor and `st` a buffer of the size fstatfs writes.
        unsafe { libc::fstatfs(std::os::fd::AsRawFd::as_raw_fd(&f), st.as_mut_ptr()) }
    } else {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
        // SAFETY: `c` is a NUL-terminated path and `st` a buffer of the size statfs writes.
        unsafe { libc::statfs(c.as_ptr(), st.as_mut_ptr()) }
    };
    if r != 0 {
        return None;
    }
    // SAFETY: statfs returned 0, so it filled the whole struct.
    let st = unsafe { st.assume_init() };
    // f_type is __fsword_t: i64 here, narrower on 32-bit targets.
    #[allow(clippy::unnecessary_cast)]
    let t = st.f_type as i64;
    Some(t)
}

/// The cgroup mounts of the usual layouts, found without reading /proc/self/mountinfo (which
/// lists every mount of the host: one overlay per container under podman or containerd).
///
/// * /sys/fs/cgroup is cgroup2 → unified (when /proc/self/cgroup names no v1 controller);
/// * /sys/fs/cgroup is a tmpfs → each v1 hierarchy of /proc/self/cgroup must be mounted at
///   /sys/fs/cgroup/<its controllers, comma-joined> (a named one at /sys/fs/cgroup/<name>), plus
///   cgroup2 at /sys/fs/cgroup/unified if it is there (hybrid), else legacy. Like runc and crun,
///   a cgroup2 mounted anywhere else on such a host is not looked for.
///
/// Every mount is taken to have the hierarchy's root mounted ("/" in mountinfo's field 4); that
/// is checked by finding the caller's own cgroup directory under it. None, so that the caller
/// falls back to mountinfo, when anything is not as described (odd mount points, a bind mount
/// of a sub-cgroup as in some nested containers, no /sys/fs/cgroup).
pub fn default_mounts(own: &[ProcCgroup], magic: &FsMagic) -> Option<Vec<CgroupMount>> {
    let base = Path::new("/sys/fs/cgroup");
    // The caller's cgroup must be a directory of that filesystem under the mount point.
    let holds_own = |mp: &Path, path: &str, want: i64| {
        let rel = path.trim_start_matches('/');
        rel.is_empty() || magic(&mp.join(rel)) == Some(want)
    };
    let v2_own = own
        .iter()
        .find(|p| p.hierarchy == 0 && p.controllers.is_empty())
        .map_or("/", |p| p.path.as_str());
    let v2 = |mp: &Path| CgroupMount {
        mount_point: mp.to_path_buf(),
        root: "/".into(),
        controllers: Vec::new(),
        v2: true,
    };
    match magic(base)? {
        CGROUP2_SUPER_MAGIC => {
            let v1_ctrl = own
                .iter()
                .any(|p| p.hierarchy != 0 && p.controllers.iter().any(|c| !c.starts_with("name=")));
            if v1_ctrl || !holds_own(base, v2_own, CGROUP2_SUPER_MAGIC) {
                return None;
            }
            Some(vec![v2(base)])
        }
        TMPFS_MAGIC => {
            let mut v1: Vec<&ProcCgroup> = own.iter().filter(|p| p.hierarchy != 0).collect();
            v1.sort_by_key(|p| p.hierarchy);
            let mut out = Vec::new();
            for p in v1 {
                let names: Vec<&str> = p
                    .controllers
                    .iter()
                    .filter_map(|c| c.strip_prefix("name="))
                    .collect();
                let dir = match names.as_slice() {
                    [] => p.controllers.join(","),
                    [name] if p.controllers.len() == 1 => name.to_string(),
                    _ => return None,
                };
                if dir.is_empty() || dir.contains('/') || dir.starts_with('.') {
                    return None;
                }
                let mp = base.join(dir);
                if magic(&mp) != Some(CGROUP_SUPER_MAGIC)
                    || !holds_own(&mp, &p.path, CGROUP_SUPER_MAGIC)
                {
                    return None;
                }
                out.push(CgroupMount {
                    mount_point: mp,
                    root: "/".into(),
                    controllers: p.controllers.clone(),
                    v2: false,
                });
            }
            let unified = base.join("unified");
            if magic(&unified) == Some(CGROUP2_SUPER_MAGIC) {
                if !holds_own(&unified, v2_own, CGROUP2_SUPER_MAGIC) {
                    return None;
                }
                out.push(v2(&unified));
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn a_line_with_optional_fields_and_escapes() {
        let e = parse_line(
            "36 35 98:0 /mnt\\0401 /mnt\\0112 rw,noatime shared:1 master:2 - ext3 /dev/r\\134t rw,errors=continue",
        )
        .unwrap();
        assert_eq!((e.id, e.parent), ("36", "35"));
        assert_eq!(e.root, "/mnt 1");
        assert_eq!(e.mount_point, "/mnt\t2");
        assert_eq!(e.options, "rw,noatime");
        assert_eq!(e.optional, "shared:1 master:2");
        assert!(e.is_shared());
        assert_eq!((e.fstype, e.super_options), ("ext3", "rw,errors=continue"));
        assert_eq!(e.source, "/dev/r\\t");
        let e = parse_line("1 0 0:1 / / rw master:4 - tmpfs none rw").unwrap();
        assert_eq!(e.optional, "master:4");
        assert!(!e.is_shared());
        let e = parse_line("1 0 0:1 / /x rw - tmpfs none rw").unwrap();
        assert_eq!((e.optional, e.mount_point.as_ref()), ("", "/x"));
        assert!(matches!(e.mount_point, Cow::Borrowed(_)));
    }

    #[test]
    fn malformed_lines_are_named() {
        assert_eq!(
            parse_line("1 0 0:1 / /x rw tmpfs"),
            Err("no ' - ' separator")
        );
        assert_eq!(
            parse_line("1 0 0:1 / - tmpfs none rw"),
            Err("too few fields")
        );
        assert_eq!(
            parse_line("1 0 0:1 / /x rw - tmpfs none"),
            Err("too few fields")
        );
        let all: Vec<_> = entries("1 0 0:1 / / rw - ext4 /dev/a rw\n\nbad line\n").collect();
        assert_eq!(all.len(), 2);
        assert!(all[0].is_ok());
        let e = all[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("bad line"), "{e}");
    }

    #[test]
    fn unescape_only_octal_escapes() {
        assert_eq!(unescape("a\\040b\\134c"), "a b\\c");
        assert_eq!(unescape("a\\x40\\04"), "a\\x40\\04");
        assert!(matches!(unescape("/plain"), Cow::Borrowed("/plain")));
    }
}
