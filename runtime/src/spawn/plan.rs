//! Pure planning: config.json turned into plain data before anything is created — one
//! [`ProcessPlan`] for both the container init and `hull exec`, plus what only the init has
//! ([`InitSpec`]: namespaces to create or join, the rootfs, hooks). No I/O here: what only the host
//! can tell (held capabilities, the runtime's rlimits, the LSMs, seccomp support) comes in as a [`Host`].

use crate::error::{Error, Result};
use crate::process::{self, CapPlan, Rlimit};
use crate::rootfs::devices::DeviceNode;
use crate::sched::ProcessExtras;
use oci_spec::runtime::{Hook, Linux, LinuxNamespaceType, Mount, Process, Spec};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// What the host provides to planning. Each field is a function so that a plan asks only for
/// what its config needs (no capability probe without `process.capabilities`, no seccomp probe
/// without `linux.seccomp`); tests pass fixed answers.
#[derive(Clone, Copy)]
pub struct Host {
    /// The runtime's own bounding set: what it can pass on.
    pub held_caps: fn() -> caps::CapsHashSet,
    /// Whether the runtime may raise hard rlimits (CAP_SYS_RESOURCE in its effective set).
    pub can_raise_rlimits: fn() -> bool,
    /// The runtime's own hard limit of a resource; None when unlimited or unknown.
    pub hard_limit: fn(crate::process::RlimitResource) -> Option<u64>,
    pub apparmor: fn() -> bool,
    pub selinux: fn() -> bool,
    pub seccomp_kernel: fn() -> &'static hull_seccomp::KernelSupport,
}

impl Host {
    /// The machine hull runs on.
    pub fn current() -> Host {
        Host {
            held_caps: process::held_caps,
            can_raise_rlimits: process::can_raise_rlimits,
            hard_limit: process::own_hard_limit,
            apparmor: crate::sched::apparmor_enabled,
            selinux: crate::sched::selinux_enabled,
            seccomp_kernel: hull_seccomp::KernelSupport::probe,
        }
    }
}

/// Which process is planned: they differ only in a few process fields (below) and in what they
/// join or create (see [`InitSpec`] and `spawn::exec::ExecPlan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The container init: `linux.personality` applies; `execCPUAffinity` does not (runtime-spec).
    Init,
    /// A process started by `hull exec`: `execCPUAffinity` applies.
    Exec,
}

/// `process.execCPUAffinity` as CPU numbers (exec only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuAffinity {
    /// Set in the parent before the child is born (so before it joins the cgroup).
    pub initial: Option<Vec<usize>>,
    /// Set by the child once it is in the container's cgroup.
    pub last: Option<Vec<usize>>,
}

/// Everything about the process itself, for the init and for `exec` alike.
#[derive(Debug, Clone)]
pub struct ProcessPlan {
    /// `process.args`; args[0] is looked up on the container's PATH in the child.
    pub args: Vec<CString>,
    pub env: Vec<CString>,
    /// The same environment as strings (PATH lookup, HOME rule).
    pub env_strings: Vec<String>,
    pub cwd: String,
    /// The executable lookup depends on the cwd (args[0] like `./x`, or a relative PATH entry):
    /// the child enters `cwd` before it, as execvp after runc's chdir would see it.
    pub lookup_in_cwd: bool,
    pub terminal: bool,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub umask: u32,
    /// None: the config has no `capabilities`, the sets are kept as they are.
    pub caps: Option<CapPlan>,
    pub rlimits: Vec<Rlimit>,
    pub nnp: bool,
    /// The compiled seccomp program (the child only installs it).
    pub seccomp: Option<hull_seccomp::Compiled>,
    /// Install it before the user switch, not right before execve: without no_new_privs the
    /// filter needs CAP_SYS_ADMIN, and a NOTIFY filter's fd must reach the parent while it listens.
    pub seccomp_early: bool,
    /// Scheduler, I/O priority, AppArmor profile.
    pub extras: ProcessExtras,
    pub oom_score_adj: Option<i32>,
    pub personality: Option<libc::c_ulong>,
    /// The session keyring to join (named after the container).
    pub keyring: Option<CString>,
    pub cpu_affinity: CpuAffinity,
    /// Things dropped with a warning (capabilities the runtime does not hold, ...), for the caller to log.
    pub warnings: Vec<String>,
}

fn cstrings(v: &[String], field: &str) -> Result<Vec<CString>> {
    v.iter()
        .enumerate()
        .map(|(i, a)| {
            CString::new(a.as_str())
                .map_err(|_| Error::invalid(format!("{field}[{i}]: contains a NUL byte")))
        })
        .collect()
}

fn personality(p: &oci_spec::runtime::LinuxPersonality) -> libc::c_ulong {
    match p.domain() {
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux => 0x0000,
        oci_spec::runtime::LinuxPersonalityDomain::PerLinux32 => 0x0008,
    }
}

