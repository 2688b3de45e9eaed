//! Integration tests on the real cgroup filesystem of whatever host runs them: this hybrid
//! machine (v1 controllers) and, through `make test-cgroupv2`, a pure cgroup v2 VM.
//! Every test creates its own throw-away cgroup `/hull-test-<pid>-<n>-<name>` and removes it
//! (Drop guard) even when it fails. Needs root; without root each test says so and returns (under `CI=true` it fails: hull-testutil).
use hull_cgroups::{
    default_device_rules, detect_layout, manager, resolve_path, validate, CgroupManager,
    CgroupPath, Layout,
};
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxHugepageLimitBuilder, LinuxMemoryBuilder,
    LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static N: AtomicU32 = AtomicU32::new(0);

/// Without root, say so and return false; under `CI=true` (where tests run as root) fail instead.
fn root_or_skip(_test: &str) -> bool {
    hull_testutil::require_root("create cgroups")
}

/// A cgroup of the test's own plus the processes it started; Drop kills and removes all.
struct TestCg {
    mgr: Box<dyn CgroupManager>,
    children: Vec<Child>,
}

impl TestCg {
    fn new(name: &str) -> TestCg {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = format!("/hull-test-{}-{n}-{name}", std::process::id());
        let path = resolve_path(Some(&p), "unused", false).expect("resolve");
        let mgr = manager(&path).expect("manager");
        let cg = TestCg {
            mgr,
            children: Vec::new(),
        };
        cg.mgr.create().expect("create");
        cg
    }

    fn layout(&self) -> Layout {
        self.mgr.path().layout
    }

    /// Directory holding `ctrl`'s files ("" = the cgroup2 directory on Unified).
    fn dir(&self, ctrl: &str) -> PathBuf {
        let p = self.mgr.path();
        match p.layout {
            Layout::Unified => p.unified.clone().unwrap(),
            _ => p.v1[ctrl].clone(),
        }
    }

    fn read(&self, ctrl: &str, file: &str) -> String {
        let p = self.dir(ctrl).join(file);
        std::fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
            .trim()
            .to_string()
    }

    /// Start `sh -c script` inside the cgroup: the shell waits on stdin until it has been moved
    /// into the cgroup, so everything the script does is accounted there.
    fn spawn(&mut self, script: &str) -> usize {
        let mut c = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("read _go; {script}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        self.mgr.add_process(c.id() as i32).expect("add_process");
        c.stdin.take().unwrap().write_all(b"go\n").unwrap();
        self.children.push(c);
        self.children.len() - 1
    }

    fn pid(&self, i: usize) -> i32 {
        self.children[i].id() as i32
    }

    /// Wait for child i (bounded); returns (status, stdout, stderr).
    fn wait(&mut self, i: usize, timeout: Duration) -> (std::process::ExitStatus, String, String) {
        let c = &mut self.children[i];
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = c.try_wait().unwrap() {
                break s;
            }
            assert!(
                start.elapsed() < timeout,
                "child {} did not exit in {timeout:?}",
                c.id()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut out = String::new();
        let mut err = String::new();
        c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (status, out, err)
    }
}

impl Drop for TestCg {
    fn drop(&mut self) {
        let _ = self.mgr.thaw();
        let _ = self.mgr.kill_all(libc::SIGKILL);
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Err(e) = self.mgr.destroy() {
            eprintln!("cleanup of {} failed: {e}", self.mgr.path());
        }
    }
}

fn signal_of(s: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    s.signal()
}

/// utime+stime of a process, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // fields after ")": state(3) ... utime is field 14 overall → index 11 here.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn statfs_magic(p: &str) -> i64 {
    let c = std::ffi::CString::new(p).unwrap();
    // SAFETY: zeroed statfs is a valid out-parameter; c is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let r = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    assert_eq!(r, 0, "statfs {p}");
    st.f_type as i64
}

mod creation;
mod limits;

#[test]
fn layout_matches_statfs() {
    const CGROUP2: i64 = 0x6367_7270;
    let want = if statfs_magic("/sys/fs/cgroup") == CGROUP2 {
        Layout::Unified
    } else if Path::new("/sys/fs/cgroup/unified").exists()
        && statfs_magic("/sys/fs/cgroup/unified") == CGROUP2
    {
        Layout::Hybrid
    } else {
        Layout::Legacy
    };
    assert_eq!(detect_layout().unwrap(), want);
}

#[test]
fn relative_default_path_follows_own_cgroup() {
    // Computed only: nothing is created (on this host it would land under the machine's own
    // memory cgroup).
    let p = resolve_path(None, "probe-id", false).unwrap();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    match p.layout {
        Layout::Unified => {
            let mine = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
            let parent = Path::new(mine).parent().unwrap_or(Path::new("/"));
            assert!(p.inner.ends_with("/probe-id"));
            assert_eq!(Path::new(&p.inner).parent().unwrap(), parent);
        }
        _ => {
            for l in own.lines() {
                let mut it = l.splitn(3, ':');
                let (_, ctrls, path) = (it.next(), it.next().unwrap(), it.next().unwrap());
                for c in ctrls.split(',').filter(|c| !c.is_empty()) {
                    if let Some(d) = p.v1.get(c) {
                        assert!(
                            d.ends_with(Path::new(path.trim_start_matches('/')).join("probe-id")),
                            "{c}: {}",
                            d.display()
                        );
                    }
                }
            }
        }
    }
    assert!(resolve_path(Some("../../etc"), "x", false).is_err());
}

fn resources() -> LinuxResources {
    LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(64 << 20)
                .swap(96 << 20)
                .reservation(32 << 20)
                .build()
                .unwrap(),
        )
        .cpu(
            LinuxCpuBuilder::default()
                .shares(512u64)
                .quota(50_000)
                .period(100_000u64)
                .cpus("0")
                .mems("0")
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(32).build().unwrap())
        .build()
        .unwrap()
}

