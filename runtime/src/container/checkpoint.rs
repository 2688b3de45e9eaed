//! `hull checkpoint`: dump a running container with CRIU (through `criu swrk`, see crate::criu),
//! as runc does. Without `--leave-running` (and `--pre-dump`) CRIU kills the container's
//! processes once the images are written, and hull then removes the container (state dir,
//! cgroup) as runc does: `hull restore` makes it again from the images.

use super::state::{Status, Store};
use crate::criu::{self, rpc};
use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The file, in the images directory, naming the init's stdio as `/proc/PID/fd/N` showed them at
/// dump time (runc's `descriptors.json`): restore hands its own stdio to CRIU for the pipes.
pub const DESCRIPTORS: &str = "descriptors.json";

/// CRIU's log in the work directory.
pub const DUMP_LOG: &str = "dump.log";

/// Flags shared by checkpoint and restore.
#[derive(Debug, Clone, Default)]
pub struct CriuFlags {
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub lazy_pages: bool,
    pub auto_dedup: bool,
    /// CLONE_NEW* flags of `--empty-ns`.
    pub empty_ns: u32,
    pub manage_cgroups_mode: Option<rpc::CgMode>,
    /// `--criu PATH` (global).
    pub criu: Option<String>,
}

impl CriuFlags {
    /// The options dump and restore share: the directories, CRIU's log, the root, cgroups
    /// managed, notifications on, and these flags.
    pub fn opts(&self, images: &OwnedFd, work: &OwnedFd, log: &str, root: &Path) -> rpc::Opts {
        rpc::Opts {
            images_dir_fd: images.as_raw_fd(),
            work_dir_fd: Some(work.as_raw_fd()),
            log_level: Some(4),
            log_file: Some(log.into()),
            root: Some(root.to_string_lossy().into()),
            manage_cgroups: Some(true),
            notify_scripts: Some(true),
            shell_job: Some(self.shell_job),
            tcp_established: Some(self.tcp_established),
            ext_unix_sk: Some(self.ext_unix_sk),
            file_locks: Some(self.file_locks),
            empty_ns: Some(self.empty_ns),
            orphan_pts_master: Some(true),
            auto_dedup: Some(self.auto_dedup),
            lazy_pages: Some(self.lazy_pages),
            manage_cgroups_mode: self.manage_cgroups_mode.map(|m| m as i32),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct CheckpointArgs {
    pub id: String,
    pub common: CriuFlags,
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub pre_dump: bool,
    pub status_fd: Option<i32>,
    /// `--page-server IP:PORT`.
    pub page_server: Option<(String, i32)>,
}

/// `--manage-cgroups-mode` (runc's names).
pub fn parse_cg_mode(s: &str) -> Result<rpc::CgMode> {
    Ok(match s {
        "soft" => rpc::CgMode::Soft,
        "full" => rpc::CgMode::Full,
        "strict" => rpc::CgMode::Strict,
        "ignore" => rpc::CgMode::Ignore,
        other => {
            return Err(Error::invalid(format!(
                "--manage-cgroups-mode {other:?}: expected soft, full, strict or ignore"
            )))
        }
    })
}

/// `--empty-ns NS`: runc takes namespace names as in config.json ("network", ...).
pub fn parse_empty_ns(names: &[String]) -> Result<u32> {
    let mut flags = 0u32;
    for n in names {
        flags |= match n.as_str() {
            "network" | "net" => libc::CLONE_NEWNET,
            "pid" => libc::CLONE_NEWPID,
            "ipc" => libc::CLONE_NEWIPC,
            "uts" => libc::CLONE_NEWUTS,
            "mount" => libc::CLONE_NEWNS,
            "user" => libc::CLONE_NEWUSER,
            "cgroup" => libc::CLONE_NEWCGROUP,
            other => {
                return Err(Error::invalid(format!(
                    "--empty-ns {other:?}: not a namespace (network, pid, ipc, uts, mount, user, cgroup)"
                )))
            }
        } as u32;
    }
    Ok(flags)
}

/// `--page-server IP:PORT`.
pub fn parse_page_server(s: &str) -> Result<(String, i32)> {
    let bad = || Error::invalid(format!("--page-server {s:?}: expected ADDRESS:PORT"));
    let (addr, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port: i32 = port
        .parse()
        .ok()
        .filter(|p| (1..=65535).contains(p))
        .ok_or_else(bad)?;
    if addr.is_empty() {
        return Err(bad());
    }
    Ok((
        addr.trim_matches(|c| c == '[' || c == ']').to_string(),
        port,
    ))
}

/// The spec's bind mounts: (destination, source), the source made absolute against the bundle.
/// CRIU cannot dump what lies outside the container; they are external mounts, named by their
/// destination at dump time and bound again from the source at restore.
pub fn bind_mounts(spec: &Spec, bundle: &Path) -> Vec<(String, PathBuf)> {
    let mut out = vec![];
    for m in spec.mounts().iter().flatten() {
        let opts = m.options().clone().unwrap_or_default();
        let is_bind =
            m.typ().as_deref() == Some("bind") || opts.iter().any(|o| o == "bind" || o == "rbind");
        if !is_bind {
            continue;
        }
        let Some(src) = m.source() else { continue };
        let src = if src.is_absolute() {
            src.clone()
        } else {
            bundle.join(src)
        };
        out.push((m.destination().to_string_lossy().to_string(), src));
    }
    out
}

/// Namespaces the config joins by path that CRIU must treat as external (net and pid, as runc):
/// (type name as CRIU's `--external` knows it, the key runc uses, path).
pub fn joined_namespaces(spec: &Spec) -> Vec<(&'static str, &'static str, PathBuf)> {
    let mut out = vec![];
    let nss = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    for ns in nss {
        let Some(p) = ns.path().clone() else { continue };
        match ns.typ() {
            LinuxNamespaceType::Network => out.push(("net", "extRootNetNS", p)),
            LinuxNamespaceType::Pid => out.push(("pid", "extRootPidNS", p)),
            _ => {}
        }
    }
    out
}

/// The file, in the images directory, of stdio fds dumped as external files: [[fd, key], ...].
pub const EXTERNAL_STDIO: &str = "hull-external-stdio.json";

/// The init's stdio fds that lie on a mount outside its mount namespace, with CRIU's key for
/// them (`file[MNT_ID:INODE]`, both hex, as CRIU prints them). Pipes and sockets are not files.
pub fn external_stdio(pid: i32) -> Vec<(i32, String)> {
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap_or_default();
    let ids: Vec<&str> = mounts.lines().filter_map(|l| l.split(' ').next()).collect();
    let mut out = vec![];
    for fd in 0..3 {
        let Ok(info) = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")) else {
            continue;
        };
        let Some(mnt) = info
            .lines()
            .find_map(|l| l.strip_prefix("mnt_id:"))
            .map(str::trim)
        else {
            continue;
        };
        let Ok(md) = std::fs::metadata(format!("/proc/{pid}/fd/{fd}")) else {
            continue;
        };
        let ft = std::os::unix::fs::FileTypeExt::is_fifo(&md.file_type())
            || md.is_file()
            || std::os::unix::fs::FileTypeExt::is_char_device(&md.file_type());
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap_or_default();
        if !ft || !link.is_absolute() || ids.contains(&mnt) {
            continue;
        }
        let Ok(mnt) = mnt.parse::<u32>() else {
            continue;
        };
        let ino = std::os::unix::fs::MetadataExt::ino(&md);
        out.push((fd, format!("file[{mnt:x}:{ino:x}]")));
    }
    out
}

fn masked_paths(spec: &Spec) -> Vec<String> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default()
}

/// Opens (making it if need be) the work directory: `--work-path`, else the images directory.
fn work_dir(flag: Option<&Path>, images: &Path) -> Result<PathBuf> {
    let p = flag.unwrap_or(images).to_path_buf();
    std::fs::create_dir_all(&p).map_err(|e| Error::io("--work-path: create", &p, e))?;
    Ok(p)
}

pub fn checkpoint(store: &Store, a: &CheckpointArgs) -> Result<()> {
    let criu_bin = criu::binary(a.common.criu.as_deref())?;
    let dir = store.open(&a.id)?;
    let st = dir.load_current()?;
    if !matches!(st.status, Status::Running | Status::Paused) {
        return Err(Error::wrong_state(&a.id, "checkpoint", st.status));
    }
    let spec = super::saved_spec(&dir).ok_or(Error::Missing {
        id: a.id.clone(),
        verb: "checkpoint",
        what: "its saved config.json",
    })?;
    let images = &a.common.image_path;
    std::fs::create_dir_all(images).map_err(|e| Error::io("--image-path: create", images, e))?;
    let images_fd = criu::open_dir(images, "--image-path")?;
    let work = work_dir(a.common.work_path.as_deref(), images)?;
    let work_fd = criu::open_dir(&work, "--work-path")?;

    let mut opts = rpc::Opts {
        pid: Some(st.pid),
        leave_running: Some(a.leave_running),
        ..a.common.opts(&images_fd, &work_fd, DUMP_LOG, &st.rootfs)
    };
    for (kind, key, path) in joined_namespaces(&spec) {
        let ino = std::fs::metadata(&path)
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .map_err(|e| Error::io("stat namespace", &path, e))?;
        opts.external.push(format!("{kind}[{ino}]:{key}"));
    }
    // The cgroup freezer stops the tasks at once (else CRIU stops them one by one with ptrace).
    if let Some(cg) = super::cgroup_of(&st) {
        let p = cg.path();
        let freezer = p
            .unified
            .clone()
            .filter(|_| p.v1.is_empty())
            .or_else(|| p.v1.get("freezer").cloned());
        opts.freeze_cgroup = freezer.map(|f| f.to_string_lossy().into());
    }
    if let Some((addr, port)) = &a.page_server {
        opts.ps = Some(rpc::PageServerInfo {
            address: Some(addr.clone()),
            port: Some(*port),
            ..Default::default()
        });
    }
    if let Some(parent) = &a.parent_path {
        opts.parent_img = Some(parent.to_string_lossy().into());
        opts.track_mem = Some(true);
    }
    if let Some(fd) = a.status_fd {
        // SAFETY: fcntl F_GETFL on a number the caller named; only reads its flags.
        let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if fl < 0 || fl & (libc::O_WRONLY | libc::O_RDWR) == 0 {
            return Err(Error::invalid(format!(
                "--status-fd {fd}: not an open, writable fd"
            )));
        }
        opts.status_fd = Some(fd);
    }
    if a.pre_dump {
        opts.track_mem = Some(true);
    } else {
        for (dest, _) in bind_mounts(&spec, &st.bundle) {
            opts.ext_mnt.push(rpc::ExtMountMap {
                key: dest.clone(),
                val: dest,
            });
        }
        // Masked files are bind mounts of /dev/null: external, named "/dev/null".
        for m in masked_paths(&spec) {
            let inside = format!("/proc/{}/root{}", st.pid, m);
            match std::fs::metadata(&inside) {
                Ok(md) if !md.is_dir() => opts.ext_mnt.push(rpc::ExtMountMap {
                    key: m,
                    val: "/dev/null".into(),
                }),
                _ => {}
            }
        }
        // Stdio opened outside the container's mount namespace (a shim's fifos, a host file):
        // CRIU dumps it as an external file, restore hands hull's own stdio in its place.
        let ext = external_stdio(st.pid);
        for (_, key) in &ext {
            opts.external.push(key.clone());
        }
        let p = images.join(EXTERNAL_STDIO);
        std::fs::write(&p, serde_json::to_vec(&ext).expect("json"))
            .map_err(|e| Error::io("write", &p, e))?;
        let fds: Vec<String> = (0..3)
            .map(|i| {
                std::fs::read_link(format!("/proc/{}/fd/{i}", st.pid))
                    .map(|l| l.to_string_lossy().to_string())
                    .unwrap_or_default()
            })
            .collect();
        let p = images.join(DESCRIPTORS);
        std::fs::write(&p, serde_json::to_vec(&fds).expect("json"))
            .map_err(|e| Error::io("write", &p, e))?;
    }
    let req = rpc::Req {
        r#type: if a.pre_dump {
            rpc::ReqType::PreDump
        } else {
            rpc::ReqType::Dump
        } as i32,
        opts: Some(opts),
        ..Default::default()
    };
    let swrk = criu::Swrk::start(&criu_bin)?;
    let status_fd = a.status_fd;
    let resp = swrk.call(&req, &mut |n| {
        if n.script == "status-ready" {
            if let Some(fd) = status_fd {
                // SAFETY: write of one byte to the fd the caller named.
                unsafe { libc::write(fd, [0u8].as_ptr().cast(), 1) };
            }
        }
        Ok(())
    });
    swrk.finish();
    let resp = resp?;
    if !resp.success {
        return Err(criu::failure("dump", &resp, &work.join(DUMP_LOG)));
    }
    if a.leave_running || a.pre_dump {
        return Ok(());
    }
    // CRIU killed the tasks after the dump: the container is gone, as with runc.
    let st = dir.load_current()?;
    super::delete::destroy(dir, st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> Spec {
        serde_json::from_str(json).expect("spec")
    }

    #[test]
    fn bind_mounts_are_external_and_sources_absolute() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"mounts":[
            {"destination":"/proc","type":"proc","source":"proc"},
            {"destination":"/data","type":"bind","source":"data","options":["rbind"]},
            {"destination":"/etc/hosts","source":"/etc/hosts","options":["bind","ro"]}]}"#,
        );
        assert_eq!(
            bind_mounts(&s, Path::new("/b")),
            vec![
                ("/data".to_string(), PathBuf::from("/b/data")),
                ("/etc/hosts".to_string(), PathBuf::from("/etc/hosts"))
            ]
        );
    }

    #[test]
    fn namespaces_joined_by_path_are_external() {
        let s = spec(
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"linux":{"namespaces":[
            {"type":"network","path":"/run/netns/x"},{"type":"pid"},{"type":"ipc","path":"/p"}]}}"#,
        );
        assert_eq!(
            joined_namespaces(&s),
            vec![("net", "extRootNetNS", PathBuf::from("/run/netns/x"))]
        );
    }

    #[test]
    fn flag_values() {
        assert_eq!(parse_cg_mode("soft").unwrap(), rpc::CgMode::Soft);
        assert!(parse_cg_mode("bogus")
            .unwrap_err()
            .to_string()
            .contains("--manage-cgroups-mode"));
        assert_eq!(
            parse_empty_ns(&["network".into()]).unwrap(),
            libc::CLONE_NEWNET as u32
        );
        assert!(parse_empty_ns(&["nope".into()]).is_err());
        assert_eq!(
            parse_page_server("10.0.0.1:27").unwrap(),
            ("10.0.0.1".to_string(), 27)
        );
        assert!(parse_page_server("10.0.0.1").is_err());
        assert!(parse_page_server("x:0").is_err());
    }
}
