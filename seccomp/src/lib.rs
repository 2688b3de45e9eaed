//! hull-seccomp: OCI `linux.seccomp` profiles compiled to classic BPF in pure Rust (no
//! libseccomp), including `SCMP_ACT_NOTIFY` (seccomp user notification) and `listenerPath`.
//!
//! - [`compile`] runs in the runtime's parent, before clone: validates the profile (errors name
//!   the field), resolves syscall names for every architecture, checks what the kernel supports
//!   and builds the program.
//! - [`Compiled::install`] runs in the container child right before exec: one `seccomp(2)` call
//!   on memory built by `compile`, no allocation, no lock.
//! - [`send_to_listener`] hands the notify fd to the seccomp agent at `listenerPath`.
//!
//! See `docs/seccomp.md` for the program layout, the decisions taken where the spec is silent
//! (bad-arch action, rule precedence, unsupported flags) and measured figures.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use oci_spec::runtime::LinuxSeccomp;

mod bpf;
mod compile;
pub mod engine;
mod kernel;
mod listener;
mod names;
mod parse;
#[allow(clippy::all)]
mod tables;

pub use bpf::MAX_INSNS;
pub use kernel::KernelSupport;
pub use listener::{process_state, send_to_listener, OCI_VERSION};
pub use parse::parse_profile;

/// Errors of this crate. Profile errors name the JSON field (`syscalls[3].args[0].index`).
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile could not be parsed as JSON / an OCI seccomp object.
    #[error("seccomp profile: {0}")]
    Parse(String),
    /// A field has a value the spec or the kernel does not allow.
    #[error("seccomp profile: {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The program exceeds the kernel's limit.
    #[error(
        "seccomp profile compiles to {0} BPF instructions, more than the kernel's limit of 4096"
    )]
    TooLarge(usize),
    /// The kernel lacks something the profile needs.
    #[error("seccomp: the kernel does not support {what} (needed by {field})")]
    Unsupported { what: String, field: String },
    /// `seccomp(SECCOMP_SET_MODE_FILTER)` failed in the child.
    #[error(
        "seccomp: installing the filter failed: {source}{}",
        install_hint(source)
    )]
    Install { source: io::Error },
    /// `SECCOMP_FILTER_FLAG_TSYNC`: another thread could not be synchronised.
    #[error("seccomp: SECCOMP_FILTER_FLAG_TSYNC could not synchronise thread {tid}")]
    Tsync { tid: i64 },
    /// Talking to the seccomp agent at `listenerPath` failed.
    #[error("seccomp listenerPath {}: {op}: {source}", path.display())]
    Listener {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
}

fn install_hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EACCES) => " (the caller needs no_new_privs or CAP_SYS_ADMIN)",
        Some(libc::EINVAL) => " (flags or program rejected by the kernel)",
        _ => "",
    }
}

/// A compiled profile: the BPF program, the `seccomp(2)` flags and what the runtime must do
/// around it. Built in the parent; [`Compiled::install`] only reads it.
#[derive(Debug, Clone)]
pub struct Compiled {
    program: Vec<libc::sock_filter>,
    flags: u32,
    notify: bool,
    warnings: Vec<String>,
    listener_path: Option<PathBuf>,
    listener_metadata: String,
}

/// Compile `linux.seccomp` for the running kernel (probes action and flag support once).
pub fn compile(spec: &LinuxSeccomp) -> Result<Compiled, SeccompError> {
    compile_with(spec, KernelSupport::probe())
}

