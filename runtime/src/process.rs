//! The process fields of config.json as plain data computed in the parent (capability sets,
//! rlimits, ids), and the child-side steps that apply them.

use crate::error::{Error, Result};
use crate::logging;
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{PosixRlimitType, Process};
use std::ffi::CString;

/// The resource argument of getrlimit/setrlimit/prlimit (glibc: an enum typedef; musl: int).
#[cfg(target_env = "gnu")]
pub type RlimitResource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
pub type RlimitResource = libc::c_int;

/// The five capability sets to apply; `None` when the config has no `capabilities` (keep as is).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapPlan {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

fn oci_cap_name(c: &oci_spec::runtime::Capability) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Compute the capability sets. A capability the runtime itself does not hold in its bounding set
/// (this host lacks CAP_SYS_RESOURCE) or that the kernel does not know is dropped with a warning
/// (pushed to `warnings`, for the caller to log).
pub fn cap_plan(
    process: &Process,
    held: &CapsHashSet,
    warnings: &mut Vec<String>,
) -> Option<CapPlan> {
    let c = process.capabilities().as_ref()?;
    let mut conv = |set: &str, s: &Option<oci_spec::runtime::Capabilities>| -> CapsHashSet {
        let mut out = CapsHashSet::new();
        for cap in s.iter().flatten() {
            let name = oci_cap_name(cap);
            match name.parse::<Capability>() {
                Ok(k) if held.contains(&k) => {
                    out.insert(k);
                }
                Ok(_) => warnings.push(format!(
                    "process.capabilities.{set}: {name} is not held by the runtime, dropped"
                )),
                Err(_) => warnings.push(format!(
                    "process.capabilities.{set}: {name} is unknown to this kernel, dropped"
                )),
            }
        }
        out
    };
    Some(CapPlan {
        bounding: conv("bounding", c.bounding()),
        effective: conv("effective", c.effective()),
        permitted: conv("permitted", c.permitted()),
        inheritable: conv("inheritable", c.inheritable()),
        ambient: conv("ambient", c.ambient()),
    })
}

/// The runtime's own bounding set (what it can pass on).
pub fn held_caps() -> CapsHashSet {
    caps::read(None, CapSet::Bounding).unwrap_or_else(|_| caps::all())
}

/// May the runtime raise hard rlimits (CAP_SYS_RESOURCE in its effective set)?
pub fn can_raise_rlimits() -> bool {
    caps::has_cap(None, CapSet::Effective, Capability::CAP_SYS_RESOURCE).unwrap_or(false)
}

/// The runtime's own hard limit of `resource`; None when unlimited or unknown.
pub fn own_hard_limit(resource: RlimitResource) -> Option<u64> {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a valid struct.
    let rc = unsafe { libc::getrlimit(resource, &mut cur) };
    (rc == 0 && cur.rlim_max != libc::RLIM_INFINITY).then_some(cur.rlim_max)
}

/// Drop from the bounding set everything not in `keep` (needs CAP_SETPCAP, so before the user switch).
pub fn apply_bounding(plan: &CapPlan) -> Result<()> {
    for cap in caps::all() {
        if !plan.bounding.contains(&cap) {
            match caps::drop(None, CapSet::Bounding, cap) {
                Ok(()) => {}
                // A cap the kernel does not have cannot be dropped: nothing to do.
                Err(_)
                    if !caps::runtime::procfs_all_supported(None)
                        .map(|s| s.contains(&cap))
                        .unwrap_or(true) => {}
                Err(e) => {
                    return Err(Error::Child {
                        step: "capabilities".into(),
                        msg: format!("drop {cap} from bounding set: {e}"),
                    })
                }
            }
        }
    }
    Ok(())
}

