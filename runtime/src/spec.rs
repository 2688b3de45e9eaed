//! Loading and validating config.json.
//!
//! The file is parsed in two steps: first as plain JSON, so that capability names the kernel or
//! hull does not know can be dropped with a warning (as runc does) instead of failing the whole
//! config; then into `oci_spec::runtime::Spec`, with the JSON path of any bad field in the error.

use crate::error::{Error, Result};
use crate::logging;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A loaded bundle: the parsed spec, its raw bytes, and absolute paths.
pub struct Bundle {
    pub dir: PathBuf,
    pub rootfs: PathBuf,
    pub spec: Spec,
    pub raw: Vec<u8>,
}

/// Known capability names (CAP_CHOWN .. CAP_CHECKPOINT_RESTORE), in kernel order.
pub const CAPABILITIES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Load `<bundle>/config.json` and validate it for `create`.
pub fn load_bundle(bundle: &Path) -> Result<Bundle> {
    let dir = std::fs::canonicalize(bundle).map_err(|e| Error::io("bundle", bundle, e))?;
    if !dir.is_dir() {
        return Err(Error::invalid(format!(
            "bundle {}: not a directory",
            dir.display()
        )));
    }
    let cfg = dir.join("config.json");
    let raw = std::fs::read(&cfg).map_err(|e| Error::io("read", &cfg, e))?;
    let spec = parse_config(&raw).map_err(|e| Error::invalid(format!("{}: {e}", cfg.display())))?;
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::invalid(format!("{}: root: missing", cfg.display())))?;
    let rp = root.path();
    let rootfs_raw = if rp.is_absolute() {
        rp.clone()
    } else {
        dir.join(rp)
    };
    let rootfs = std::fs::canonicalize(&rootfs_raw)
        .map_err(|e| Error::io("root.path: rootfs", &rootfs_raw, e))?;
    if !rootfs.is_dir() {
        return Err(Error::invalid(format!(
            "root.path: rootfs {} is not a directory",
            rootfs.display()
        )));
    }
    validate(&spec)?;
    Ok(Bundle {
        dir,
        rootfs,
        spec,
        raw,
    })
}

/// Parse config.json bytes: unknown capabilities dropped with a warning; errors carry the JSON path.
pub fn parse_config(raw: &[u8]) -> std::result::Result<Spec, String> {
    let mut v: serde_json::Value = serde_json::from_slice(raw).map_err(|e| format!("{e}"))?;
    if !v.is_object() {
        return Err("config must be a JSON object".into());
    }
    drop_unknown_caps(&mut v);
    serde_path_to_error::deserialize::<_, Spec>(v).map_err(|e| {
        let path = e.path().to_string();
        format!("{path}: {}", e.into_inner())
    })
}

fn drop_unknown_caps(v: &mut serde_json::Value) {
    let Some(caps) = v
        .get_mut("process")
        .and_then(|p| p.get_mut("capabilities"))
        .and_then(|c| c.as_object_mut())
    else {
        return;
    };
    for (set, list) in caps.iter_mut() {
        if let Some(arr) = list.as_array_mut() {
            arr.retain(|c| {
                let ok = c.as_str().is_some_and(|s| CAPABILITIES.contains(&s));
                if !ok {
                    logging::warn(&format!(
                        "process.capabilities.{set}: unknown capability {c} ignored"
                    ));
                }
                ok
            });
        }
    }
}

/// Namespace types the config asks for (new or joined).
pub fn namespace_types(spec: &Spec) -> HashSet<LinuxNamespaceType> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(|ns| ns.iter().map(|n| n.typ()).collect())
        .unwrap_or_default()
}

