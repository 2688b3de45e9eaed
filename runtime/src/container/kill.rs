//! `hull kill ID [SIGNAL]`.

use super::state::{Status, Store};
use crate::error::{Error, Result};

/// Parse a signal given as a number, `KILL`, or `SIGKILL` (any case).
pub fn parse_signal(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
        return Err(Error::invalid(format!("invalid signal {s:?}")));
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    let n = match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "ILL" => libc::SIGILL,
        "TRAP" => libc::SIGTRAP,
        "ABRT" | "IOT" => libc::SIGABRT,
        "BUS" => libc::SIGBUS,
        "FPE" => libc::SIGFPE,
        "KILL" => libc::SIGKILL,
        "USR1" => libc::SIGUSR1,
        "SEGV" => libc::SIGSEGV,
        "USR2" => libc::SIGUSR2,
        "PIPE" => libc::SIGPIPE,
        "ALRM" => libc::SIGALRM,
        "TERM" => libc::SIGTERM,
        "STKFLT" => libc::SIGSTKFLT,
        "CHLD" => libc::SIGCHLD,
        "CONT" => libc::SIGCONT,
        "STOP" => libc::SIGSTOP,
        "TSTP" => libc::SIGTSTP,
        "TTIN" => libc::SIGTTIN,
        "TTOU" => libc::SIGTTOU,
        "URG" => libc::SIGURG,
        "XCPU" => libc::SIGXCPU,
        "XFSZ" => libc::SIGXFSZ,
        "VTALRM" => libc::SIGVTALRM,
        "PROF" => libc::SIGPROF,
        "WINCH" => libc::SIGWINCH,
        "IO" | "POLL" => libc::SIGIO,
        "PWR" => libc::SIGPWR,
        "SYS" => libc::SIGSYS,
        _ => {
            if let Some(rest) = name.strip_prefix("RTMIN+") {
                let k: i32 = rest
                    .parse()
                    .map_err(|_| Error::invalid(format!("unknown signal {s:?}")))?;
                let n = libc::SIGRTMIN() + k;
                if n <= libc::SIGRTMAX() {
                    return Ok(n);
                }
            }
            return Err(Error::invalid(format!("unknown signal {s:?}")));
        }
    };
    Ok(n)
}

pub fn kill(store: &Store, id: &str, sig: i32, all: bool) -> Result<()> {
    let dir = store.open(id)?;
    let st = dir.load_current()?;
    if st.status == Status::Stopped {
        if !all {
            return Err(Error::wrong_state(id, "kill", st.status));
        }
        // As runc: `kill --all` of a stopped container signals what is left in its cgroup
        // (processes of a container that shares a pid namespace outlive its init) and succeeds
        // when nothing is left. containerd's CRI sends exactly this on every container exit.
        if let Some(cg) = super::cgroup_of(&st) {
            if let Ok(pids) = cg.pids() {
                for pid in pids {
                    // SAFETY: kill with a pid from the container's cgroup and a signal number.
                    unsafe { libc::kill(pid, sig) };
                }
            }
        }
        return Ok(());
    }
    if all {
        if let Some(cg) = super::cgroup_of(&st) {
            if st.status == Status::Paused && sig != libc::SIGKILL {
                // Frozen tasks cannot fork: signal them as they are, and stay paused (kill_all
                // would freeze, signal and thaw). The signal is delivered on resume.
                for pid in cg.pids()? {
                    // SAFETY: kill with a pid from the container's cgroup and a signal number.
                    unsafe { libc::kill(pid, sig) };
                }
            } else {
                cg.kill_all(sig)?;
            }
            thaw_if_killed_paused(&st, sig);
            return Ok(());
        }
        for pid in container_pids(&st) {
            // SAFETY: kill with a pid from the container's pid namespace and a signal number.
            unsafe { libc::kill(pid, sig) };
        }
    }
    let fd = super::pidfd_for(st.pid, st.start_time)
        .ok_or_else(|| Error::wrong_state(id, "kill", Status::Stopped))?;
    match super::pidfd_signal(&fd, sig) {
        Ok(()) => {
            thaw_if_killed_paused(&st, sig);
            Ok(())
        }
        Err(Error::Sys {
            errno: nix::errno::Errno::ESRCH,
            ..
        }) if all => Ok(()),
        Err(e) => Err(e),
    }
}

/// As runc: a frozen (v1) task only dies once thawed, so SIGKILL to a paused container thaws it.
/// Other signals stay pending until `resume`.
fn thaw_if_killed_paused(st: &super::State, sig: i32) {
    if sig == libc::SIGKILL && st.status == Status::Paused {
        if let Some(cg) = super::cgroup_of(st) {
            let _ = cg.thaw();
        }
    }
}

/// Every process of the container: those in its cgroup; without one, those in its pid namespace
/// (when it has its own), else the init.
pub fn container_pids(st: &super::State) -> Vec<i32> {
    if let Some(cg) = super::cgroup_of(st) {
        if let Ok(p) = cg.pids() {
            return p;
        }
    }
    let ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(init_ns) = ns(st.pid) else {
        return vec![];
    };
    let own = std::fs::read_link("/proc/self/ns/pid").ok();
    if own.as_ref() == Some(&init_ns) {
        return vec![st.pid];
    }
    let mut out = vec![];
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                if ns(pid).as_ref() == Some(&init_ns) {
                    out.push(pid);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("KILL").unwrap(), libc::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse_signal("RTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("SIGNOPE")
            .unwrap_err()
            .to_string()
            .contains("SIGNOPE"));
    }
}
