//! cgroup managers (filled by the cgroups work).
