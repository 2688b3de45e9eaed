//! `hull create`: set up the container and leave its init waiting on the exec fifo.

use super::state::{ContainerDir, State, Status, Store, CONFIG_COPY, EXEC_FIFO};
use super::OCI_VERSION;
use crate::error::{Error, Result};
use crate::spawn::{self, CreateOpts};
use crate::{hooks, logging, spec, sys};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct CreateArgs {
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
}

/// Removes the state dir if the create does not complete.
struct Cleanup {
    dir: Option<ContainerDir>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(d) = self.dir.take() {
            let _ = d.remove();
        }
    }
}

/// Create the container. Returns the state (status `created`) and the still-locked dir.
pub fn create(store: &Store, a: &CreateArgs) -> Result<(State, ContainerDir)> {
    super::state::validate_id(&a.id)?;
    let bundle = spec::load_bundle(&a.bundle)?;
    let dir = store.create(&a.id)?;
    let mut cleanup = Cleanup { dir: Some(dir) };
    let dir = cleanup.dir.as_ref().expect("set");

    let fifo = make_exec_fifo(&dir.path)?;
    let copy = dir.path.join(CONFIG_COPY);
    std::fs::write(&copy, &bundle.raw).map_err(|e| Error::io("write", &copy, e))?;

    let opts = CreateOpts {
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        console_socket: a.console_socket.clone(),
        container_id: a.id.clone(),
    };
    let mut plan = spawn::plan(&bundle, &opts, fifo)?;
    plan.close_in_child.push(dir.lock_fd());
    let annotations = bundle.spec.annotations().clone().unwrap_or_default();
    let mut st = State {
        oci_version: OCI_VERSION.into(),
        id: a.id.clone(),
        status: Status::Creating,
        pid: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: logging::rfc3339_now(),
        owner: String::new(),
        annotations,
        start_time: 0,
        cgroup_path: None,
        systemd_cgroup: false,
    };
    let prestart = hooks::of(&bundle.spec, "prestart");
    let create_runtime = hooks::of(&bundle.spec, "createRuntime");
    let st_ref = std::cell::RefCell::new(&mut st);
    let mut on_pid = |pid: i32| -> Result<()> {
        let mut s = st_ref.borrow_mut();
        s.pid = pid;
        s.start_time = super::state::proc_stat(pid).map(|x| x.1).unwrap_or(0);
        Ok(())
    };
    let mut on_hooks = |_pid: i32| -> Result<Vec<u8>> {
        let json = serde_json::to_vec(&st_ref.borrow().spec_json()).expect("json");
        hooks::run_all("prestart", &prestart, &json)?;
        hooks::run_all("createRuntime", &create_runtime, &json)?;
        Ok(json)
    };
    let spawned = spawn::spawn(&plan, None, &mut on_pid, &mut on_hooks)?;
    drop(plan);
    st.pid = spawned.pid;
    st.status = Status::Created;
    let dir = cleanup.dir.take().expect("set");
    if let Err(e) = dir.save(&st).and_then(|_| match &a.pid_file {
        Some(p) => write_pid_file(p, st.pid),
        None => Ok(()),
    }) {
        // Undo: the init is waiting on the fifo; kill it and remove the state.
        // SAFETY: kill of the process we just created.
        unsafe { libc::kill(st.pid, libc::SIGKILL) };
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

#[allow(dead_code)]
fn raw(fd: &OwnedFd) -> i32 {
    fd.as_raw_fd()
}
