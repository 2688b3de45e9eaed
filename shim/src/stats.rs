//! `runtime events --stats` JSON (runc's `types.Stats`) → containerd's cgroup metrics protobuf:
//! `io.containerd.cgroups.v1.Metrics` on v1/hybrid hosts, `io.containerd.cgroups.v2.Metrics` on
//! unified ones, as the runc shim reports. Covered: pids, CPU usage, memory usage/limit/max.

use containerd_shim_protos::cgroups::metrics as v1;
use containerd_shim_protos::cgroups_v2::metrics as v2;
use protobuf::well_known_types::any::Any;
use protobuf::{MessageField, MessageFull};
use serde_json::Value;

pub fn host_is_unified() -> bool {
    std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

fn n(v: &Value, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

fn pack<M: MessageFull>(m: &M) -> Any {
    let mut a = Any::new();
    a.type_url = M::descriptor().full_name().to_string();
    a.value = m.write_to_bytes().unwrap_or_default();
    a
}

/// Convert; `stats` is the whole event (`{"type":"stats","data":{...}}`) or just its data.
pub fn to_metrics(stats: &Value, unified: bool) -> Any {
    let d = stats.get("data").unwrap_or(stats);
    if unified {
        let mut m = v2::Metrics::new();
        let mut p = v2::PidsStat::new();
        p.current = n(d, &["pids", "current"]);
        p.limit = n(d, &["pids", "limit"]);
        m.pids = MessageField::some(p);
        let mut c = v2::CPUStat::new();
        c.usage_usec = n(d, &["cpu", "usage", "total"]) / 1000;
        c.user_usec = n(d, &["cpu", "usage", "user"]) / 1000;
        c.system_usec = n(d, &["cpu", "usage", "kernel"]) / 1000;
        m.cpu = MessageField::some(c);
        let mut mem = v2::MemoryStat::new();
        mem.usage = n(d, &["memory", "usage", "usage"]);
        mem.usage_limit = n(d, &["memory", "usage", "limit"]);
        m.memory = MessageField::some(mem);
        pack(&m)
    } else {
        let mut m = v1::Metrics::new();
        let mut p = v1::PidsStat::new();
        p.current = n(d, &["pids", "current"]);
        p.limit = n(d, &["pids", "limit"]);
        m.pids = MessageField::some(p);
        let mut u = v1::CPUUsage::new();
        u.total = n(d, &["cpu", "usage", "total"]);
        u.kernel = n(d, &["cpu", "usage", "kernel"]);
        u.user = n(d, &["cpu", "usage", "user"]);
        u.per_cpu = d
            .pointer("/cpu/usage/percpu")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let mut c = v1::CPUStat::new();
        c.usage = MessageField::some(u);
        m.cpu = MessageField::some(c);
        let mut e = v1::MemoryEntry::new();
        e.usage = n(d, &["memory", "usage", "usage"]);
        e.limit = n(d, &["memory", "usage", "limit"]);
        e.max = n(d, &["memory", "usage", "max"]);
        e.failcnt = n(d, &["memory", "usage", "failcnt"]);
        let mut mem = v1::MemoryStat::new();
        mem.usage = MessageField::some(e);
        m.memory = MessageField::some(mem);
        pack(&m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protobuf::Message;

    fn sample() -> Value {
        serde_json::json!({"type":"stats","id":"c","data":{
            "cpu":{"usage":{"total":5_000_000u64,"percpu":[3_000_000u64,2_000_000u64],"kernel":1_000_000u64,"user":4_000_000u64}},
            "memory":{"usage":{"usage":4096,"limit":1048576,"max":8192,"failcnt":1}},
            "pids":{"current":3,"limit":100}}})
    }

    #[test]
    fn v1_metrics() {
        let a = to_metrics(&sample(), false);
        assert_eq!(a.type_url, "io.containerd.cgroups.v1.Metrics");
        let m = v1::Metrics::parse_from_bytes(&a.value).unwrap();
        assert_eq!(m.pids.current, 3);
        assert_eq!(m.pids.limit, 100);
        assert_eq!(m.cpu.usage.total, 5_000_000);
        assert_eq!(m.cpu.usage.per_cpu, vec![3_000_000, 2_000_000]);
        assert_eq!(m.memory.usage.usage, 4096);
        assert_eq!(m.memory.usage.limit, 1048576);
        assert_eq!(m.memory.usage.max, 8192);
    }

    #[test]
    fn v2_metrics_in_microseconds() {
        let a = to_metrics(&sample(), true);
        assert_eq!(a.type_url, "io.containerd.cgroups.v2.Metrics");
        let m = v2::Metrics::parse_from_bytes(&a.value).unwrap();
        assert_eq!(m.cpu.usage_usec, 5000);
        assert_eq!(m.cpu.system_usec, 1000);
        assert_eq!(m.memory.usage, 4096);
        assert_eq!(m.memory.usage_limit, 1048576);
        assert_eq!(m.pids.current, 3);
    }

    #[test]
    fn missing_fields_are_zero() {
        let m = v1::Metrics::parse_from_bytes(&to_metrics(&serde_json::json!({}), false).value)
            .unwrap();
        assert_eq!(m.pids.current, 0);
    }
}
