//! Engine profiles (the moby/containers-common `seccomp.json` format: `archMap`, per-rule
//! `includes`/`excludes`) turned into the OCI `linux.seccomp` an engine would write into
//! config.json. Engines do this themselves; hull needs it to test and benchmark against the
//! real default profile at `/usr/share/containers/seccomp.json`.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Map, Value};

use crate::SeccompError;

/// The capabilities podman grants by default (containers.conf `default_capabilities`).
pub const PODMAN_DEFAULT_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_NET_BIND_SERVICE",
    "CAP_SETFCAP",
    "CAP_SETGID",
    "CAP_SETPCAP",
    "CAP_SETUID",
    "CAP_SYS_CHROOT",
];

/// Go's name for the running architecture (what `includes.arches` uses).
fn go_arch() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "amd64"
    } else if cfg!(target_arch = "aarch64") {
        "arm64"
    } else if cfg!(target_arch = "x86") {
        "386"
    } else {
        "unknown"
    }
}

fn native_scmp() -> &'static str {
    if cfg!(target_arch = "x86_64") {
        "SCMP_ARCH_X86_64"
    } else if cfg!(target_arch = "aarch64") {
        "SCMP_ARCH_AARCH64"
    } else {
        "SCMP_ARCH_X86"
    }
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    v.and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
        .unwrap_or_default()
}

/// Convert an engine profile for a container with capabilities `caps` on this architecture,
/// the way podman/moby do: architectures from `archMap` for the native arch, rules kept when
/// their `includes` (arches, caps) are met and their `excludes` are not. `minKernel` is ignored.
pub fn to_oci(profile: &str, caps: &[&str]) -> Result<LinuxSeccomp, SeccompError> {
    let v: Value = serde_json::from_str(profile)
        .map_err(|e| SeccompError::Parse(format!("invalid JSON: {e}")))?;
    let mut out = Map::new();
    for key in [
        "defaultAction",
        "defaultErrnoRet",
        "flags",
        "listenerPath",
        "listenerMetadata",
    ] {
        if let Some(x) = v.get(key) {
            out.insert(key.into(), x.clone());
        }
    }
    let mut arches = Vec::new();
    for m in v
        .get("archMap")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
    {
        if m.get("architecture").and_then(|a| a.as_str()) == Some(native_scmp()) {
            arches.push(native_scmp());
            arches.extend(strings(m.get("subArchitectures")));
        }
    }
    if let Some(a) = v.get("architectures") {
        arches.extend(strings(Some(a)));
    }
    out.insert("architectures".into(), json!(arches));
    let mut syscalls = Vec::new();
    for sc in v
        .get("syscalls")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
    {
        let inc = sc.get("includes");
        let exc = sc.get("excludes");
        let inc_arches = strings(inc.and_then(|i| i.get("arches")));
        if !inc_arches.is_empty() && !inc_arches.contains(&go_arch()) {
            continue;
        }
        if !strings(inc.and_then(|i| i.get("caps")))
            .iter()
            .all(|c| caps.contains(c))
        {
            continue;
        }
        if strings(exc.and_then(|i| i.get("arches"))).contains(&go_arch()) {
            continue;
        }
        if strings(exc.and_then(|i| i.get("caps")))
            .iter()
            .any(|c| caps.contains(c))
        {
            continue;
        }
        let mut rule = Map::new();
        for key in ["names", "action", "errnoRet", "args"] {
            if let Some(x) = sc.get(key) {
                if !x.is_null() {
                    rule.insert(key.into(), x.clone());
                }
            }
        }
        syscalls.push(Value::Object(rule));
    }
    out.insert("syscalls".into(), Value::Array(syscalls));
    crate::parse_profile(&Value::Object(out).to_string())
}
