//! `hull create`: set up the container and leave its init waiting on the exec fifo.

use super::state::{ContainerDir, State, Status, Store, CONFIG_COPY, EXEC_FIFO};
use super::OCI_VERSION;
use crate::error::{Error, Result};
use crate::spawn::{self, CreateOpts};
use crate::{failpoint, hooks, logging, process, spec, sys};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub struct CreateArgs {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    pub systemd_cgroup: bool,
    /// Foreground `run` with a terminal: the socket the pty master is sent over.
    pub console_fd: Option<OwnedFd>,
}

impl CreateArgs {
    /// A copy without the console fd (fds are not Clone).
    pub fn clone_args(&self) -> CreateArgs {
        CreateArgs {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            systemd_cgroup: self.systemd_cgroup,
            console_fd: None,
        }
    }
}

/// Removes the state dir and the cgroup if the create does not complete.
struct Cleanup {
    dir: Option<ContainerDir>,
    cgroup: Option<Box<dyn hull_cgroups::CgroupManager>>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.kill_all(libc::SIGKILL);
            let _ = cg.destroy();
        }
        if let Some(d) = self.dir.take() {
            let _ = d.remove();
        }
    }
}

/// The resources to apply: the config's, with the device rules runc ends up with — deny
/// everything first, then the config's rules in order, then the default allow-list (null, zero,
/// full, random, urandom, tty, ptmx/pts, mknod). `linux.devices` entries are not allowed
/// implicitly: a config must allow them in `resources.devices` (runc's behaviour).
pub fn effective_resources(spec: &oci_spec::runtime::Spec) -> oci_spec::runtime::LinuxResources {
    let linux = spec.linux().clone().unwrap_or_default();
    let mut res = linux.resources().clone().unwrap_or_default();
    let defaults = hull_cgroups::default_device_rules();
    let mut rules: Vec<_> = defaults.iter().filter(|r| !r.allow()).cloned().collect();
    rules.extend(res.devices().clone().unwrap_or_default());
    rules.extend(defaults.into_iter().filter(|r| r.allow()));
    res.set_devices(Some(rules));
    res
}

/// The first state of a container that `create` or `restore` is making: `creating`, no pid yet,
/// with the bundle's annotations and the hooks later commands run.
pub(super) fn creating_state(
    id: &str,
    bundle: &crate::spec::Bundle,
    cgroup_path: Option<String>,
    systemd_cgroup: bool,
) -> State {
    State {
        oci_version: OCI_VERSION.into(),
        id: id.to_string(),
        status: Status::Creating,
        pid: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: logging::rfc3339_now(),
        owner: String::new(),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        start_time: 0,
        cgroup_path,
        systemd_cgroup,
        poststart: hooks::of(&bundle.spec, "poststart"),
        poststop: hooks::of(&bundle.spec, "poststop"),
    }
}

