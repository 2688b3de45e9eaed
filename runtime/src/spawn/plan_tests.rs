//! The table of `spawn::plan` tests: config.json in, the plan fields or a named error out, the
//! way `hull create` goes (spec::parse_config → spec::validate → plan::init_spec), without root.

use super::*;
use caps::Capability;
use serde_json::{json, Value};

fn test_kernel() -> &'static hull_seccomp::KernelSupport {
    static K: std::sync::OnceLock<hull_seccomp::KernelSupport> = std::sync::OnceLock::new();
    K.get_or_init(hull_seccomp::KernelSupport::all)
}

/// A host without CAP_SYS_RESOURCE, with a hard NOFILE limit of 20000 (like this machine), no
/// LSM, and a kernel with every seccomp feature.
fn host() -> Host {
    Host {
        held_caps: || {
            let mut h = caps::all();
            h.remove(&Capability::CAP_SYS_RESOURCE);
            h
        },
        can_raise_rlimits: || false,
        hard_limit: |r| (r == libc::RLIMIT_NOFILE).then_some(20000),
        apparmor: || false,
        selinux: || false,
        seccomp_kernel: test_kernel,
    }
}

fn base() -> Value {
    json!({
        "ociVersion": "1.2.0",
        "process": {
            "user": {"uid": 0, "gid": 0}, "args": ["sh", "-c", "true"], "cwd": "/",
            "env": ["PATH=/bin:/usr/bin", "TERM=xterm"]
        },
        "root": {"path": "rootfs"},
        "linux": {"namespaces": [
            {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}
        ]}
    })
}

fn with(mut v: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut v);
    v
}

fn spec_of(v: &Value) -> std::result::Result<Spec, String> {
    let spec = crate::spec::parse_config(&serde_json::to_vec(v).unwrap())?;
    crate::spec::validate(&spec).map_err(|e| e.to_string())?;
    Ok(spec)
}

fn plan_with(v: &Value, opts: &InitOpts, host: &Host) -> std::result::Result<InitSpec, String> {
    let spec = spec_of(v)?;
    init_spec(&spec, Path::new("/bundle/rootfs"), opts, host).map_err(|e| e.to_string())
}

fn plan(v: &Value) -> InitSpec {
    let opts = InitOpts {
        keyring: Some("c1"),
        ..Default::default()
    };
    plan_with(v, &opts, &host()).unwrap_or_else(|e| panic!("{e}\n{v:#}"))
}

fn exec_plan(v: &Value) -> std::result::Result<ProcessPlan, String> {
    let spec = spec_of(v)?;
    let linux = spec.linux().clone().unwrap_or_default();
    process_plan(
        spec.process().as_ref().unwrap(),
        &linux,
        Role::Exec,
        Some("c1"),
        &host(),
    )
    .map_err(|e| e.to_string())
}

const NEW_ALL: u64 = (libc::CLONE_NEWPID
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWNET) as u64;

#[test]
fn default_config_is_one_clone3_with_every_namespace() {
    let p = plan(&base());
    let ns = &p.namespaces;
    assert_eq!(ns.new_flags, NEW_ALL);
    assert!(ns.fast() && ns.joins.is_empty() && !ns.new_user && !ns.in_userns());
    assert!(ns.pid_changes());
    assert_eq!((ns.uid_map.as_str(), ns.gid_map.as_str()), ("", ""));
    assert_eq!(ns.time_offsets, None);
    let r = &p.rootfs;
    assert_eq!(r.path, Path::new("/bundle/rootfs"));
    assert_eq!(r.root_propagation, libc::MS_SLAVE | libc::MS_REC);
    assert_eq!(r.rootfs_propagation, None);
    assert!(!r.readonly_root && !r.no_pivot && !r.has_devpts);
    let devs: Vec<&str> = r.devices.iter().map(|d| d.path.as_str()).collect();
    assert_eq!(
        devs,
        [
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/random",
            "/dev/urandom",
            "/dev/tty"
        ]
    );
    let pr = &p.process;
    let args: Vec<&str> = pr.args.iter().map(|a| a.to_str().unwrap()).collect();
    assert_eq!(args, ["sh", "-c", "true"]);
    assert_eq!(pr.env_strings, ["PATH=/bin:/usr/bin", "TERM=xterm"]);
    assert_eq!(pr.env.len(), 2);
    assert_eq!(
        (pr.uid, pr.gid, pr.umask, pr.cwd.as_str()),
        (0, 0, 0o022, "/")
    );
    assert!(pr.caps.is_none() && pr.rlimits.is_empty() && pr.seccomp.is_none());
    assert!(!pr.nnp && !pr.terminal);
    assert_eq!(pr.keyring.as_deref(), Some(c"c1"));
    assert_eq!(pr.personality, None);
    assert_eq!(pr.cpu_affinity, CpuAffinity::default());
    assert!(pr.warnings.is_empty());
    assert!(p.sysctl.is_empty() && p.hooks == HookPlan::default());
}

