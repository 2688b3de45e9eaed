//! `update`: its flag table, the flags as [`UpdateArgs`], and the call into `container::update`.

use super::table::{path, string, value, Flag, Matches, Verb};
use crate::container::update::UpdateArgs;
use crate::container::{self, Store};
use crate::error::Result;

const UPDATE_FLAGS: &[Flag] = &[
    value(
        "resources",
        Some('r'),
        "File with a LinuxResources JSON, or '-' for stdin (the other flags are then ignored)",
    ),
    value(
        "memory",
        None,
        "Memory limit in bytes (suffixes k, m, g allowed)",
    ),
    value(
        "memory-swap",
        None,
        "Memory + swap limit in bytes; -1 for unlimited swap",
    ),
    value("memory-reservation", None, "Memory soft limit in bytes"),
    value(
        "kernel-memory",
        None,
        "Kernel memory limit (ignored with a warning: not supported by the kernel)",
    ),
    value(
        "kernel-memory-tcp",
        None,
        "Kernel TCP buffer memory limit (cgroup v1)",
    ),
    value(
        "cpu-quota",
        None,
        "CPU CFS quota in microseconds per period (-1: no limit)",
    ),
    value("cpu-period", None, "CPU CFS period in microseconds"),
    value("cpu-share", None, "CPU shares (relative weight)"),
    value("cpu-rt-period", None, "CPU realtime period in microseconds"),
    value(
        "cpu-rt-runtime",
        None,
        "CPU realtime runtime in microseconds",
    ),
    value("cpuset-cpus", None, "CPUs to use (e.g. 0-1)"),
    value("cpuset-mems", None, "Memory nodes to use"),
    value("pids-limit", None, "Maximum number of pids"),
    value("blkio-weight", None, "Block IO weight, 10 to 1000"),
    value(
        "l3-cache-schema",
        None,
        "Intel RDT L3 cache schema (not supported: error)",
    ),
    value(
        "mem-bw-schema",
        None,
        "Intel RDT memory bandwidth schema (not supported: error)",
    ),
];

pub(super) const UPDATE: Verb = Verb {
    name: "update",
    about: "Update a container's resource limits",
    flags: &[UPDATE_FLAGS],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) fn flags(m: &Matches) -> UpdateArgs {
    UpdateArgs {
        resources: path(m, "resources"),
        memory: string(m, "memory"),
        memory_swap: string(m, "memory-swap"),
        memory_reservation: string(m, "memory-reservation"),
        kernel_memory: string(m, "kernel-memory"),
        kernel_memory_tcp: string(m, "kernel-memory-tcp"),
        cpu_quota: string(m, "cpu-quota"),
        cpu_period: string(m, "cpu-period"),
        cpu_share: string(m, "cpu-share"),
        cpu_rt_period: string(m, "cpu-rt-period"),
        cpu_rt_runtime: string(m, "cpu-rt-runtime"),
        cpuset_cpus: string(m, "cpuset-cpus"),
        cpuset_mems: string(m, "cpuset-mems"),
        pids_limit: string(m, "pids-limit"),
        blkio_weight: string(m, "blkio-weight"),
        l3_cache_schema: string(m, "l3-cache-schema"),
        mem_bw_schema: string(m, "mem-bw-schema"),
        id: m.args[0].clone(),
    }
}

pub(super) fn update(store: &Store, args: UpdateArgs) -> Result<i32> {
    container::update::update(store, &args).map(|_| 0)
}
