//! `hull exec ID CMD...` / `hull exec -p process.json ID`: run one more process in a container,
//! with runc's flags. The process description is the container's own `process` (from the config
//! saved at create) with the flags applied, or a whole process.json (`--process`), as runc does.

use super::state::{Status, Store};
use super::tty::Foreground;
use crate::error::{Error, Result};
use crate::logging;
use crate::spawn::exec::{CgroupJoin, ExecJoins, ExecPlan, NsJoin};
use crate::spawn::plan::{self, ConsoleTo, Role};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};
use serde_json::{json, Value};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct ExecArgs {
    pub id: String,
    pub command: Vec<String>,
    pub process: Option<PathBuf>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub user: Option<String>,
    pub additional_gids: Vec<String>,
    pub tty: bool,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub preserve_fds: i32,
    pub ignore_paused: bool,
    pub cgroups: Vec<String>,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
}

/// Normalise a capability name given on the command line ("net_admin" → "CAP_NET_ADMIN").
fn cap_name(s: &str) -> Result<String> {
    let up = s.trim().to_ascii_uppercase();
    let full = if up.starts_with("CAP_") {
        up
    } else {
        format!("CAP_{up}")
    };
    full.parse::<caps::Capability>()
        .map_err(|_| Error::invalid(format!("--cap {s:?}: unknown capability")))?;
    Ok(full)
}

/// Append `KEY=VAL` entries; a later entry replaces an earlier one with the same key in place.
pub fn merge_env(base: &[String], extra: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(base.len() + extra.len());
    for e in base.iter().chain(extra) {
        let key = e.split('=').next().unwrap_or("");
        match out
            .iter_mut()
            .find(|o| o.split('=').next().unwrap_or("") == key)
        {
            Some(o) => *o = e.clone(),
            None => out.push(e.clone()),
        }
    }
    out
}

/// The process to run: `--process FILE`, or the container's process with the flags applied.
pub fn build_process(spec_process: Option<&Process>, a: &ExecArgs) -> Result<Process> {
    let p: Value = if let Some(path) = &a.process {
        let raw = std::fs::read(path).map_err(|e| Error::io("read --process", path, e))?;
        let v: Value = serde_json::from_slice(&raw).map_err(|e| {
            Error::invalid(format!("--process {}: invalid JSON: {e}", path.display()))
        })?;
        if !a.command.is_empty() {
            logging::warn("exec: arguments after the container ID are ignored with --process");
        }
        v
    } else {
        let mut p = spec_process
            .map(|p| serde_json::to_value(p).expect("process serialises"))
            .unwrap_or_else(|| json!({"cwd": "/", "user": {"uid": 0, "gid": 0}}));
        if a.command.is_empty() {
            return Err(Error::invalid(
                "exec: a command is required (exec [options] ID COMMAND [ARGS...], or --process FILE)",
            ));
        }
        p["args"] = json!(a.command);
        if let Some(cwd) = &a.cwd {
            p["cwd"] = json!(cwd);
        }
        if let Some(ap) = &a.apparmor {
            p["apparmorProfile"] = json!(ap);
        }
        if let Some(l) = &a.process_label {
            p["selinuxLabel"] = json!(l);
        }
        if !a.caps.is_empty() {
            let mut caps = p
                .get("capabilities")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or_else(|| json!({}));
            let has_inheritable = caps
                .get("inheritable")
                .and_then(Value::as_array)
                .is_some_and(|v| !v.is_empty());
            for c in &a.caps {
                let name = cap_name(c)?;
                let mut sets = vec!["bounding", "effective", "permitted"];
                // Ambient needs inheritable: only where the config already has inheritable bits.
                if has_inheritable {
                    sets.push("ambient");
                }
                for set in sets {
                    let arr = caps[set].as_array().cloned().unwrap_or_default();
                    let mut arr = arr;
                    if !arr.iter().any(|x| x.as_str() == Some(&name)) {
                        arr.push(json!(name));
                    }
                    caps[set] = Value::Array(arr);
                }
            }
            p["capabilities"] = caps;
        }
        let base: Vec<String> = p
            .get("env")
            .and_then(|e| serde_json::from_value(e.clone()).ok())
            .unwrap_or_default();
        p["env"] = json!(merge_env(&base, &a.env));
        p["terminal"] = json!(a.tty);
        if a.no_new_privs {
            p["noNewPrivileges"] = json!(true);
        }
        if let Some(u) = &a.user {
            let (uid, gid) = match u.split_once(':') {
                Some((u, g)) => (u, Some(g)),
                None => (u.as_str(), None),
            };
            let uid: u32 = uid.parse().map_err(|_| {
                Error::invalid(format!(
                    "--user {u:?}: the uid must be a number (format <uid>[:<gid>])"
                ))
            })?;
            p["user"]["uid"] = json!(uid);
            if let Some(g) = gid {
                let gid: u32 = g.parse().map_err(|_| {
                    Error::invalid(format!(
                        "--user {u:?}: the gid must be a number (format <uid>[:<gid>])"
                    ))
                })?;
                p["user"]["gid"] = json!(gid);
            }
        }
        if !a.additional_gids.is_empty() {
            let mut gids: Vec<u32> = p["user"]
                .get("additionalGids")
                .and_then(|g| serde_json::from_value(g.clone()).ok())
                .unwrap_or_default();
            for g in a.additional_gids.iter().flat_map(|g| g.split(',')) {
                let n: u32 = g.trim().parse().map_err(|_| {
                    Error::invalid(format!(
                        "--additional-gids {g:?}: must be a non-negative number"
                    ))
                })?;
                gids.push(n);
            }
            p["user"]["additionalGids"] = json!(gids);
        }
        p
    };
    let what = || match &a.process {
        Some(f) => format!("--process {}", f.display()),
        None => "exec".to_string(),
    };
    let process: Process = serde_json::from_value(p)
        .map_err(|e| Error::invalid(format!("{}: invalid process: {e}", what())))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::invalid(format!(
            "{}: args must not be empty",
            what()
        )));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::invalid(format!(
            "{}: cwd {:?} must be an absolute path",
            what(),
            process.cwd()
        )));
    }
    Ok(process)
}