/// Create the container. Returns the state (status `created`) and the still-locked dir.
///
/// The lifecycle on disk: state.json is written as `creating`, naming the cgroup the container
/// will get, before anything is made on the host; the init's pid and start time are added as soon
/// as clone returns; `created` is written last. A create killed at any point leaves a state that
/// `delete -f` understands and finishes cleaning up.
pub fn create(store: &Store, a: &CreateArgs) -> Result<(State, ContainerDir)> {
    super::state::validate_id(&a.id)?;
    let bundle = spec::load_bundle(&a.bundle)?;
    if crate::guard::create_needs_seal(&bundle.spec) {
        // CVE-2019-5736: re-exec from a sealed copy before anything is created (see guard).
        crate::guard::seal_self()?;
    }
    let linux = bundle.spec.linux().clone().unwrap_or_default();
    let cg_path = linux
        .cgroups_path()
        .as_ref()
        .map(|p| p.to_string_lossy().to_string());
    let in_userns =
        spec::namespace_types(&bundle.spec).contains(&oci_spec::runtime::LinuxNamespaceType::User);
    // As runc: in a user namespace without a cgroup config, cgroup setup is best effort.
    let cgroup_optional = (in_userns && linux.resources().is_none())
        || crate::rootless::cgroup_optional(cg_path.as_deref(), linux.resources().as_ref());
    // Resolved (not made) first, so that the first state already names it.
    let resolved = match hull_cgroups::resolve_path(cg_path.as_deref(), &a.id, a.systemd_cgroup) {
        Ok(p) => Some(p),
        Err(e) if cgroup_optional => {
            logging::warn(&format!("cgroups skipped: {e}"));
            None
        }
        Err(e) => return Err(e.into()),
    };
    let mut st = creating_state(
        &a.id,
        &bundle,
        resolved.as_ref().map(|p| p.to_json()),
        a.systemd_cgroup,
    );
    let dir = store.create(&st)?;
    failpoint::hit("create:after-state");
    let mut cleanup = Cleanup {
        dir: Some(dir),
        cgroup: None,
    };

    let dir_path = cleanup.dir.as_ref().expect("set").path.clone();
    let lock_fd = cleanup.dir.as_ref().expect("set").lock_fd();
    let fifo = make_exec_fifo(&dir_path)?;
    failpoint::hit("create:after-fifo");
    let copy = dir_path.join(CONFIG_COPY);
    // Owner-only, as state.json: the config may carry secrets in process.env.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&copy)
        .and_then(|mut f| std::io::Write::write_all(&mut f, &bundle.raw))
        .map_err(|e| Error::io("write", &copy, e))?;
    failpoint::hit("create:after-config-copy");

    // Socket activation, as runc create/run (not exec): fds 3..3+N-1 go to the init first, the
    // --preserve-fds ones follow them, and the init gets LISTEN_FDS=N and LISTEN_PID=1.
    let listen = process::listen_fds(
        std::env::var("LISTEN_PID").ok().as_deref(),
        std::env::var("LISTEN_FDS").ok().as_deref(),
        std::process::id(),
    );
    for fd in 3..3i32.saturating_add(listen) {
        // SAFETY: fcntl on an fd number handed to us; only its close-on-exec flag changes (as
        // go-systemd does: hooks must not inherit it; the init clears the flag again).
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
    let opts = CreateOpts {
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds.saturating_add(listen),
        listen_fds: listen,
        console_socket: a.console_socket.clone(),
        console_fd: a
            .console_fd
            .as_ref()
            .map(|f| f.try_clone())
            .transpose()
            .map_err(|e| Error::io("dup console fd", "", e))?,
        container_id: a.id.clone(),
    };
    let mut plan = spawn::plan(&bundle, &opts, fifo)?;
    plan.close_in_child.push(lock_fd);
    failpoint::hit("create:after-plan");

    let res = crate::rootless::cgroup_resources(effective_resources(&bundle.spec));
    let mgr = match &resolved {
        None => None,
        Some(_) => {
            match hull_cgroups::prepare(Some(&res), cg_path.as_deref(), &a.id, a.systemd_cgroup) {
                Ok(m) => Some(m),
                Err(e) if cgroup_optional => {
                    logging::warn(&format!("cgroups skipped: {e}"));
                    None
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let cgroup_fd = mgr.as_ref().and_then(|m| m.open_dir_fd());
    plan.defer_cgroupns.set(cgroup_fd.is_none());
    let cgroup_json = mgr.as_ref().map(|m| m.path().to_json());
    cleanup.cgroup = mgr;
    failpoint::hit("create:after-cgroup");
    let mut unified_fd = None;
    let mut self_join = false;
    if let (Some(m), None, true) = (
        cleanup.cgroup.as_deref(),
        &cgroup_fd,
        plan.namespaces.fast(),
    ) {
        // v1: the init writes itself into its cgroups at birth and is born in a hybrid host's
        // unified cgroup (no global lock, see CgroupManager::open_self_join) while this
        // process records its pid. After `cleanup` owns the cgroup: a failure here removes it.
        let j = m.open_self_join()?;
        self_join = !j.is_empty();
        plan.join_cgroups = j.files;
        (unified_fd, plan.join_unified) = j.clone_into.unzip();
    }
    if cgroup_json != st.cgroup_path {
        // The host's cgroups changed between resolving and making: record what was made.
        st.cgroup_path = cgroup_json;
        cleanup.dir.as_ref().expect("set").save(&st)?;
    }
    let prestart = hooks::of(&bundle.spec, "prestart");
    let create_runtime = hooks::of(&bundle.spec, "createRuntime");
    let st_ref = std::cell::RefCell::new(&mut st);
    let cg = cleanup.cgroup.as_deref();
    let dir_ref = cleanup.dir.as_ref().expect("set");
    let mut on_pid = |pid: i32| -> Result<()> {
        failpoint::hit("create:after-clone");
        let mut s = st_ref.borrow_mut();
        s.pid = pid;
        s.start_time = super::state::proc_stat(pid).map(|x| x.1).unwrap_or(0);
        // Recorded before anything else: from here on `delete` finds (and kills) the init even
        // when it is in no cgroup.
        dir_ref.save(&s)?;
        failpoint::hit("create:after-pid");
        if let Some(cg) = cg.filter(|_| !self_join) {
            cg.add_process(pid)?;
        }
        Ok(())
    };
    let mut on_hooks = |_pid: i32| -> Result<Vec<u8>> {
        let json = serde_json::to_vec(&st_ref.borrow().spec_json()).expect("json");
        hooks::run_all("prestart", &prestart, &json)?;
        hooks::run_all("createRuntime", &create_runtime, &json)?;
        Ok(json)
    };
    let listener = plan.process.seccomp.as_ref().and_then(|c| {
        c.listener_path()
            .map(|p| (p.to_path_buf(), c.listener_metadata().to_string()))
    });
    let mut on_seccomp = |pid: i32, fd: OwnedFd| -> Result<()> {
        let Some((path, meta)) = &listener else {
            return Err(Error::field(
                "linux.seccomp",
                "SCMP_ACT_NOTIFY needs listenerPath",
            ));
        };
        let state = st_ref.borrow().spec_json();
        hull_seccomp::send_to_listener(path, std::os::fd::AsFd::as_fd(&fd), pid, meta, &state)?;
        Ok(())
    };
    let spawned = spawn::spawn(
        &plan,
        cgroup_fd
            .as_ref()
            .or(unified_fd.as_ref())
            .map(|f| f.as_raw_fd()),
        &mut on_pid,
        &mut on_hooks,
        &mut on_seccomp,
    )?;
    drop(plan);
    failpoint::hit("create:after-spawn");
    st.pid = spawned.pid;
    st.status = Status::Created;
    let dir = cleanup.dir.take().expect("set");
    let cgroup = cleanup.cgroup.take();
    if let Err(e) = dir.save(&st).and_then(|_| {
        failpoint::hit("create:after-created");
        match &a.pid_file {
            Some(p) => write_pid_file(p, st.pid),
            None => Ok(()),
        }
    }) {
        // Undo: the init is waiting on the fifo; kill it and remove the state.
        // SAFETY: kill of the process we just created.
        unsafe { libc::kill(st.pid, libc::SIGKILL) };
        if let Some(cg) = cgroup {
            let _ = cg.kill_all(libc::SIGKILL);
            let _ = cg.destroy();
        }
        let _ = dir.remove();
        return Err(e);
    }
    Ok((st, dir))
}

fn make_exec_fifo(dir: &Path) -> Result<OwnedFd> {
    let p = dir.join(EXEC_FIFO);
    let c = sys::cstr(&p.to_string_lossy())?;
    // SAFETY: mkfifo with a valid path.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o622) } != 0 {
        return Err(Error::io("mkfifo", &p, std::io::Error::last_os_error()));
    }
    // Not reduced by the umask: the init may write it as a non-root user.
    // SAFETY: chmod with a valid path.
    if unsafe { libc::chmod(c.as_ptr(), 0o622) } != 0 {
        return Err(Error::io("chmod", &p, std::io::Error::last_os_error()));
    }
    sys::open_path(&c, libc::O_PATH).map_err(|e| Error::sys(format!("open {}", p.display()), e))
}

/// Write the pid file atomically, as runc does (temp file + rename).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io("getcwd", ".", e))?
            .join(path)
    };
    let tmp = abs.with_file_name(format!(
        ".{}.tmp",
        abs.file_name()
            .map(|f| f.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, pid.to_string()).map_err(|e| Error::io("write pid file", &tmp, e))?;
    std::fs::rename(&tmp, &abs).map_err(|e| Error::io("rename pid file", &abs, e))
}
