//! Running hull as an unprivileged user: when it counts as rootless, where its state lives, and
//! how the parent gives a new user namespace its id mappings.
//!
//! The rules follow runc 1.1:
//! - `--rootless auto` (the default): rootless when the effective uid is not 0, or when uid 0 is
//!   not the real root (we are in a user namespace that is not the initial one). `true`/`false`
//!   force it.
//! - The state root defaults to `$XDG_RUNTIME_DIR/hull` when `$XDG_RUNTIME_DIR` is set and we are
//!   not the real root (euid != 0, or uid 0 of a user namespace whose `$USER` is not `root`).
//! - A mapping the caller may write itself (one line mapping its own id) is written straight into
//!   `/proc/PID/{uid,gid}_map` (with `setgroups` set to `deny` first, which the kernel requires
//!   before an unprivileged `gid_map` write). Anything else goes through `newuidmap`/`newgidmap`
//!   (Debian `uidmap`), which check the ranges against `/etc/subuid` and `/etc/subgid`.

use crate::error::{Error, Result};
use std::path::PathBuf;

/// Whether uid 0 of this process is the host's root: `/proc/self/uid_map` is the identity map of
/// the whole id space only in the initial user namespace.
pub fn in_initial_userns() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(s) => is_identity_map(&s),
        Err(_) => true,
    }
}

fn is_identity_map(s: &str) -> bool {
    let f: Vec<&str> = s.split_whitespace().collect();
    f == ["0", "0", "4294967295"]
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// `--rootless`: `true`, `false` or `auto` (as runc's `shouldUseRootlessCgroupManager` with the
/// cgroupfs driver).
pub fn resolve(flag: &str) -> Result<bool> {
    match flag {
        "true" => Ok(true),
        "false" => Ok(false),
        "auto" | "" => Ok(euid() != 0 || !in_initial_userns()),
        other => Err(Error::invalid(format!(
            "--rootless: invalid value {other:?} (true, false or auto)"
        ))),
    }
}

/// `--rootless` as resolved by the CLI (`auto` until it is set).
static MODE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Record the resolved `--rootless` for this command.
pub fn set_mode(rootless: bool) {
    let _ = MODE.set(rootless);
}

/// Whether this command runs rootless (the resolved `--rootless`, else `auto`).
pub fn mode() -> bool {
    *MODE.get_or_init(|| resolve("auto").unwrap_or(false))
}

/// runc 1.1's rootless cgroup rule (fs2 and fs `Apply`): when rootless, a cgroup that cannot be
/// made or joined is skipped (with a warning) only if the config names no `cgroupsPath` and asks
/// for no limit; device rules do not count, runc ignores their errors when rootless. With a path
/// or a limit, the permission error stays an error: a user-owned (delegated) cgroup v2 subtree
/// named in `cgroupsPath` is used like any other.
pub fn cgroup_optional(
    cgroups_path: Option<&str>,
    res: Option<&oci_spec::runtime::LinuxResources>,
) -> bool {
    mode() && cgroups_path.is_none() && !res.is_some_and(asks_for_limits)
}

fn asks_for_limits(r: &oci_spec::runtime::LinuxResources) -> bool {
    r.memory().is_some()
        || r.cpu().is_some()
        || r.pids().is_some()
        || r.block_io().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|v| !v.is_empty())
        || r.network().is_some()
        || r.rdma().as_ref().is_some_and(|m| !m.is_empty())
        || r.unified().as_ref().is_some_and(|m| !m.is_empty())
}

/// The resources hull writes: when rootless and unprivileged, without device rules (a user cannot
/// load a cgroup device filter, and runc ignores that failure when rootless; device nodes in a
/// user namespace are bind mounts of the host's, which the host's permissions already guard).
pub fn cgroup_resources(
    mut res: oci_spec::runtime::LinuxResources,
) -> oci_spec::runtime::LinuxResources {
    if mode() && !privileged() {
        res.set_devices(None);
    }
    res
}

/// The default `--root` when it is not `/run/hull`: `$XDG_RUNTIME_DIR/hull` for a user that is
/// not the real root (runc's `shouldHonorXDGRuntimeDir`).
pub fn default_root() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty());
    let user = std::env::var("USER").ok();
    default_root_for(euid(), in_initial_userns(), xdg, user.as_deref())
}

fn default_root_for(
    euid: u32,
    initial_userns: bool,
    xdg: Option<std::ffi::OsString>,
    user: Option<&str>,
) -> Option<PathBuf> {
    let honour = match &xdg {
        None => false,
        Some(_) if euid != 0 => true,
        Some(_) if initial_userns => false,
        Some(_) => user != Some("root"),
    };
    xdg.filter(|_| honour)
        .map(|d| PathBuf::from(d).join("hull"))
}

/// One parsed line of a `uid_map`/`gid_map`: container id, host id, size.
type Line = (u64, u64, u64);

fn parse_map(map: &str) -> Vec<Line> {
    map.lines()
        .filter_map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            (v.len() == 3).then(|| (v[0], v[1], v[2]))
        })
        .collect()
}

/// Whether a process with id `own` may write `map` itself: one line mapping only `own`.
fn writable_directly(map: &[Line], own: u32, privileged: bool) -> bool {
    privileged || matches!(map, [(_, host, 1)] if *host == u64::from(own))
}

/// Whether this process may write any id mapping: root of the initial user namespace.
pub fn privileged() -> bool {
    euid() == 0 && in_initial_userns()
}