fn ns_file(t: LinuxNamespaceType) -> (&'static str, libc::c_int) {
    match t {
        LinuxNamespaceType::Mount => ("mnt", libc::CLONE_NEWNS),
        LinuxNamespaceType::Cgroup => ("cgroup", libc::CLONE_NEWCGROUP),
        LinuxNamespaceType::Uts => ("uts", libc::CLONE_NEWUTS),
        LinuxNamespaceType::Ipc => ("ipc", libc::CLONE_NEWIPC),
        LinuxNamespaceType::User => ("user", libc::CLONE_NEWUSER),
        LinuxNamespaceType::Pid => ("pid", libc::CLONE_NEWPID),
        LinuxNamespaceType::Network => ("net", libc::CLONE_NEWNET),
        LinuxNamespaceType::Time => ("time", 0x80),
    }
}

/// Open the init's namespaces that differ from ours: (joined by the parent, joined by the child).
/// The child's list starts with the user namespace and ends with the mount namespace.
fn open_namespaces(spec: &Spec, pid: i32) -> Result<ExecJoins> {
    let mut joins = ExecJoins::default();
    let types: Vec<LinuxNamespaceType> = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
        .iter()
        .map(|n| n.typ())
        .collect();
    let order = [
        LinuxNamespaceType::User,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Network,
        LinuxNamespaceType::Cgroup,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Time,
    ];
    for t in order.into_iter().filter(|t| types.contains(t)) {
        let (name, flag) = ns_file(t);
        let path = format!("/proc/{pid}/ns/{name}");
        let theirs = std::fs::read_link(&path).map_err(|e| Error::io("read", &path, e))?;
        if crate::sys::ns_id(&format!("/proc/self/ns/{name}")).as_ref() == Some(&theirs) {
            continue; // joined by path to our own namespace: nothing to do
        }
        let fd = crate::sys::open_path(&crate::sys::cstr(&path)?, libc::O_RDONLY)
            .map_err(|e| Error::sys(format!("open {path}"), e))?;
        let j = NsJoin { flag, name, fd };
        // Rootless: an unprivileged parent may join the pid namespace only from inside the
        // container's user namespace (joined first: `order` starts with it).
        let parent_joins = matches!(t, LinuxNamespaceType::Pid | LinuxNamespaceType::Time)
            || (t == LinuxNamespaceType::User && !crate::rootless::privileged());
        if parent_joins {
            joins.parent.push(j);
        } else {
            joins.child.push(j);
        }
    }
    Ok(joins)
}

