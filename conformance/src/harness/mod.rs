//! The harness: per-case temp dirs, bundles, driving the runtime's CLI, cleanup.
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod cglayout;
mod report;

pub use cglayout::CgLayout;
pub use report::*;

/// Why a case did not pass.
#[derive(Debug)]
pub enum Bad {
    Fail(String),
    Skip(String),
}
pub type R<T = ()> = Result<T, Bad>;

#[macro_export]
macro_rules! fail {
    ($($t:tt)*) => { return Err($crate::harness::Bad::Fail(format!($($t)*))) };
}
#[macro_export]
macro_rules! skip {
    ($($t:tt)*) => { return Err($crate::harness::Bad::Skip(format!($($t)*))) };
}
#[macro_export]
macro_rules! check {
    ($c:expr, $($t:tt)*) => { if !$c { $crate::fail!($($t)*) } };
}
#[macro_export]
macro_rules! check_eq {
    ($a:expr, $b:expr, $what:expr) => {
        match (&$a, &$b) {
            (a, b) => {
                if a != b {
                    $crate::fail!("{}: got {:?}, want {:?}", $what, a, b)
                }
            }
        }
    };
}

/// Options and facts shared by every case.
pub struct Env {
    pub runtime: PathBuf,
    pub rootfs: PathBuf,
    pub probe: PathBuf,
    pub workdir: PathBuf,
    pub cg: CgLayout,
    pub timeout: Duration,
    pub tag: String,
}

impl Env {
    pub fn host_ns(&self, kind: &str) -> String {
        fs::read_link(format!("/proc/self/ns/{kind}"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// What a runtime command did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == 0 && !self.timed_out
    }
    pub fn brief(&self) -> String {
        let e = self.stderr.trim();
        let e = if e.len() > 300 {
            &e[e.len() - 300..]
        } else {
            e
        };
        format!(
            "exit {}{}: {}",
            self.code,
            if self.timed_out { " (timed out)" } else { "" },
            e.replace('\n', " | ")
        )
    }
}

fn status_code(s: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0))
}