#[test]
fn user_namespace_maps_and_process_user() {
    let p = plan(&with(base(), |v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] = json!([
            {"containerID": 0, "hostID": 100000, "size": 1000},
            {"containerID": 1000, "hostID": 5000, "size": 1}
        ]);
        v["process"]["user"] =
            json!({"uid": 1000, "gid": 1000, "umask": 0o077, "additionalGids": [5, 6]});
    }));
    let ns = &p.namespaces;
    assert!(ns.new_user && ns.in_userns() && ns.fast());
    assert_eq!(ns.new_flags, NEW_ALL | libc::CLONE_NEWUSER as u64);
    assert_eq!(ns.uid_map, "0 100000 65536\n");
    assert_eq!(ns.gid_map, "0 100000 1000\n1000 5000 1\n");
    let pr = &p.process;
    assert_eq!((pr.uid, pr.gid, pr.umask), (1000, 1000, 0o077));
    assert_eq!(pr.groups, [5, 6]);
}

#[test]
fn namespaces_joined_by_path_take_the_slow_path() {
    let p = plan(&with(base(), |v| {
        v["linux"]["namespaces"] = json!([
            {"type": "mount"}, {"type": "network", "path": "/run/netns/x"}, {"type": "uts"}
        ]);
    }));
    let ns = &p.namespaces;
    assert!(!ns.fast());
    assert_eq!(
        ns.new_flags,
        (libc::CLONE_NEWNS | libc::CLONE_NEWUTS) as u64
    );
    assert_eq!(
        ns.joins,
        [JoinPath {
            flag: libc::CLONE_NEWNET,
            typ: LinuxNamespaceType::Network,
            path: "/run/netns/x".into()
        }]
    );
    assert!(!ns.pid_changes(), "no pid namespace: no second fork");
    let p = plan(&with(base(), |v| {
        v["linux"]["namespaces"] =
            json!([{"type": "mount"}, {"type": "pid", "path": "/proc/1/ns/pid"}]);
    }));
    assert!(p.namespaces.pid_changes() && !p.namespaces.fast());
    // A joined user namespace counts for device and mount handling.
    let p = plan(&with(base(), |v| {
        v["linux"]["namespaces"] =
            json!([{"type": "mount"}, {"type": "user", "path": "/proc/1/ns/user"}]);
    }));
    assert!(p.namespaces.in_userns() && !p.namespaces.new_user);
}

#[test]
fn time_offsets_need_the_slow_path() {
    let p = plan(&with(base(), |v| {
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        v["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 7, "nanosecs": 5}});
    }));
    let ns = &p.namespaces;
    assert_eq!(ns.time_offsets.as_deref(), Some("monotonic 7 5\n"));
    assert!(!ns.fast() && ns.pid_changes());
    assert!(ns.creates(CLONE_NEWTIME));
}

#[test]
fn capabilities_not_held_are_dropped_with_a_warning() {
    let p = plan(&with(base(), |v| {
        v["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"],
            "inheritable": [], "ambient": ["CAP_CHOWN"]
        });
    }));
    let c = p.process.caps.as_ref().unwrap();
    assert_eq!(c.bounding.len(), 2);
    assert!(c.bounding.contains(&Capability::CAP_NET_BIND_SERVICE));
    assert!(!c.bounding.contains(&Capability::CAP_SYS_RESOURCE));
    assert!(c.effective.contains(&Capability::CAP_CHOWN) && c.inheritable.is_empty());
    assert_eq!(c.ambient.len(), 1);
    assert_eq!(p.process.warnings.len(), 1);
    assert!(
        p.process.warnings[0].contains("process.capabilities.bounding: CAP_SYS_RESOURCE"),
        "{:?}",
        p.process.warnings
    );
}

