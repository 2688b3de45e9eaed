//! The inside of the container matches config.json: each test looks from inside the container
//! (mountinfo, /proc/self/status, stat, the errno) or at the host and sees the field's effect.
//! See docs/environment.md for the field-by-field comparison with runc 1.1.5. Needs root.

#[path = "../common/mod.rs"]
mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `hull run` a config in its own bundle; returns (success, stdout, stderr).
fn run(env: &Env, name: &str, cfg: &Value) -> (bool, String, String) {
    let id = env.id(name);
    let b = env.bundle(name, cfg);
    let o = env.hull(&["run", "-b", b.to_str().unwrap(), &id]);
    (o.status.success(), stdout(&o), stderr(&o))
}

fn run_ok(env: &Env, name: &str, cfg: &Value) -> String {
    let (ok, out, err) = run(env, name, cfg);
    assert!(ok, "{name}: run failed: {err}\nstdout: {out}");
    out
}

/// `create` must fail naming `needle`, and leave nothing behind: no state dir, no process
/// (a leftover init still carries hull's command line, with our private --root), no mount.
fn refused(env: &Env, name: &str, cfg: &Value, needle: &str) -> String {
    let id = env.id(name);
    let b = env.bundle(name, cfg);
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    let err = stderr(&o);
    assert!(!o.status.success(), "{name}: create should fail");
    assert!(
        err.contains(needle),
        "{name}: error {err:?} should name {needle:?}"
    );
    assert!(
        !env.root.join(&id).exists(),
        "{name}: state dir left behind"
    );
    let root = env.root.to_string_lossy().to_string();
    for p in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(p.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            assert!(
                !(cmd.contains(&root) && cmd.contains(&id)),
                "{name}: process {:?} left behind: {cmd}",
                p.file_name()
            );
        }
    }
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mi.contains(env.tmp.path().to_str().unwrap()),
        "{name}: mount left behind on the host"
    );
    err
}

fn sh(cmd: &str) -> Value {
    config(&["sh", "-c", cmd])
}

/// The mountinfo line of `mp` as seen inside the container (from the container's output).
fn line_of<'a>(out: &'a str, mp: &str) -> &'a str {
    out.lines()
        .find(|l| l.split(' ').nth(4) == Some(mp))
        .unwrap_or_else(|| panic!("no mount at {mp} in:\n{out}"))
}

/// Per-mount options (field 6) and optional fields (shared:/master:) of a mountinfo line.
fn mnt_opts(line: &str) -> (Vec<&str>, Vec<&str>) {
    let pre = line.split(" - ").next().unwrap();
    let f: Vec<&str> = pre.split(' ').collect();
    (f[5].split(',').collect(), f[6..].to_vec())
}

/// A host mount made by a test (a shared tmpfs), unmounted when dropped.
struct HostMount(PathBuf);
impl HostMount {
    fn shared_tmpfs(at: &Path) -> HostMount {
        std::fs::create_dir_all(at).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "hulltest"])
            .arg(at)
            .status()
            .unwrap();
        assert!(st.success());
        let g = HostMount(at.to_path_buf());
        assert!(Command::new("mount")
            .arg("--make-shared")
            .arg(at)
            .status()
            .unwrap()
            .success());
        g
    }
}
impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A private copy of the busybox rootfs (for tests that change the image).
fn private_rootfs(env: &Env, bundle: &str) -> PathBuf {
    let b = env.tmp.path().join(bundle);
    std::fs::create_dir_all(&b).unwrap();
    let r = b.join("rootfs");
    let st = Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&r)
        .status()
        .unwrap();
    assert!(st.success());
    r
}

fn host_src(env: &Env, name: &str) -> PathBuf {
    let d = env.tmp.path().join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("f"), "hello\n").unwrap();
    d
}

mod credentials;
mod devices_and_process;
mod hooks;
mod idmapped;
mod mounts;

fn userns(mut cfg: Value) -> Value {
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    cfg["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    cfg["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    // sysfs cannot be mounted fresh without a new net namespace owned by the userns: bind it.
    for m in cfg["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "bind", "source": "/sys",
                        "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
        }
    }
    cfg
}

fn have_cap_sys_resource() -> bool {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = s
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    u64::from_str_radix(&eff, 16).unwrap() & (1 << 24) != 0
}