/// `--cgroup [controller:]path` → the sub-cgroup directories to join.
fn sub_cgroup_dirs(st: &super::State, specs: &[String]) -> Result<Vec<PathBuf>> {
    if specs.is_empty() {
        return Ok(vec![]);
    }
    let path = st
        .cgroup_path
        .as_deref()
        .and_then(|p| hull_cgroups::CgroupPath::from_json(p).ok())
        .ok_or_else(|| Error::invalid("--cgroup: the container has no cgroup"))?;
    let mut out = Vec::new();
    for s in specs {
        let (ctrls, sub) = match s.split_once(':') {
            Some((c, p)) => (Some(c), p),
            None => (None, s.as_str()),
        };
        let rel = Path::new(sub.trim_start_matches('/'));
        if sub.is_empty()
            || rel
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(Error::invalid(format!(
                "--cgroup {s:?}: the sub-cgroup must be a relative path without '..'"
            )));
        }
        let mut dirs = Vec::new();
        match (path.layout, ctrls) {
            (hull_cgroups::Layout::Unified, None) => dirs.extend(path.unified.iter().cloned()),
            (hull_cgroups::Layout::Unified, Some(c)) => {
                return Err(Error::invalid(format!(
                    "--cgroup {s:?}: controller {c:?} given on cgroup v2 (use a plain path)"
                )))
            }
            (_, None) => dirs.extend(path.v1.values().cloned()),
            (_, Some(cs)) => {
                for c in cs.split(',') {
                    let d = path.v1_dir(c).ok_or_else(|| {
                        Error::invalid(format!(
                            "--cgroup {s:?}: controller {c:?} is not a hierarchy of this container"
                        ))
                    })?;
                    dirs.push(d.clone());
                }
            }
        }
        for d in dirs {
            let full = d.join(rel);
            if !full.join("cgroup.procs").exists() {
                return Err(Error::invalid(format!(
                    "--cgroup {s:?}: sub-cgroup {} does not exist",
                    full.display()
                )));
            }
            if !out.contains(&full) {
                out.push(full);
            }
        }
    }
    Ok(out)
}