/// Set permitted, inheritable, effective, ambient (after the user switch, with keepcaps).
pub fn apply_caps(plan: &CapPlan) -> Result<()> {
    let err = |set: &str, e: caps::errors::CapsError| Error::Child {
        step: "capabilities".into(),
        msg: format!("set {set}: {e}"),
    };
    // The three sets in one capset(2): the kernel checks them together (permitted only shrinks,
    // effective within the new permitted, inheritable within what we hold), so no order of
    // per-set calls is needed.
    capset_all(&plan.effective, &plan.permitted, &plan.inheritable).map_err(|e| Error::Child {
        step: "capabilities".into(),
        msg: format!("set effective/permitted/inheritable: {e}"),
    })?;
    caps::clear(None, CapSet::Ambient).map_err(|e| err("ambient", e))?;
    for c in &plan.ambient {
        // Ambient needs the cap in both permitted and inheritable; the kernel refuses otherwise.
        if plan.permitted.contains(c) && plan.inheritable.contains(c) {
            caps::raise(None, CapSet::Ambient, *c).map_err(|e| err("ambient", e))?;
        } else {
            logging::debug(&format!(
                "process.capabilities.ambient: {c} is not in permitted and inheritable, skipped"
            ));
        }
    }
    Ok(())
}

/// capset(2) with all three sets of this thread at once (version 3: 64-bit sets).
fn capset_all(
    effective: &CapsHashSet,
    permitted: &CapsHashSet,
    inheritable: &CapsHashSet,
) -> std::result::Result<(), nix::errno::Errno> {
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mask = |set: &CapsHashSet| set.iter().fold(0u64, |m, c| m | c.bitmask());
    let (e, p, i) = (mask(effective), mask(permitted), mask(inheritable));
    let data = [
        Data {
            effective: e as u32,
            permitted: p as u32,
            inheritable: i as u32,
        },
        Data {
            effective: (e >> 32) as u32,
            permitted: (p >> 32) as u32,
            inheritable: (i >> 32) as u32,
        },
    ];
    let header = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: capset with a valid version-3 header and its two data words.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) };
    if rc != 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(())
}

/// An rlimit to set: (resource, soft, hard, name).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rlimit {
    pub resource: RlimitResource,
    pub soft: u64,
    pub hard: u64,
    pub name: &'static str,
}

