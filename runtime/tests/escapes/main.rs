//! Container escapes, one test per class (see SECURITY.md): each drives the runtime as a black box
//! through its CLI (HULL_BIN may name another runtime, e.g. /usr/sbin/runc, to compare) and
//! asserts what an attacker in the container or the image would observe. Needs root.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn sh(cmd: &str) -> Value {
    config(&["sh", "-c", cmd])
}

/// Docker's default capability set: no CAP_SYS_PTRACE, no CAP_SYS_ADMIN.
fn default_caps(mut cfg: Value) -> Value {
    let caps = json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE"
    ]);
    cfg["process"]["capabilities"] =
        json!({"bounding": caps, "effective": caps, "permitted": caps});
    cfg
}

fn with_mounts(mut cfg: Value, extra: Value) -> Value {
    let m = cfg["mounts"].as_array_mut().unwrap();
    m.extend(extra.as_array().unwrap().iter().cloned());
    cfg
}

fn sha256(p: &Path) -> String {
    let o = Command::new("sha256sum").arg(p).output().unwrap();
    assert!(o.status.success());
    stdout(&o).split(' ').next().unwrap().to_string()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A host directory the container sees at /out (its results land there).
fn out_dir(env: &Env, name: &str) -> PathBuf {
    let d = env.tmp.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn out_mount(d: &Path) -> Value {
    json!([{"destination": "/out", "type": "bind", "source": d, "options": ["rbind"]}])
}

mod fds_and_cwd;
mod ids_and_state;
mod mounts_and_procfs;
mod proc_exe;
