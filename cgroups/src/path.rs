//! linux.cgroupsPath → the directories of the container's cgroup, the way runc resolves it.
use crate::mountinfo::{dir_in_mount, v1_mount, v2_mount, HostCgroups};
use crate::{CgroupError, Layout};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where a container's cgroup lives, resolved once at `create` and stored in state.json so that
/// later commands (another process) re-open the very same directories.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupPath {
    pub layout: Layout,
    /// The cgroup path inside the hierarchy as resolved (absolute, e.g. "/hull/abc"), for display.
    /// On v1 with a relative cgroupsPath it is the path in the first hierarchy.
    pub inner: String,
    /// cgroup2 directory: the container's cgroup on Unified; on Hybrid the twin in the cgroup2
    /// hierarchy (membership only, as runc does); None on Legacy.
    pub unified: Option<PathBuf>,
    /// v1 controller (or named hierarchy, "name=systemd") → directory. Empty on Unified.
    pub v1: BTreeMap<String, PathBuf>,
    /// Mount points of the hierarchies used ("" = cgroup2, else the v1 controller), so that
    /// [`crate::manager`] need not read mountinfo again in later commands.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub mounts: BTreeMap<String, PathBuf>,
    /// Resolved from the systemd "slice:prefix:name" form: hull made the slice directories
    /// itself (there is no systemd), so `destroy` also removes those that end up empty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub systemd: bool,
}

impl std::fmt::Display for CgroupPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.inner)
    }
}

impl CgroupPath {
    /// JSON form (for callers that want a plain string).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("CgroupPath serialises")
    }
    pub fn from_json(s: &str) -> Result<Self, CgroupError> {
        serde_json::from_str(s).map_err(|e| CgroupError::Parse {
            path: PathBuf::from("<CgroupPath json>"),
            reason: e.to_string(),
        })
    }
    /// The v1 directory of `controller`, if that hierarchy is mounted.
    pub fn v1_dir(&self, controller: &str) -> Option<&PathBuf> {
        self.v1.get(controller)
    }
}

fn invalid(path: &str, reason: impl Into<String>) -> CgroupError {
    CgroupError::InvalidPath {
        path: path.to_string(),
        reason: reason.into(),
    }
}

/// Lexically clean a cgroup path. Returns (absolute?, components). `..` may not climb above the
/// start of the path (that would escape the parent the runtime chose).
pub fn clean(path: &str) -> Result<(bool, Vec<String>), CgroupError> {
    if path.contains('\0') {
        return Err(invalid(path, "contains a NUL byte"));
    }
    let abs = path.starts_with('/');
    let mut parts: Vec<String> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(invalid(path, "`..` escapes above the cgroup root"));
                }
            }
            c => parts.push(c.to_string()),
        }
    }
    Ok((abs, parts))
}

/// systemd's slice expansion: "a-b-c.slice" → "/a.slice/a-b.slice/a-b-c.slice", "-.slice" → "/".
pub fn expand_slice(slice: &str) -> Result<String, CgroupError> {
    let name = slice
        .strip_suffix(".slice")
        .ok_or_else(|| invalid(slice, "a systemd slice must end in .slice"))?;
    if slice.contains('/') {
        return Err(invalid(slice, "a systemd slice may not contain '/'"));
    }
    if name == "-" {
        return Ok("/".to_string());
    }
    if name.is_empty() || name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Err(invalid(
            slice,
            "bad slice name (empty part between '-', or leading/trailing '-')",
        ));
    }
    let mut out = String::new();
    let mut prefix = String::new();
    for part in name.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        out.push('/');
        out.push_str(&prefix);
        out.push_str(".slice");
    }
    Ok(out)
}

/// "slice:prefix:name" → absolute cgroupfs path, named as runc's systemd driver would name it.
/// There is no systemd to ask on the machines hull targets, so hull creates the same directories
/// itself (cgroupfs), without a transient unit.
pub fn systemd_to_path(spec: &str) -> Result<String, CgroupError> {
    systemd_to_path_inner(spec).map_err(|e| match e {
        CgroupError::InvalidPath { path, reason } if path != spec => {
            invalid(spec, format!("{path:?}: {reason}"))
        }
        e => e,
    })
}