/// Wait for a child with a deadline; kill it on timeout. Returns (code, timed_out).
pub fn wait_child(child: &mut Child, timeout: Duration) -> (i32, bool) {
    let end = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return (status_code(s), false),
            Ok(None) => {}
            Err(_) => return (-1, false),
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return (-1, true);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One container's bundle.
#[derive(Clone, Debug)]
pub struct Bundle {
    pub dir: PathBuf,
    pub id: String,
    pub cgpath: String,
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
    pub fn stdout_path(&self) -> PathBuf {
        self.dir.join("stdout")
    }
    /// The probe's JSON lines written so far.
    pub fn lines(&self) -> Vec<Value> {
        let s = fs::read_to_string(self.stdout_path()).unwrap_or_default();
        s.lines()
            .filter(|l| l.ends_with('}'))
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Held while executables are written into a bundle and while a child is spawned: a child forked
/// while another thread holds a write fd on /hull-probe or /bin/busybox keeps that fd until it
/// execs, and a container exec'ing that file meanwhile fails with ETXTBSY.
static SPAWN_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Spawn a child under the spawn lock (see [`SPAWN_LOCK`]).
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    cmd.spawn()
}

/// A case's context: its own temp dir and runtime root; cleans everything up on drop.
pub struct Ctx<'a> {
    pub env: &'a Env,
    pub dir: PathBuf,
    pub root: PathBuf,
    ids: Vec<String>,
    cgpaths: Vec<String>,
    helpers: Vec<Child>,
    n: usize,
    pub notes: Vec<String>,
}

pub const PROBE: &str = "/hull-probe";

impl<'a> Ctx<'a> {
    pub fn new(env: &'a Env) -> std::io::Result<Ctx<'a>> {
        let k = SEQ.fetch_add(1, Ordering::SeqCst);
        let dir = env.workdir.join(format!("c{k}"));
        fs::create_dir_all(&dir)?;
        let root = dir.join("root");
        fs::create_dir_all(&root)?;
        Ok(Ctx {
            env,
            dir,
            root,
            ids: vec![],
            cgpaths: vec![],
            helpers: vec![],
            n: k * 100,
            notes: vec![],
        })
    }

    pub fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    /// A fresh unique container id (registered for cleanup).
    pub fn new_id(&mut self) -> String {
        self.n += 1;
        let id = format!("hc{}-{}", self.env.tag, self.n);
        self.ids.push(id.clone());
        id
    }

    /// The default config: a runc-spec-like container running the probe with `args`.
    pub fn config(&self, args: &[&str]) -> Value {
        let mut a = vec![PROBE.to_string()];
        a.extend(args.iter().map(|s| s.to_string()));
        let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
        json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": {"uid": 0, "gid": 0},
                "args": a,
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
                "cwd": "/",
                "capabilities": {"bounding": caps, "effective": caps, "permitted": caps, "ambient": caps},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
                "noNewPrivileges": true
            },
            "root": {"path": "rootfs", "readonly": true},
            "hostname": "hullconf",
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
                {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]}
            ],
            "linux": {
                "resources": {"devices": [{"allow": false, "access": "rwm"}]},
                "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
                "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
                "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
            }
        })
    }

    /// Write a bundle for `cfg` under a new id.
    pub fn bundle(&mut self, cfg: &Value) -> R<Bundle> {
        let id = self.new_id();
        self.bundle_with_id(cfg, &id)
    }

    pub fn bundle_with_id(&mut self, cfg: &Value, id: &str) -> R<Bundle> {
        self.n += 1;
        let dir = self.dir.join(format!("b{}", self.n));
        let rootfs = dir.join("rootfs");
        {
            let _g = SPAWN_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            copy_tree(&self.env.rootfs, &rootfs)
                .map_err(|e| Bad::Fail(format!("copy rootfs: {e}")))?;
            fs::copy(&self.env.probe, rootfs.join(PROBE.trim_start_matches('/')))
                .map_err(|e| Bad::Fail(format!("copy probe {}: {e}", self.env.probe.display())))?;
        }
        let _ = fs::set_permissions(
            rootfs.join(PROBE.trim_start_matches('/')),
            fs::Permissions::from_mode(0o755),
        );
        let cgpath = format!("/hullconf-{id}");
        let mut cfg = cfg.clone();
        if cfg["linux"].is_object() && cfg["linux"].get("cgroupsPath").is_none() {
            cfg["linux"]["cgroupsPath"] = json!(cgpath);
        }
        let cgp = cfg["linux"]["cgroupsPath"]
            .as_str()
            .unwrap_or(&cgpath)
            .to_string();
        self.cgpaths.push(cgp.clone());
        fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(&cfg).unwrap(),
        )
        .map_err(|e| Bad::Fail(format!("write config: {e}")))?;
        Ok(Bundle {
            dir,
            id: id.to_string(),
            cgpath: cgp,
        })
    }

    fn spawn_rt(&self, args: &[&str], out: &Path, err: &Path) -> std::io::Result<Child> {
        let o = fs::File::create(out)?;
        let e = fs::File::create(err)?;
        spawn(
            Command::new(&self.env.runtime)
                .arg("--root")
                .arg(&self.root)
                .arg("--log")
                .arg(self.dir.join("runtime.log"))
                .arg("--log-format")
                .arg("json")
                .args(args)
                .stdin(Stdio::null())
                .stdout(o)
                .stderr(e),
        )
    }

    /// Run `RUNTIME --root ROOT args...` with a timeout, capturing its output.
    pub fn rt(&mut self, args: &[&str]) -> Out {
        self.n += 1;
        let out = self.dir.join(format!("o{}", self.n));
        let err = self.dir.join(format!("e{}", self.n));
        self.rt_to(args, &out, &err)
    }

    fn rt_to(&self, args: &[&str], out: &Path, err: &Path) -> Out {
        match self.spawn_rt(args, out, err) {
            Err(e) => Out {
                code: -1,
                stdout: String::new(),
                stderr: format!("spawn {}: {e}", self.env.runtime.display()),
                timed_out: false,
            },
            Ok(mut c) => {
                let (code, timed_out) = wait_child(&mut c, self.env.timeout);
                let mut stderr = fs::read_to_string(err).unwrap_or_default();
                if code != 0 && stderr.trim().is_empty() {
                    // nothing on stderr: show the runtime's last log line instead
                    let log = fs::read_to_string(self.dir.join("runtime.log")).unwrap_or_default();
                    if let Some(l) = log.lines().rev().find(|l| !l.trim().is_empty()) {
                        stderr = format!("(log) {l}");
                    }
                }
                Out {
                    code,
                    stdout: fs::read_to_string(out).unwrap_or_default(),
                    stderr,
                    timed_out,
                }
            }
        }
    }

    /// `create --bundle B ID` with the container's stdio going to B/stdout, B/stderr.
    pub fn create_with(&mut self, b: &Bundle, extra: &[&str]) -> Out {
        let bd = b.dir.to_string_lossy().into_owned();
        let mut args = vec!["create", "--bundle", &bd];
        args.extend_from_slice(extra);
        args.push(&b.id);
        self.rt_to(&args, &b.dir.join("stdout"), &b.dir.join("stderr"))
    }
    pub fn create(&mut self, b: &Bundle) -> R<Out> {
        let o = self.create_with(b, &[]);
        check!(o.ok(), "create {} failed: {}", b.id, o.brief());
        Ok(o)
    }
    pub fn start(&mut self, id: &str) -> R<Out> {
        let o = self.rt(&["start", id]);
        check!(o.ok(), "start {id} failed: {}", o.brief());
        Ok(o)
    }
    /// `run --bundle B ID`: returns the exit code of the runtime (the container's, per CLI convention).
    pub fn run(&mut self, b: &Bundle) -> Out {
        let bd = b.dir.to_string_lossy().into_owned();
        self.rt_to(
            &["run", "--bundle", &bd, &b.id],
            &b.dir.join("stdout"),
            &b.dir.join("stderr"),
        )
    }
    pub fn state(&mut self, id: &str) -> R<Value> {
        let o = self.rt(&["state", id]);
        check!(o.ok(), "state {id} failed: {}", o.brief());
        serde_json::from_str(&o.stdout)
            .map_err(|e| Bad::Fail(format!("state {id}: bad JSON ({e}): {}", o.stdout)))
    }
    pub fn status(&mut self, id: &str) -> R<String> {
        Ok(self.state(id)?["status"].as_str().unwrap_or("").to_string())
    }
    pub fn pid(&mut self, id: &str) -> R<i32> {
        let s = self.state(id)?;
        match s["pid"].as_i64() {
            Some(p) if p > 0 => Ok(p as i32),
            _ => fail!("state {id} has no pid: {s}"),
        }
    }
    pub fn kill(&mut self, id: &str, sig: &str) -> Out {
        self.rt(&["kill", id, sig])
    }
    pub fn delete(&mut self, id: &str, force: bool) -> Out {
        if force {
            self.rt(&["delete", "--force", id])
        } else {
            self.rt(&["delete", id])
        }
    }

    /// Wait until the state's status is `want` (or the deadline passes).
    pub fn wait_status(&mut self, id: &str, want: &str, secs: u64) -> R<()> {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut last = String::new();
        while Instant::now() < end {
            last = match self.state(id) {
                Ok(v) => v["status"].as_str().unwrap_or("").to_string(),
                Err(Bad::Fail(e)) | Err(Bad::Skip(e)) => e,
            };
            if last == want {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        fail!("{id} never reached status {want:?} (last: {last})")
    }

    /// Wait for the probe in bundle `b` to have printed at least `n` JSON lines.
    pub fn wait_lines(&self, b: &Bundle, n: usize, secs: u64) -> R<Vec<Value>> {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let l = b.lines();
            if l.len() >= n {
                return Ok(l);
            }
            if Instant::now() > end {
                fail!(
                    "probe printed {} of {n} lines in {secs}s; stderr: {}",
                    l.len(),
                    b.stderr().trim()
                )
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Run the probe to completion with `run`; returns (exit code, JSON lines).
    pub fn run_probe(&mut self, cfg: &Value) -> R<(i32, Vec<Value>, Bundle)> {
        let b = self.bundle(cfg)?;
        let o = self.run(&b);
        check!(!o.timed_out, "run {} timed out", b.id);
        let lines = b.lines();
        if lines.is_empty() {
            fail!(
                "run {} printed nothing: {}; {}",
                b.id,
                o.brief(),
                b.stderr().trim()
            )
        }
        Ok((o.code, lines, b))
    }

    /// Run the probe's `report` in a container made from `cfg` (args replaced) and return it.
    pub fn report(&mut self, mut cfg: Value) -> R<Value> {
        cfg["process"]["args"] = json!([PROBE, "report"]);
        let (code, lines, _) = self.run_probe(&cfg)?;
        let r = lines.into_iter().find(|l| l["op"] == "report");
        match r {
            Some(r) => {
                check!(code == 0, "probe exited {code}");
                Ok(r)
            }
            None => fail!("no report from the probe (exit {code})"),
        }
    }

    /// create + start a container whose probe runs `args`; waits for `lines` lines of output.
    pub fn start_probe(&mut self, cfg: &Value, lines: usize) -> R<(Bundle, i32, Vec<Value>)> {
        let b = self.bundle(cfg)?;
        self.create(&b)?;
        let pid = self.pid(&b.id)?;
        self.start(&b.id)?;
        let l = self.wait_lines(&b, lines, 20)?;
        Ok((b, pid, l))
    }

    /// Start a host helper process (for namespaces to join); killed on drop.
    pub fn helper(&mut self, cmd: &str, args: &[&str]) -> R<i32> {
        let c = spawn(
            Command::new(cmd)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .map_err(|e| Bad::Fail(format!("spawn {cmd}: {e}")))?;
        let pid = c.id() as i32;
        self.helpers.push(c);
        Ok(pid)
    }

    pub fn cgpaths(&self) -> &[String] {
        &self.cgpaths
    }
}

impl Drop for Ctx<'_> {
    fn drop(&mut self) {
        let ids = std::mem::take(&mut self.ids);
        for id in &ids {
            let out = self.dir.join("cleanup.out");
            let err = self.dir.join("cleanup.err");
            let st = self.rt_to(&["state", id], &out, &err);
            if st.ok() {
                // a frozen container cannot be killed on every runtime: thaw it first
                if st.stdout.contains("paused") {
                    let _ = self.rt_to(&["resume", id], &out, &err);
                }
                let _ = self.rt_to(&["delete", "--force", id], &out, &err);
            }
        }
        for mut h in self.helpers.drain(..) {
            let _ = h.kill();
            let _ = h.wait();
        }
        // cgroups the runtime should have removed: remove what is left (only our own paths)
        for p in &self.cgpaths {
            if !p.contains("hullconf-") {
                continue;
            }
            for d in self.env.cg.all_dirs(p) {
                if d.exists() {
                    let _ = fs::remove_dir(&d);
                }
            }
        }
        let mi = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let prefix = self.dir.to_string_lossy().into_owned();
        if mi
            .lines()
            .any(|l| l.split(' ').nth(4).is_some_and(|m| m.starts_with(&prefix)))
        {
            return; // something is still mounted under our dir: leave it rather than recurse into it
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
