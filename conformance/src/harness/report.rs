//! Reading what the probe reported and what the host shows: mounts, capabilities, namespaces.
use super::{Bad, R};
use serde_json::Value;
use std::fs;
use std::path::Path;

/// Copy a directory tree (files, dirs, symlinks; modes kept).
pub fn copy_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dst)?;
    fs::set_permissions(dst, fs::metadata(src)?.permissions())?;
    for e in fs::read_dir(src)? {
        let e = e?;
        let ft = e.file_type()?;
        let to = dst.join(e.file_name());
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path())?, &to)?;
        } else if ft.is_dir() {
            copy_tree(&e.path(), &to)?;
        } else if ft.is_file() {
            fs::copy(e.path(), &to)?;
        }
    }
    Ok(())
}

/// Find the probe's line with op == `op`.
pub fn find<'v>(lines: &'v [Value], op: &str) -> R<&'v Value> {
    lines
        .iter()
        .find(|l| l["op"] == op)
        .ok_or_else(|| Bad::Fail(format!("probe printed no {op:?} line: {lines:?}")))
}

/// The pid's namespace link of `kind`.
pub fn proc_ns(pid: i32, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn pid_alive(pid: i32) -> bool {
    // a zombie is not alive for our purposes
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Parse a hex capability mask from /proc/self/status.
pub fn cap_mask(v: &Value) -> u64 {
    u64::from_str_radix(v.as_str().unwrap_or("0"), 16).unwrap_or(u64::MAX)
}

pub const CAP_NAMES: &[&str] = &[
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

pub fn caps_to_mask(names: &[&str]) -> u64 {
    names
        .iter()
        .map(|n| 1u64 << CAP_NAMES.iter().position(|c| c == n).unwrap())
        .fold(0, |a, b| a | b)
}

/// Find a mount by mount point in a probe report.
pub fn mount_at<'v>(report: &'v Value, mp: &str) -> Option<&'v Value> {
    report["mounts"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["mountpoint"] == mp)
}

pub fn has_opt(m: &Value, key: &str, opt: &str) -> bool {
    m[key].as_str().unwrap_or("").split(',').any(|o| o == opt)
}
