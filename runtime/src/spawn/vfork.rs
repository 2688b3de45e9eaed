//! clone3 with `CLONE_VM | CLONE_VFORK`: a child that borrows hull's address space until it
//! execs, for `hull exec`.
//!
//! A fork-like child costs page-table copies at clone, a copy-on-write fault for every page
//! either side writes afterwards (hull's heap, stack and data in the child; the same pages again
//! in the parent), and the teardown of a second address space at execve. With `CLONE_VM` there is
//! one address space and none of that; `CLONE_VFORK` suspends the parent until the child has
//! exec'd or exited, so the two never run on the same memory at once. The child runs on a stack
//! of its own (the parent's frames stay intact) and may call anything that only touches memory
//! and its own per-task kernel state (credentials, namespaces, fd table, signal dispositions are
//! not shared: only `CLONE_VM` is).
//!
//! What the caller must guarantee (see `exec::spawn`, which checks it):
//! - the process is single-threaded (no other thread can hold a lock or run on the memory, and
//!   glibc's set*id calls stay plain syscalls);
//! - the parent has nothing to do for the child between clone and execve (the parent is
//!   suspended: no sync message, no seccomp notify fd to forward);
//! - the child changes no state the parent reads afterwards except through the socket
//!   (globals it sets, like the procfs handle, are set up by the parent first);
//! - the child is not entering another time namespace (the kernel refuses CLONE_VM there).

use super::CloneArgs;
use nix::errno::Errno;
use std::os::fd::RawFd;

/// The child's stack: ample for the exec steps, debug builds included (their frames are large).
/// Only the pages the child touches are ever allocated (MAP_NORESERVE, faulted in on use).
const STACK_SIZE: usize = 1024 * 1024;
const PAGE: usize = 4096;

/// Whether this build can run a `CLONE_VM` child: the clone entry is x86_64 assembly, and the
/// single-threaded check is glibc's.
pub const SUPPORTED: bool = cfg!(all(target_arch = "x86_64", target_env = "gnu"));

/// True when no thread but the calling one exists (glibc keeps this exact; it turns false at
/// the first pthread_create and stays false).
pub fn single_threaded() -> bool {
    #[cfg(all(target_arch = "x86_64", target_env = "gnu"))]
    {
        extern "C" {
            static __libc_single_threaded: libc::c_char;
        }
        // SAFETY: a byte glibc (>= 2.32) exports for this purpose; a plain read.
        unsafe { std::ptr::read_volatile(&raw const __libc_single_threaded) != 0 }
    }
    #[cfg(not(all(target_arch = "x86_64", target_env = "gnu")))]
    {
        false
    }
}

/// An anonymous stack with a guard page below it, unmapped on drop.
struct Stack {
    base: *mut libc::c_void,
    len: usize,
}