fn cpu_list(name: &str, v: Option<&str>) -> Result<Option<Vec<usize>>> {
    v.map(|v| {
        crate::sched::parse_cpu_list(v)
            .map_err(|e| Error::invalid(format!("process.execCPUAffinity.{name}: {e}")))
    })
    .transpose()
}

/// The one function that plans a process: `process` with the container's `linux` section (its
/// seccomp profile, personality, mount label), for `role`, joining the session keyring `keyring`.
pub fn process_plan(
    p: &Process,
    linux: &Linux,
    role: Role,
    keyring: Option<&str>,
    host: &Host,
) -> Result<ProcessPlan> {
    let args = cstrings(p.args().as_deref().unwrap_or(&[]), "process.args")?;
    if args.is_empty() {
        return Err(Error::invalid("process.args: must not be empty"));
    }
    if !p.cwd().is_absolute() {
        return Err(Error::invalid(format!(
            "process.cwd: {:?} is not an absolute path",
            p.cwd()
        )));
    }
    let env_strings = p.env().clone().unwrap_or_default();
    let env = cstrings(&env_strings, "process.env")?;
    let mut warnings = Vec::new();
    let caps = match p.capabilities() {
        None => None,
        Some(_) => process::cap_plan(p, &(host.held_caps)(), &mut warnings),
    };
    let can_raise =
        p.rlimits().as_ref().is_some_and(|r| !r.is_empty()) && (host.can_raise_rlimits)();
    let rlimits = process::rlimit_plan(p, can_raise, host.hard_limit)?;
    let mount_label = linux.mount_label().as_deref();
    let extras = ProcessExtras::for_process(p, mount_label, (host.apparmor)(), (host.selinux)())?;
    let affinity = p.exec_cpu_affinity().as_ref();
    let initial = cpu_list("initial", affinity.and_then(|a| a.initial().as_deref()))?;
    let last = cpu_list(
        "final",
        affinity.and_then(|a| a.cpu_affinity_final().as_deref()),
    )?;
    let seccomp = match linux.seccomp() {
        None => None,
        Some(sc) => Some(hull_seccomp::compile_with(sc, (host.seccomp_kernel)())?),
    };
    let nnp = p.no_new_privileges().unwrap_or(false);
    let seccomp_early = seccomp.as_ref().is_some_and(|c| c.uses_notify() || !nnp);
    let user = p.user();
    let lookup_in_cwd = lookup_depends_on_cwd(&p.args().as_deref().unwrap_or(&[])[0], &env_strings);
    Ok(ProcessPlan {
        args,
        env,
        lookup_in_cwd,
        env_strings,
        cwd: p.cwd().to_string_lossy().into_owned(),
        terminal: p.terminal().unwrap_or(false),
        uid: user.uid(),
        gid: user.gid(),
        groups: user.additional_gids().clone().unwrap_or_default(),
        umask: user.umask().unwrap_or(0o022),
        caps,
        rlimits,
        nnp,
        seccomp,
        seccomp_early,
        extras,
        oom_score_adj: p.oom_score_adj(),
        personality: match role {
            Role::Init => linux.personality().as_ref().map(personality),
            Role::Exec => None,
        },
        keyring: keyring.and_then(|k| CString::new(k).ok()),
        cpu_affinity: match role {
            Role::Init => CpuAffinity::default(),
            Role::Exec => CpuAffinity { initial, last },
        },
        warnings,
    })
}

/// Does `process::find_executable` resolve `arg0` relative to the cwd?
pub fn lookup_depends_on_cwd(arg0: &str, env: &[String]) -> bool {
    if arg0.contains('/') {
        return !arg0.starts_with('/');
    }
    env.iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .is_some_and(|path| path.split(':').any(|d| !d.starts_with('/')))
}

impl ProcessPlan {
    /// Set `key=value` in the environment (Go's os.Setenv, as runc builds it).
    pub fn set_env(&mut self, key: &str, value: &str) -> Result<()> {
        process::set_env(&mut self.env_strings, key, value);
        self.env = cstrings(&self.env_strings, "process.env")?;
        Ok(())
    }
}

/// Where the pty master goes when `process.terminal` is true.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleTo {
    None,
    /// `--console-socket`.
    Socket,
    /// hull itself holds the terminal (foreground `hull run` / `hull exec --tty`).
    Foreground,
}