fn systemd_to_path_inner(spec: &str) -> Result<String, CgroupError> {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() != 3 {
        return Err(invalid(
            spec,
            "with systemd cgroups the path must be \"slice:prefix:name\"",
        ));
    }
    let (slice, prefix, name) = (parts[0], parts[1], parts[2]);
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    if name.is_empty() {
        return Err(invalid(spec, "empty unit name in \"slice:prefix:name\""));
    }
    if name.contains('/') || prefix.contains('/') {
        return Err(invalid(spec, "prefix and name may not contain '/'"));
    }
    let unit = if name.ends_with(".slice") {
        // A slice as the unit: the container's cgroup is that slice, under the parent slice.
        expand_slice(name)?;
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    let base = expand_slice(slice)?;
    Ok(format!("{}/{unit}", base.trim_end_matches('/')))
}

fn join_inner(base: &str, parts: &[String]) -> String {
    let mut s = base.trim_end_matches('/').to_string();
    for p in parts {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

fn parent_of(p: &str) -> &str {
    match p.trim_end_matches('/').rfind('/') {
        Some(0) | None => "/",
        Some(i) => &p[..i],
    }
}

/// Pure resolver (testable without a host): see [`crate::resolve_path`].
pub fn resolve_with(
    host: &HostCgroups,
    cgroups_path: Option<&str>,
    id: &str,
    systemd: bool,
) -> Result<CgroupPath, CgroupError> {
    if id.is_empty() || id.contains('/') || id == "." || id == ".." || id.contains('\0') {
        return Err(invalid(id, "the container id cannot name a cgroup"));
    }
    let cgroups_path = cgroups_path.filter(|p| !p.is_empty());
    let given: String = if systemd {
        let spec = cgroups_path
            .map(str::to_string)
            .unwrap_or_else(|| format!("system.slice:hull:{id}"));
        systemd_to_path(&spec)?
    } else {
        cgroups_path.unwrap_or(id).to_string()
    };
    let (abs, parts) = clean(&given)?;
    if parts.is_empty() {
        return Err(invalid(
            &given,
            "names the root cgroup; a container needs a cgroup of its own",
        ));
    }
    let missing = |what: &str| CgroupError::NoCgroupMount(format!(" ({what} not found)"));
    let mut out = CgroupPath {
        layout: host.layout,
        inner: String::new(),
        unified: None,
        v1: BTreeMap::new(),
        mounts: BTreeMap::new(),
        systemd,
    };
    if host.layout != Layout::Legacy {
        let m = v2_mount(&host.mounts).ok_or_else(|| missing("cgroup2 mount"))?;
        let base = if abs {
            "/".to_string()
        } else {
            let own = host.own_path("").unwrap_or("/");
            // runc (fs2): a relative path is put next to the caller's cgroup, in its parent, because
            // the caller's own cgroup holds processes and so cannot enable controllers for children.
            if host.layout == Layout::Unified {
                parent_of(own).to_string()
            } else {
                own.to_string()
            }
        };
        let inner = join_inner(&base, &parts);
        out.unified = Some(dir_in_mount(m, &inner));
        out.mounts.insert(String::new(), m.mount_point.clone());
        out.inner = inner;
    }
    if host.layout != Layout::Unified {
        for ctrl in host.v1_controllers() {
            let m = v1_mount(&host.mounts, &ctrl).ok_or_else(|| missing(&ctrl))?;
            let base = if abs {
                "/".to_string()
            } else {
                host.own_path(&ctrl).unwrap_or("/").to_string()
            };
            let inner = join_inner(&base, &parts);
            if out.inner.is_empty() || host.layout == Layout::Legacy && out.v1.is_empty() {
                out.inner = inner.clone();
            }
            out.v1.insert(ctrl.clone(), dir_in_mount(m, &inner));
            out.mounts.insert(ctrl, m.mount_point.clone());
        }
    }
    Ok(out)
}
