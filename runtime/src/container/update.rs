//! `hull update ID`: change the resources of a live container's cgroup, with runc's flags or a
//! LinuxResources JSON (`-r FILE`, `-r -` for stdin). Everything is parsed and validated before
//! anything is written: an invalid value names its flag and changes nothing.

use super::state::{Status, Store};
use crate::error::{Error, Result};
use crate::logging;
use oci_spec::runtime::LinuxResources;
use serde_json::{json, Value};
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct UpdateArgs {
    pub id: String,
    pub resources: Option<PathBuf>,
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub memory_reservation: Option<String>,
    pub kernel_memory: Option<String>,
    pub kernel_memory_tcp: Option<String>,
    pub cpu_quota: Option<String>,
    pub cpu_period: Option<String>,
    pub cpu_share: Option<String>,
    pub cpu_rt_period: Option<String>,
    pub cpu_rt_runtime: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub cpuset_mems: Option<String>,
    pub pids_limit: Option<String>,
    pub blkio_weight: Option<String>,
    pub l3_cache_schema: Option<String>,
    pub mem_bw_schema: Option<String>,
}

/// A byte count as runc (docker's RAMInBytes) takes it: "512", "64k", "10M", "1.5g", "2GiB";
/// binary multiples. `-1` means unlimited.
pub fn parse_bytes(flag: &str, s: &str) -> Result<i64> {
    let bad = || {
        Error::invalid(format!(
            "--{flag} {s:?}: invalid size (a byte count like 1048576, 64k, 10m, 1g, or -1 for unlimited)"
        ))
    };
    let t = s.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let lower = t.to_ascii_lowercase();
    let num_end = lower
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(lower.len());
    let (num, unit) = lower.split_at(num_end);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim_start();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024f64.powi(2),
        "g" => 1024f64.powi(3),
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    let v = n * mult;
    if !v.is_finite() || v > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(v as i64)
}

fn parse_int<T: std::str::FromStr>(flag: &str, s: &str, what: &str) -> Result<T> {
    s.trim()
        .parse()
        .map_err(|_| Error::invalid(format!("--{flag} {s:?}: must be {what}")))
}

