//! config-linux.md: namespaces, devices, masked/readonly paths, sysctl, personality;
//! config.md: mounts, root.
use crate::harness::{has_opt, mount_at, proc_ns, Bad, Ctx, R};
use crate::{case, check, check_eq, fail, Case};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

mod devices;
mod mounts;

use devices::{dev_cases, masked_cases};
use mounts::mount_cases;

const NS: &str = "config-linux.md#namespaces";
const MNT: &str = "config.md#mounts";
const LMNT: &str = "config-linux.md#mount-propagation";
const DEFDEV: &str = "config-linux.md#default-devices";
const DEV: &str = "config-linux.md#devices";
const DEFFS: &str = "config-linux.md#default-filesystems";
const MASK: &str = "config-linux.md#masked-paths";
const RO: &str = "config-linux.md#readonly-paths";
const ROOT: &str = "config.md#root";
const SYSCTL: &str = "config-linux.md#sysctl";

/// (OCI type, /proc/PID/ns name, unshare flag)
const NSTYPES: &[(&str, &str, &str)] = &[
    ("pid", "pid", "--pid"),
    ("network", "net", "--net"),
    ("ipc", "ipc", "--ipc"),
    ("uts", "uts", "--uts"),
    ("mount", "mnt", "--mount"),
    ("cgroup", "cgroup", "--cgroup"),
    ("user", "user", "--user"),
    ("time", "time", "--time"),
];

fn set_ns(cfg: &mut Value, ty: &str, entry: Option<Value>) {
    let list = cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces");
    list.retain(|n| n["type"] != ty);
    if let Some(e) = entry {
        list.push(e);
    }
}

fn userns_maps(cfg: &mut Value, host: u32, size: u32) {
    cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": host, "size": size}]);
    cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": host, "size": size}]);
}

