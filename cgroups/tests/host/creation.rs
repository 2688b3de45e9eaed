//! clone3 into a cgroup by fd, the systemd path form, unified keys, clean failure.
use super::*;

/// struct clone_args (linux/sched.h), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

#[test]
fn clone_into_cgroup_with_the_dir_fd() {
    if !root_or_skip("clone_into_cgroup") {
        return;
    }
    let cg = TestCg::new("clone3");
    let Some(fd) = cg.mgr.open_dir_fd() else {
        assert_ne!(cg.layout(), Layout::Unified, "v2 must give a directory fd");
        return;
    };
    use std::os::fd::AsRawFd;
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let mut args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: fd.as_raw_fd() as u64,
        ..Default::default()
    };
    // SAFETY: clone3 with a valid clone_args; the child only calls async-signal-safe pause()
    // and _exit() before it is killed, so forking from this threaded test process is sound.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // SAFETY: async-signal-safe calls only, in the child.
        unsafe {
            libc::pause();
            libc::_exit(0);
        }
    }
    assert!(pid > 0, "clone3: {}", std::io::Error::last_os_error());
    let pid = pid as i32;
    let in_cg = cg.mgr.pids().unwrap().contains(&pid);
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    // SAFETY: plain syscalls on the child we just created.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    assert!(in_cg, "child born in the cgroup: {own}");
    assert!(own.contains(&cg.mgr.path().inner), "{own}");
}

#[test]
fn systemd_form_creates_and_removes_its_slices() {
    if !root_or_skip("systemd_form") {
        return;
    }
    let pid = std::process::id();
    let spec = format!("hulltest-s{pid}.slice:hull:c{pid}");
    let path = resolve_path(Some(&spec), "unused", true).unwrap();
    let want = format!("/hulltest.slice/hulltest-s{pid}.slice/hull-c{pid}.scope");
    assert_eq!(path.inner, want);
    let mgr = manager(&path).unwrap();
    struct Guard(Box<dyn CgroupManager>);
    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.destroy();
        }
    }
    let g = Guard(mgr);
    g.0.create().unwrap();
    let dirs: Vec<PathBuf> = path
        .v1
        .values()
        .chain(path.unified.iter())
        .cloned()
        .collect();
    for d in &dirs {
        assert!(
            d.is_dir() && d.ends_with(want.trim_start_matches('/')),
            "{}",
            d.display()
        );
    }
    g.0.destroy().unwrap();
    for d in &dirs {
        // The scope and both slices hull made are gone; the hierarchy root stays.
        let top = d.parent().unwrap().parent().unwrap().parent().unwrap();
        assert!(!top.join("hulltest.slice").exists(), "{}", top.display());
        assert!(top.is_dir());
    }
}

#[test]
fn unified_keys_are_written_or_refused() {
    if !root_or_skip("unified") {
        return;
    }
    let cg = TestCg::new("unified");
    let uni = |k: &str, v: &str| {
        let mut m = std::collections::HashMap::new();
        m.insert(k.to_string(), v.to_string());
        LinuxResourcesBuilder::default().unified(m).build().unwrap()
    };
    let twin = cg.mgr.path().unified.clone();
    match cg.layout() {
        Layout::Legacy => {
            let e = cg
                .mgr
                .apply(&uni("cgroup.max.descendants", "5"))
                .unwrap_err();
            assert!(e.to_string().contains("unified"), "{e}");
            return;
        }
        Layout::Unified => {
            cg.mgr.apply(&uni("memory.high", "52428800")).unwrap();
            assert_eq!(cg.read("memory", "memory.high"), "52428800");
        }
        Layout::Hybrid => {}
    }
    // cgroup2 core files exist on Unified and in the Hybrid twin.
    cg.mgr.apply(&uni("cgroup.max.descendants", "5")).unwrap();
    let f = twin.unwrap().join("cgroup.max.descendants");
    assert_eq!(std::fs::read_to_string(f).unwrap().trim(), "5");
    let e = cg
        .mgr
        .apply(&uni("memory.nonexistent", "1"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("unified.memory.nonexistent") && e.contains("does not exist"),
        "{e}"
    );
    let e = cg
        .mgr
        .apply(&uni("../cgroup.procs", "1"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("path separators"), "{e}");
}

#[test]
fn prepare_leaves_nothing_behind_on_bad_input() {
    if !root_or_skip("prepare") {
        return;
    }
    let p = format!("/hull-test-{}-prepare", std::process::id());
    let dirs = |path: &CgroupPath| -> Vec<PathBuf> {
        path.v1
            .values()
            .chain(path.unified.iter())
            .cloned()
            .collect()
    };
    let path = resolve_path(Some(&p), "x", false).unwrap();
    // Invalid value: refused by validate before anything exists.
    let bad = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(-3).build().unwrap())
        .build()
        .unwrap();
    let e = hull_cgroups::prepare(Some(&bad), Some(&p), "x", false).unwrap_err();
    assert!(e.to_string().contains("pids.limit"), "{e}");
    // Valid values but a device rule the kernel refuses at apply time is impossible to build,
    // so use a value only the kernel rejects: a cpuset CPU that does not exist.
    let nproc = std::thread::available_parallelism().unwrap().get();
    let kernel_bad = LinuxResourcesBuilder::default()
        .cpu(
            LinuxCpuBuilder::default()
                .cpus(format!("{}", nproc + 100))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let e = hull_cgroups::prepare(Some(&kernel_bad), Some(&p), "x", false).unwrap_err();
    assert!(e.to_string().contains("cpuset.cpus"), "{e}");
    for d in dirs(&path) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    // And a good one is there until destroyed.
    let mgr = hull_cgroups::prepare(Some(&resources()), Some(&p), "x", false).unwrap();
    let made = dirs(mgr.path());
    let all_there = made.iter().all(|d| d.is_dir());
    mgr.destroy().unwrap();
    assert!(all_there);
    for d in made {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

/// The statfs fast path and the full mountinfo scan agree on this host (and in the v2 VM).
#[test]
fn default_mounts_agree_with_mountinfo() {
    use hull_cgroups::mountinfo::{self, HostCgroups};
    let own = mountinfo::parse_proc_cgroup(&std::fs::read_to_string("/proc/self/cgroup").unwrap())
        .unwrap();
    let Some(fast) = mountinfo::default_mounts(&own, &mountinfo::statfs_magic) else {
        hull_testutil::skip_host_cannot(
            "cgroups are not at their usual places here; mountinfo is used",
        );
        return;
    };
    let slow = HostCgroups::read_mountinfo(own).unwrap();
    assert_eq!(
        mountinfo::layout_from_mounts(&fast, None).unwrap(),
        slow.layout
    );
    for m in &fast {
        let found = if m.v2 {
            mountinfo::v2_mount(&slow.mounts)
        } else {
            mountinfo::v1_mount(&slow.mounts, &m.controllers[0])
        };
        let found = found.unwrap_or_else(|| panic!("{m:?} not in mountinfo"));
        assert_eq!(found.mount_point, m.mount_point);
        assert_eq!(found.controllers, m.controllers);
        assert_eq!(found.root, "/");
    }
    let v1_in_mountinfo = slow.mounts.iter().filter(|m| !m.v2).count();
    if slow.layout != hull_cgroups::Layout::Unified {
        assert_eq!(fast.iter().filter(|m| !m.v2).count(), v1_in_mountinfo);
    }
    assert_eq!(HostCgroups::read().unwrap().layout, slow.layout);
}