/// The terminal rules of `create`/`run` (Init) and `exec`, refused with the flag named.
pub fn console_to(role: Role, terminal: bool, socket: bool, foreground: bool) -> Result<ConsoleTo> {
    Ok(match (terminal, socket, role) {
        (true, true, _) => ConsoleTo::Socket,
        (true, false, _) if foreground => ConsoleTo::Foreground,
        (true, false, Role::Init) => {
            return Err(Error::invalid(
                "process.terminal: true needs --console-socket (or `hull run` in the foreground)",
            ))
        }
        (true, false, Role::Exec) => {
            return Err(Error::invalid(
                "exec --detach --tty needs --console-socket (nobody would hold the terminal)",
            ))
        }
        (false, true, Role::Init) => {
            return Err(Error::invalid(
                "--console-socket given but process.terminal is false",
            ))
        }
        (false, true, Role::Exec) => {
            return Err(Error::invalid(
                "--console-socket given without --tty (or process.terminal false)",
            ))
        }
        (false, false, _) => ConsoleTo::None,
    })
}

/// A namespace joined by path (the fd is opened when the plan is carried out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinPath {
    pub flag: libc::c_int,
    pub typ: LinuxNamespaceType,
    pub path: PathBuf,
}

/// The init's namespaces: the ones it creates, the ones it joins, and its id maps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamespacePlan {
    /// CLONE_NEW* flags of the namespaces created.
    pub new_flags: u64,
    pub joins: Vec<JoinPath>,
    pub new_user: bool,
    /// /proc/<pid>/uid_map and gid_map contents.
    pub uid_map: String,
    pub gid_map: String,
    /// /proc/self/timens_offsets contents.
    pub time_offsets: Option<String>,
    /// Rootless: the init stays dumpable until its unprivileged parent has written the maps.
    pub maps_need_dumpable: bool,
    /// Rootless: hull itself runs in a user namespace that is not the initial one (podman's).
    pub runtime_in_userns: bool,
}

/// CLONE_NEWTIME (not in every libc).
pub const CLONE_NEWTIME: libc::c_int = 0x80;

pub fn ns_flag(t: LinuxNamespaceType) -> libc::c_int {
    match t {
        LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => libc::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
        LinuxNamespaceType::User => libc::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
        LinuxNamespaceType::Network => libc::CLONE_NEWNET,
        LinuxNamespaceType::Time => CLONE_NEWTIME,
    }
}

impl NamespacePlan {
    /// Fast path: one clone3 with every new-namespace flag. Slow path (a namespace joined by
    /// path, or time offsets to write before the init is born): setns/unshare in the child.
    pub fn fast(&self) -> bool {
        self.joins.is_empty() && self.time_offsets.is_none()
    }

    /// Does the init live in a user namespace other than the initial one (its own, a joined one,
    /// or the rootless runtime's)? Then device nodes are bind mounts and sysfs is bound.
    pub fn in_userns(&self) -> bool {
        self.new_user
            || self.runtime_in_userns
            || self.joins.iter().any(|j| j.flag == libc::CLONE_NEWUSER)
    }

    pub fn creates(&self, flag: libc::c_int) -> bool {
        self.new_flags & flag as u64 != 0
    }

    /// The init is born in another pid namespace than the child of clone (slow path: fork again).
    pub fn pid_changes(&self) -> bool {
        let pidlike = |f: libc::c_int| f == libc::CLONE_NEWPID || f == CLONE_NEWTIME;
        self.creates(libc::CLONE_NEWPID)
            || self.creates(CLONE_NEWTIME)
            || self.joins.iter().any(|j| pidlike(j.flag))
    }
}

