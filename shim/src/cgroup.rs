//! Where a container's cgroup is, found the way containerd's runc shim finds it: from its init's
//! `/proc/<pid>/cgroup` and this process's mountinfo, so it works for any runtime (no runtime
//! state file is read). Plus the small cgroupfs readers that stats.rs and oom.rs share.
//!
//! Not hull-cgroups: its managers are built around a path resolved from an OCI spec, and linking
//! it would bring a second nix, a second thiserror and oci-spec into the shim (docs/shim.md). The
//! lines of both /proc files are read by hull-procinfo, the parser hull-cgroups uses too.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// A container's cgroup directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cgroup {
    /// Unified hierarchy: one directory.
    V2(PathBuf),
    /// v1 / hybrid: controller name ("memory", "cpuacct", …) → directory.
    V1(BTreeMap<String, PathBuf>),
}

impl Cgroup {
    /// The cgroup of process `pid`, as this process sees the cgroup mounts.
    pub fn of_pid(pid: u32) -> io::Result<Cgroup> {
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
        let mi = std::fs::read_to_string("/proc/self/mountinfo")?;
        Cgroup::from_texts(&own, &mi).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("/proc/{pid}/cgroup: no mounted cgroup hierarchy holds the process"),
            )
        })
    }

    /// From the texts of `/proc/<pid>/cgroup` and `/proc/self/mountinfo`. v1 controller
    /// hierarchies win when any is mounted (hybrid hosts keep their controllers there, and
    /// containerd reads v1 metrics on them); else the cgroup2 directory.
    pub fn from_texts(proc_cgroup: &str, mountinfo: &str) -> Option<Cgroup> {
        let mounts = parse_mounts(mountinfo);
        let mut v1 = BTreeMap::new();
        let mut v2 = None;
        for line in proc_cgroup
            .lines()
            .filter_map(hull_procinfo::parse_cgroup_line)
        {
            let path = line.path;
            if line.controllers.is_empty() {
                v2 = mounts.iter().filter(|m| m.v2).find_map(|m| m.dir_of(path));
                continue;
            }
            for c in line.controller_names().filter(|c| !c.starts_with("name=")) {
                if let Some(d) = mounts
                    .iter()
                    .filter(|m| !m.v2 && m.controllers.iter().any(|x| x == c))
                    .find_map(|m| m.dir_of(path))
                {
                    v1.insert(c.to_string(), d);
                }
            }
        }
        if !v1.is_empty() {
            Some(Cgroup::V1(v1))
        } else {
            v2.map(Cgroup::V2)
        }
    }

    /// The directory of a v1 controller, or the v2 directory.
    pub fn dir(&self, controller: &str) -> Option<&Path> {
        match self {
            Cgroup::V2(d) => Some(d),
            Cgroup::V1(m) => m.get(controller).map(PathBuf::as_path),
        }
    }

    /// The kernel's count of OOM kills in this cgroup (v2 `memory.events`, v1
    /// `memory.oom_control`, both `oom_kill`, the v1 one since Linux 4.13).
    pub fn oom_kills(&self) -> io::Result<u64> {
        let file = match self {
            Cgroup::V2(d) => d.join("memory.events"),
            Cgroup::V1(_) => self
                .dir("memory")
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no v1 memory hierarchy"))?
                .join("memory.oom_control"),
        };
        Ok(flat_keyed(&std::fs::read_to_string(file)?)
            .get("oom_kill")
            .copied()
            .unwrap_or(0))
    }
}

#[derive(Debug)]
struct Mount {
    /// Root of the mount inside its hierarchy (4th mountinfo field).
    root: String,
    point: PathBuf,
    v2: bool,
    controllers: Vec<String>,
}

impl Mount {
    /// The directory for `path` (a path in the hierarchy), if this mount shows it.
    fn dir_of(&self, path: &str) -> Option<PathBuf> {
        let rel = if self.root == "/" {
            path
        } else {
            let r = path.strip_prefix(self.root.as_str())?;
            if !(r.is_empty() || r.starts_with('/')) {
                return None;
            }
            r
        };
        let d = self.point.join(rel.trim_start_matches('/'));
        d.is_dir().then_some(d)
    }
}

