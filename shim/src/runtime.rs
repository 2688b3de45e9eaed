//! A small typed wrapper around the runtime's CLI (`hull`, or any runc-compatible binary).
//! Every call is a fresh process spawned through the [`Monitor`], so the shim never forks from
//! its threads itself and never links the runtime.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use crate::exit::exit_status;
use crate::reaper::Monitor;

#[derive(Debug)]
pub struct RuntimeError {
    pub command: String,
    pub message: String,
}

impl std::fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.command, self.message)
    }
}

pub type Result<T> = std::result::Result<T, RuntimeError>;

/// stdio handed to a container process (created/exec'd).
pub struct ProcIo {
    pub stdin: Option<File>,
    pub stdout: Option<File>,
    pub stderr: Option<File>,
}

/// What a Checkpoint asks of the runtime (containerd.runc.v1.CheckpointOptions and the path).
#[derive(Debug, Default)]
pub struct Checkpoint {
    pub image: PathBuf,
    pub work: PathBuf,
    /// Stop the container after the dump; else it is left running.
    pub exit: bool,
    pub open_tcp: bool,
    pub external_unix_sockets: bool,
    pub terminal: bool,
    pub file_locks: bool,
    pub empty_namespaces: Vec<String>,
    pub cgroups_mode: String,
}

/// Where a restore comes from and goes to.
#[derive(Debug)]
pub struct Restore {
    pub bundle: PathBuf,
    /// The checkpoint's CRIU images (CreateTaskRequest.checkpoint).
    pub image: PathBuf,
    pub work: PathBuf,
    pub pid_file: PathBuf,
}

pub struct Runtime {
    pub binary: PathBuf,
    pub root: PathBuf,
    pub log: PathBuf,
    pub monitor: Arc<Monitor>,
}

fn to_stdio(f: Option<File>) -> Stdio {
    f.map(Stdio::from).unwrap_or_else(Stdio::null)
}

/// The message of the last `{"level":"error",...}` line of a runtime's json log.
pub fn last_log_error(log: &str) -> Option<String> {
    log.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v.get("level")?.as_str()? == "error")
            .then(|| v.get("msg")?.as_str().map(str::to_string))?
    })
}

impl Runtime {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root")
            .arg(&self.root)
            .arg("--log")
            .arg(&self.log)
            .arg("--log-format")
            .arg("json");
        c.args(args);
        c
    }

    fn describe(&self, args: &[&str]) -> String {
        format!("{} {}", self.binary.display(), args.join(" "))
    }

    /// Run with the given stdio (or null), capture stderr, check the status.
    fn run(&self, args: &[&str], io: Option<ProcIo>, capture_stdout: bool) -> Result<Vec<u8>> {
        let mut c = self.command(args);
        match io {
            Some(io) => {
                c.stdin(to_stdio(io.stdin))
                    .stdout(to_stdio(io.stdout))
                    .stderr(to_stdio(io.stderr));
            }
            None => {
                c.stdin(Stdio::null())
                    .stdout(if capture_stdout {
                        Stdio::piped()
                    } else {
                        Stdio::null()
                    })
                    .stderr(Stdio::piped());
            }
        }
        let log_len = std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0);
        let out = self.monitor.output(&mut c).map_err(|e| RuntimeError {
            command: self.describe(args),
            message: format!("cannot run: {e}"),
        })?;
        let code = exit_status(out.raw_status);
        if code != 0 {
            let new_log = std::fs::read(&self.log)
                .ok()
                .map(|b| {
                    String::from_utf8_lossy(b.get(log_len as usize..).unwrap_or(&[])).into_owned()
                })
                .unwrap_or_default();
            let message = last_log_error(&new_log)
                .or_else(|| {
                    let s = String::from_utf8_lossy(&out.stderr).trim().to_string();
                    (!s.is_empty()).then_some(s)
                })
                .unwrap_or_else(|| format!("exit status {code}"));
            return Err(RuntimeError {
                command: self.describe(args),
                message,
            });
        }
        Ok(out.stdout)
    }

    /// A verb that starts a container process: `args`, then `--console-socket` when the
    /// process has a terminal, then the container id; the process gets `io`.
    fn run_process(
        &self,
        args: &[&str],
        console: Option<&Path>,
        id: &str,
        io: ProcIo,
    ) -> Result<()> {
        let console = console.map(Path::to_string_lossy);
        let mut all = args.to_vec();
        if let Some(c) = &console {
            all.extend(["--console-socket", c]);
        }
        all.push(id);
        self.run(&all, Some(io), false).map(drop)
    }

    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console: Option<&Path>,
        io: ProcIo,
    ) -> Result<()> {
        let b = bundle.to_string_lossy();
        let p = pid_file.to_string_lossy();
        let args = ["create", "--bundle", &b, "--pid-file", &p];
        self.run_process(&args, console, id, io)
    }

    pub fn exec(
        &self,
        id: &str,
        process: &Path,
        pid_file: &Path,
        console: Option<&Path>,
        io: ProcIo,
    ) -> Result<()> {
        let pr = process.to_string_lossy();
        let p = pid_file.to_string_lossy();
        let args = ["exec", "--detach", "--pid-file", &p, "--process", &pr];
        self.run_process(&args, console, id, io)
    }

    /// `checkpoint` with runc's flags (what containerd's CheckpointOptions ask for).
    pub fn checkpoint(&self, id: &str, c: &Checkpoint) -> Result<()> {
        let mut args: Vec<String> = vec![
            "checkpoint".into(),
            "--image-path".into(),
            c.image.to_string_lossy().into_owned(),
            "--work-path".into(),
            c.work.to_string_lossy().into_owned(),
        ];
        for (on, flag) in [
            (!c.exit, "--leave-running"),
            (c.open_tcp, "--tcp-established"),
            (c.external_unix_sockets, "--ext-unix-sk"),
            (c.terminal, "--shell-job"),
            (c.file_locks, "--file-locks"),
        ] {
            if on {
                args.push(flag.into());
            }
        }
        for ns in &c.empty_namespaces {
            args.extend(["--empty-ns".into(), ns.clone()]);
        }
        if !c.cgroups_mode.is_empty() {
            args.extend(["--manage-cgroups-mode".into(), c.cgroups_mode.clone()]);
        }
        args.push(id.into());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&a, None, false).map(drop)
    }

    /// `restore --detach` of the checkpoint `r.image` as container `id`, with the process's
    /// stdio (or console socket) and its pid in `r.pid_file`; the shim stays the subreaper.
    pub fn restore(&self, id: &str, r: &Restore, console: Option<&Path>, io: ProcIo) -> Result<()> {
        let (b, i, w, p) = (
            r.bundle.to_string_lossy(),
            r.image.to_string_lossy(),
            r.work.to_string_lossy(),
            r.pid_file.to_string_lossy(),
        );
        let args = [
            "restore",
            "--detach",
            "--no-subreaper",
            "--bundle",
            &b,
            "--image-path",
            &i,
            "--work-path",
            &w,
            "--pid-file",
            &p,
        ];
        self.run_process(&args, console, id, io)
    }

    pub fn start(&self, id: &str) -> Result<()> {
        self.run(&["start", id], None, false).map(drop)
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        let args: &[&str] = if force {
            &["delete", "--force", id]
        } else {
            &["delete", id]
        };
        self.run(args, None, false).map(drop)
    }

    pub fn kill(&self, id: &str, signal: u32, all: bool) -> Result<()> {
        let s = signal.to_string();
        let args: &[&str] = if all {
            &["kill", "--all", id, &s]
        } else {
            &["kill", id, &s]
        };
        self.run(args, None, false).map(drop)
    }

    pub fn pause(&self, id: &str) -> Result<()> {
        self.run(&["pause", id], None, false).map(drop)
    }

    pub fn resume(&self, id: &str) -> Result<()> {
        self.run(&["resume", id], None, false).map(drop)
    }

    pub fn update(&self, id: &str, resources: &Path) -> Result<()> {
        let r = resources.to_string_lossy();
        self.run(&["update", "--resources", &r, id], None, false)
            .map(drop)
    }

    /// `ps --format json`: the container's pids.
    pub fn ps(&self, id: &str) -> Result<Vec<u32>> {
        let out = self.run(&["ps", "--format", "json", id], None, true)?;
        serde_json::from_slice(&out).map_err(|e| RuntimeError {
            command: self.describe(&["ps", "--format", "json", id]),
            message: format!("output is not a JSON list of pids: {e}"),
        })
    }
}