/// A host process in new namespace(s) of `ty`; returns the pid whose /proc/PID/ns/NAME to join.
fn ns_holder(c: &mut Ctx, ty: &str, name: &str, flag: &str) -> R<i32> {
    let mut args = vec![flag];
    if ty == "pid" {
        args.push("--fork");
    }
    if ty == "user" {
        args.push("--map-root-user");
    }
    args.extend(["sleep", "300"]);
    let pid = c.helper("unshare", &args)?;
    let host = c.env.host_ns(name);
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        let target = if ty == "pid" {
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .ok()
                .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        } else {
            Some(pid)
        };
        if let Some(t) = target {
            let ns = proc_ns(t, name);
            if !ns.is_empty() && ns != host {
                return Ok(t);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    fail!("unshare {flag} did not produce a new {name} namespace")
}

fn ns_cases() -> Vec<Case> {
    let mut v = vec![];
    for &(ty, name, flag) in NSTYPES {
        v.push(case(NS, format!("ns-new-{ty}"), move |c| {
            let mut cfg = c.config(&[]);
            set_ns(&mut cfg, ty, Some(json!({"type": ty})));
            if ty == "user" {
                userns_maps(&mut cfg, 100000, 65536);
            }
            if ty == "time" {
                cfg["ociVersion"] = json!("1.1.0");
            }
            let r = c.report(cfg)?;
            let host = c.env.host_ns(name);
            check!(!host.is_empty(), "host has no {name} namespace");
            let got = r["ns"][name].as_str().unwrap_or("").to_string();
            check!(
                !got.is_empty() && got != host,
                "container {name} namespace {got:?} is the runtime's {host:?}"
            );
            Ok(())
        }));
        if ty != "mount" {
            v.push(case(NS, format!("ns-inherit-{ty}"), move |c| {
                let mut cfg = c.config(&[]);
                set_ns(&mut cfg, ty, None);
                if ty == "uts" {
                    cfg.as_object_mut().unwrap().remove("hostname");
                }
                let r = c.report(cfg)?;
                check_eq!(
                    r["ns"][name].as_str().unwrap_or(""),
                    c.env.host_ns(name),
                    format!("{name} namespace when {ty} is not listed")
                );
                Ok(())
            }));
        }
        v.push(case(NS, format!("ns-join-{ty}"), move |c| {
            let holder = ns_holder(c, ty, name, flag)?;
            let want = proc_ns(holder, name);
            let mut cfg = c.config(&[]);
            set_ns(
                &mut cfg,
                ty,
                Some(json!({"type": ty, "path": format!("/proc/{holder}/ns/{name}")})),
            );
            if ty == "user" {
                userns_maps(&mut cfg, 0, 1);
            }
            if ty == "time" {
                cfg["ociVersion"] = json!("1.1.0");
            }
            let r = c.report(cfg)?;
            check_eq!(
                r["ns"][name].as_str().unwrap_or(""),
                want,
                format!("{name} namespace joined by path")
            );
            Ok(())
        }));
    }
    // kubelet's hostPID pod: the pause joins the CNI netns by path and has no pid namespace
    v.push(case(NS, "ns-join-net-with-host-pid", |c| {
        let holder = ns_holder(c, "network", "net", "--net")?;
        let want = proc_ns(holder, "net");
        let mut cfg = c.config(&[]);
        set_ns(
            &mut cfg,
            "network",
            Some(json!({"type": "network", "path": format!("/proc/{holder}/ns/net")})),
        );
        set_ns(&mut cfg, "pid", None);
        let r = c.report(cfg)?;
        check_eq!(
            r["ns"]["net"].as_str().unwrap_or(""),
            want,
            "net namespace joined by path"
        );
        check_eq!(
            r["ns"]["pid"].as_str().unwrap_or(""),
            c.env.host_ns("pid"),
            "pid namespace when pid is not listed"
        );
        Ok(())
    }));
    v.push(case(NS, "ns-join-wrong-type-errors", |c| {
        let holder = ns_holder(c, "network", "net", "--net")?;
        let mut cfg = c.config(&["exit", "0"]);
        set_ns(
            &mut cfg,
            "ipc",
            Some(json!({"type": "ipc", "path": format!("/proc/{holder}/ns/net")})),
        );
        let b = c.bundle(&cfg)?;
        let o = c.run(&b);
        check!(!o.ok(), "joining a network namespace as ipc succeeded");
        Ok(())
    }));
    v.push(case(NS, "ns-pid-probe-is-pid-1", |c| {
        let r = c.report(c.config(&[]))?;
        check_eq!(
            r["pid"].as_i64().unwrap_or(0),
            1,
            "pid of the container process in its new pid namespace"
        );
        Ok(())
    }));
    v.push(case(NS, "ns-state-pid-in-container-namespaces", |c| {
        let cfg = c.config(&["report", "sleep", "300"]);
        let (_, pid, l) = c.start_probe(&cfg, 1)?;
        for ns in ["pid", "net", "ipc", "uts", "mnt"] {
            check_eq!(
                proc_ns(pid, ns),
                l[0]["ns"][ns].as_str().unwrap_or(""),
                format!("{ns} ns of state pid vs probe")
            );
        }
        Ok(())
    }));
    v.push(case(NS, "ns-pid-proc-shows-only-container", |c| {
        let (_, l, _) = c.run_probe(&c.config(&["ls", "/proc"]))?;
        let pids: Vec<&str> = l[0]["entries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str())
                    .filter(|e| e.chars().all(|ch| ch.is_ascii_digit()))
                    .collect()
            })
            .unwrap_or_default();
        check_eq!(
            pids,
            vec!["1"],
            "processes visible in the container's /proc"
        );
        Ok(())
    }));
    v.push(case(NS, "ns-network-loopback-only", |c| {
        let (_, l, _) = c.run_probe(&c.config(&["ls", "/sys/class/net"]))?;
        check_eq!(
            l[0]["entries"],
            json!(["lo"]),
            "network interfaces in a new network namespace"
        );
        Ok(())
    }));
    v.push(case(NS, "ns-cgroup-root-view", |c| {
        let mut cfg = c.config(&["read", "/proc/self/cgroup"]);
        set_ns(&mut cfg, "cgroup", Some(json!({"type": "cgroup"})));
        let (_, l, _) = c.run_probe(&cfg)?;
        let d = l[0]["data"].as_str().unwrap_or("");
        check!(!d.is_empty() && d.lines().all(|x| x.ends_with(":/")), "/proc/self/cgroup in a new cgroup namespace is not rooted at the container's cgroup: {d:?}");
        Ok(())
    }));
    v.push(case(NS, "ns-user-uid-mapping", |c| {
        let mut cfg = c.config(&["read", "/proc/self/uid_map", "read", "/proc/self/gid_map"]);
        set_ns(&mut cfg, "user", Some(json!({"type": "user"})));
        cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
        let (_, l, _) = c.run_probe(&cfg)?;
        let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        check_eq!(
            norm(l[0]["data"].as_str().unwrap_or("")),
            "0 100000 65536",
            "uid_map"
        );
        check_eq!(
            norm(l.get(1).and_then(|x| x["data"].as_str()).unwrap_or("")),
            "0 200000 65536",
            "gid_map"
        );
        Ok(())
    }));
    v.push(case(NS, "ns-time-offsets", |c| {
        let mut cfg = c.config(&["read", "/proc/self/timens_offsets"]);
        cfg["ociVersion"] = json!("1.1.0");
        set_ns(&mut cfg, "time", Some(json!({"type": "time"})));
        cfg["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 31536000, "nanosecs": 0}, "boottime": {"secs": 7200, "nanosecs": 0}});
        let (_, l, _) = c.run_probe(&cfg)?;
        let d = l[0]["data"].as_str().unwrap_or("");
        let norm: Vec<String> = d.lines().map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        check!(norm.iter().any(|s| s == "monotonic 31536000 0"), "timens_offsets {d:?} lacks monotonic 31536000 0");
        check!(norm.iter().any(|s| s == "boottime 7200 0"), "timens_offsets {d:?} lacks boottime 7200 0");
        Ok(())
    }));
    v
}

fn sysctl_case(key: &'static str, val: &'static str) -> Case {
    case(SYSCTL, format!("sysctl-{key}"), move |c| {
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let mut cfg = c.config(&["read", &path]);
        cfg["linux"]["sysctl"] = json!({key: val});
        let (_, l, _) = c.run_probe(&cfg)?;
        check_eq!(l[0]["data"].as_str().unwrap_or("").trim(), val, path);
        Ok(())
    })
}

pub fn cases() -> Vec<Case> {
    let mut v = ns_cases();
    v.extend(mount_cases());
    v.extend(dev_cases());
    v.extend(masked_cases());
    v.push(sysctl_case("net.ipv4.ip_forward", "1"));
    v.push(sysctl_case("net.core.somaxconn", "1234"));
    v.push(sysctl_case("kernel.shmmax", "8192000"));
    v.push(sysctl_case("kernel.msgmax", "16384"));
    v.push(case(
        "config-linux.md#personality",
        "personality-linux32",
        |c| {
            let mut cfg = c.config(&[]);
            cfg["linux"]["personality"] = json!({"domain": "LINUX32"});
            let r = c.report(cfg)?;
            check_eq!(
                r["personality"].as_i64().unwrap_or(-1) & 0xff,
                8,
                "personality domain (PER_LINUX32 = 8)"
            );
            Ok(())
        },
    ));
    v.push(case(NS, "hostname", |c| {
        let mut cfg = c.config(&[]);
        cfg["hostname"] = json!("hc-host-name");
        let r = c.report(cfg)?;
        check_eq!(
            r["hostname"].as_str().unwrap_or(""),
            "hc-host-name",
            "hostname"
        );
        Ok(())
    }));
    v.push(case("config.md#domainname", "domainname", |c| {
        let mut cfg = c.config(&[]);
        cfg["domainname"] = json!("hc.example.org");
        let r = c.report(cfg)?;
        check_eq!(
            r["domainname"].as_str().unwrap_or(""),
            "hc.example.org",
            "domainname"
        );
        Ok(())
    }));
    v.push(case(NS, "hostname-runtime-unchanged", |c| {
        let mut cfg = c.config(&[]);
        cfg["hostname"] = json!("hc-other-name");
        c.report(cfg)?;
        let (h, _) = host_uts();
        check!(h != "hc-other-name", "the host's hostname was changed");
        Ok(())
    }));
    v
}

fn host_uts() -> (String, String) {
    (
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap_or_default()
            .trim()
            .to_string(),
        String::new(),
    )
}
