//! `hull restore`: make a container again from CRIU images (see `checkpoint`), as runc does.
//!
//! The state dir (status `creating`) and the cgroup are made first, as for `create`; `criu swrk`
//! is put into the cgroup before it forks, so the restored tasks are born in it. CRIU needs the
//! root to be a mount point whose parent is not overmounted: the rootfs is bind-mounted on
//! `<state dir>/criu-root` for the time of the restore. With `rst_sibling` the restored init is
//! hull's child: a foreground restore waits for it and returns its exit code, as `run` does.
//! Any failure removes what was made (state dir, cgroup, the root mount).

use super::checkpoint::{bind_mounts, joined_namespaces, CriuFlags, DESCRIPTORS, EXTERNAL_STDIO};
use super::state::{ContainerDir, Status, Store};
use crate::criu::{self, rpc};
use crate::error::{Error, Result};
use crate::{hooks, logging, spec, sys};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub const RESTORE_LOG: &str = "restore.log";
const CRIU_ROOT: &str = "criu-root";

#[derive(Debug, Clone, Default)]
pub struct RestoreArgs {
    pub id: String,
    pub common: CriuFlags,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub no_subreaper: bool,
    pub no_pivot: bool,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
    pub systemd_cgroup: bool,
}

/// Undoes a restore that did not complete.
struct Cleanup {
    dir: Option<ContainerDir>,
    cgroup: Option<Box<dyn hull_cgroups::CgroupManager>>,
    root: Option<PathBuf>,
}

impl Cleanup {
    fn unmount_root(&mut self) {
        if let Some(r) = self.root.take() {
            if let Ok(c) = sys::cstr(&r.to_string_lossy()) {
                let _ = sys::umount2(&c, libc::MNT_DETACH);
            }
            let _ = std::fs::remove_dir(&r);
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.unmount_root();
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.kill_all(libc::SIGKILL);
            let _ = cg.destroy();
        }
        if let Some(d) = self.dir.take() {
            let _ = d.remove();
        }
    }
}

/// A JSON file checkpoint wrote into the images (descriptors.json, EXTERNAL_STDIO); empty when
/// the images lack it (made by another tool).
fn images_json<T: serde::de::DeserializeOwned + Default>(images: &Path, name: &str) -> Result<T> {
    let p = images.join(name);
    match std::fs::read(&p) {
        Ok(d) => {
            serde_json::from_slice(&d).map_err(|e| Error::invalid(format!("{}: {e}", p.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(Error::io("read", &p, e)),
    }
}

/// An inheritable copy (not close-on-exec, fd >= 10) of `f`, for criu to find at that number.
fn inheritable(f: &OwnedFd) -> Result<OwnedFd> {
    // SAFETY: F_DUPFD of a valid fd; the new fd is owned below.
    let fd = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_DUPFD, 10) };
    if fd < 0 {
        return Err(Error::sys("dup for criu", nix::errno::Errno::last()));
    }
    // SAFETY: a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// (controllers, path) of each v1 hierarchy `pid` is in, from /proc/PID/cgroup.
fn cgroup_roots(pid: i32) -> Vec<rpc::CgroupRoot> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (_, ctrl, path) = (it.next()?, it.next()?, it.next()?);
            (!ctrl.is_empty()).then(|| rpc::CgroupRoot {
                ctrl: Some(ctrl.to_string()),
                path: path.to_string(),
            })
        })
        .collect()
}

