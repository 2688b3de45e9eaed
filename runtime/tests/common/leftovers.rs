//! What a container may leave on the host, checked after crashes and concurrent commands: its
//! processes (found by a marker in their environment), its cgroup directories in every
//! hierarchy, its mounts, its state directory.
#![allow(dead_code)]

use super::common::{pid_alive, Env};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The marker every process of a test container carries in its environment (the pre-exec init is
/// a fork of `hull create`, whose environment the tests set; the exec'd ones get it from
/// process.env).
pub fn mark(id: &str) -> String {
    format!("HULL_CRASH_MARK={id}")
}

/// Processes carrying the container's marker.
pub fn marked_pids(id: &str) -> Vec<i32> {
    let want = mark(id);
    let mut out = vec![];
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if !pid_alive(pid as i64) {
            continue;
        }
        if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
            if env.split(|&b| b == 0).any(|v| v == want.as_bytes()) {
                out.push(pid);
            }
        }
    }
    out
}

/// Every cgroup directory the container would have (its resolved path in each hierarchy).
pub fn cgroup_dirs(id: &str) -> Vec<PathBuf> {
    let p = hull_cgroups::resolve_path(None, id, false).expect("resolve cgroup path");
    let mut dirs: Vec<PathBuf> = p.v1.values().cloned().collect();
    dirs.extend(p.unified.clone());
    assert!(!dirs.is_empty(), "no cgroup hierarchy resolved for {id}");
    dirs
}

/// Nothing of `id` is left on the host: no process, cgroup, mount, state dir. With
/// `root_empty`, nothing at all under `--root` either.
pub fn assert_gone(env: &Env, id: &str, bundle: &Path, what: &str, root_empty: bool) {
    // A child killed before it was recorded anywhere (the instants between clone and the state
    // write) dies by itself: PDEATHSIG, or EOF on its sync socket. Give it a moment.
    let start = Instant::now();
    while !marked_pids(id).is_empty() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left = marked_pids(id);
    assert!(left.is_empty(), "{what}: processes left: {left:?}");
    for d in cgroup_dirs(id) {
        assert!(!d.exists(), "{what}: cgroup left: {}", d.display());
    }
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let b = bundle.to_string_lossy();
    for l in mi.lines() {
        assert!(
            !l.contains(id) && !l.contains(b.as_ref()),
            "{what}: mount left: {l}"
        );
    }
    assert!(!env.root.join(id).exists(), "{what}: state dir left");
    if root_empty {
        let rest: Vec<_> = std::fs::read_dir(&env.root)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(rest.is_empty(), "{what}: left under --root: {rest:?}");
    }
}

pub fn assert_clean(env: &Env, id: &str, bundle: &Path, what: &str) {
    assert_gone(env, id, bundle, what, true)
}