/// Saved in the bundle so `delete` (after a shim crash) drives the same runtime and root.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Saved {
    pub binary: PathBuf,
    pub root: PathBuf,
}
pub const SAVED_FILE: &str = "hull-shim.json";

/// Find the runtime binary: the option's name (absolute, or looked up on PATH), else `hull` next
/// to this binary, else `hull` on PATH.
pub fn resolve_binary(name: &str) -> std::result::Result<PathBuf, String> {
    let lookup = |n: &str| -> Option<PathBuf> {
        if n.contains('/') {
            return Path::new(n).is_file().then(|| PathBuf::from(n));
        }
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(n))
                .find(|c| c.is_file())
        })
    };
    if !name.is_empty() {
        return lookup(name)
            .ok_or_else(|| format!("options.BinaryName: runtime binary {name:?} not found"));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        let c = dir.join("hull");
        if c.is_file() {
            return Ok(c);
        }
    }
    lookup("hull")
        .ok_or_else(|| "runtime binary `hull` not found next to the shim or on PATH".to_string())
}

/// Create the runtime root. Another shim may remove an empty parent at the same moment
/// ([`remove_root`]): retry then.
pub fn make_root(root: &Path) -> std::io::Result<()> {
    let mut tries = 0;
    loop {
        match std::fs::create_dir_all(root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && tries < 5 => tries += 1,
            r => return r,
        }
    }
}

/// Remove an empty runtime root, and the default parent (`/run/containerd/hull`) when empty:
/// shims leave nothing behind. `remove_dir` fails, harmlessly, while anything is inside.
pub fn remove_root(root: &Path) {
    if std::fs::remove_dir(root).is_ok() && root.parent() == Some(Path::new(DEFAULT_ROOT_PARENT)) {
        let _ = std::fs::remove_dir(DEFAULT_ROOT_PARENT);
    }
}

const DEFAULT_ROOT_PARENT: &str = "/run/containerd/hull";

pub fn default_root(namespace: &str) -> PathBuf {
    PathBuf::from(DEFAULT_ROOT_PARENT).join(namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_error_line_wins() {
        let log = "{\"level\":\"error\",\"msg\":\"first\"}\n{\"level\":\"warning\",\"msg\":\"w\"}\n\
                   {\"level\":\"error\",\"msg\":\"container not found\"}\n{\"level\":\"info\",\"msg\":\"i\"}\n";
        assert_eq!(last_log_error(log).as_deref(), Some("container not found"));
        assert_eq!(
            last_log_error("not json\n{\"level\":\"info\",\"msg\":\"x\"}"),
            None
        );
    }
}