/// Checks that do not need the host: the config is self-consistent.
pub fn validate(spec: &Spec) -> Result<()> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::invalid("process: missing (required for create)"))?;
    let args = process.args().as_deref().unwrap_or(&[]);
    if args.is_empty() {
        return Err(Error::invalid("process.args: must not be empty"));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::invalid(format!(
            "process.cwd: {:?} is not an absolute path",
            process.cwd()
        )));
    }
    for (i, e) in process.env().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !e.contains('=') || e.starts_with('=') {
            return Err(Error::invalid(format!(
                "process.env[{i}]: {e:?} is not KEY=value"
            )));
        }
    }
    if let Some(rl) = process.rlimits() {
        let mut seen = HashSet::new();
        for (i, r) in rl.iter().enumerate() {
            if !seen.insert(format!("{:?}", r.typ())) {
                return Err(Error::invalid(format!(
                    "process.rlimits[{i}]: duplicate type {:?}",
                    r.typ()
                )));
            }
            if r.soft() > r.hard() {
                return Err(Error::invalid(format!(
                    "process.rlimits[{i}]: soft limit {} exceeds hard limit {}",
                    r.soft(),
                    r.hard()
                )));
            }
        }
    }
    for (i, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !m.destination().is_absolute() {
            return Err(Error::invalid(format!(
                "mounts[{i}].destination: {:?} is not an absolute path",
                m.destination()
            )));
        }
    }
    let linux = spec.linux().as_ref();
    let nss = linux.and_then(|l| l.namespaces().as_deref()).unwrap_or(&[]);
    let mut seen = HashSet::new();
    for (i, ns) in nss.iter().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(Error::invalid(format!(
                "linux.namespaces[{i}]: duplicate namespace type {}",
                ns.typ()
            )));
        }
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(Error::invalid(format!(
                    "linux.namespaces[{i}].path: {p:?} is not an absolute path"
                )));
            }
        }
    }
    let has_new = |t: LinuxNamespaceType| nss.iter().any(|n| n.typ() == t && n.path().is_none());
    let has = |t: LinuxNamespaceType| nss.iter().any(|n| n.typ() == t);
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err(Error::invalid(
            "hostname: cannot set a hostname without a private UTS namespace (linux.namespaces)",
        ));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts)
    {
        return Err(Error::invalid(
            "domainname: cannot set a domainname without a private UTS namespace (linux.namespaces)",
        ));
    }
    if let Some(l) = linux {
        let maps = l.uid_mappings().as_deref().unwrap_or(&[]).len()
            + l.gid_mappings().as_deref().unwrap_or(&[]).len();
        if has_new(LinuxNamespaceType::User) {
            if l.uid_mappings().as_deref().unwrap_or(&[]).is_empty()
                || l.gid_mappings().as_deref().unwrap_or(&[]).is_empty()
            {
                return Err(Error::invalid(
                    "linux.uidMappings/gidMappings: a new user namespace needs both mappings",
                ));
            }
        } else if maps > 0 && !has(LinuxNamespaceType::User) {
            return Err(Error::invalid(
                "linux.uidMappings: mappings given without a user namespace",
            ));
        }
        for (i, d) in l.devices().as_deref().unwrap_or(&[]).iter().enumerate() {
            use oci_spec::runtime::LinuxDeviceType as T;
            if !d.path().is_absolute() {
                return Err(Error::invalid(format!(
                    "linux.devices[{i}].path: {:?} is not an absolute path",
                    d.path()
                )));
            }
            if matches!(d.typ(), T::A) {
                return Err(Error::invalid(format!(
                    "linux.devices[{i}].type: \"a\" is not a device type (use c, b, u or p)"
                )));
            }
        }
        if let Some(sysctl) = l.sysctl() {
            for key in sysctl.keys() {
                validate_sysctl(key, &has_new, &has)?;
            }
        }
        for (name, list) in [
            ("linux.maskedPaths", l.masked_paths()),
            ("linux.readonlyPaths", l.readonly_paths()),
        ] {
            for (i, p) in list.as_deref().unwrap_or(&[]).iter().enumerate() {
                if !p.starts_with('/') {
                    return Err(Error::invalid(format!(
                        "{name}[{i}]: {p:?} is not an absolute path"
                    )));
                }
            }
        }
        if let Some(p) = l.rootfs_propagation() {
            if !p.is_empty() && crate::rootfs::propagation_flag(p).is_none() {
                return Err(Error::invalid(format!(
                    "linux.rootfsPropagation: unknown propagation {p:?}"
                )));
            }
        }
    }
    Ok(())
}

