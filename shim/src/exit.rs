//! Exit statuses as containerd reports them.

/// Map a raw `waitpid` status to containerd's exit status: the exit code for a normal exit,
/// 128 + signal for a process killed by a signal.
pub fn exit_status(raw: i32) -> u32 {
    if libc::WIFEXITED(raw) {
        libc::WEXITSTATUS(raw) as u32
    } else if libc::WIFSIGNALED(raw) {
        128 + libc::WTERMSIG(raw) as u32
    } else {
        // Stopped/continued are never reported by our waitpid flags; treat as unknown failure.
        255
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exited_and_signalled() {
        // Raw statuses as the kernel encodes them: code << 8, or the signal number.
        assert_eq!(exit_status(0), 0);
        assert_eq!(exit_status(3 << 8), 3);
        assert_eq!(exit_status(255 << 8), 255);
        assert_eq!(exit_status(libc::SIGKILL), 137);
        assert_eq!(exit_status(libc::SIGTERM), 143);
        assert_eq!(exit_status(libc::SIGSEGV | 0x80), 139); // core dumped
    }
}