fn id_map(maps: &[oci_spec::runtime::LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

pub fn namespace_plan(linux: &Linux) -> Result<NamespacePlan> {
    let mut plan = NamespacePlan::default();
    let mut has_mnt = false;
    let mut time_new = false;
    for ns in linux.namespaces().iter().flatten() {
        let flag = ns_flag(ns.typ());
        has_mnt |= ns.typ() == LinuxNamespaceType::Mount;
        match ns.path() {
            None => {
                plan.new_user |= ns.typ() == LinuxNamespaceType::User;
                time_new |= ns.typ() == LinuxNamespaceType::Time;
                plan.new_flags |= flag as u64;
            }
            Some(p) => plan.joins.push(JoinPath {
                flag,
                typ: ns.typ(),
                path: p.clone(),
            }),
        }
    }
    if !has_mnt {
        return Err(Error::invalid(
            "linux.namespaces: a mount namespace is required (hull does not set up a rootfs in the host's mount namespace)",
        ));
    }
    if let Some(offs) = linux.time_offsets() {
        if !time_new {
            return Err(Error::invalid(
                "linux.timeOffsets: requires a new time namespace",
            ));
        }
        let mut s = String::new();
        for (clock, o) in offs {
            if !matches!(clock.as_str(), "monotonic" | "boottime") {
                return Err(Error::invalid(format!(
                    "linux.timeOffsets: unknown clock {clock:?} (monotonic or boottime)"
                )));
            }
            s.push_str(&format!(
                "{clock} {} {}\n",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            ));
        }
        plan.time_offsets = Some(s);
    }
    plan.uid_map = id_map(linux.uid_mappings().as_deref().unwrap_or(&[]));
    plan.gid_map = id_map(linux.gid_mappings().as_deref().unwrap_or(&[]));
    Ok(plan)
}

/// The init's root filesystem: mounts, devices, propagation, masked and read-only paths.
#[derive(Debug, Clone, PartialEq)]
pub struct RootfsPlan {
    pub path: PathBuf,
    pub mounts: Vec<Mount>,
    pub devices: Vec<DeviceNode>,
    pub has_devpts: bool,
    /// --no-pivot: move the rootfs onto "/" instead of pivot_root.
    pub no_pivot: bool,
    /// The propagation "/" is changed to first (rslave unless `linux.rootfsPropagation`).
    pub root_propagation: libc::c_ulong,
    /// `linux.rootfsPropagation`, applied again to the new root after pivot_root.
    pub rootfs_propagation: Option<libc::c_ulong>,
    pub readonly_root: bool,
    pub masked: Vec<String>,
    pub readonly: Vec<String>,
}

pub fn rootfs_plan(spec: &Spec, linux: &Linux, path: &Path, no_pivot: bool) -> Result<RootfsPlan> {
    let mounts = spec.mounts().clone().unwrap_or_default();
    let has_devpts = mounts
        .iter()
        .any(|m| m.destination() == Path::new("/dev/pts") && m.typ().as_deref() == Some("devpts"));
    let devices = crate::rootfs::devices::plan(linux.devices().as_deref().unwrap_or(&[]))?;
    let rootfs_propagation = match linux.rootfs_propagation().as_deref() {
        None | Some("") => None,
        Some(p) => Some(crate::rootfs::propagation_flag(p).ok_or_else(|| {
            Error::invalid(format!("linux.rootfsPropagation: unknown value {p:?}"))
        })?),
    };
    Ok(RootfsPlan {
        path: path.to_path_buf(),
        mounts,
        devices,
        has_devpts,
        no_pivot,
        root_propagation: rootfs_propagation.unwrap_or(libc::MS_SLAVE | libc::MS_REC),
        rootfs_propagation,
        readonly_root: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        masked: linux.masked_paths().clone().unwrap_or_default(),
        readonly: linux.readonly_paths().clone().unwrap_or_default(),
    })
}

/// The hooks the init takes part in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HookPlan {
    /// prestart/createRuntime exist: the init asks the parent to run them (CreateRuntime).
    pub runtime: bool,
    pub create_container: Vec<Hook>,
    pub start_container: Vec<Hook>,
}

/// The flags of `create`/`run` that shape the init.
#[derive(Debug, Clone, Default)]
pub struct InitOpts<'a> {
    pub no_pivot: bool,
    /// The session keyring to create (the container ID), None with --no-new-keyring.
    pub keyring: Option<&'a str>,
    /// Socket activation: LISTEN_FDS=N and LISTEN_PID=1 go into the init's environment.
    pub listen_fds: i32,
}

/// Everything about the container init decided from config.json, before any fd is opened.
#[derive(Debug, Clone)]
pub struct InitSpec {
    pub process: ProcessPlan,
    pub namespaces: NamespacePlan,
    pub rootfs: RootfsPlan,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    /// `linux.sysctl`, sorted by key (checked against the namespaces by `spec::validate`).
    pub sysctl: Vec<(String, String)>,
    pub hooks: HookPlan,
}

/// Plan the init from a validated spec (see `spec::validate`) and its absolute rootfs path.
pub fn init_spec(spec: &Spec, rootfs: &Path, opts: &InitOpts, host: &Host) -> Result<InitSpec> {
    let p = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::invalid("process: missing (required for create)"))?;
    let default_linux;
    let linux = match spec.linux() {
        Some(l) => l,
        None => {
            default_linux = Linux::default();
            &default_linux
        }
    };
    let namespaces = namespace_plan(linux)?;
    let rootfs = rootfs_plan(spec, linux, rootfs, opts.no_pivot)?;
    let mut process = process_plan(p, linux, Role::Init, opts.keyring, host)?;
    if opts.listen_fds > 0 {
        process.set_env("LISTEN_FDS", &opts.listen_fds.to_string())?;
        process.set_env("LISTEN_PID", "1")?;
    }
    let mut sysctl: Vec<(String, String)> = linux
        .sysctl()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    sysctl.sort();
    Ok(InitSpec {
        process,
        namespaces,
        rootfs,
        hostname: spec.hostname().clone(),
        domainname: spec.domainname().clone(),
        sysctl,
        hooks: HookPlan {
            runtime: !crate::hooks::of(spec, "prestart").is_empty()
                || !crate::hooks::of(spec, "createRuntime").is_empty(),
            create_container: crate::hooks::of(spec, "createContainer"),
            start_container: crate::hooks::of(spec, "startContainer"),
        },
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
