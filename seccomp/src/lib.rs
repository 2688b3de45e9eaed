//! OCI seccomp -> BPF (filled by the seccomp work).