#[test]
fn rlimits_are_checked_against_the_runtimes_own() {
    let v = with(base(), |v| {
        v["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
        ]);
    });
    let r = plan(&v).process.rlimits;
    assert_eq!(r.len(), 2);
    assert_eq!(
        (r[0].resource, r[0].soft, r[0].hard, r[0].name),
        (libc::RLIMIT_NOFILE, 1024, 4096, "RLIMIT_NOFILE")
    );
    assert_eq!(r[1].resource, libc::RLIMIT_CORE);
    let over = with(base(), |v| {
        v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20001}]);
    });
    let e = plan_with(&over, &InitOpts::default(), &host()).unwrap_err();
    assert!(
        e.contains("process.rlimits[0]") && e.contains("20000"),
        "{e}"
    );
    // With CAP_SYS_RESOURCE the runtime may raise it.
    let raising = Host {
        can_raise_rlimits: || true,
        ..host()
    };
    let r = plan_with(&over, &InitOpts::default(), &raising).unwrap();
    assert_eq!(r.process.rlimits[0].hard, 20001);
}

#[test]
fn rootfs_paths_and_propagation() {
    let p = plan(&with(base(), |v| {
        v["root"]["readonly"] = json!(true);
        v["linux"]["rootfsPropagation"] = json!("private");
        v["linux"]["maskedPaths"] = json!(["/proc/kcore", "/sys/firmware"]);
        v["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
        v["linux"]["devices"] = json!([{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 0o600}]);
        v["mounts"] = json!([{"destination": "/dev/pts", "type": "devpts", "source": "devpts"}]);
    }));
    let r = &p.rootfs;
    assert!(r.readonly_root && r.has_devpts);
    assert_eq!(r.root_propagation, libc::MS_PRIVATE);
    assert_eq!(r.rootfs_propagation, Some(libc::MS_PRIVATE));
    assert_eq!(r.masked, ["/proc/kcore", "/sys/firmware"]);
    assert_eq!(r.readonly, ["/proc/sys"]);
    let fuse = r.devices.last().unwrap();
    assert_eq!(
        (
            fuse.path.as_str(),
            fuse.kind,
            fuse.major,
            fuse.minor,
            fuse.mode
        ),
        ("/dev/fuse", libc::S_IFCHR, 10, 229, 0o600)
    );
    assert_eq!(r.mounts.len(), 1);
    let opts = InitOpts {
        no_pivot: true,
        ..Default::default()
    };
    assert!(plan_with(&base(), &opts, &host()).unwrap().rootfs.no_pivot);
}

#[test]
fn sysctls_sorted_and_checked_against_namespaces() {
    let p = plan(&with(base(), |v| {
        v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "8192"});
        v["hostname"] = json!("box");
    }));
    assert_eq!(
        p.sysctl,
        [
            ("kernel.msgmax".to_string(), "8192".to_string()),
            ("net.ipv4.ip_forward".to_string(), "1".to_string())
        ]
    );
    assert_eq!(p.hostname.as_deref(), Some("box"));
}