#[test]
fn apply_writes_the_files() {
    if !root_or_skip("apply_writes_the_files") {
        return;
    }
    let cg = TestCg::new("apply");
    let res = resources();
    validate(&res, cg.layout()).unwrap();
    cg.mgr.apply(&res).unwrap();
    match cg.layout() {
        Layout::Unified => {
            assert_eq!(cg.read("memory", "memory.max"), (64u64 << 20).to_string());
            assert_eq!(
                cg.read("memory", "memory.swap.max"),
                (32u64 << 20).to_string()
            );
            assert_eq!(cg.read("memory", "memory.low"), (32u64 << 20).to_string());
            assert_eq!(cg.read("cpu", "cpu.weight"), "20"); // 1 + (510*9999)/262142
            assert_eq!(cg.read("cpu", "cpu.max"), "50000 100000");
            assert_eq!(cg.read("pids", "pids.max"), "32");
            assert_eq!(cg.read("cpuset", "cpuset.cpus"), "0");
            // Controllers were enabled in the parent's subtree_control.
            let parent = cg.dir("").parent().unwrap().join("cgroup.subtree_control");
            let enabled = std::fs::read_to_string(parent).unwrap();
            for c in ["cpu", "memory", "pids", "io", "cpuset"] {
                assert!(
                    enabled.split_whitespace().any(|e| e == c),
                    "{c} not in {enabled}"
                );
            }
        }
        _ => {
            assert_eq!(
                cg.read("memory", "memory.limit_in_bytes"),
                (64u64 << 20).to_string()
            );
            assert_eq!(
                cg.read("memory", "memory.memsw.limit_in_bytes"),
                (96u64 << 20).to_string()
            );
            assert_eq!(
                cg.read("memory", "memory.soft_limit_in_bytes"),
                (32u64 << 20).to_string()
            );
            assert_eq!(cg.read("cpu", "cpu.shares"), "512");
            assert_eq!(cg.read("cpu", "cpu.cfs_quota_us"), "50000");
            assert_eq!(cg.read("cpu", "cpu.cfs_period_us"), "100000");
            assert_eq!(cg.read("pids", "pids.max"), "32");
            assert_eq!(cg.read("cpuset", "cpuset.cpus"), "0");
        }
    }
    // Update (as `hull update` does): lower memory+swap, lift the pids limit.
    let upd = LinuxResourcesBuilder::default()
        .memory(
            LinuxMemoryBuilder::default()
                .limit(32 << 20)
                .swap(32 << 20)
                .build()
                .unwrap(),
        )
        .pids(LinuxPidsBuilder::default().limit(-1).build().unwrap())
        .build()
        .unwrap();
    cg.mgr.apply(&upd).unwrap();
    assert_eq!(cg.read("pids", "pids.max"), "max");
    match cg.layout() {
        Layout::Unified => {
            assert_eq!(cg.read("memory", "memory.max"), (32u64 << 20).to_string());
            assert_eq!(cg.read("memory", "memory.swap.max"), "0");
        }
        _ => {
            assert_eq!(
                cg.read("memory", "memory.limit_in_bytes"),
                (32u64 << 20).to_string()
            );
            assert_eq!(
                cg.read("memory", "memory.memsw.limit_in_bytes"),
                (32u64 << 20).to_string()
            );
        }
    }
}

