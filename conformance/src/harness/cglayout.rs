//! Where the host mounts its cgroup hierarchies, as the cgroup cases need to know.
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

/// Where the cgroup controllers are mounted (detected from mountinfo at start).
#[derive(Debug, Default)]
pub struct CgLayout {
    /// v1 controller name -> mount point
    pub v1: BTreeMap<String, PathBuf>,
    /// named v1 hierarchies without controllers (name=systemd)
    pub named: Vec<PathBuf>,
    /// cgroup2 mount point, if any
    pub unified: Option<PathBuf>,
    /// controllers available in the cgroup2 root
    pub v2_controllers: Vec<String>,
}

impl CgLayout {
    pub fn detect() -> CgLayout {
        let mut l = CgLayout::default();
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for e in mi
            .lines()
            .filter_map(|line| hull_procinfo::parse_line(line).ok())
        {
            let point = PathBuf::from(e.mount_point.as_ref());
            match e.fstype {
                "cgroup2" => l.unified = Some(point),
                "cgroup" => {
                    let opts = e.super_options.split(',');
                    if opts.clone().any(|o| o.starts_with("name=")) {
                        l.named.push(point.clone());
                    }
                    for o in opts.filter(|o| !matches!(*o, "rw" | "ro") && !o.contains('=')) {
                        l.v1.insert(o.to_string(), point.clone());
                    }
                }
                _ => {}
            }
        }
        if let Some(u) = &l.unified {
            l.v2_controllers = fs::read_to_string(u.join("cgroup.controllers"))
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect();
        }
        l
    }
    /// Directory of `cgpath` for `controller`: (dir, is_v2).
    pub fn dir(&self, controller: &str, cgpath: &str) -> Option<(PathBuf, bool)> {
        let rel = cgpath.trim_start_matches('/');
        if let Some(m) = self.v1.get(controller) {
            return Some((m.join(rel), false));
        }
        if self.v2_controllers.iter().any(|c| c == controller) {
            return self.unified.as_ref().map(|u| (u.join(rel), true));
        }
        None
    }
    pub fn all_dirs(&self, cgpath: &str) -> Vec<PathBuf> {
        let rel = cgpath.trim_start_matches('/');
        let mut v: Vec<PathBuf> = self.v1.values().map(|m| m.join(rel)).collect();
        v.extend(self.named.iter().map(|m| m.join(rel)));
        if let Some(u) = &self.unified {
            v.push(u.join(rel));
        }
        v.sort();
        v.dedup();
        v
    }
}