/// Run `hull exec`. Returns the exit code to exit with.
pub fn exec(store: &Store, a: &ExecArgs) -> Result<i32> {
    let dir = store.open(&a.id)?;
    let st = dir.load_current()?;
    crate::failpoint::hit("exec:after-open");
    match st.status {
        Status::Running | Status::Created => {}
        Status::Paused if a.ignore_paused => {}
        s => return Err(Error::wrong_state(&a.id, "exec in", s)),
    }
    let spec = super::saved_spec(&dir).ok_or_else(|| Error::missing(&a.id, "exec in", "config"))?;
    let process = build_process(spec.process().as_ref(), a)?;
    if crate::guard::exec_needs_seal(st.pid, &process) {
        // CVE-2019-5736: re-exec from a sealed copy before joining the container (see guard;
        // returns only when already running sealed). The lock is close-on-exec.
        crate::guard::seal_self()?;
    }
    // The same planning as for the init (spawn::plan): on a host without AppArmor/SELinux a
    // profile or label is an error, as with runc 1.1.5.
    let linux = spec.linux().clone().unwrap_or_default();
    let process_plan = plan::process_plan(
        &process,
        &linux,
        Role::Exec,
        Some(&a.id),
        &plan::Host::current(),
    )?;
    for w in &process_plan.warnings {
        logging::warn(w);
    }
    if a.preserve_fds < 0 {
        return Err(Error::invalid("--preserve-fds must not be negative"));
    }
    let console_to = plan::console_to(
        Role::Exec,
        process_plan.terminal,
        a.console_socket.is_some(),
        !a.detach,
    )?;
    // Foreground: signals are forwarded; with --tty and no --console-socket hull takes the pty
    // master and is the console.
    let (fg, theirs) = match a.detach {
        true => (None, None),
        false => {
            let (fg, theirs) = Foreground::begin(console_to == ConsoleTo::Foreground)?;
            (Some(fg), theirs)
        }
    };
    let console = match console_to {
        ConsoleTo::Socket => {
            let p = a.console_socket.as_ref().expect("console_to: a socket");
            Some(OwnedFd::from(
                std::os::unix::net::UnixStream::connect(p)
                    .map_err(|e| Error::io("connect --console-socket", p, e))?,
            ))
        }
        ConsoleTo::Foreground => theirs,
        ConsoleTo::None => None,
    };
    let joins = open_namespaces(&spec, st.pid)?;
    // The fds are open: make sure they belong to the init we recorded, not a reused pid.
    if !super::state::process_alive(st.pid, st.start_time) {
        return Err(Error::wrong_state(&a.id, "exec in", Status::Stopped));
    }
    let cg = super::cgroup_of(&st);
    let sub_dirs = sub_cgroup_dirs(&st, &a.cgroups)?;
    let mut plan = ExecPlan {
        process: process_plan,
        joins,
        console,
        preserve_fds: a.preserve_fds,
        close_in_child: vec![dir.lock_fd()],
    };
    let mut dir = Some(dir);
    if st.status == Status::Paused {
        // The process will be born frozen and only finishes its setup on `resume`, which needs
        // this lock: let go of it now.
        plan.close_in_child.clear();
        dir = None;
    }
    let listener = plan.process.seccomp.as_ref().and_then(|c| {
        c.listener_path()
            .map(|p| (p.to_path_buf(), c.listener_metadata().to_string()))
    });
    let state_json = st.spec_json();
    let mut on_seccomp = |pid: i32, fd: OwnedFd| -> Result<()> {
        let Some((path, meta)) = &listener else {
            return Err(Error::invalid(
                "linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath",
            ));
        };
        hull_seccomp::send_to_listener(
            path,
            std::os::fd::AsFd::as_fd(&fd),
            pid,
            meta,
            &state_json,
        )?;
        Ok(())
    };
    if let Some(cpus) = &plan.process.cpu_affinity.initial {
        // execCPUAffinity.initial: the affinity the process has before it joins the cgroup.
        crate::sched::apply_cpu_affinity(cpus)?;
    }
    let join = CgroupJoin {
        manager: cg.as_deref(),
        clone_into: cg.as_ref().and_then(|m| m.open_dir_fd()),
        sub_dirs,
    };
    let pid = crate::spawn::exec::spawn(&plan, join, &mut on_seccomp)?;
    drop(plan);
    crate::failpoint::hit("exec:after-spawn");
    // The process runs: other commands on this container may proceed while we wait.
    drop(dir);
    if let Some(p) = &a.pid_file {
        if let Err(e) = super::create::write_pid_file(p, pid) {
            // Nobody could track it: do not leave it running.
            // SAFETY: killing the process we started, whose pid we could not report.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            return Err(e);
        }
    }
    let Some(fg) = fg else {
        return Ok(0);
    };
    fg.wait(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Process {
        serde_json::from_value(json!({
            "cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["sleep", "1"],
            "env": ["PATH=/bin", "A=1"],
            "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}
        }))
        .unwrap()
    }

    #[test]
    fn flags_override_the_container_process() {
        let a = ExecArgs {
            command: vec!["id".into(), "-u".into()],
            env: vec!["A=2".into(), "B=3".into()],
            cwd: Some("/tmp".into()),
            user: Some("1000:1001".into()),
            additional_gids: vec!["5,6".into(), "7".into()],
            caps: vec!["net_admin".into()],
            no_new_privs: true,
            ..Default::default()
        };
        let p = build_process(Some(&base()), &a).unwrap();
        assert_eq!(p.args().clone().unwrap(), vec!["id", "-u"]);
        assert_eq!(p.env().clone().unwrap(), vec!["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1001));
        assert_eq!(p.user().additional_gids().clone().unwrap(), vec![5, 6, 7]);
        assert_eq!(p.no_new_privileges(), Some(true));
        let v = serde_json::to_value(&p).unwrap();
        let set = |k: &str| {
            let mut s: Vec<String> =
                serde_json::from_value(v["capabilities"][k].clone()).unwrap_or_default();
            s.sort();
            s
        };
        assert_eq!(set("bounding"), vec!["CAP_CHOWN", "CAP_NET_ADMIN"]);
        assert_eq!(set("permitted"), vec!["CAP_CHOWN", "CAP_NET_ADMIN"]);
        assert!(set("ambient").is_empty());
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let mk = |f: &dyn Fn(&mut ExecArgs)| {
            let mut a = ExecArgs {
                command: vec!["true".into()],
                ..Default::default()
            };
            f(&mut a);
            build_process(Some(&base()), &a).unwrap_err().to_string()
        };
        assert!(mk(&|a| a.user = Some("root".into())).contains("--user"));
        assert!(mk(&|a| a.user = Some("0:x".into())).contains("gid"));
        assert!(mk(&|a| a.additional_gids = vec!["-1".into()]).contains("--additional-gids"));
        assert!(mk(&|a| a.caps = vec!["CAP_NOPE".into()]).contains("--cap"));
        assert!(mk(&|a| a.cwd = Some("rel".into())).contains("absolute"));
        assert!(mk(&|a| a.command.clear()).contains("command is required"));
    }

    #[test]
    fn process_file_replaces_everything() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("p.json");
        std::fs::write(
            &f,
            r#"{"cwd": "/", "user": {"uid": 7, "gid": 8}, "args": ["x"], "env": ["Z=1"]}"#,
        )
        .unwrap();
        let a = ExecArgs {
            process: Some(f.clone()),
            ..Default::default()
        };
        let p = build_process(Some(&base()), &a).unwrap();
        assert_eq!(p.user().uid(), 7);
        assert_eq!(p.env().clone().unwrap(), vec!["Z=1"]);
        std::fs::write(
            &f,
            r#"{"cwd": "/", "user": {"uid": 7, "gid": 8}, "args": []}"#,
        )
        .unwrap();
        let e = build_process(Some(&base()), &a).unwrap_err().to_string();
        assert!(e.contains("--process") && e.contains("args"), "{e}");
        std::fs::write(&f, "{").unwrap();
        assert!(build_process(Some(&base()), &a)
            .unwrap_err()
            .to_string()
            .contains("invalid JSON"));
    }
}