#[test]
fn block_io_weight_and_throttle() {
    if !root_or_skip("block_io_weight_and_throttle") {
        return;
    }
    let cg = TestCg::new("blkio");
    // A real block device of this machine for the throttle rule.
    let dev = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|e| e.path().join("dev"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .next();
    let weight = LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .weight(500u16)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    let (wctrl, wfile) = match cg.layout() {
        Layout::Unified => ("io", "io.weight"),
        _ => ("blkio", "blkio.weight"),
    };
    let bfq = cg.dir(wctrl).join(if cg.layout() == Layout::Unified {
        "io.bfq.weight"
    } else {
        "blkio.bfq.weight"
    });
    if cg.dir(wctrl).join(wfile).exists() || bfq.exists() {
        cg.mgr.apply(&weight).unwrap();
        if bfq.exists() {
            assert!(std::fs::read_to_string(&bfq).unwrap().contains("500"));
        } else if cg.layout() == Layout::Unified {
            assert_eq!(cg.read(wctrl, wfile), "default 4950");
        } else {
            assert_eq!(cg.read(wctrl, wfile), "500");
        }
    } else {
        // No CFQ/BFQ/iocost weight file: the error names the missing file's controller/field.
        let e = cg.mgr.apply(&weight).unwrap_err().to_string();
        assert!(
            e.contains("blockIO.weight") && e.contains(wfile.split('.').next().unwrap()),
            "{e}"
        );
    }
    let Some(dev) = dev else {
        hull_testutil::skip_host_cannot("throttle part: no block device in /sys/block");
        return;
    };
    let (maj, min) = dev.split_once(':').unwrap();
    let t = oci_spec::runtime::LinuxThrottleDeviceBuilder::default()
        .major(maj.parse::<i64>().unwrap())
        .minor(min.parse::<i64>().unwrap())
        .rate(1_048_576u64)
        .build()
        .unwrap();
    let thr = LinuxResourcesBuilder::default()
        .block_io(
            LinuxBlockIoBuilder::default()
                .throttle_read_bps_device(vec![t])
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    cg.mgr.apply(&thr).unwrap();
    match cg.layout() {
        Layout::Unified => {
            let m = cg.read("io", "io.max");
            assert!(m.contains(&format!("{dev} rbps=1048576")), "{m}");
        }
        _ => assert_eq!(
            cg.read("blkio", "blkio.throttle.read_bps_device"),
            format!("{dev} 1048576")
        ),
    }
}

#[test]
fn freeze_stops_a_busy_process_and_thaw_resumes_it() {
    if !root_or_skip("freeze") {
        return;
    }
    let mut cg = TestCg::new("freeze");
    let i = cg.spawn("while :; do :; done");
    let pid = cg.pid(i);
    std::thread::sleep(Duration::from_millis(100));
    assert!(!cg.mgr.is_frozen().unwrap());
    cg.mgr.freeze().unwrap();
    assert!(cg.mgr.is_frozen().unwrap());
    let t0 = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(500));
    let t1 = cpu_ticks(pid);
    assert_eq!(t0, t1, "a frozen process must not run");
    cg.mgr.thaw().unwrap();
    assert!(!cg.mgr.is_frozen().unwrap());
    // It runs again (polled: this shared machine can be heavily loaded).
    let start = std::time::Instant::now();
    while cpu_ticks(pid) == t1 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "a thawed process runs again"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn pids_and_kill_all() {
    if !root_or_skip("kill_all") {
        return;
    }
    let mut cg = TestCg::new("kill");
    let a = cg.spawn("sleep 100");
    let b = cg.spawn("sleep 100 & sleep 100 & wait");
    // Wait (bounded) until the second shell has started its two sleeps.
    let start = std::time::Instant::now();
    while cg.mgr.pids().unwrap().len() < 4 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let pids = cg.mgr.pids().unwrap();
    assert!(
        pids.contains(&cg.pid(a)) && pids.contains(&cg.pid(b)),
        "{pids:?}"
    );
    assert!(
        pids.len() >= 4,
        "the shell's own children are in the cgroup too: {pids:?}"
    );
    // A non-KILL signal goes to every process (freeze, signal, thaw).
    cg.mgr.kill_all(libc::SIGTERM).unwrap();
    let (s, _, _) = cg.wait(a, Duration::from_secs(10));
    assert_eq!(signal_of(s), Some(libc::SIGTERM));
    let (s, _, _) = cg.wait(b, Duration::from_secs(10));
    assert_eq!(signal_of(s), Some(libc::SIGTERM));
    let c = cg.spawn("sleep 100");
    cg.mgr.kill_all(libc::SIGKILL).unwrap();
    let (s, _, _) = cg.wait(c, Duration::from_secs(10));
    assert_eq!(signal_of(s), Some(libc::SIGKILL));
    // Orphaned grandchildren die too; the cgroup empties.
    let start = std::time::Instant::now();
    while !cg.mgr.pids().unwrap().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            cg.mgr.pids()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn destroy_removes_everything_and_is_idempotent() {
    if !root_or_skip("destroy") {
        return;
    }
    let mut cg = TestCg::new("destroy");
    let dirs: Vec<PathBuf> = {
        let p = cg.mgr.path();
        p.v1.values().chain(p.unified.iter()).cloned().collect()
    };
    for d in &dirs {
        assert!(d.is_dir(), "{} created", d.display());
    }
    // A nested cgroup (as a container's own systemd might make) and a process just killed.
    std::fs::create_dir(dirs[0].join("nested")).unwrap();
    let i = cg.spawn("sleep 100");
    cg.mgr.kill_all(libc::SIGKILL).unwrap();
    cg.mgr.destroy().unwrap();
    for d in &dirs {
        assert!(!d.exists(), "{} removed", d.display());
    }
    cg.mgr.destroy().unwrap();
    let (s, _, _) = cg.wait(i, Duration::from_secs(10));
    assert_eq!(signal_of(s), Some(libc::SIGKILL));
}

#[test]
fn reopen_from_persisted_path() {
    if !root_or_skip("reopen") {
        return;
    }
    let mut cg = TestCg::new("reopen");
    let i = cg.spawn("sleep 100");
    let json = serde_json::to_string(cg.mgr.path()).unwrap();
    // As another process (`hull pause`) would: only the stored path is known.
    let path: CgroupPath = serde_json::from_str(&json).unwrap();
    let again = manager(&path).unwrap();
    assert!(again.pids().unwrap().contains(&cg.pid(i)));
    again.freeze().unwrap();
    assert!(cg.mgr.is_frozen().unwrap());
    again.thaw().unwrap();
    assert!(!cg.mgr.is_frozen().unwrap());
    // A path stored without mount points (older state) falls back to mountinfo.
    let mut bare = path.clone();
    bare.mounts.clear();
    assert!(manager(&bare).unwrap().pids().unwrap().contains(&cg.pid(i)));
    let fd = again.open_dir_fd();
    assert_eq!(fd.is_some(), path.layout == Layout::Unified);
}