pub fn restore(store: &Store, a: &RestoreArgs) -> Result<i32> {
    super::state::validate_id(&a.id)?;
    let criu_bin = criu::binary(a.common.criu.as_deref())?;
    let images = &a.common.image_path;
    if !images.is_dir() {
        return Err(Error::invalid(format!(
            "--image-path {}: no such directory (the images of `hull checkpoint`)",
            images.display()
        )));
    }
    let images_fd = criu::open_dir(images, "--image-path")?;
    let fds: Vec<String> = images_json(images, DESCRIPTORS)?;
    let bundle = spec::load_bundle(&a.bundle)?;
    let terminal = bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    if terminal && a.console_socket.is_none() {
        return Err(Error::field(
            "process.terminal",
            "restoring a container with a terminal needs --console-socket",
        ));
    }
    if a.lsm_profile.is_some() || a.lsm_mount_context.is_some() {
        // No LSM is loaded here; CRIU would fail to apply it.
        logging::warn("--lsm-profile / --lsm-mount-context: passed to CRIU as given");
    }
    let linux = bundle.spec.linux().clone().unwrap_or_default();
    let cg_path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| p.to_string_lossy().to_string());
    let resolved = hull_cgroups::resolve_path(cg_path.as_deref(), &a.id, a.systemd_cgroup)?;
    let mut st =
        super::create::creating_state(&a.id, &bundle, Some(resolved.to_json()), a.systemd_cgroup);
    let dir = store.create(&st)?;
    let mut cleanup = Cleanup {
        dir: Some(dir),
        cgroup: None,
        root: None,
    };
    let dir_path = cleanup.dir.as_ref().expect("set").path.clone();
    let copy = dir_path.join(super::state::CONFIG_COPY);
    std::fs::write(&copy, &bundle.raw).map_err(|e| Error::io("write", &copy, e))?;

    let res = crate::rootless::cgroup_resources(super::create::effective_resources(&bundle.spec));
    let mgr = hull_cgroups::prepare(Some(&res), cg_path.as_deref(), &a.id, a.systemd_cgroup)?;
    st.cgroup_path = Some(mgr.path().to_json());
    let has_v1 = !mgr.path().v1.is_empty();
    cleanup.cgroup = Some(mgr);
    cleanup.dir.as_ref().expect("set").save(&st)?;

    // Mount points of the bind mounts (a fresh copy of the rootfs may lack them).
    let binds = bind_mounts(&bundle.spec, &bundle.dir);
    let root_dir = std::fs::File::open(&bundle.rootfs)
        .map_err(|e| Error::io("open rootfs", &bundle.rootfs, e))?;
    for (dest, src) in &binds {
        let is_dir = std::fs::metadata(src).map(|m| m.is_dir()).unwrap_or(true);
        crate::rootfs::ensure_in_root(root_dir.as_fd(), dest, is_dir)?;
    }
    drop(root_dir);

    let root = dir_path.join(CRIU_ROOT);
    std::fs::create_dir(&root).map_err(|e| Error::io("mkdir", &root, e))?;
    cleanup.root = Some(root.clone());
    let src = sys::cstr(&bundle.rootfs.to_string_lossy())?;
    let dst = sys::cstr(&root.to_string_lossy())?;
    sys::mount(
        Some(&src),
        &dst,
        None,
        libc::MS_BIND | libc::MS_REC,
        None,
        &|| {
            format!(
                "{} on {} (criu root)",
                bundle.rootfs.display(),
                root.display()
            )
        },
    )?;

    // As runc: the work dir (and so restore.log) defaults to the images directory, which
    // outlives a failed restore (the state dir does not).
    let work = a.common.work_path.clone().unwrap_or_else(|| images.clone());
    std::fs::create_dir_all(&work).map_err(|e| Error::io("--work-path: create", &work, e))?;
    let work_fd = criu::open_dir(&work, "--work-path")?;

    let mut opts = rpc::Opts {
        evasive_devices: Some(true),
        rst_sibling: Some(true),
        lsm_profile: a.lsm_profile.clone(),
        lsm_mount_context: a.lsm_mount_context.clone(),
        ..a.common.opts(&images_fd, &work_fd, RESTORE_LOG, &root)
    };
    for (dest, src) in &binds {
        opts.ext_mnt.push(rpc::ExtMountMap {
            key: dest.clone(),
            val: src.to_string_lossy().into(),
        });
    }
    let masked = linux.masked_paths().clone().unwrap_or_default();
    if !masked.is_empty() {
        opts.ext_mnt.push(rpc::ExtMountMap {
            key: "/dev/null".into(),
            val: "/dev/null".into(),
        });
    }
    // Namespaces the config joins by path: checkpoint marked them external; CRIU gets an fd.
    let mut keep_fds = vec![];
    for (_, key, path) in joined_namespaces(&bundle.spec) {
        let f: OwnedFd = std::fs::File::open(&path)
            .map_err(|e| Error::io("open namespace", &path, e))?
            .into();
        let f = inheritable(&f)?;
        opts.inherit_fd.push(rpc::InheritFd {
            key: key.into(),
            fd: f.as_raw_fd(),
        });
        keep_fds.push(f);
    }
    // The init's stdio pipes become hull's own stdio (criu's 0, 1, 2), as runc does.
    for (i, d) in fds.iter().enumerate().take(3) {
        if d.contains("pipe:") {
            opts.inherit_fd.push(rpc::InheritFd {
                key: d.clone(),
                fd: i as i32,
            });
        }
    }
    // Stdio that checkpoint dumped as external files: hull's own stdio in their place.
    for (i, key) in images_json::<Vec<(i32, String)>>(images, EXTERNAL_STDIO)? {
        opts.inherit_fd.push(rpc::InheritFd { key, fd: i });
    }
    let fg = match a.detach {
        true => None,
        false => Some(super::tty::Foreground::begin(false)?.0),
    };
    if !a.detach && !a.no_subreaper {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    }

    // criu goes into the container's cgroup before it forks the restored tasks.
    let swrk = criu::Swrk::start(&criu_bin)?;
    drop(keep_fds);
    if let Err(e) = cleanup
        .cgroup
        .as_ref()
        .expect("set")
        .add_process(swrk.pid())
    {
        swrk.finish();
        return Err(e.into());
    }
    if has_v1 {
        // v1: CRIU restores each controller's cgroup under the one criu was put in.
        opts.cg_root = cgroup_roots(swrk.pid());
    }
    let req = rpc::Req {
        r#type: rpc::ReqType::Restore as i32,
        opts: Some(opts),
        ..Default::default()
    };
    let prestart = hooks::of(&bundle.spec, "prestart");
    let create_runtime = hooks::of(&bundle.spec, "createRuntime");
    let console = a.console_socket.clone();
    let st_json = |pid: i32| {
        let mut s = st.clone();
        s.pid = pid;
        serde_json::to_vec(&s.spec_json()).expect("json")
    };
    let resp = swrk.call(&req, &mut |n| {
        match n.script.as_str() {
            "setup-namespaces" => {
                let json = st_json(n.pid);
                hooks::run_all("prestart", &prestart, &json)?;
                hooks::run_all("createRuntime", &create_runtime, &json)?;
            }
            "orphan-pts-master" => {
                if let (Some(path), Some(fd)) = (&console, &n.fd) {
                    let s = std::os::unix::net::UnixStream::connect(path)
                        .map_err(|e| Error::io("connect console socket", path, e))?;
                    crate::spawn::proto::send_fd(s.as_fd(), b"/dev/ptmx", fd.as_fd())
                        .map_err(|e| Error::sys("send pty master to --console-socket", e))?;
                }
            }
            _ => {}
        }
        Ok(())
    });
    swrk.finish();
    let resp = resp?;
    if !resp.success {
        return Err(criu::failure("restore", &resp, &work.join(RESTORE_LOG)));
    }
    let pid = resp
        .restore
        .as_ref()
        .map(|r| r.pid)
        .ok_or_else(|| Error::invalid("criu restore answered without a pid"))?;
    cleanup.unmount_root();
    st.pid = pid;
    st.start_time = super::state::proc_stat(pid).map(|x| x.1).unwrap_or(0);
    st.status = Status::Running;
    let dir = cleanup.dir.take().expect("set");
    let cgroup = cleanup.cgroup.take();
    if let Err(e) = dir.save(&st).and_then(|_| match &a.pid_file {
        Some(p) => super::create::write_pid_file(p, pid),
        None => Ok(()),
    }) {
        if let Some(cg) = cgroup {
            let _ = cg.kill_all(libc::SIGKILL);
            let _ = cg.destroy();
        }
        // SAFETY: kill of the process CRIU just restored for us.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        let _ = dir.remove();
        return Err(e);
    }
    drop(dir);
    let json = serde_json::to_vec(&st.spec_json()).expect("json");
    for (i, h) in st.poststart.iter().enumerate() {
        if let Err(e) = hooks::run("poststart", i, h, &json) {
            logging::warn(&format!("{e}"));
        }
    }
    let Some(fg) = fg else {
        return Ok(0);
    };
    let code = fg.wait(pid);
    super::delete::delete(store, &a.id, true)?;
    code
}
