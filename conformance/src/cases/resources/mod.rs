//! config-linux.md#control-groups (resources, checked in the cgroup files) and #seccomp
//! (`seccomp.rs`).
use crate::harness::{find, pid_alive, Bad, Bundle, Ctx, R};
use crate::{case, check, check_eq, skip, Case};
use serde_json::{json, Value};
use std::path::PathBuf;

mod seccomp;

const CG: &str = "config-linux.md#control-groups";

/// Start a sleeping container with `resources`; return its bundle.
fn cg_running(c: &mut Ctx, resources: Value) -> R<Bundle> {
    let mut cfg = c.config(&["report", "sleep", "300"]);
    let mut res = cfg["linux"]["resources"].clone();
    for (k, v) in resources.as_object().unwrap() {
        res[k] = v.clone();
    }
    cfg["linux"]["resources"] = res;
    let (b, _, _) = c.start_probe(&cfg, 1)?;
    Ok(b)
}

fn read(dir: &std::path::Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f))
        .unwrap_or_else(|e| format!("<{f}: {e}>"))
        .trim()
        .to_string()
}

/// A cgroup-file case: controller, resources, then (v1 file, v1 want) / (v2 file, v2 want).
fn file_case(
    name: &'static str,
    ctrl: &'static str,
    res: Value,
    v1: Option<(&'static str, String)>,
    v2: Option<(&'static str, String)>,
) -> Case {
    case(CG, format!("cgroups-{name}"), move |c| {
        let Some((_, is_v2)) = c.env.cg.dir(ctrl, "/") else {
            skip!("the {ctrl} controller is not available on this host")
        };
        let want = if is_v2 { v2.clone() } else { v1.clone() };
        let Some((file, want)) = want else {
            skip!(
                "{name} has no cgroup {} interface",
                if is_v2 { "v2" } else { "v1" }
            )
        };
        let b = cg_running(c, res.clone())?;
        let (dir, _) = c.env.cg.dir(ctrl, &b.cgpath).unwrap();
        if dir.exists() && !dir.join(file).exists() {
            skip!("{} does not exist on this kernel", dir.join(file).display())
        }
        check_eq!(read(&dir, file), want, format!("{}/{file}", dir.display()));
        Ok(())
    })
}

/// A real block device of this machine (major, minor) for the throttle cases: a disk from
/// /sys/block, preferring real disks over zram/loop/ram devices.
fn block_dev() -> Option<(u64, u64)> {
    let mut devs: Vec<(bool, String, (u64, u64))> = vec![];
    for e in std::fs::read_dir("/sys/block").ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(d) = std::fs::read_to_string(e.path().join("dev")) else {
            continue;
        };
        let Some((a, b)) = d.trim().split_once(':') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (a.parse(), b.parse()) else {
            continue;
        };
        let virtual_dev = ["zram", "loop", "ram", "nbd"]
            .iter()
            .any(|p| name.starts_with(p));
        devs.push((virtual_dev, name, (a, b)));
    }
    devs.sort();
    devs.first().map(|d| d.2)
}
pub fn cases() -> Vec<Case> {
    let m64 = (64u64 << 20).to_string();
    // with no block device at all the throttle cases fail at create; they say why
    let (maj, min) = block_dev().unwrap_or((0, 0));
    let dev = format!("{maj}:{min}");
    let mut v = vec![
        file_case(
            "memory-limit",
            "memory",
            json!({"memory": {"limit": 64u64 << 20}}),
            Some(("memory.limit_in_bytes", m64.clone())),
            Some(("memory.max", m64.clone())),
        ),
        file_case(
            "memory-reservation",
            "memory",
            json!({"memory": {"reservation": 32u64 << 20}}),
            Some(("memory.soft_limit_in_bytes", (32u64 << 20).to_string())),
            Some(("memory.low", (32u64 << 20).to_string())),
        ),
        file_case(
            "memory-swap",
            "memory",
            json!({"memory": {"limit": 64u64 << 20, "swap": 128u64 << 20}}),
            Some(("memory.memsw.limit_in_bytes", (128u64 << 20).to_string())),
            Some(("memory.swap.max", m64.clone())),
        ),
        file_case(
            "memory-swappiness",
            "memory",
            json!({"memory": {"swappiness": 17}}),
            Some(("memory.swappiness", "17".into())),
            None,
        ),
        file_case(
            "cpu-shares",
            "cpu",
            json!({"cpu": {"shares": 512}}),
            Some(("cpu.shares", "512".into())),
            Some(("cpu.weight", "20".into())),
        ),
        file_case(
            "cpu-quota",
            "cpu",
            json!({"cpu": {"quota": 50000, "period": 100000}}),
            Some(("cpu.cfs_quota_us", "50000".into())),
            Some(("cpu.max", "50000 100000".into())),
        ),
        file_case(
            "cpu-period",
            "cpu",
            json!({"cpu": {"quota": 30000, "period": 60000}}),
            Some(("cpu.cfs_period_us", "60000".into())),
            Some(("cpu.max", "30000 60000".into())),
        ),
        file_case(
            "cpuset-cpus",
            "cpuset",
            json!({"cpu": {"cpus": "0"}}),
            Some(("cpuset.cpus", "0".into())),
            Some(("cpuset.cpus", "0".into())),
        ),
        file_case(
            "cpuset-mems",
            "cpuset",
            json!({"cpu": {"mems": "0"}}),
            Some(("cpuset.mems", "0".into())),
            Some(("cpuset.mems", "0".into())),
        ),
        file_case(
            "pids-limit",
            "pids",
            json!({"pids": {"limit": 100}}),
            Some(("pids.max", "100".into())),
            Some(("pids.max", "100".into())),
        ),
        file_case(
            "blkio-throttle-read-bps",
            "blkio",
            json!({"blockIO": {"throttleReadBpsDevice": [{"major": maj, "minor": min, "rate": 1048576}]}}),
            Some(("blkio.throttle.read_bps_device", format!("{dev} 1048576"))),
            None,
        ),
        file_case(
            "blkio-throttle-write-bps",
            "blkio",
            json!({"blockIO": {"throttleWriteBpsDevice": [{"major": maj, "minor": min, "rate": 2097152}]}}),
            Some(("blkio.throttle.write_bps_device", format!("{dev} 2097152"))),
            None,
        ),
        file_case(
            "blkio-throttle-read-iops",
            "blkio",
            json!({"blockIO": {"throttleReadIOPSDevice": [{"major": maj, "minor": min, "rate": 300}]}}),
            Some(("blkio.throttle.read_iops_device", format!("{dev} 300"))),
            None,
        ),
        file_case(
            "blkio-throttle-write-iops",
            "blkio",
            json!({"blockIO": {"throttleWriteIOPSDevice": [{"major": maj, "minor": min, "rate": 400}]}}),
            Some(("blkio.throttle.write_iops_device", format!("{dev} 400"))),
            None,
        ),
        file_case(
            "io-max-v2",
            "io",
            json!({"blockIO": {"throttleReadBpsDevice": [{"major": maj, "minor": min, "rate": 1048576}]}}),
            None,
            Some((
                "io.max",
                format!("{dev} rbps=1048576 wbps=max riops=max wiops=max"),
            )),
        ),
        case(CG, "cgroups-memory-disable-oom-killer", |c| {
            let Some((_, false)) = c.env.cg.dir("memory", "/") else {
                skip!("disableOOMKiller has no cgroup v2 interface (or no memory controller)")
            };
            let b = cg_running(c, json!({"memory": {"disableOOMKiller": true}}))?;
            let (dir, _) = c.env.cg.dir("memory", &b.cgpath).unwrap();
            let t = read(&dir, "memory.oom_control");
            check!(
                t.lines().any(|l| l.trim() == "oom_kill_disable 1"),
                "memory.oom_control: {t:?}"
            );
            Ok(())
        }),
        case(CG, "cgroups-blkio-weight", |c| {
            let Some((root, v2)) = c.env.cg.dir(
                if c.env.cg.v1.contains_key("blkio") {
                    "blkio"
                } else {
                    "io"
                },
                "/",
            ) else {
                skip!("no blkio/io controller here")
            };
            let file = [
                "blkio.weight",
                "blkio.bfq.weight",
                "io.bfq.weight",
                "io.weight",
            ]
            .into_iter()
            .find(|f| root.join(f).exists());
            let Some(file) = file else {
                skip!(
                    "no weight file under {} (no BFQ/CFQ scheduler)",
                    root.display()
                )
            };
            let b = cg_running(c, json!({"blockIO": {"weight": 500}}))?;
            let (dir, _) = c
                .env
                .cg
                .dir(if v2 { "io" } else { "blkio" }, &b.cgpath)
                .unwrap();
            let t = read(&dir, file);
            check!(
                t == "500"
                    || t.contains("default 500")
                    || (v2 && file == "io.weight" && t.contains("default")),
                "{}/{file}: {t:?}, want weight 500",
                dir.display()
            );
            Ok(())
        }),
        case(CG, "cgroups-path-applied", |c| {
            let cfg = c.config(&["report"]);
            let (_, l, b) = c.run_probe(&cfg)?;
            let cg = l[0]["cgroup"].as_str().unwrap_or("");
            check!(
                cg.lines().any(|x| x.ends_with(&format!(":{}", b.cgpath))),
                "/proc/self/cgroup has no entry for {}: {cg:?}",
                b.cgpath
            );
            Ok(())
        }),
        case(CG, "cgroups-process-in-cgroup", |c| {
            let b = cg_running(c, json!({}))?;
            let pid = c.pid(&b.id)?;
            let (dir, _) = c
                .env
                .cg
                .dir("pids", &b.cgpath)
                .or_else(|| c.env.cg.dir("memory", &b.cgpath))
                .ok_or_else(|| Bad::Skip("no pids/memory controller".into()))?;
            let procs = read(&dir, "cgroup.procs");
            check!(
                procs.lines().any(|l| l.trim() == pid.to_string()),
                "pid {pid} not in {}/cgroup.procs ({procs:?})",
                dir.display()
            );
            Ok(())
        }),
        case(CG, "cgroups-removed-after-delete", |c| {
            let b = cg_running(c, json!({"pids": {"limit": 50}}))?;
            let dirs: Vec<PathBuf> = c
                .env
                .cg
                .all_dirs(&b.cgpath)
                .into_iter()
                .filter(|d| d.exists())
                .collect();
            check!(
                !dirs.is_empty(),
                "no cgroup directory for {} while running",
                b.cgpath
            );
            let o = c.delete(&b.id, true);
            check!(o.ok(), "delete --force failed: {}", o.brief());
            std::thread::sleep(std::time::Duration::from_millis(200));
            let left: Vec<String> = dirs
                .iter()
                .filter(|d| d.exists())
                .map(|d| d.display().to_string())
                .collect();
            check!(left.is_empty(), "cgroups left after delete: {left:?}");
            Ok(())
        }),
        case(CG, "cgroups-pids-limit-enforced", |c| {
            if c.env.cg.dir("pids", "/").is_none() {
                skip!("no pids controller here")
            }
            let mut cfg = c.config(&["fork"]);
            cfg["linux"]["resources"]["pids"] = json!({"limit": 1});
            let (_, l, _) = c.run_probe(&cfg)?;
            check_eq!(
                find(&l, "fork")?["errno"].as_i64().unwrap_or(0),
                11,
                "errno of fork with pids.max=1 (EAGAIN)"
            );
            Ok(())
        }),
        case(CG, "cgroups-devices-deny-by-default", |c| {
            // 240:0 is in the local/experimental range: no driver, so an allowed open fails ENXIO
            let mut cfg = c.config(&["read", "/dev/hc-x"]);
            cfg["linux"]["devices"] = json!([{"path": "/dev/hc-x", "type": "c", "major": 240, "minor": 0, "fileMode": 0o666}]);
            let (_, l, _) = c.run_probe(&cfg)?;
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(0),
                1,
                "errno opening a device the device cgroup denies (EPERM)"
            );
            Ok(())
        }),
        case(CG, "cgroups-devices-allow-rule", |c| {
            let mut cfg = c.config(&["read", "/dev/hc-x"]);
            cfg["linux"]["devices"] = json!([{"path": "/dev/hc-x", "type": "c", "major": 240, "minor": 0, "fileMode": 0o666}]);
            cfg["linux"]["resources"]["devices"] = json!([{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 240, "minor": 0, "access": "rwm"}]);
            let (_, l, _) = c.run_probe(&cfg)?;
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(0),
                6,
                "errno opening an allowed device with no driver (ENXIO, not EPERM)"
            );
            Ok(())
        }),
        case(CG, "cgroups-hugetlb-limit", |c| {
            if c.env.cg.dir("hugetlb", "/").is_some_and(|(_, v2)| v2) && !c.env.cg.v1.is_empty() {
                skip!("hugetlb is only on the cgroup2 mount of this hybrid host; runtimes manage the v1 hierarchies here")
            }
            let Some((root, v2)) = c.env.cg.dir("hugetlb", "/") else {
                skip!("no hugetlb controller here")
            };
            let file = if v2 {
                "hugetlb.2MB.max"
            } else {
                "hugetlb.2MB.limit_in_bytes"
            };
            if !root.join(file).exists() {
                skip!("no 2MB huge pages here")
            }
            let b = cg_running(
                c,
                json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}),
            )?;
            let (dir, _) = c.env.cg.dir("hugetlb", &b.cgpath).unwrap();
            check_eq!(read(&dir, file), "4194304", file);
            Ok(())
        }),
        case(CG, "cgroups-unified", |c| {
            if !c.env.cg.v1.is_empty() || c.env.cg.unified.is_none() {
                skip!("linux.resources.unified needs a cgroup v2 (unified) host; this one is hybrid/v1")
            }
            let b = cg_running(c, json!({"unified": {"pids.max": "42"}}))?;
            let dir = c
                .env
                .cg
                .unified
                .as_ref()
                .unwrap()
                .join(b.cgpath.trim_start_matches('/'));
            check_eq!(read(&dir, "pids.max"), "42", "pids.max set through unified");
            Ok(())
        }),
        case(CG, "cgroups-network-classid", |c| {
            let Some((_, false)) = c.env.cg.dir("net_cls", "/") else {
                skip!("net_cls (v1 only) is not mounted on this host")
            };
            let b = cg_running(c, json!({"network": {"classID": 1048577}}))?;
            let (dir, _) = c.env.cg.dir("net_cls", &b.cgpath).unwrap();
            check_eq!(read(&dir, "net_cls.classid"), "1048577", "net_cls.classid");
            Ok(())
        }),
        case(CG, "cgroups-delete-kills-all-processes", |c| {
            let mut cfg = c.config(&["sleep", "300"]);
            cfg["process"]["args"] = json!(["/bin/sh", "-c", "sleep 300 & sleep 300 & wait"]);
            let b = c.bundle(&cfg)?;
            c.create(&b)?;
            c.start(&b.id)?;
            let (dir, _) = c
                .env
                .cg
                .dir("pids", &b.cgpath)
                .or_else(|| c.env.cg.dir("memory", &b.cgpath))
                .ok_or_else(|| Bad::Skip("no pids/memory controller".into()))?;
            let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
            let mut pids: Vec<i32> = vec![];
            while std::time::Instant::now() < end && pids.len() < 3 {
                pids = read(&dir, "cgroup.procs")
                    .lines()
                    .filter_map(|l| l.trim().parse().ok())
                    .collect();
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            check!(
                pids.len() >= 3,
                "expected 3 processes in the container, saw {pids:?}"
            );
            let o = c.delete(&b.id, true);
            check!(o.ok(), "delete --force failed: {}", o.brief());
            std::thread::sleep(std::time::Duration::from_millis(300));
            let alive: Vec<&i32> = pids.iter().filter(|p| pid_alive(**p)).collect();
            check!(
                alive.is_empty(),
                "processes left after delete --force: {alive:?}"
            );
            Ok(())
        }),
    ];
    v.extend(seccomp::cases());
    v
}
