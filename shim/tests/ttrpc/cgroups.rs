//! OOM events and cgroup metrics.
use super::*;

// ---- OOM events and cgroup metrics ----

impl Fixture {
    /// Set `linux.resources` in the bundle's config.json (before Create).
    fn set_resources(&self, res: serde_json::Value) {
        let p = self.bundle().join("config.json");
        let mut cfg: serde_json::Value = serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
        cfg["linux"]["resources"] = res;
        fs::write(&p, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    }

    fn stats(&self) -> Any {
        let mut sr = api::StatsRequest::new();
        sr.id = self.id.clone();
        call::<_, api::StatsResponse>(self.c(), "Stats", &sr)
            .unwrap()
            .stats
            .unwrap()
    }

    fn topics(&self) -> Vec<String> {
        self.events()
            .iter()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    }
}

fn unified_host() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The cgroup directory of `pid` for `controller` (ignored on cgroup v2), found independently of
/// the shim: /proc/PID/cgroup joined to the hierarchy's mount point from mountinfo.
fn cgroup_dir(pid: u32, controller: &str) -> PathBuf {
    let own = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let mi = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let unified = unified_host();
    let path = own
        .lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, c, p) = (f.next()?, f.next()?, f.next()?);
            let hit = if unified {
                c.is_empty()
            } else {
                c.split(',').any(|x| x == controller)
            };
            hit.then(|| p.to_string())
        })
        .unwrap_or_else(|| panic!("{controller} not in /proc/{pid}/cgroup: {own}"));
    let mount = mi
        .lines()
        .find_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let mut post = post.split(' ');
            let fstype = post.next()?;
            let opts = post.nth(1).unwrap_or("");
            let ok = if unified {
                fstype == "cgroup2"
            } else {
                fstype == "cgroup" && opts.split(',').any(|o| o == controller)
            };
            ok.then(|| pre.split(' ').nth(4).unwrap().to_string())
        })
        .unwrap();
    Path::new(&mount).join(path.trim_start_matches('/'))
}

fn read_num(p: &Path) -> u64 {
    let t = fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    if t.trim() == "max" {
        return u64::MAX;
    }
    t.trim().parse().unwrap()
}

fn read_key(p: &Path, key: &str) -> u64 {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("{key} not in {}", p.display()))
        .trim()
        .parse()
        .unwrap()
}

/// The kernel's oom_kill count as the metrics report it (v1 memory_oom_control, v2 memory_events).
fn oom_kills_in(stats: &Any) -> u64 {
    if unified_host() {
        containerd_shim_protos::cgroups_v2::metrics::Metrics::parse_from_bytes(&stats.value)
            .unwrap()
            .memory_events
            .oom_kill
    } else {
        containerd_shim_protos::cgroups::metrics::Metrics::parse_from_bytes(&stats.value)
            .unwrap()
            .memory_oom_control
            .oom_kill
    }
}

const OOM_LIMIT: i64 = 16 << 20;
/// Allocates (and touches) 64 MiB in one buffer.
const HOG: &str = "dd if=/dev/zero of=/dev/null bs=64M count=1";

#[test]
fn oom_kill_of_the_init_is_published_before_its_exit() {
    let (hull, rootfs) = require!();
    let args: Vec<&str> = HOG.split(' ').collect();
    let fx = Fixture::new(hull, rootfs, &args);
    fx.set_resources(serde_json::json!({"memory": {"limit": OOM_LIMIT}}));
    let out = fx.dir.path().join("out.log");
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &fx.create_req(&out)).unwrap();
    fx.start();
    assert_eq!(fx.wait("").exit_status, 137, "dd killed by the OOM killer");
    assert!(
        oom_kills_in(&fx.stats()) >= 1,
        "the cgroup counted the kill"
    );
    fx.delete("");
    wait_for("create, start, oom, exit, delete", || {
        fx.topics().contains(&"/tasks/delete".to_string())
    });
    let t = fx.topics();
    let oom = t.iter().position(|x| x == "/tasks/oom");
    let exit = t.iter().position(|x| x == "/tasks/exit").unwrap();
    assert!(
        oom.is_some_and(|o| o < exit),
        "TaskOOM before TaskExit: {t:?}"
    );
}

#[test]
fn oom_kill_of_a_child_is_published_while_the_task_runs() {
    let (hull, rootfs) = require!();
    let script = format!("{HOG}; sleep 1000");
    let fx = Fixture::new(hull, rootfs, &["sh", "-c", &script]);
    fx.set_resources(serde_json::json!({"memory": {"limit": OOM_LIMIT}}));
    let out = fx.dir.path().join("out.log");
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &fx.create_req(&out)).unwrap();
    fx.start();
    // Published by the watcher thread (v1 eventfd / v2 inotify), not by an exit.
    wait_for("TaskOOM", || {
        fx.topics().contains(&"/tasks/oom".to_string())
    });
    let mut sreq = api::StateRequest::new();
    sreq.id = fx.id.clone();
    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::RUNNING), "sh lives on");
    assert!(!fx.topics().contains(&"/tasks/exit".to_string()));
    let mut k = api::KillRequest::new();
    k.id = fx.id.clone();
    k.signal = 9;
    k.all = true;
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    assert_eq!(fx.wait("").exit_status, 137);
    fx.delete("");
}

