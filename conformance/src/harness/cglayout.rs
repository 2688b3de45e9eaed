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
        for line in mi.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let lf: Vec<&str> = left.split(' ').collect();
            let rf: Vec<&str> = right.split(' ').collect();
            if lf.len() < 5 || rf.len() < 3 {
                continue;
            }
            match rf[0] {
                "cgroup2" => l.unified = Some(PathBuf::from(lf[4])),
                "cgroup" => {
                    if rf[2].split(',').any(|o| o.starts_with("name=")) {
                        l.named.push(PathBuf::from(lf[4]));
                    }
                    for o in rf[2].split(',') {
                        if !matches!(o, "rw" | "ro") && !o.starts_with("name=") && !o.contains('=')
                        {
                            l.v1.insert(o.to_string(), PathBuf::from(lf[4]));
                        }
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
