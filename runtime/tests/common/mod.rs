//! Shared helpers for hull's integration tests: a private state root, bundles on the busybox
//! rootfs, and guards that delete containers and temp dirs even when a test fails.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub fn hull_bin() -> PathBuf {
    std::env::var_os("HULL_BIN")
        .map(PathBuf::from)
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hull")))
}

/// The busybox rootfs (`make rootfs`), built on demand if HULL_ROOTFS is not set.
pub fn rootfs() -> PathBuf {
    if let Some(p) = std::env::var_os("HULL_ROOTFS") {
        let p = PathBuf::from(p);
        if p.join("bin/busybox").exists() {
            return p;
        }
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../build/rootfs");
    if !p.join("bin/busybox").exists() {
        let st = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/mkrootfs.sh"))
            .arg(&p)
            .status()
            .expect("run mkrootfs.sh");
        assert!(st.success(), "mkrootfs.sh failed");
    }
    p.canonicalize().unwrap()
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One test's world: a state root, a bundle dir, and the IDs it created.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub ids: std::cell::RefCell<Vec<String>>,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::Builder::new()
            .prefix("hull-it-")
            .tempdir()
            .unwrap();
        let root = tmp.path().join("state");
        Env {
            tmp,
            root,
            ids: Default::default(),
        }
    }

    pub fn id(&self, base: &str) -> String {
        let id = format!(
            "{base}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        self.ids.borrow_mut().push(id.clone());
        id
    }

    /// A bundle whose rootfs is a symlink to the shared busybox rootfs.
    pub fn bundle(&self, name: &str, config: &Value) -> PathBuf {
        let b = self.tmp.path().join(name);
        std::fs::create_dir_all(&b).unwrap();
        let r = b.join("rootfs");
        if !r.exists() {
            std::os::unix::fs::symlink(rootfs(), &r).unwrap();
        }
        std::fs::write(
            b.join("config.json"),
            serde_json::to_vec_pretty(config).unwrap(),
        )
        .unwrap();
        b
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(hull_bin());
        c.arg("--root").arg(&self.root).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Run hull with stdout/stderr captured through files (not pipes: a created container
    /// inherits them and would keep a pipe open long after hull exits).
    pub fn hull(&self, args: &[&str]) -> Output {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let out = self.tmp.path().join(format!(".out-{n}"));
        let err = self.tmp.path().join(format!(".err-{n}"));
        let mut c = self.cmd(args);
        c.stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap());
        let child = c.spawn().unwrap();
        let o = wait_output(child, Duration::from_secs(30));
        Output {
            status: o.status,
            stdout: std::fs::read(&out).unwrap(),
            stderr: std::fs::read(&err).unwrap(),
        }
    }

    pub fn state(&self, id: &str) -> Value {
        let o = self.hull(&["state", id]);
        assert!(o.status.success(), "state {id}: {}", stderr(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = Command::new(hull_bin())
                .arg("--root")
                .arg(&self.root)
                .args(["delete", "-f", id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub fn wait_output(mut child: std::process::Child, timeout: Duration) -> Output {
    let start = Instant::now();
    loop {
        if let Some(_st) = child.try_wait().unwrap() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let o = child.wait_with_output().unwrap();
            panic!(
                "command timed out; stderr: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A minimal config running `args` in new pid, mount, ipc, uts, net namespaces.
/// `cfg` with the mounts of the JSON array `extra` appended to its own.
pub fn with_mounts(mut cfg: Value, extra: Value) -> Value {
    let m = cfg["mounts"].as_array_mut().unwrap();
    m.extend(extra.as_array().unwrap().iter().cloned());
    cfg
}

pub fn config(args: &[&str]) -> Value {
    json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/bin:/usr/bin", "HOME=/root"],
            "cwd": "/"
        },
        "root": {"path": "rootfs"},
        "hostname": "hull-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}, {"type": "network"}],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Wait until `f` is true or time out.
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn pid_alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let st = s[s.rfind(')').unwrap() + 2..].chars().next().unwrap();
            st != 'Z' && st != 'X'
        })
        .unwrap_or(false)
}