#[test]
fn process_extras_personality_hooks_and_seccomp() {
    let p = plan(&with(base(), |v| {
        v["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 3});
        v["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 4});
        v["process"]["oomScoreAdj"] = json!(100);
        v["process"]["noNewPrivileges"] = json!(true);
        v["process"]["execCPUAffinity"] = json!({"initial": "0"});
        v["linux"]["personality"] = json!({"domain": "LINUX32"});
        v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]});
        v["hooks"] = json!({"createRuntime": [{"path": "/bin/true"}],
            "startContainer": [{"path": "/bin/true"}]});
    }));
    let pr = &p.process;
    let s = pr.extras.scheduler.unwrap();
    assert_eq!((s.policy, s.nice), (3, 3));
    assert_eq!(pr.extras.ioprio, Some((2 << 13) | 4));
    assert_eq!(pr.oom_score_adj, Some(100));
    assert!(pr.nnp);
    assert_eq!(pr.personality, Some(0x0008));
    // execCPUAffinity is for exec only (runtime-spec).
    assert_eq!(pr.cpu_affinity, CpuAffinity::default());
    let sc = pr.seccomp.as_ref().expect("compiled");
    assert!(!sc.uses_notify());
    assert!(!pr.seccomp_early, "with no_new_privs: right before execve");
    let early = |nnp: bool, action: &str| {
        let p = plan(&with(base(), |v| {
            v["process"]["noNewPrivileges"] = json!(nnp);
            v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/l.sock",
                "syscalls": [{"names": ["mkdir"], "action": action}]});
        }));
        p.process.seccomp_early
    };
    assert!(
        early(false, "SCMP_ACT_ERRNO"),
        "without NNP: while CAP_SYS_ADMIN is held"
    );
    assert!(
        early(true, "SCMP_ACT_NOTIFY"),
        "NOTIFY: while the parent listens"
    );
    assert!(p.hooks.runtime && p.hooks.create_container.is_empty());
    assert_eq!(p.hooks.start_container.len(), 1);
}

#[test]
fn exec_differs_only_in_affinity_and_personality() {
    let v = with(base(), |v| {
        v["process"]["execCPUAffinity"] = json!({"initial": "0-1", "final": "0"});
        v["linux"]["personality"] = json!({"domain": "LINUX32"});
        v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 100}]);
    });
    let e = exec_plan(&v).unwrap();
    let i = plan(&v).process;
    assert_eq!(
        e.cpu_affinity,
        CpuAffinity {
            initial: Some(vec![0, 1]),
            last: Some(vec![0])
        }
    );
    assert_eq!((e.personality, i.personality), (None, Some(8)));
    assert_eq!(e.rlimits, i.rlimits);
    assert_eq!(e.env, i.env);
    assert_eq!(e.args, i.args);
    assert_eq!(
        (e.uid, e.gid, e.umask, e.nnp),
        (i.uid, i.gid, i.umask, i.nnp)
    );
}

#[test]
fn socket_activation_goes_into_the_environment() {
    let opts = InitOpts {
        listen_fds: 2,
        ..Default::default()
    };
    let v = with(base(), |v| {
        v["process"]["env"] = json!(["LISTEN_PID=9", "PATH=/bin"])
    });
    let p = plan_with(&v, &opts, &host()).unwrap().process;
    assert_eq!(p.env_strings, ["LISTEN_PID=1", "PATH=/bin", "LISTEN_FDS=2"]);
    assert_eq!(p.env[2].to_str().unwrap(), "LISTEN_FDS=2");
    let opts = InitOpts::default();
    assert_eq!(plan_with(&v, &opts, &host()).unwrap().process.keyring, None);
}

#[test]
fn executable_lookup_enters_the_cwd_only_when_it_matters() {
    let env = |p: &str| vec![format!("PATH={p}")];
    assert!(!lookup_depends_on_cwd("sh", &env("/bin:/usr/bin")));
    assert!(!lookup_depends_on_cwd("/bin/sh", &env("bin")));
    assert!(
        !lookup_depends_on_cwd("sh", &[]),
        "the default PATH is absolute"
    );
    assert!(lookup_depends_on_cwd("./run.sh", &env("/bin")));
    assert!(
        lookup_depends_on_cwd("sh", &env("/bin::/usr/bin")),
        "empty entry: ."
    );
    assert!(lookup_depends_on_cwd("sh", &env("/bin:tools")));
    assert!(!plan(&base()).process.lookup_in_cwd);
}

#[path = "plan_refusals.rs"]
mod refusals;
