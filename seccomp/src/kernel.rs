//! What the running kernel supports, probed once in the parent (never in the child).
//!
//! - Actions: `seccomp(SECCOMP_GET_ACTION_AVAIL, 0, &action)` returns 0 when the kernel knows the
//!   action (Linux 4.14+; older kernels: only the pre-4.14 actions are assumed).
//! - Flags: `seccomp(SECCOMP_SET_MODE_FILTER, flag, NULL)` fails with EFAULT when the flag is
//!   known (the kernel checks flags before reading the program) and EINVAL when it is not; the
//!   same probe libseccomp uses. Nothing is installed by the probe.

use std::sync::OnceLock;

/// Kernel support for seccomp actions and filter flags.
#[derive(Debug, Clone)]
pub struct KernelSupport {
    /// `SECCOMP_RET_*` action values (without data) the kernel accepts.
    pub actions: Vec<u32>,
    /// OR of the `SECCOMP_FILTER_FLAG_*` the kernel accepts.
    pub flags: u32,
}

const ALL_ACTIONS: [u32; 8] = [
    libc::SECCOMP_RET_KILL_PROCESS,
    libc::SECCOMP_RET_KILL_THREAD,
    libc::SECCOMP_RET_TRAP,
    libc::SECCOMP_RET_ERRNO,
    libc::SECCOMP_RET_USER_NOTIF,
    libc::SECCOMP_RET_TRACE,
    libc::SECCOMP_RET_LOG,
    libc::SECCOMP_RET_ALLOW,
];

impl KernelSupport {
    /// Everything (for tests that only look at the program).
    pub fn all() -> KernelSupport {
        KernelSupport {
            actions: ALL_ACTIONS.to_vec(),
            flags: 0x3f,
        }
    }

    /// Probe the running kernel (cached for the process).
    pub fn probe() -> &'static KernelSupport {
        static CACHE: OnceLock<KernelSupport> = OnceLock::new();
        CACHE.get_or_init(probe_now)
    }

    pub(crate) fn action_available(&self, ret: u32) -> bool {
        self.actions
            .contains(&(ret & libc::SECCOMP_RET_ACTION_FULL))
    }

    pub(crate) fn flag_supported(&self, flag: u32) -> bool {
        self.flags & flag == flag
    }
}

fn seccomp(op: libc::c_uint, flags: libc::c_ulong, arg: *const libc::c_void) -> Result<(), i32> {
    // SAFETY: `arg` is either null (flag probe: the kernel returns EFAULT before using it) or
    // points to a live u32 (action probe), which is what these operations read.
    let rc = unsafe { libc::syscall(libc::SYS_seccomp, op as libc::c_ulong, flags, arg) };
    if rc < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(())
    }
}

fn probe_now() -> KernelSupport {
    let mut actions = Vec::new();
    for a in ALL_ACTIONS {
        match seccomp(
            libc::SECCOMP_GET_ACTION_AVAIL,
            0,
            &a as *const u32 as *const libc::c_void,
        ) {
            Ok(()) => actions.push(a),
            // No GET_ACTION_AVAIL (before 4.14): the actions that predate it.
            Err(libc::EINVAL) | Err(libc::ENOSYS)
                if matches!(
                    a,
                    libc::SECCOMP_RET_KILL_THREAD
                        | libc::SECCOMP_RET_TRAP
                        | libc::SECCOMP_RET_ERRNO
                        | libc::SECCOMP_RET_TRACE
                        | libc::SECCOMP_RET_ALLOW
                ) =>
            {
                actions.push(a)
            }
            Err(_) => {}
        }
    }
    let mut flags = 0;
    for bit in 0..6 {
        let f: libc::c_ulong = 1 << bit;
        // WAIT_KILLABLE_RECV is only valid together with NEW_LISTENER.
        let probe = if f == libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV {
            f | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
        } else {
            f
        };
        if seccomp(libc::SECCOMP_SET_MODE_FILTER, probe, std::ptr::null()) == Err(libc::EFAULT) {
            flags |= f as u32;
        }
    }
    KernelSupport { actions, flags }
}