/// The cgroup and cgroup2 mounts of a mountinfo text (hull-procinfo's line parser; lines that
/// do not parse are not cgroup mounts this shim could use).
fn parse_mounts(mountinfo: &str) -> Vec<Mount> {
    mountinfo
        .lines()
        .filter_map(|l| hull_procinfo::parse_line(l).ok())
        .filter_map(|e| {
            let v2 = match e.fstype {
                "cgroup2" => true,
                "cgroup" => false,
                _ => return None,
            };
            Some(Mount {
                root: e.root.into_owned(),
                point: PathBuf::from(e.mount_point.as_ref()),
                v2,
                controllers: if v2 {
                    Vec::new()
                } else {
                    e.super_options.split(',').map(str::to_string).collect()
                },
            })
        })
        .collect()
}

/// "key value" lines (memory.stat, cpu.stat, memory.events, …).
pub fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// A file's text; a missing file (controller or feature absent) is None.
pub fn read_opt(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// A single-number file: "max" is u64::MAX (containerd's convention), missing or unparsable is 0.
pub fn read_u64(path: &Path) -> u64 {
    match read_opt(path) {
        Some(t) if t.trim() == "max" => u64::MAX,
        Some(t) => t.trim().parse().unwrap_or(0),
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MI: &str = "\
24 30 0:22 / /sys/fs/cgroup rw,nosuid - tmpfs tmpfs ro,mode=755
25 24 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
27 24 0:25 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
28 24 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
29 24 0:27 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
";

    fn tree(dirs: &[&str]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for d in dirs {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        t
    }

    #[test]
    fn hybrid_host_gives_v1_controller_dirs() {
        let t = tree(&["memory/hull/c1", "cpu,cpuacct/hull/c1", "unified/hull/c1"]);
        let mi = HYBRID_MI.replace("/sys/fs/cgroup", t.path().to_str().unwrap());
        let pc = "0::/hull/c1\n4:memory:/hull/c1\n3:cpu,cpuacct:/hull/c1\n2:name=systemd:/\n";
        let cg = Cgroup::from_texts(pc, &mi).unwrap();
        let Cgroup::V1(m) = &cg else { panic!("{cg:?}") };
        assert_eq!(m["memory"], t.path().join("memory/hull/c1"));
        assert_eq!(m["cpu"], t.path().join("cpu,cpuacct/hull/c1"));
        assert_eq!(m["cpuacct"], t.path().join("cpu,cpuacct/hull/c1"));
        assert!(!m.contains_key("name=systemd") && !m.contains_key("systemd"));
    }

    #[test]
    fn unified_host_gives_the_v2_dir_and_honours_mount_root_and_escapes() {
        let t = tree(&["cg root/c1"]);
        let point = t.path().join("cg root");
        let mi = format!(
            "35 24 0:30 /pod /other rw - cgroup2 cgroup2 rw\n\
             36 24 0:30 / {} rw - cgroup2 cgroup2 rw\n",
            point.to_str().unwrap().replace(' ', "\\040")
        );
        let cg = Cgroup::from_texts("0::/c1\n", &mi).unwrap();
        assert_eq!(cg, Cgroup::V2(point.join("c1")));
        assert_eq!(cg.dir("memory"), Some(point.join("c1").as_path()));
        // A path outside every mount's root is not found.
        assert_eq!(Cgroup::from_texts("0::/nope\n", &mi), None);
    }

    #[test]
    fn oom_kill_counters() {
        let t = tree(&["v2", "memory"]);
        std::fs::write(
            t.path().join("v2/memory.events"),
            "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n",
        )
        .unwrap();
        assert_eq!(Cgroup::V2(t.path().join("v2")).oom_kills().unwrap(), 2);
        std::fs::write(
            t.path().join("memory/memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
        )
        .unwrap();
        let v1 = Cgroup::V1([("memory".to_string(), t.path().join("memory"))].into());
        assert_eq!(v1.oom_kills().unwrap(), 3);
        assert!(Cgroup::V1(BTreeMap::new()).oom_kills().is_err());
    }

    #[test]
    fn number_files() {
        let t = tree(&[]);
        std::fs::write(t.path().join("a"), "max\n").unwrap();
        std::fs::write(t.path().join("b"), "42\n").unwrap();
        assert_eq!(read_u64(&t.path().join("a")), u64::MAX);
        assert_eq!(read_u64(&t.path().join("b")), 42);
        assert_eq!(read_u64(&t.path().join("missing")), 0);
    }
}
