//! `hull checkpoint`: dump a running container with CRIU (through `crate::criu`), with runc's
//! options and semantics: bind mounts and masked-path /dev/null binds as external mounts, joined
//! net/pid namespaces as external namespaces, and the container destroyed after a full dump
//! unless --leave-running or --pre-dump.

use super::state::{Status, Store, CONFIG_COPY};
use crate::criu::{self, Opts};
use crate::error::{Error, Result};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The options of `hull checkpoint` (runc's names).
#[derive(Debug, Default, Clone)]
pub struct CheckpointOpts {
    pub image_path: PathBuf,
    pub work_path: Option<PathBuf>,
    pub leave_running: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub pre_dump: bool,
    pub parent_path: Option<String>,
    pub manage_cgroups_mode: Option<String>,
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
    pub lazy_pages: bool,
    pub page_server: Option<String>,
    /// `--criu` global flag.
    pub criu: Option<String>,
}

fn ns_flag(name: &str) -> Result<u32> {
    Ok(match name {
        "network" => libc::CLONE_NEWNET as u32,
        "ipc" => libc::CLONE_NEWIPC as u32,
        "uts" => libc::CLONE_NEWUTS as u32,
        "mount" => libc::CLONE_NEWNS as u32,
        "pid" => libc::CLONE_NEWPID as u32,
        "user" => libc::CLONE_NEWUSER as u32,
        "cgroup" => libc::CLONE_NEWCGROUP as u32,
        _ => {
            return Err(Error::invalid(format!(
                "--empty-ns: unknown namespace {name:?}"
            )))
        }
    })
}

pub fn checkpoint(store: &Store, id: &str, o: &CheckpointOpts) -> Result<()> {
    let dir = store.open(id)?;
    let st = dir.load_current()?;
    if !matches!(st.status, Status::Running | Status::Paused) {
        return Err(Error::wrong_state(id, "checkpoint", st.status));
    }
    if o.lazy_pages {
        return Err(Error::invalid(
            "--lazy-pages: not supported by hull (needs criu's lazy-pages daemon and a status fd)",
        ));
    }
    let mut empty_ns = 0u32;
    for n in &o.empty_ns {
        empty_ns |= ns_flag(n)?;
    }
    let cg_mode = match &o.manage_cgroups_mode {
        None => None,
        Some(m) => Some(criu::cgroups_mode(m).ok_or_else(|| {
            Error::invalid(format!(
                "--manage-cgroups-mode: {m:?} is not one of soft, full, strict, ignore"
            ))
        })?),
    };
    let page_server = match &o.page_server {
        None => None,
        Some(ps) => {
            let (addr, port) = ps.rsplit_once(':').ok_or_else(|| {
                Error::invalid(format!("--page-server: {ps:?} is not ADDRESS:PORT"))
            })?;
            let port: i32 = port
                .parse()
                .map_err(|_| Error::invalid(format!("--page-server: bad port in {ps:?}")))?;
            Some((addr.to_string(), port))
        }
    };
    // runc creates the image directory (0700) when missing.
    let created_images = !o.image_path.exists();
    std::fs::create_dir_all(&o.image_path)
        .map_err(|e| Error::io("--image-path", &o.image_path, e))?;
    let cleanup = |e: Error| {
        if created_images {
            let _ = std::fs::remove_dir_all(&o.image_path);
        }
        e
    };
    let images = criu::open_dir(&o.image_path)
        .map_err(|e| cleanup(Error::io("--image-path", &o.image_path, e)))?;
    let work_path = o.work_path.clone().unwrap_or_else(|| o.image_path.clone());
    std::fs::create_dir_all(&work_path)
        .map_err(|e| cleanup(Error::io("--work-path", &work_path, e)))?;
    let work =
        criu::open_dir(&work_path).map_err(|e| cleanup(Error::io("--work-path", &work_path, e)))?;

    let cfg = dir.path.join(CONFIG_COPY);
    let raw = std::fs::read(&cfg).map_err(|e| cleanup(Error::io("read", &cfg, e)))?;
    let spec = crate::spec::parse_config(&raw)
        .map_err(|e| cleanup(Error::invalid(format!("{}: {e}", cfg.display()))))?;

    let mut opts = Opts {
        images_dir_fd: images.as_raw_fd(),
        work_dir_fd: Some(work.as_raw_fd()),
        pid: Some(st.pid),
        leave_running: o.leave_running || o.pre_dump,
        ext_unix_sk: o.ext_unix_sk,
        tcp_established: o.tcp_established,
        shell_job: o.shell_job,
        file_locks: o.file_locks,
        log_file: "dump.log".into(),
        root: Some(st.rootfs.display().to_string()),
        parent_img: o.parent_path.clone(),
        track_mem: o.pre_dump || o.parent_path.is_some(),
        auto_dedup: o.auto_dedup,
        page_server,
        manage_cgroups_mode: cg_mode,
        empty_ns,
        orphan_pts_master: true,
        ..Default::default()
    };
    // Bind mounts come from outside the container's mount namespace: criu records them as
    // external, keyed by their destination (restore maps the key back to the bundle's source).
    for m in spec.mounts().as_deref().unwrap_or_default() {
        let bind = m.typ().as_deref() == Some("bind")
            || m.options()
                .as_deref()
                .unwrap_or_default()
                .iter()
                .any(|x| x == "bind" || x == "rbind");
        if bind {
            let d = m.destination().display().to_string();
            opts.ext_mnt.push((d.clone(), d));
        }
    }
    // Masked files are /dev/null bound over the path (directories get a tmpfs, which criu dumps).
    if let Some(linux) = spec.linux() {
        for p in linux.masked_paths().as_deref().unwrap_or_default() {
            let inside = format!("/proc/{}/root{}", st.pid, p);
            if std::fs::metadata(&inside)
                .map(|m| !m.is_dir())
                .unwrap_or(false)
            {
                opts.ext_mnt.push((p.clone(), "/dev/null".into()));
            }
        }
        // A joined (path-given) net or pid namespace is external to the container.
        for ns in linux.namespaces().as_deref().unwrap_or_default() {
            let Some(path) = ns.path() else { continue };
            let (kind, key) = match ns.typ() {
                oci_spec::runtime::LinuxNamespaceType::Network => ("net", "extRootNetNS"),
                oci_spec::runtime::LinuxNamespaceType::Pid => ("pid", "extRootPidNS"),
                _ => continue,
            };
            let ino = std::fs::metadata(path)
                .map_err(|e| cleanup(Error::io("namespace path", path, e)))?
                .ino();
            opts.external.push(format!("{kind}[{ino}]:{key}"));
        }
    }
    let bin = criu::binary(o.criu.as_deref());
    let (typ, what) = if o.pre_dump {
        (criu::PRE_DUMP, "pre-dump")
    } else {
        (criu::DUMP, "dump")
    };
    let log = work_path.join("dump.log");
    criu::call(&bin, what, typ, Some(&opts), Some(&log), |_script| Ok(()))
        .map_err(|e| Error::invalid(format!("checkpoint {id}: {e}")))?;
    if o.leave_running || o.pre_dump {
        return Ok(());
    }
    // As runc: a full dump ends the container (criu killed its processes); its state goes.
    let st = dir.load_current()?;
    super::delete::destroy(dir, st)
}
