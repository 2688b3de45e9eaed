//! Task `Stats`: containerd's cgroup metrics, read straight from the container's cgroup files
//! (no runtime process per call): `io.containerd.cgroups.v1.Metrics` on v1/hybrid hosts,
//! `io.containerd.cgroups.v2.Metrics` on unified ones, with the fields containerd's cgroups
//! library fills (CRI's working set = usage − inactive file comes from these).
//!
//! `cgroup_v1` builds the v1 message, `cgroup_v2` the v2 one; what both read (rdma lines,
//! hugetlb page sizes) is here.

use std::path::Path;

use protobuf::well_known_types::any::Any;

use crate::cgroup::{read_opt, Cgroup};
use crate::events::pack;

mod cgroup_v1;
mod cgroup_v2;

use cgroup_v1::v1_metrics;
use cgroup_v2::v2_metrics;

/// The protobuf full names of the two metrics messages (constants: see `events::pack`).
const V1_METRICS: &str = "io.containerd.cgroups.v1.Metrics";
const V2_METRICS: &str = "io.containerd.cgroups.v2.Metrics";

/// The metrics of `cg`, packed as containerd expects them in `StatsResponse.stats`.
pub fn metrics(cg: &Cgroup) -> Any {
    match cg {
        Cgroup::V2(dir) => pack(&v2_metrics(dir), V2_METRICS),
        Cgroup::V1(_) => pack(&v1_metrics(cg), V1_METRICS),
    }
}

/// rdma.current / rdma.max lines "mlx4_0 hca_handle=2 hca_object=2000" ("max" = u32::MAX).
fn rdma<E>(path: &Path, mk: fn(&str, u32, u32) -> E) -> Vec<E> {
    let n = |v: &str| {
        if v == "max" {
            u32::MAX
        } else {
            v.parse().unwrap_or(0)
        }
    };
    read_opt(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let dev = it.next()?;
            let (mut h, mut o) = (0, 0);
            for kv in it {
                match kv.split_once('=') {
                    Some(("hca_handle", v)) => h = n(v),
                    Some(("hca_object", v)) => o = n(v),
                    _ => {}
                }
            }
            Some(mk(dev, h, o))
        })
        .collect()
}

/// "/dev/sda" for 8:0, from sysfs; "" when unknown (containerd leaves it empty then too).
fn device_name(major: u64, minor: u64) -> String {
    read_opt(Path::new(&format!("/sys/dev/block/{major}:{minor}/uevent")))
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("DEVNAME="))
                .map(|n| format!("/dev/{n}"))
        })
        .unwrap_or_default()
}

/// The page sizes that have `hugetlb.<size><suffix>` files ("2MB", "1GB"), sorted.
fn hugetlb_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            let s = n.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!s.contains('.')).then(|| s.to_string())
        })
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests;
