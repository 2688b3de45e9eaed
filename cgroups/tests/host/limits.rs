//! Device rules, OOM kills, pids.max, stats and validation on this host's cgroups.
use super::*;

#[test]
fn device_rules_block_a_disk_and_allow_dev_null() {
    if !root_or_skip("devices") {
        return;
    }
    let mut cg = TestCg::new("devices");
    let res = LinuxResourcesBuilder::default()
        .devices(default_device_rules())
        .build()
        .unwrap();
    cg.mgr.apply(&res).unwrap();
    if cg.layout() != Layout::Unified {
        let list = cg.read("devices", "devices.list");
        assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
        assert!(!list.lines().any(|l| l == "a *:* rwm"), "{list}");
        // An update (hull update): drop urandom, add kmsg read-only; the rest stays.
        let mut rules: Vec<_> = default_device_rules()
            .into_iter()
            .filter(|r| r.minor() != Some(9))
            .collect();
        let mut kmsg = rules[3].clone();
        kmsg.set_minor(Some(11));
        kmsg.set_access(Some("r".into()));
        rules.push(kmsg);
        let upd = LinuxResourcesBuilder::default()
            .devices(rules)
            .build()
            .unwrap();
        cg.mgr.apply(&upd).unwrap();
        let list = cg.read("devices", "devices.list");
        assert!(list.lines().any(|l| l == "c 1:11 r"), "{list}");
        assert!(!list.lines().any(|l| l.starts_with("c 1:9 ")), "{list}");
        assert!(list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
        cg.mgr.apply(&res).unwrap();
    }
    // A real disk if there is one, else the first loop device number.
    let disk = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().into_string().unwrap_or_default();
            !n.starts_with("loop") && !n.starts_with("zram") && !n.starts_with("ram")
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .map(|s| s.trim().replace(':', " "))
        .chain(["7 0".to_string()]);
    // The nodes live on a tmpfs mounted (without nodev) in a private mount namespace of the
    // child: nothing appears on the host, and /dev/shm's nodev cannot get in the way.
    let base = std::env::temp_dir().join(format!("hull-devtest-{}", std::process::id()));
    std::fs::create_dir_all(&base).unwrap();
    struct Rm(PathBuf);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir(&self.0);
        }
    }
    let _rm = Rm(base.clone());
    let t = base.display();
    // Control: pick a block device that, outside the cgroup, is not refused with EPERM (this
    // host's sandbox itself forbids its system disk); a loop device number always qualifies.
    let disk = disk
        .into_iter()
        .find(|disk| {
            let control = Command::new("unshare")
                .args(["-m", "sh", "-c"])
                .arg(format!(
                    "mount -t tmpfs hull-devtest {t} || exit 9; mknod {t}/disk b {disk}; head -c0 {t}/disk"
                ))
                .output()
                .unwrap();
            assert_ne!(control.status.code(), Some(9), "tmpfs mount failed");
            !String::from_utf8_lossy(&control.stderr).contains("Operation not permitted")
        })
        .expect("a block device number not blocked outside the cgroup");
    let i = cg.spawn(&format!(
        "exec unshare -m sh -c 'mount -t tmpfs hull-devtest {t} || exit 9; \
         mknod {t}/disk b {disk} && echo mknod-ok; \
         if head -c0 {t}/disk; then echo disk-opened; fi; \
         mknod {t}/null c 1 3 && echo hi >{t}/null && echo null-ok'"
    ));
    let (s, out, err) = cg.wait(i, Duration::from_secs(20));
    assert!(s.success(), "{out} {err}");
    assert!(
        out.contains("mknod-ok"),
        "mknod of any node is allowed (c/b *:* m): {out} {err}"
    );
    assert!(
        !out.contains("disk-opened"),
        "the disk must not open: {out} {err}"
    );
    assert!(
        err.contains("Operation not permitted"),
        "EPERM expected: {err}"
    );
    assert!(out.contains("null-ok"), "/dev/null is allowed: {out} {err}");
}