/// In the init, once its maps are written: non-dumpable again until execve. (Until then it stays
/// dumpable when `privileged()` is false: a non-dumpable task's `/proc/<pid>` files belong to
/// root, so its unprivileged parent could not open `uid_map`. runc does the same.)
pub fn drop_dumpable() {
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Give the (new) user namespace of `pid` its mappings; errors name the config field.
pub fn write_maps(pid: i32, uid_map: &str, gid_map: &str) -> Result<()> {
    // Root of the initial user namespace holds CAP_SETUID/CAP_SETGID over every id.
    let privileged = privileged();
    // SAFETY: getegid cannot fail.
    let egid = unsafe { libc::getegid() };
    if !gid_map.is_empty() {
        let lines = parse_map(gid_map);
        if writable_directly(&lines, egid, privileged) {
            if !privileged {
                deny_setgroups(pid)?;
            }
            write_map(pid, "gid_map", gid_map, "linux.gidMappings")?;
        } else {
            run_tool("newgidmap", pid, &lines, "linux.gidMappings")?;
        }
    }
    if !uid_map.is_empty() {
        let lines = parse_map(uid_map);
        if writable_directly(&lines, euid(), privileged) {
            write_map(pid, "uid_map", uid_map, "linux.uidMappings")?;
        } else {
            run_tool("newuidmap", pid, &lines, "linux.uidMappings")?;
        }
    }
    Ok(())
}

fn deny_setgroups(pid: i32) -> Result<()> {
    crate::sys::write_file(&format!("/proc/{pid}/setgroups"), b"deny")
        .map_err(|e| Error::invalid(format!("linux.gidMappings: setgroups deny: {e}")))
}

fn write_map(pid: i32, file: &str, map: &str, field: &str) -> Result<()> {
    crate::sys::write_file(&format!("/proc/{pid}/{file}"), map.as_bytes())
        .map_err(|e| Error::invalid(format!("{field}: {e}")))
}

/// Run `newuidmap`/`newgidmap PID ID HOSTID SIZE...` and name the field and the tool's words on
/// failure.
fn run_tool(tool: &str, pid: i32, lines: &[Line], field: &str) -> Result<()> {
    let mut cmd = std::process::Command::new(tool);
    cmd.arg(pid.to_string());
    for (c, h, n) in lines {
        cmd.args([c.to_string(), h.to_string(), n.to_string()]);
    }
    let out = cmd.output().map_err(|e| {
        Error::invalid(format!(
            "{field}: more than the caller's own id needs {tool} (Debian package uidmap): {e}"
        ))
    })?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        return Err(Error::invalid(format!(
            "{field}: {tool} refused the mapping {lines:?} (check /etc/sub{}id): {}",
            &tool[3..4],
            msg.trim()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_map_is_the_initial_userns() {
        assert!(is_identity_map("         0          0 4294967295\n"));
        assert!(!is_identity_map("0 1000 1\n"));
        assert!(!is_identity_map("0 0 65536\n"));
    }

    #[test]
    fn default_root_follows_runc() {
        let x = || Some(std::ffi::OsString::from("/run/user/1000"));
        let run = None;
        let user = Some(PathBuf::from("/run/user/1000/hull"));
        assert_eq!(default_root_for(1000, true, x(), None), user);
        assert_eq!(default_root_for(1000, true, None, None), run);
        assert_eq!(
            default_root_for(0, true, x(), Some("bob")),
            run,
            "real root"
        );
        assert_eq!(
            default_root_for(0, false, x(), Some("bob")),
            user,
            "root of a user namespace"
        );
        assert_eq!(default_root_for(0, false, x(), Some("root")), run);
    }

    #[test]
    fn own_single_id_is_written_directly_else_a_tool() {
        assert!(writable_directly(&parse_map("0 1000 1\n"), 1000, false));
        assert!(!writable_directly(&parse_map("0 1001 1\n"), 1000, false));
        assert!(!writable_directly(&parse_map("0 1000 2\n"), 1000, false));
        assert!(!writable_directly(
            &parse_map("0 1000 1\n1 100000 65536\n"),
            1000,
            false
        ));
        assert!(writable_directly(&parse_map("0 100000 65536\n"), 0, true));
    }

    #[test]
    fn limits_make_a_rootless_cgroup_required() {
        use oci_spec::runtime::{LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder};
        let devices_only = LinuxResourcesBuilder::default()
            .devices(vec![Default::default()])
            .build()
            .unwrap();
        assert!(!asks_for_limits(&devices_only), "device rules are no limit");
        assert!(!asks_for_limits(&LinuxResources::default()));
        let pids = LinuxResourcesBuilder::default()
            .pids(LinuxPidsBuilder::default().limit(10).build().unwrap())
            .build()
            .unwrap();
        assert!(asks_for_limits(&pids));
        set_mode(true);
        assert!(cgroup_optional(None, Some(&devices_only)));
        assert!(
            !cgroup_optional(None, Some(&pids)),
            "a limit needs its cgroup"
        );
        assert!(
            !cgroup_optional(Some("/mine"), None),
            "a named path needs its cgroup"
        );
    }

    #[test]
    fn bad_rootless_value_names_the_flag() {
        let e = resolve("maybe").unwrap_err().to_string();
        assert!(e.contains("--rootless") && e.contains("maybe"), "{e}");
        assert!(resolve("true").unwrap());
        assert!(!resolve("false").unwrap());
    }
}