/// Compile against an explicit description of the kernel (tests, or cross-checking).
pub fn compile_with(spec: &LinuxSeccomp, kernel: &KernelSupport) -> Result<Compiled, SeccompError> {
    let mut plan = compile::plan(spec)?;
    for (name, ret, field) in &plan.actions_used {
        if !kernel.action_available(*ret) {
            return Err(SeccompError::Unsupported {
                what: format!("the seccomp action {name}"),
                field: field.clone(),
            });
        }
    }
    let mut flags = 0u32;
    for (name, value) in plan.flags.clone() {
        if value == libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV as u32 && !plan.uses_notify {
            plan.warnings.push(format!(
                "flags: {name} ignored: it only applies with SCMP_ACT_NOTIFY"
            ));
        } else if kernel.flag_supported(value) {
            flags |= value;
        } else {
            plan.warnings.push(format!(
                "flags: {name} not supported by this kernel, ignored"
            ));
        }
    }
    if plan.uses_notify {
        flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;
        if flags & libc::SECCOMP_FILTER_FLAG_TSYNC as u32 != 0 {
            // TSYNC and NEW_LISTENER both use the return value; the kernel needs TSYNC_ESRCH.
            let esrch = libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH as u32;
            if kernel.flag_supported(esrch) {
                flags |= esrch;
            } else {
                flags &= !(libc::SECCOMP_FILTER_FLAG_TSYNC as u32);
                plan.warnings.push(
                    "flags: SECCOMP_FILTER_FLAG_TSYNC dropped: with SCMP_ACT_NOTIFY it needs TSYNC_ESRCH (Linux 5.7)".into(),
                );
            }
        }
    }
    let program = compile::emit(&plan);
    if program.len() > MAX_INSNS {
        return Err(SeccompError::TooLarge(program.len()));
    }
    Ok(Compiled {
        program,
        flags,
        notify: plan.uses_notify,
        warnings: plan.warnings,
        listener_path: spec.listener_path().clone(),
        listener_metadata: spec.listener_metadata().clone().unwrap_or_default(),
    })
}

impl Compiled {
    /// Things the runtime should log: unknown syscall names skipped, flags dropped, ...
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether the filter uses `SCMP_ACT_NOTIFY` ([`install`](Self::install) returns a listener fd).
    pub fn uses_notify(&self) -> bool {
        self.notify
    }

    /// Length of the BPF program.
    pub fn instruction_count(&self) -> usize {
        self.program.len()
    }

    /// The BPF program, in execution order.
    pub fn program(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// `SECCOMP_FILTER_FLAG_*` passed to `seccomp(2)`.
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// `listenerPath` of the profile (where [`send_to_listener`] must send the notify fd).
    pub fn listener_path(&self) -> Option<&Path> {
        self.listener_path.as_deref()
    }

    /// `listenerMetadata` of the profile ("" when absent).
    pub fn listener_metadata(&self) -> &str {
        &self.listener_metadata
    }

    /// Install in the calling thread (and the others with TSYNC). Called in the container child
    /// right before exec: no allocation, no lock, only the `seccomp(2)` syscall (or
    /// `prctl(PR_SET_SECCOMP)` on kernels without it, when no flag is needed) on memory built by
    /// [`compile`]. Returns the notify listener fd when the profile uses `SCMP_ACT_NOTIFY`.
    pub fn install(&self) -> Result<Option<OwnedFd>, SeccompError> {
        let prog = libc::sock_fprog {
            len: self.program.len() as libc::c_ushort,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: `prog` points to `self.program`, which outlives the call; the kernel copies the
        // program and does not keep the pointer.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
                self.flags as libc::c_ulong,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ENOSYS) && self.flags == 0 {
                // Kernels before 3.17 have no seccomp(2), only the prctl interface.
                // SAFETY: as above; PR_SET_SECCOMP reads the sock_fprog and copies the program.
                let rc = unsafe {
                    libc::prctl(
                        libc::PR_SET_SECCOMP,
                        libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                        &prog as *const libc::sock_fprog,
                    )
                };
                if rc < 0 {
                    return Err(SeccompError::Install {
                        source: io::Error::last_os_error(),
                    });
                }
                return Ok(None);
            }
            return Err(SeccompError::Install { source: err });
        }
        if self.notify {
            // SAFETY: with NEW_LISTENER a successful seccomp(2) returns a new fd that we own.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as libc::c_int) }));
        }
        if rc > 0 {
            return Err(SeccompError::Tsync { tid: rc as i64 });
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests;