impl Stack {
    fn new() -> nix::Result<Stack> {
        let len = STACK_SIZE + PAGE;
        // SAFETY: a fresh private anonymous mapping; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(Errno::last());
        }
        let stack = Stack { base, len };
        // The lowest page catches an overflow (SIGSEGV in the child, not a scribble on the heap).
        // SAFETY: protecting the first page of the mapping made above.
        if unsafe { libc::mprotect(base, PAGE, libc::PROT_NONE) } != 0 {
            return Err(Errno::last());
        }
        Ok(stack)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmapping our own mapping; the child that used it has exec'd or exited.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

/// The child's entry: runs the closure, which should exec or exit (if it returns, the child
/// exits 127).
extern "C" fn trampoline<F: FnOnce()>(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the ManuallyDrop<F> on the suspended parent's stack; it is read
    // exactly once, here, and the parent never touches it again.
    let f = unsafe { std::ptr::read(arg as *mut F) };
    f();
    127
}

/// clone3(CLONE_VM | CLONE_VFORK [| CLONE_INTO_CGROUP]): runs `child` in the new process on a
/// fresh stack (it should end in execve or _exit) and returns its pid once it has exec'd or
/// exited. See the module notes for what the caller must guarantee.
pub fn clone3_vfork<F: FnOnce()>(cgroup_fd: Option<RawFd>, child: F) -> nix::Result<i32> {
    if !SUPPORTED {
        return Err(Errno::ENOSYS);
    }
    let stack = Stack::new()?;
    let mut args = CloneArgs {
        flags: (libc::CLONE_VM | libc::CLONE_VFORK) as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.base as u64,
        stack_size: stack.len as u64,
        ..Default::default()
    };
    if let Some(fd) = cgroup_fd {
        args.flags |= super::CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    let mut child = std::mem::ManuallyDrop::new(child);
    let arg = &mut *child as *mut F as *mut libc::c_void;
    // SAFETY: see raw_clone3.
    let rc = unsafe { raw_clone3(&args, trampoline::<F>, arg) };
    drop(stack);
    if rc < 0 {
        // No child: the closure was not consumed.
        // SAFETY: `child` is still ours and dropped once.
        unsafe { std::mem::ManuallyDrop::drop(&mut child) };
        return Err(Errno::from_raw(-rc as i32));
    }
    Ok(rc as i32)
}

/// The syscall itself. In the child (rax 0) the kernel has switched to the new stack: call
/// `entry(arg)` from there and exit with what it returns (it never returns); the parent falls
/// through with the pid or -errno once the child has exec'd or exited.
///
/// SAFETY (caller): `args` asks for CLONE_VM|CLONE_VFORK with a valid, 16-byte aligned stack
/// that nothing else uses; `entry` never unwinds; the module's guarantees hold.
#[cfg(target_arch = "x86_64")]
unsafe fn raw_clone3(
    args: &CloneArgs,
    entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    arg: *mut libc::c_void,
) -> i64 {
    let rc: i64;
    // The child inherits every register but rax/rcx/r11: entry and arg travel in r12/r13. The
    // asm may read and write any memory (the child runs on it before the parent resumes).
    // SAFETY: as the function's contract says.
    unsafe {
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r13",
            "call r12",
            "mov edi, eax",
            "mov eax, {exit}",
            "syscall",
            "ud2",
            "2:",
            exit = const libc::SYS_exit,
            inlateout("rax") libc::SYS_clone3 => rc,
            in("rdi") args as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") entry,
            in("r13") arg,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    rc
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn raw_clone3(
    _args: &CloneArgs,
    _entry: extern "C" fn(*mut libc::c_void) -> libc::c_int,
    _arg: *mut libc::c_void,
) -> i64 {
    -(libc::ENOSYS as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each test forks a helper process first: a CLONE_VM child must come from a single-threaded
    // process, and the test harness runs threads. (glibc's flag stays false in the forked
    // helper, so single_threaded() cannot be checked here; the helper has one thread.)
    fn in_single_threaded_process(f: impl FnOnce() -> i32) -> i32 {
        // SAFETY: fork in the test; the child only runs `f` and _exits.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let rc = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or(99);
            // SAFETY: leaving the forked helper.
            unsafe { libc::_exit(rc) };
        }
        exit_code(pid).expect("the helper process was killed by a signal")
    }

    /// Reap `pid`; its exit code, None if a signal ended it.
    fn exit_code(pid: i32) -> Option<i32> {
        let mut st = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid, &mut st, 0) };
        libc::WIFEXITED(st).then(|| libc::WEXITSTATUS(st))
    }

    #[test]
    fn child_shares_memory_and_parent_waits_for_its_exit() {
        if !SUPPORTED {
            eprintln!("skip: CLONE_VM children need x86_64 glibc, this build is not");
            return;
        }
        let rc = in_single_threaded_process(|| {
            let mut seen: u64 = 0;
            let p = &mut seen as *mut u64;
            let pid = clone3_vfork(None, move || {
                // SAFETY: the parent is suspended; this is its variable.
                unsafe { *p = 0xfeed };
                // SAFETY: ending the child.
                unsafe { libc::_exit(7) }
            })
            .expect("clone3 vfork");
            // The write is visible at once: the parent resumed only after the child exited.
            if seen != 0xfeed {
                return 11;
            }
            if exit_code(pid) != Some(7) {
                return 12;
            }
            0
        });
        assert_eq!(rc, 0);
    }

    #[test]
    fn child_that_execs_gets_its_own_address_space() {
        if !SUPPORTED {
            eprintln!("skip: CLONE_VM children need x86_64 glibc, this build is not");
            return;
        }
        let rc = in_single_threaded_process(|| {
            let sh = c"/bin/sh";
            let argv = [
                sh.as_ptr(),
                c"-c".as_ptr(),
                c"exit 3".as_ptr(),
                std::ptr::null(),
            ];
            let pid = clone3_vfork(None, move || {
                // SAFETY: execv with NUL-terminated argv.
                unsafe { libc::execv(sh.as_ptr(), argv.as_ptr()) };
                // SAFETY: exec failed: leave.
                unsafe { libc::_exit(127) }
            })
            .expect("clone3 vfork");
            exit_code(pid).unwrap_or(100)
        });
        assert_eq!(rc, 3);
    }
}