fn rlimit_resource(t: PosixRlimitType) -> Option<(RlimitResource, &'static str)> {
    use PosixRlimitType as R;
    Some(match t {
        R::RlimitCpu => (libc::RLIMIT_CPU, "RLIMIT_CPU"),
        R::RlimitFsize => (libc::RLIMIT_FSIZE, "RLIMIT_FSIZE"),
        R::RlimitData => (libc::RLIMIT_DATA, "RLIMIT_DATA"),
        R::RlimitStack => (libc::RLIMIT_STACK, "RLIMIT_STACK"),
        R::RlimitCore => (libc::RLIMIT_CORE, "RLIMIT_CORE"),
        R::RlimitRss => (libc::RLIMIT_RSS, "RLIMIT_RSS"),
        R::RlimitNproc => (libc::RLIMIT_NPROC, "RLIMIT_NPROC"),
        R::RlimitNofile => (libc::RLIMIT_NOFILE, "RLIMIT_NOFILE"),
        R::RlimitMemlock => (libc::RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"),
        R::RlimitAs => (libc::RLIMIT_AS, "RLIMIT_AS"),
        R::RlimitLocks => (libc::RLIMIT_LOCKS, "RLIMIT_LOCKS"),
        R::RlimitSigpending => (libc::RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"),
        R::RlimitMsgqueue => (libc::RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"),
        R::RlimitNice => (libc::RLIMIT_NICE, "RLIMIT_NICE"),
        R::RlimitRtprio => (libc::RLIMIT_RTPRIO, "RLIMIT_RTPRIO"),
        R::RlimitRttime => (libc::RLIMIT_RTTIME, "RLIMIT_RTTIME"),
        #[allow(unreachable_patterns)]
        _ => return None,
    })
}

/// The rlimits to set, checked in the parent against the runtime's own hard limits
/// (`hard_limit`): raising a hard limit needs CAP_SYS_RESOURCE, which this host's runtime may not have.
pub fn rlimit_plan(
    process: &Process,
    can_raise: bool,
    hard_limit: fn(RlimitResource) -> Option<u64>,
) -> Result<Vec<Rlimit>> {
    let mut out = Vec::new();
    for (i, r) in process.rlimits().iter().flatten().enumerate() {
        let (resource, name) = rlimit_resource(r.typ()).ok_or_else(|| {
            Error::invalid(format!(
                "process.rlimits[{i}]: unsupported type {:?}",
                r.typ()
            ))
        })?;
        if !can_raise {
            if let Some(max) = hard_limit(resource).filter(|&max| r.hard() > max) {
                return Err(Error::invalid(format!(
                    "process.rlimits[{i}]: {name} hard limit {} exceeds the runtime's own hard limit {max} \
                     (raising it needs CAP_SYS_RESOURCE)",
                    r.hard(),
                )));
            }
        }
        out.push(Rlimit {
            resource,
            soft: r.soft(),
            hard: r.hard(),
            name,
        });
    }
    Ok(out)
}

pub fn apply_rlimits(list: &[Rlimit]) -> Result<()> {
    for r in list {
        let lim = libc::rlimit {
            rlim_cur: r.soft,
            rlim_max: r.hard,
        };
        // SAFETY: setrlimit with a valid struct.
        if unsafe { libc::setrlimit(r.resource, &lim) } != 0 {
            return Err(Error::sys(
                format!("setrlimit {} (soft {}, hard {})", r.name, r.soft, r.hard),
                nix::errno::Errno::last(),
            ));
        }
    }
    Ok(())
}

/// Switch to the configured user: groups, gid, uid (keeping capabilities across the switch).
pub fn switch_user(uid: u32, gid: u32, groups: &[u32], setgroups_allowed: bool) -> Result<()> {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    if setgroups_allowed {
        let gids: Vec<libc::gid_t> = groups.to_vec();
        // SAFETY: setgroups with a valid pointer/length pair.
        if unsafe { libc::setgroups(gids.len(), gids.as_ptr()) } != 0 {
            return Err(Error::sys(
                format!("setgroups {groups:?} (process.user.additionalGids)"),
                nix::errno::Errno::last(),
            ));
        }
    } else if !groups.is_empty() {
        return Err(Error::invalid(
            "process.user.additionalGids: setgroups is denied in this user namespace",
        ));
    }
    // SAFETY: plain id syscalls.
    if unsafe { libc::setresgid(gid, gid, gid) } != 0 {
        return Err(Error::sys(
            format!("setresgid {gid} (process.user.gid)"),
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: plain id syscalls.
    if unsafe { libc::setresuid(uid, uid, uid) } != 0 {
        return Err(Error::sys(
            format!("setresuid {uid} (process.user.uid)"),
            nix::errno::Errno::last(),
        ));
    }
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    Ok(())
}

/// Find the executable for `args[0]` inside the container (after pivot_root), using the PATH of
/// the container's environment, as execvp would. Errors like runc: `exec: "x": executable file not found in $PATH`.
pub fn find_executable(arg0: &str, env: &[String]) -> Result<CString> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &std::path::Path| {
        std::fs::metadata(p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    if arg0.contains('/') {
        if !std::path::Path::new(arg0).exists() {
            return Err(Error::invalid(format!(
                "exec: {arg0:?}: stat {arg0}: no such file or directory"
            )));
        }
        return CString::new(arg0).map_err(|_| Error::invalid("process.args[0]: contains NUL"));
    }
    let path = env
        .iter()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = std::path::Path::new(dir).join(arg0);
        if is_exec(&cand) {
            return CString::new(cand.to_string_lossy().as_bytes())
                .map_err(|_| Error::invalid("process.args[0]: contains NUL"));
        }
    }
    Err(Error::invalid(format!(
        "exec: {arg0:?}: executable file not found in $PATH"
    )))
}

/// Go's `os.Setenv` on an environment list (runc's init builds the process environment with it):
/// the first `key=` entry gets the new value in place, later ones go; without one it is appended.
pub fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    let is_key = |e: &String| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key;
    let entry = format!("{key}={value}");
    match env.iter().position(is_key) {
        Some(i) => {
            env[i] = entry;
            let mut n = 0;
            env.retain(|e| {
                n += 1;
                n <= i + 1 || !is_key(e)
            });
        }
        None => env.push(entry),
    }
}

/// The home directory of `uid` in a passwd file, with runc 1.1.5's parser (libcontainer/user):
/// lines are trimmed and blank ones skipped, fields split on ':', a uid that is not a number
/// reads as 0, a missing home field as "", and the first matching line wins.
pub fn passwd_home(passwd: &[u8], uid: u32) -> Option<String> {
    use std::num::IntErrorKind;
    passwd.split(|&b| b == b'\n').find_map(|line| {
        let line = String::from_utf8_lossy(line);
        let line = line.trim();
        if line.is_empty() {
            return None;
        }
        let fields: Vec<&str> = line.split(':').collect();
        let line_uid = match fields.get(2).map(|f| f.parse::<i64>()) {
            Some(Ok(n)) => n,
            // Go's Atoi: out of range is an error too, but its clamped value matches no uid.
            Some(Err(e))
                if matches!(
                    e.kind(),
                    IntErrorKind::PosOverflow | IntErrorKind::NegOverflow
                ) =>
            {
                -1
            }
            _ => 0,
        };
        (line_uid == i64::from(uid)).then(|| fields.get(5).unwrap_or(&"").to_string())
    })
}

/// The `HOME` runc gives a process of `uid` whose environment has none: its entry in
/// `/etc/passwd` of the current root (call this after pivot_root, or after joining the
/// container's mount namespace, so the path resolves inside the container), else "/".
/// An unreadable file counts as no entry, as in runc. O_NONBLOCK: a FIFO reads as empty.
pub fn passwd_home_in_root(uid: u32) -> String {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut buf = Vec::new();
    let read = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/etc/passwd")
        .and_then(|mut f| f.read_to_end(&mut buf));
    match read {
        Ok(_) => passwd_home(&buf, uid).unwrap_or_else(|| "/".into()),
        Err(_) => "/".into(),
    }
}

/// runc's rule for `HOME` (setupUser): when the environment has no `HOME` or an empty one, set
/// it to the user's home from the container's /etc/passwd. `None`: the environment is unchanged.
pub fn env_with_home(env: &[String], uid: u32) -> Result<Option<Vec<CString>>> {
    let home = env.iter().rev().find_map(|e| e.strip_prefix("HOME="));
    if home.is_some_and(|h| !h.is_empty()) {
        return Ok(None);
    }
    let mut env = env.to_vec();
    set_env(&mut env, "HOME", &passwd_home_in_root(uid));
    env.iter()
        .map(|e| {
            CString::new(e.as_str()).map_err(|_| {
                Error::invalid(format!(
                    "HOME from /etc/passwd for uid {uid}: contains a NUL byte"
                ))
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Socket activation as runc 1.1.5 reads it (go-systemd `activation.Files`): the number of fds,
/// from 3 on, passed to this process — `LISTEN_PID` must be our pid and `LISTEN_FDS` a positive
/// number; anything else means none.
pub fn listen_fds(listen_pid: Option<&str>, listen_fds: Option<&str>, own_pid: u32) -> i32 {
    if listen_fds.is_none_or(str::is_empty) {
        return 0;
    }
    if listen_pid.and_then(|p| p.parse::<i64>().ok()) != Some(i64::from(own_pid)) {
        return 0;
    }
    listen_fds
        .and_then(|n| n.parse::<i32>().ok())
        .unwrap_or(0)
        .max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(v: serde_json::Value) -> Process {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn caps_not_held_are_dropped() {
        let p = process(serde_json::json!({
            "cwd": "/", "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_CHOWN", "CAP_SYS_RESOURCE"], "effective": ["CAP_CHOWN"]}
        }));
        let mut held = caps::all();
        held.remove(&Capability::CAP_SYS_RESOURCE);
        let mut warnings = Vec::new();
        let plan = cap_plan(&p, &held, &mut warnings).unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("CAP_SYS_RESOURCE"), "{warnings:?}");
        assert!(plan.bounding.contains(&Capability::CAP_CHOWN));
        assert!(!plan.bounding.contains(&Capability::CAP_SYS_RESOURCE));
        assert_eq!(plan.effective.len(), 1);
        assert!(plan.permitted.is_empty());
        let none = process(serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}}));
        assert!(cap_plan(&none, &held, &mut warnings).is_none());
    }

    #[test]
    fn rlimits_above_own_hard_limit_are_refused() {
        let mut cur = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit into a valid struct.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) };
        let over = if cur.rlim_max == libc::RLIM_INFINITY {
            return;
        } else {
            cur.rlim_max + 1
        };
        let p = process(serde_json::json!({
            "cwd": "/", "user": {"uid": 0, "gid": 0},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": over, "soft": 10}]
        }));
        let e = rlimit_plan(&p, false, own_hard_limit)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("RLIMIT_NOFILE") && e.contains("rlimits[0]"),
            "{e}"
        );
        let p = process(serde_json::json!({
            "cwd": "/", "user": {"uid": 0, "gid": 0},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 100, "soft": 10}]
        }));
        let plan = rlimit_plan(&p, false, own_hard_limit).unwrap();
        assert_eq!((plan[0].soft, plan[0].hard), (10, 100));
    }

    #[test]
    fn executable_lookup_uses_path() {
        let env = vec!["PATH=/nonexistent:/bin".to_string()];
        assert_eq!(
            find_executable("sh", &env).unwrap().to_str().unwrap(),
            "/bin/sh"
        );
        let e = find_executable("no-such-binary-hull", &env)
            .unwrap_err()
            .to_string();
        assert!(e.contains("executable file not found in $PATH"), "{e}");
        assert!(find_executable("/no/such", &env).is_err());
    }

    #[test]
    fn set_env_is_go_setenv() {
        let mut env = vec![
            "A=1".to_string(),
            "HOME=".into(),
            "B=2".into(),
            "HOME=x".into(),
        ];
        set_env(&mut env, "HOME", "/root");
        assert_eq!(env, vec!["A=1", "HOME=/root", "B=2"]);
        set_env(&mut env, "LISTEN_FDS", "2");
        assert_eq!(env, vec!["A=1", "HOME=/root", "B=2", "LISTEN_FDS=2"]);
    }

    #[test]
    fn passwd_home_follows_runc_parser() {
        let pw = b"\n  root:x:0:0:root:/root:/bin/sh  \nnobody:x:65534:65534::/nonexistent:/bin/false\nshort:x:7\nnobody2:x:65534:1::/other:\n";
        assert_eq!(passwd_home(pw, 0).as_deref(), Some("/root"));
        assert_eq!(passwd_home(pw, 65534).as_deref(), Some("/nonexistent"));
        assert_eq!(passwd_home(pw, 7).as_deref(), Some(""));
        assert_eq!(passwd_home(pw, 1000), None);
        // As Go's Atoi with its error ignored: a uid field that is not a number reads as 0.
        assert_eq!(
            passwd_home(b"+nis:x:abc:0::/nis:\nroot:x:0:0::/root:\n", 0).as_deref(),
            Some("/nis")
        );
        assert_eq!(
            passwd_home(b"big:x:99999999999999999999:0::/big:\n", 0),
            None
        );
    }

    #[test]
    fn listen_fds_needs_our_pid_and_a_count() {
        assert_eq!(listen_fds(Some("42"), Some("2"), 42), 2);
        assert_eq!(listen_fds(Some("41"), Some("2"), 42), 0);
        assert_eq!(listen_fds(None, Some("2"), 42), 0);
        assert_eq!(listen_fds(Some("42"), None, 42), 0);
        assert_eq!(listen_fds(Some("42"), Some("x"), 42), 0);
        assert_eq!(listen_fds(Some("42"), Some("-3"), 42), 0);
    }
}
