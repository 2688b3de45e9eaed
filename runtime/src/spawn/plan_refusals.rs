//! The refusals of `spawn::plan`: every invalid field named in its error, before anything is
//! opened or created (helpers from `plan_tests`).

use super::*;

#[test]
fn console_rules_name_the_flag() {
    use ConsoleTo::*;
    assert_eq!(console_to(Role::Init, false, false, false).unwrap(), None);
    assert_eq!(console_to(Role::Init, true, true, false).unwrap(), Socket);
    assert_eq!(
        console_to(Role::Init, true, false, true).unwrap(),
        Foreground
    );
    assert_eq!(
        console_to(Role::Exec, true, false, true).unwrap(),
        Foreground
    );
    assert_eq!(console_to(Role::Exec, true, true, true).unwrap(), Socket);
    let err = |r, t, s, f| console_to(r, t, s, f).unwrap_err().to_string();
    assert!(err(Role::Init, true, false, false).contains("--console-socket"));
    assert!(err(Role::Init, false, true, false).contains("process.terminal is false"));
    assert!(err(Role::Exec, true, false, false).contains("--detach --tty"));
    assert!(err(Role::Exec, false, true, true).contains("without --tty"));
}

/// Every invalid field is refused by planning (nothing opened or created yet), the error naming it.
#[test]
fn invalid_fields_are_refused_with_their_name() {
    let ns_plus = |extra: Value| {
        move |v: &mut Value| v["linux"]["namespaces"].as_array_mut().unwrap().push(extra)
    };
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "linux.namespaces: a mount namespace is required",
            Box::new(|v| {
                v["linux"]["namespaces"] = json!([{"type": "pid"}]);
            }),
        ),
        (
            "linux.namespaces[5]: duplicate",
            Box::new(ns_plus(json!({"type": "pid"}))),
        ),
        (
            "linux.namespaces[5].path",
            Box::new(ns_plus(json!({"type": "cgroup", "path": "rel"}))),
        ),
        (
            "linux.timeOffsets: requires a new time namespace",
            Box::new(|v| {
                v["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 1}});
            }),
        ),
        (
            "linux.timeOffsets: unknown clock",
            Box::new(|v| {
                v["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "time"}));
                v["linux"]["timeOffsets"] = json!({"realtime": {"secs": 1}});
            }),
        ),
        (
            "linux.uidMappings/gidMappings",
            Box::new(ns_plus(json!({"type": "user"}))),
        ),
        (
            "linux.uidMappings: mappings given without a user namespace",
            Box::new(|v| {
                v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1, "size": 1}]);
            }),
        ),
        (
            "linux.rootfsPropagation: unknown",
            Box::new(|v| {
                v["linux"]["rootfsPropagation"] = json!("sideways");
            }),
        ),
        (
            "linux.devices[0].type",
            Box::new(|v| {
                v["linux"]["devices"] = json!([{"type": "a", "path": "/dev/x"}]);
            }),
        ),
        (
            "linux.devices[0]: major/minor",
            Box::new(|v| {
                v["linux"]["devices"] =
                    json!([{"type": "c", "path": "/dev/x", "major": -1, "minor": 1}]);
            }),
        ),
        (
            "linux.sysctl: vm.swappiness is not namespaced",
            Box::new(|v| {
                v["linux"]["sysctl"] = json!({"vm.swappiness": "1"});
            }),
        ),
        (
            "linux.sysctl: net.ipv4.ip_forward requires a network namespace",
            Box::new(|v| {
                v["linux"]["namespaces"] = json!([{"type": "mount"}]);
                v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            }),
        ),
        (
            "hostname: cannot set a hostname without a private UTS",
            Box::new(|v| {
                v["linux"]["namespaces"] = json!([{"type": "mount"}]);
                v["hostname"] = json!("h");
            }),
        ),
        (
            "mounts[0].destination",
            Box::new(|v| {
                v["mounts"] = json!([{"destination": "tmp", "type": "tmpfs", "source": "tmpfs"}]);
            }),
        ),
        (
            "process.args: must not be empty",
            Box::new(|v| v["process"]["args"] = json!([])),
        ),
        (
            "process.args[1]: contains a NUL byte",
            Box::new(|v| {
                v["process"]["args"] = json!(["sh", "a\u{0}b"]);
            }),
        ),
        (
            "process.env[1]: contains a NUL byte",
            Box::new(|v| {
                v["process"]["env"] = json!(["A=1", "B=\u{0}"]);
            }),
        ),
        (
            "process.env[0]",
            Box::new(|v| v["process"]["env"] = json!(["NOEQUALS"])),
        ),
        (
            "process.cwd",
            Box::new(|v| v["process"]["cwd"] = json!("relative")),
        ),
        (
            "process.rlimits[1]: duplicate",
            Box::new(|v| {
                v["process"]["rlimits"] = json!([
                    {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                    {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
                ]);
            }),
        ),
        (
            "process.rlimits[0]: soft limit 5 exceeds hard limit 4",
            Box::new(|v| {
                v["process"]["rlimits"] = json!([{"type": "RLIMIT_CORE", "soft": 5, "hard": 4}]);
            }),
        ),
        (
            "process.rlimits[0]: RLIMIT_NOFILE hard limit 30000",
            Box::new(|v| {
                v["process"]["rlimits"] =
                    json!([{"type": "RLIMIT_NOFILE", "soft": 5, "hard": 30000}]);
            }),
        ),
        (
            "process.scheduler.priority",
            Box::new(|v| {
                v["process"]["scheduler"] = json!({"policy": "SCHED_FIFO"});
            }),
        ),
        (
            "process.ioPriority.priority",
            Box::new(|v| {
                v["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_RT", "priority": 8});
            }),
        ),
        (
            "process.execCPUAffinity.final",
            Box::new(|v| {
                v["process"]["execCPUAffinity"] = json!({"final": "3-1"});
            }),
        ),
        (
            "process.apparmorProfile \"p\": AppArmor is not enabled",
            Box::new(|v| {
                v["process"]["apparmorProfile"] = json!("p");
            }),
        ),
        (
            "process.selinuxLabel",
            Box::new(|v| {
                v["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0");
            }),
        ),
        (
            "linux.mountLabel",
            Box::new(|v| {
                v["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
            }),
        ),
        (
            "linux.seccomp",
            Box::new(|v| {
                v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["no_such_syscall_hull"], "action": "SCMP_ACT_ERRNO"}],
                "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]});
            }),
        ),
    ];
    let mut failures = Vec::new();
    for (want, edit) in cases {
        let v = with(base(), edit);
        match plan_with(&v, &InitOpts::default(), &host()) {
            Ok(_) => failures.push(format!("{want}: accepted")),
            Err(e) if !e.contains(want) => failures.push(format!("{want}: got {e:?}")),
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