#[test]
fn oom_kill_is_counted() {
    if !root_or_skip("oom") {
        return;
    }
    let mut cg = TestCg::new("oom");
    let limit = 16i64 << 20;
    let mut mem = LinuxMemoryBuilder::default().limit(limit).build().unwrap();
    let has_swap_file = match cg.layout() {
        Layout::Unified => cg.dir("").join("memory.swap.max").exists(),
        _ => cg
            .dir("memory")
            .join("memory.memsw.limit_in_bytes")
            .exists(),
    };
    if has_swap_file {
        mem.set_swap(Some(limit)); // no swap on top of the limit
    }
    let res = LinuxResourcesBuilder::default()
        .memory(mem)
        .build()
        .unwrap();
    cg.mgr.apply(&res).unwrap();
    assert_eq!(cg.mgr.oom_kill_count().unwrap(), 0);
    // `tail` keeps the whole newline-free /dev/zero stream in memory.
    let i = cg.spawn("exec tail /dev/zero");
    let (s, _, _) = cg.wait(i, Duration::from_secs(120));
    assert_eq!(
        signal_of(s),
        Some(libc::SIGKILL),
        "killed by the OOM killer"
    );
    assert!(cg.mgr.oom_kill_count().unwrap() >= 1);
    let st = cg.mgr.stats().unwrap();
    assert_eq!(st.memory.usage.limit, limit as u64);
    if cg.layout() == Layout::Unified {
        // memory.events "max": times the limit was hit.
        assert!(st.memory.usage.failcnt >= 1, "{:?}", st.memory.usage);
    } else {
        // (6.x v1 kernels no longer count failcnt reliably; the peak shows the limit was hit.)
        assert!(
            st.memory.usage.max >= limit as u64 * 3 / 4,
            "{:?}",
            st.memory.usage
        );
    }
}

#[test]
fn fork_loop_stops_at_pids_max() {
    if !root_or_skip("pids") {
        return;
    }
    let mut cg = TestCg::new("pids");
    let res = LinuxResourcesBuilder::default()
        .pids(LinuxPidsBuilder::default().limit(8).build().unwrap())
        .build()
        .unwrap();
    cg.mgr.apply(&res).unwrap();
    let i =
        cg.spawn("n=0; while [ $n -lt 30 ]; do sleep 30 & n=$((n+1)); done 2>/dev/null; echo done");
    let start = std::time::Instant::now();
    loop {
        let n = cg.mgr.pids().unwrap().len();
        assert!(n <= 8, "{n} processes despite pids.max=8");
        if cg.children[i].try_wait().unwrap().is_some() || start.elapsed() > Duration::from_secs(30)
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = cg.mgr.stats().unwrap();
    assert_eq!(st.pids.limit, 8);
    assert!(
        st.pids.current <= 8 && st.pids.current >= 1,
        "{:?}",
        st.pids
    );
    let events = cg.read("pids", "pids.events");
    let max: u64 = events
        .lines()
        .find_map(|l| l.strip_prefix("max "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(max >= 1, "fork failures are counted: {events}");
}

#[test]
fn stats_report_usage() {
    if !root_or_skip("stats") {
        return;
    }
    let mut cg = TestCg::new("stats");
    cg.mgr
        .apply(
            &LinuxResourcesBuilder::default()
                .memory(
                    LinuxMemoryBuilder::default()
                        .limit(256 << 20)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .unwrap();
    let i = cg.spawn("n=0; while [ $n -lt 200000 ]; do n=$((n+1)); done; sleep 100");
    std::thread::sleep(Duration::from_millis(800));
    let s = cg.mgr.stats().unwrap();
    assert!(s.cpu.usage.total > 0, "{:?}", s.cpu);
    assert!(s.memory.usage.usage > 0, "{:?}", s.memory.usage);
    assert_eq!(s.memory.usage.limit, 256 << 20);
    assert!(s.pids.current >= 1, "{:?}", s.pids);
    assert!(!s.memory.raw.is_empty());
    let j = serde_json::to_value(&s).unwrap();
    assert!(j["memory"]["usage"]["usage"].as_u64().unwrap() > 0);
    let _ = cg.pid(i);
}

#[test]
fn validate_against_this_host() {
    let layout = detect_layout().unwrap();
    let avail = hull_cgroups::available_controllers(layout).unwrap();
    let huge = LinuxResourcesBuilder::default()
        .hugepage_limits(vec![LinuxHugepageLimitBuilder::default()
            .page_size("2MB")
            .limit(1 << 21)
            .build()
            .unwrap()])
        .build()
        .unwrap();
    let r = validate(&huge, layout);
    if avail.controllers.iter().any(|c| c == "hugetlb") {
        r.unwrap();
    } else {
        let e = r.unwrap_err().to_string();
        assert!(e.contains("hugetlb") && e.contains("hugepageLimits"), "{e}");
    }
    validate(&resources(), layout).unwrap();
}