/// runc's rule: a sysctl may only be set when the container has the namespace that scopes it.
fn validate_sysctl(
    key: &str,
    has_new: &dyn Fn(LinuxNamespaceType) -> bool,
    has: &dyn Fn(LinuxNamespaceType) -> bool,
) -> Result<()> {
    if key.is_empty() || key.contains("..") || key.starts_with('/') || key.starts_with('.') {
        return Err(Error::invalid(format!("linux.sysctl: invalid key {key:?}")));
    }
    let k = key.replace('/', ".");
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if ipc.contains(&k.as_str()) || k.starts_with("fs.mqueue.") {
        if !has(LinuxNamespaceType::Ipc) {
            return Err(Error::invalid(format!(
                "linux.sysctl: {key} requires an IPC namespace"
            )));
        }
        return Ok(());
    }
    if k.starts_with("net.") {
        if !has(LinuxNamespaceType::Network) {
            return Err(Error::invalid(format!(
                "linux.sysctl: {key} requires a network namespace"
            )));
        }
        return Ok(());
    }
    if k == "kernel.hostname" || k == "kernel.domainname" {
        if !has_new(LinuxNamespaceType::Uts) && !has(LinuxNamespaceType::Uts) {
            return Err(Error::invalid(format!(
                "linux.sysctl: {key} requires a UTS namespace"
            )));
        }
        return Ok(());
    }
    Err(Error::invalid(format!(
        "linux.sysctl: {key} is not namespaced and cannot be set in a container"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.2.0",
            "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
        })
    }

    fn check(v: serde_json::Value) -> std::result::Result<(), String> {
        let spec = parse_config(&serde_json::to_vec(&v).unwrap())?;
        validate(&spec).map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_minimal_config() {
        check(base()).unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        let mut v = base();
        v["linux"]["namespaces"][1]["type"] = "bogus".into();
        let e = check(v).unwrap_err();
        assert!(e.contains("linux.namespaces[1].type"), "{e}");

        let mut v = base();
        v["process"]["args"] = serde_json::json!([]);
        assert!(check(v).unwrap_err().contains("process.args"));

        let mut v = base();
        v["process"]["cwd"] = "rel".into();
        assert!(check(v).unwrap_err().contains("process.cwd"));

        let mut v = base();
        v["mounts"] =
            serde_json::json!([{"destination": "tmp", "type": "tmpfs", "source": "tmpfs"}]);
        assert!(check(v).unwrap_err().contains("mounts[0].destination"));

        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "pid"}]);
        assert!(check(v).unwrap_err().contains("duplicate namespace"));

        let mut v = base();
        v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}]);
        v["hostname"] = "h".into();
        assert!(check(v).unwrap_err().contains("UTS"));

        let e = parse_config(b"{\"ociVersion\": 1").unwrap_err();
        assert!(e.contains("line 1"), "{e}");
    }

    #[test]
    fn sysctl_needs_its_namespace() {
        let mut v = base();
        v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ip_forward": "1"});
        assert!(check(v.clone()).unwrap_err().contains("network namespace"));
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "network"}));
        check(v.clone()).unwrap();
        v["linux"]["sysctl"] = serde_json::json!({"vm.swappiness": "1"});
        assert!(check(v).unwrap_err().contains("not namespaced"));
    }

    #[test]
    fn unknown_capabilities_are_dropped() {
        let mut v = base();
        v["process"]["capabilities"] =
            serde_json::json!({"bounding": ["CAP_CHOWN", "CAP_NOT_A_THING"]});
        let spec = parse_config(&serde_json::to_vec(&v).unwrap()).unwrap();
        let b = spec
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap()
            .bounding()
            .clone()
            .unwrap();
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn user_namespace_needs_mappings() {
        let mut v = base();
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"type": "user"}));
        assert!(check(v.clone()).unwrap_err().contains("gidMappings"));
        v["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        v["linux"]["gidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        check(v).unwrap();
    }
}