/// Turn the flags into (flag name, one-field LinuxResources JSON) pairs.
fn flag_parts(a: &UpdateArgs) -> Result<Vec<(&'static str, Value)>> {
    let mut parts: Vec<(&'static str, Value)> = Vec::new();
    if let Some(s) = &a.l3_cache_schema {
        return Err(Error::invalid(format!(
            "--l3-cache-schema {s:?}: Intel RDT is not supported by hull"
        )));
    }
    if let Some(s) = &a.mem_bw_schema {
        return Err(Error::invalid(format!(
            "--mem-bw-schema {s:?}: Intel RDT is not supported by hull"
        )));
    }
    if let Some(s) = &a.memory {
        parts.push((
            "memory",
            json!({"memory": {"limit": parse_bytes("memory", s)?}}),
        ));
    }
    if let Some(s) = &a.memory_swap {
        parts.push((
            "memory-swap",
            json!({"memory": {"swap": parse_bytes("memory-swap", s)?}}),
        ));
    }
    if let Some(s) = &a.memory_reservation {
        parts.push((
            "memory-reservation",
            json!({"memory": {"reservation": parse_bytes("memory-reservation", s)?}}),
        ));
    }
    if let Some(s) = &a.kernel_memory {
        parse_bytes("kernel-memory", s)?;
        logging::warn("--kernel-memory is ignored: kernel memory limits are not supported by this kernel (as runc 1.1 on cgroup v2 and kernels >= 5.16)");
    }
    if let Some(s) = &a.kernel_memory_tcp {
        parts.push((
            "kernel-memory-tcp",
            json!({"memory": {"kernelTCP": parse_bytes("kernel-memory-tcp", s)?}}),
        ));
    }
    if let Some(s) = &a.cpu_quota {
        let q: i64 = parse_int("cpu-quota", s, "an integer (microseconds, -1 for no limit)")?;
        parts.push(("cpu-quota", json!({"cpu": {"quota": q}})));
    }
    if let Some(s) = &a.cpu_period {
        let p: u64 = parse_int("cpu-period", s, "a non-negative integer (microseconds)")?;
        parts.push(("cpu-period", json!({"cpu": {"period": p}})));
    }
    if let Some(s) = &a.cpu_share {
        let p: u64 = parse_int("cpu-share", s, "a non-negative integer")?;
        parts.push(("cpu-share", json!({"cpu": {"shares": p}})));
    }
    if let Some(s) = &a.cpu_rt_period {
        let p: u64 = parse_int("cpu-rt-period", s, "a non-negative integer (microseconds)")?;
        parts.push(("cpu-rt-period", json!({"cpu": {"realtimePeriod": p}})));
    }
    if let Some(s) = &a.cpu_rt_runtime {
        let p: i64 = parse_int("cpu-rt-runtime", s, "an integer (microseconds)")?;
        parts.push(("cpu-rt-runtime", json!({"cpu": {"realtimeRuntime": p}})));
    }
    if let Some(s) = &a.cpuset_cpus {
        parts.push(("cpuset-cpus", json!({"cpu": {"cpus": s}})));
    }
    if let Some(s) = &a.cpuset_mems {
        parts.push(("cpuset-mems", json!({"cpu": {"mems": s}})));
    }
    if let Some(s) = &a.pids_limit {
        let p: i64 = parse_int("pids-limit", s, "an integer (-1 or 0 for no limit)")?;
        parts.push(("pids-limit", json!({"pids": {"limit": p}})));
    }
    if let Some(s) = &a.blkio_weight {
        let w: u16 = parse_int("blkio-weight", s, "an integer from 10 to 1000")?;
        if !(10..=1000).contains(&w) {
            return Err(Error::invalid(format!(
                "--blkio-weight {s:?}: must be from 10 to 1000"
            )));
        }
        parts.push(("blkio-weight", json!({"blockIO": {"weight": w}})));
    }
    Ok(parts)
}

fn merge(dst: &mut Value, src: &Value) {
    match (dst, src) {
        (Value::Object(d), Value::Object(s)) => {
            for (k, v) in s {
                merge(d.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (d, s) => *d = s.clone(),
    }
}

fn to_resources(v: Value, what: &str) -> Result<LinuxResources> {
    serde_json::from_value(v).map_err(|e| Error::invalid(format!("{what}: invalid resources: {e}")))
}

/// Parse and validate everything; return the resources to apply.
pub fn plan(a: &UpdateArgs, layout: hull_cgroups::Layout) -> Result<LinuxResources> {
    let check = |res: &LinuxResources, what: &str| -> Result<()> {
        hull_cgroups::validate(res, layout).map_err(|e| Error::invalid(format!("{what}: {e}")))
    };
    if let Some(path) = &a.resources {
        let mut raw = Vec::new();
        let what = format!("--resources {}", path.display());
        if path.as_os_str() == "-" {
            std::io::stdin()
                .read_to_end(&mut raw)
                .map_err(|e| Error::io("read --resources", "<stdin>", e))?;
        } else {
            raw = std::fs::read(path).map_err(|e| Error::io("read --resources", path, e))?;
        }
        let v: Value = serde_json::from_slice(&raw)
            .map_err(|e| Error::invalid(format!("{what}: invalid JSON: {e}")))?;
        if flag_parts(a).map(|p| !p.is_empty()).unwrap_or(true) {
            logging::warn("update: --resources given: the other resource flags are ignored");
        }
        let mut res = to_resources(v, &what)?;
        if res.devices().is_some() {
            logging::warn("update: devices cannot be updated, ignored");
            res.set_devices(None);
        }
        if res
            .memory()
            .as_ref()
            .is_some_and(|m| m.kernel().is_some_and(|k| k != 0))
        {
            logging::warn(
                "update: memory.kernel is ignored (kernel memory limits are not supported)",
            );
            let mut m = (*res.memory()).expect("checked");
            m.set_kernel(None);
            res.set_memory(Some(m));
        }
        check(&res, &what)?;
        return Ok(res);
    }
    let parts = flag_parts(a)?;
    if parts.is_empty() {
        return Err(Error::invalid(
            "update: nothing to update (give --resources FILE or a resource flag such as --memory)",
        ));
    }
    let mut all = json!({});
    for (flag, v) in &parts {
        let r = to_resources(v.clone(), &format!("--{flag}"))?;
        check(&r, &format!("--{flag}"))?;
        merge(&mut all, v);
    }
    let res = to_resources(all, "update")?;
    check(&res, "update")?;
    Ok(res)
}

pub fn update(store: &Store, a: &UpdateArgs) -> Result<()> {
    let dir = store.open(&a.id)?;
    let st = dir.load_current()?;
    if st.status == Status::Stopped {
        return Err(Error::wrong_state(&a.id, "update", Status::Stopped));
    }
    let cg = super::cgroup_of(&st).ok_or_else(|| Error::missing(&a.id, "update", "cgroup"))?;
    let res = plan(a, cg.path().layout)?;
    cg.apply(&res)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("memory", "1048576").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("memory", "64k").unwrap(), 64 << 10);
        assert_eq!(parse_bytes("memory", "10M").unwrap(), 10 << 20);
        assert_eq!(parse_bytes("memory", "1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("memory", "2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("memory", "1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("memory-swap", "-1").unwrap(), -1);
        for bad in ["", "x", "10q", "-5", "1..2k"] {
            let e = parse_bytes("memory", bad).unwrap_err().to_string();
            assert!(e.contains("--memory"), "{bad}: {e}");
        }
    }

    #[test]
    fn flags_build_one_resources_object() {
        let a = UpdateArgs {
            memory: Some("32m".into()),
            pids_limit: Some("17".into()),
            cpu_quota: Some("50000".into()),
            cpu_period: Some("100000".into()),
            ..Default::default()
        };
        let parts = flag_parts(&a).unwrap();
        let mut all = json!({});
        for (_, v) in &parts {
            merge(&mut all, v);
        }
        assert_eq!(
            all,
            json!({"memory": {"limit": 33554432}, "pids": {"limit": 17}, "cpu": {"quota": 50000, "period": 100000}})
        );
        let e = flag_parts(&UpdateArgs {
            pids_limit: Some("many".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("--pids-limit"), "{e}");
        let e = flag_parts(&UpdateArgs {
            blkio_weight: Some("5".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("--blkio-weight"), "{e}");
        let e = flag_parts(&UpdateArgs {
            l3_cache_schema: Some("L3:0=f".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("RDT"), "{e}");
    }
}