#[test]
fn stats_are_the_containers_cgroup_files() {
    let (hull, rootfs) = require!();
    let fx = Fixture::new(hull, rootfs, &["sleep", "1000"]);
    fx.set_resources(serde_json::json!({
        "memory": {"limit": 32 << 20},
        "pids": {"limit": 64},
        "cpu": {"quota": 50000, "period": 100000}
    }));
    let out = fx.dir.path().join("out.log");
    let created: api::CreateTaskResponse = call(fx.c(), "Create", &fx.create_req(&out)).unwrap();
    fx.start();
    let pid = created.pid;
    if unified_host() {
        let d = cgroup_dir(pid, "");
        let usage0 = read_key(&d.join("cpu.stat"), "usage_usec");
        let fault0 = read_key(&d.join("memory.stat"), "pgfault");
        let periods0 = read_key(&d.join("cpu.stat"), "nr_periods");
        let a = fx.stats();
        let periods1 = read_key(&d.join("cpu.stat"), "nr_periods");
        let usage1 = read_key(&d.join("cpu.stat"), "usage_usec");
        let fault1 = read_key(&d.join("memory.stat"), "pgfault");
        assert_eq!(a.type_url, "io.containerd.cgroups.v2.Metrics");
        let m = containerd_shim_protos::cgroups_v2::metrics::Metrics::parse_from_bytes(&a.value)
            .unwrap();
        assert_eq!(m.memory.usage_limit, 32 << 20);
        assert_eq!(m.memory.usage_limit, read_num(&d.join("memory.max")));
        assert!(
            m.memory.usage > 0 && m.memory.usage <= 32 << 20,
            "{:?}",
            m.memory
        );
        assert_eq!(m.pids.limit, 64);
        assert_eq!(m.pids.current, read_num(&d.join("pids.current")));
        assert!(
            (usage0..=usage1).contains(&m.cpu.usage_usec),
            "{usage0} {} {usage1}",
            m.cpu.usage_usec
        );
        assert!((fault0..=fault1).contains(&m.memory.pgfault));
        assert!((periods0..=periods1).contains(&m.cpu.nr_periods));
        assert!(m.memory_events.is_some());
        assert!(m.memory.file + m.memory.anon > 0, "{:?}", m.memory);
    } else {
        let mem = cgroup_dir(pid, "memory");
        let acct = cgroup_dir(pid, "cpuacct");
        let pids = cgroup_dir(pid, "pids");
        let usage0 = read_num(&acct.join("cpuacct.usage"));
        let fault0 = read_key(&mem.join("memory.stat"), "total_pgfault");
        let cpu = cgroup_dir(pid, "cpu");
        let periods0 = read_key(&cpu.join("cpu.stat"), "nr_periods");
        let a = fx.stats();
        let periods1 = read_key(&cpu.join("cpu.stat"), "nr_periods");
        let usage1 = read_num(&acct.join("cpuacct.usage"));
        let fault1 = read_key(&mem.join("memory.stat"), "total_pgfault");
        assert_eq!(a.type_url, "io.containerd.cgroups.v1.Metrics");
        let m =
            containerd_shim_protos::cgroups::metrics::Metrics::parse_from_bytes(&a.value).unwrap();
        assert_eq!(m.memory.usage.limit, 32 << 20);
        assert_eq!(
            m.memory.usage.limit,
            read_num(&mem.join("memory.limit_in_bytes"))
        );
        assert_eq!(
            m.memory.hierarchical_memory_limit,
            read_key(&mem.join("memory.stat"), "hierarchical_memory_limit")
        );
        assert!(m.memory.usage.usage > 0 && m.memory.usage.usage <= 32 << 20);
        assert!((fault0..=fault1).contains(&m.memory.total_pg_fault));
        assert_eq!(
            m.memory.kernel.limit,
            read_num(&mem.join("memory.kmem.limit_in_bytes"))
        );
        assert_eq!(m.pids.limit, 64);
        assert_eq!(m.pids.limit, read_num(&pids.join("pids.max")));
        assert_eq!(m.pids.current, read_num(&pids.join("pids.current")));
        assert!((usage0..=usage1).contains(&m.cpu.usage.total));
        assert_eq!(
            m.cpu.usage.per_cpu.len(),
            fs::read_to_string(acct.join("cpuacct.usage_percpu"))
                .unwrap()
                .split_whitespace()
                .count()
        );
        assert!((periods0..=periods1).contains(&m.cpu.throttling.periods));
        assert_eq!(m.memory_oom_control.oom_kill, 0);
    }
    let mut k = api::KillRequest::new();
    k.id = fx.id.clone();
    k.signal = 9;
    k.all = true;
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    assert_eq!(fx.wait("").exit_status, 137);
    fx.delete("");
}
