//! `hull spec` (a default config.json, like runc's) and `hull features` (runtime-spec features.md).

use crate::error::{Error, Result};
use serde_json::json;
use std::path::Path;

/// The default config: busybox-friendly `sh` with a terminal, read-only root, the default mounts,
/// namespaces, masked and read-only paths of runc's `spec`.
pub fn default_spec(rootless: bool) -> serde_json::Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut v = json!({
        "ociVersion": crate::container::OCI_VERSION,
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "hull",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                           {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    });
    if rootless {
        // SAFETY: getuid/getgid cannot fail.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        let ns = v["linux"]["namespaces"].as_array_mut().expect("array");
        ns.retain(|n| n["type"] != "network" && n["type"] != "cgroup");
        ns.push(json!({"type": "user"}));
        v["linux"].as_object_mut().expect("obj").remove("resources");
        let mounts = v["mounts"].as_array_mut().expect("array");
        mounts.retain(|m| m["type"] != "cgroup");
        for m in mounts.iter_mut() {
            if m["type"] == "devpts" {
                m["options"] = json!([
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620"
                ]);
            }
            if m["type"] == "sysfs" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
        }
    }
    v
}

/// `hull spec`: write config.json into the bundle, refusing to overwrite one.
pub fn write_default(bundle: &Path, rootless: bool) -> Result<()> {
    let p = bundle.join("config.json");
    if p.exists() {
        return Err(Error::invalid(format!(
            "File {} exists. Remove it first",
            p.display()
        )));
    }
    let data = serde_json::to_string_pretty(&default_spec(rootless)).expect("json");
    std::fs::write(&p, data + "\n").map_err(|e| Error::io("write", &p, e))
}

/// What this build of hull supports, per the runtime-spec features document. Only what works.
pub fn features() -> serde_json::Value {
    let mount_options: Vec<&str> = vec![
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "idmap",
        "iversion",
        "lazytime",
        "loud",
        "mand",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "noiversion",
        "nolazytime",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "nosymfollow",
        "private",
        "ratime",
        "rbind",
        "rdev",
        "rdiratime",
        "relatime",
        "remount",
        "rexec",
        "ridmap",
        "rnoatime",
        "rnodev",
        "rnodiratime",
        "rnoexec",
        "rnorelatime",
        "rnostrictatime",
        "rnosuid",
        "rnosymfollow",
        "ro",
        "rprivate",
        "rrelatime",
        "rro",
        "rrw",
        "rshared",
        "rslave",
        "rstrictatime",
        "rsuid",
        "rsymfollow",
        "runbindable",
        "rw",
        "shared",
        "silent",
        "slave",
        "strictatime",
        "suid",
        "sync",
        "tmpcopyup",
        "unbindable",
    ];
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::container::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": crate::spec::CAPABILITIES.to_vec(),
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true},
            "seccomp": {"enabled": true, "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"], "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"], "archs": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64"]},
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}}
        },
        "annotations": {
            "io.github.hull.version": env!("CARGO_PKG_VERSION"),
            // As runc says it: checkpoint/restore are built in (they need criu at run time).
            "org.opencontainers.runc.checkpoint.enabled": "true"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_and_validates() {
        for rootless in [false, true] {
            let v = default_spec(rootless);
            let spec = crate::spec::parse_config(&serde_json::to_vec(&v).unwrap()).unwrap();
            crate::spec::validate(&spec).unwrap();
        }
    }

    #[test]
    fn features_report_idmapped_mounts() {
        let f = features();
        assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
        let opts = f["mountOptions"].as_array().unwrap();
        for o in ["idmap", "ridmap"] {
            assert!(opts.contains(&serde_json::json!(o)), "{o}");
            let m = crate::rootfs::parse_options(&[o.to_string()]);
            assert!(m.idmap && m.data.is_empty(), "{o}");
        }
    }

    #[test]
    fn features_say_checkpoint_is_built_in_as_runc_does() {
        let f = features();
        assert_eq!(
            f["annotations"]["org.opencontainers.runc.checkpoint.enabled"],
            "true"
        );
    }

    #[test]
    fn spec_refuses_to_overwrite() {
        let d = tempfile::tempdir().unwrap();
        write_default(d.path(), false).unwrap();
        let e = write_default(d.path(), false).unwrap_err().to_string();
        assert!(e.contains("exists"), "{e}");
    }
}
