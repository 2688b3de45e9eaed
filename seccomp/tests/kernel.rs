//! Real-kernel tests: a forked child installs the compiled filter and makes syscalls; the parent
//! observes the result (exit code, signal, /proc, user notifications). Needs root (or
//! no_new_privs, which the child sets) and a kernel with seccomp filters.
//!
//! Children run only async-signal-safe code (raw syscalls on memory prepared before fork):
//! the test harness is multi-threaded.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use hull_seccomp::{compile, parse_profile, send_to_listener, Compiled};
use serde_json::json;

/// A forked child; killed and reaped on drop if the test did not wait for it.
struct Child {
    pid: libc::pid_t,
    reaped: bool,
}

#[derive(Debug, PartialEq)]
enum Exit {
    Code(i32),
    Signal(i32),
}

impl Child {
    fn wait(mut self) -> Exit {
        let mut status = 0;
        // SAFETY: waiting for our own child; `status` is a valid out pointer.
        let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
        assert_eq!(r, self.pid, "waitpid: {}", std::io::Error::last_os_error());
        self.reaped = true;
        if libc::WIFEXITED(status) {
            Exit::Code(libc::WEXITSTATUS(status))
        } else {
            Exit::Signal(libc::WTERMSIG(status))
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: our own unreaped child: kill and reap it.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

fn errno() -> i32 {
    // SAFETY: reading the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Fork; the child sets no_new_privs and RLIMIT_CORE=0, installs `c`, runs `body` and exits
/// with its result (100 + errno when install fails).
fn run_filtered(c: &Compiled, body: impl FnOnce(Option<OwnedFd>) -> i32) -> Child {
    // SAFETY: the child only makes raw syscalls and calls install(), which does not allocate.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let zero = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain syscalls in the child.
        unsafe {
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        }
        let code = match c.install() {
            Ok(fd) => body(fd),
            Err(_) => 100 + errno(),
        };
        // SAFETY: leave the child without running the parent's destructors or atexit handlers.
        unsafe { libc::_exit(code) }
    }
    Child { pid, reaped: false }
}

fn profile(v: serde_json::Value) -> Compiled {
    let c = compile(&parse_profile(&v.to_string()).unwrap()).unwrap();
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    c
}

fn syscall0(nr: libc::c_long) -> (libc::c_long, i32) {
    // SAFETY: argument-less syscalls chosen by the tests (getpid, getppid ...).
    let r = unsafe { libc::syscall(nr) };
    (r, if r == -1 { errno() } else { 0 })
}

#[test]
fn errno_action_returns_the_errno() {
    let c = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33}]}));
    let child = run_filtered(&c, |_| {
        if syscall0(libc::SYS_getpid).0 <= 0 {
            return 201; // getpid must still work
        }
        match syscall0(libc::SYS_getppid) {
            (-1, e) => e,
            _ => 200,
        }
    });
    assert_eq!(child.wait(), Exit::Code(libc::EDOM));
}

#[test]
fn default_errno_ret_applies_to_unlisted_calls() {
    let c = profile(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [
        {"names": ["exit_group", "exit", "getpid"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    let child = run_filtered(&c, |_| {
        if syscall0(libc::SYS_getpid).0 <= 0 {
            return 201;
        }
        match syscall0(libc::SYS_getppid) {
            (-1, e) => e,
            _ => 200,
        }
    });
    assert_eq!(child.wait(), Exit::Code(libc::ENOSYS));
}

#[test]
fn syscalls_newer_than_the_profile_fail_with_enosys() {
    let c = profile(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["exit_group", "exit", "getpid", "write"], "action": "SCMP_ACT_ALLOW"}]}));
    let child = run_filtered(&c, |_| {
        if syscall0(libc::SYS_getppid) != (-1, libc::EPERM) {
            return 1; // 110 < exit_group (231): the default, EPERM
        }
        if syscall0(libc::SYS_clone3) != (-1, libc::ENOSYS) {
            return 2; // 435: newer than anything named
        }
        0
    });
    assert_eq!(child.wait(), Exit::Code(0));
}

#[test]
fn kill_actions_kill_with_sigsys() {
    for action in [
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_TRAP",
    ] {
        let c = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getppid"], "action": action}]}));
        let child = run_filtered(&c, |_| {
            syscall0(libc::SYS_getppid);
            0
        });
        assert_eq!(child.wait(), Exit::Signal(libc::SIGSYS), "{action}");
    }
}

#[test]
fn argument_rule_matches_only_its_64_bit_value() {
    let c = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 77,
         "args": [{"index": 0, "value": 0x1_0000_0005u64, "op": "SCMP_CMP_EQ"}]}]}));
    let child = run_filtered(&c, |_| {
        let call = |arg: u64| {
            // SAFETY: getpgid takes one integer argument.
            let r = unsafe { libc::syscall(libc::SYS_getpgid, arg) };
            if r == -1 {
                errno()
            } else {
                0
            }
        };
        if call(0x1_0000_0005) != 77 {
            return 1;
        }
        if call(5) == 77 || call(0x2_0000_0005) == 77 {
            return 2; // only the full 64-bit value matches
        }
        if call(0) != 0 {
            return 3; // getpgid(0) is our own group
        }
        0
    });
    assert_eq!(child.wait(), Exit::Code(0));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_calls_do_not_slip_past_a_64_bit_filter() {
    let c = profile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    let child = run_filtered(&c, |_| {
        // getppid through the x32 ABI: x86_64 audit arch, number | 0x40000000.
        syscall0(0x4000_0000 | libc::SYS_getppid);
        0
    });
    assert_eq!(
        child.wait(),
        Exit::Signal(libc::SIGSYS),
        "bad-arch action is KILL (libseccomp default)"
    );
}

#[test]
fn flags_are_accepted_and_the_filter_is_visible_in_proc() {
    let c = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]}));
    assert_eq!(
        c.flags(),
        0b111,
        "this kernel supports TSYNC, LOG and SPEC_ALLOW"
    );
    let (mut r, w) = pipe();
    let child = run_filtered(&c, |_| {
        // SAFETY: write one byte to the pipe, then wait to be killed.
        unsafe {
            libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1);
            libc::pause();
        }
        0
    });
    drop(w);
    let mut b = [0u8; 1];
    r.read_exact(&mut b).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.pid)).unwrap();
    assert!(status.contains("Seccomp:\t2"), "{status}");
    assert!(status.contains("Seccomp_filters:\t1"), "{status}");
}

fn pipe() -> (std::fs::File, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two fds we then own.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh fds from pipe2.
    unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

/// Child side of the NOTIFY tests: tell the parent the listener fd number, then call getppid
/// (which the supervisor answers with 4242).
fn notify_child(c: &Compiled, w: &OwnedFd) -> Child {
    let w = w.as_raw_fd();
    run_filtered(c, move |fd| {
        let Some(fd) = fd else { return 90 };
        let n = fd.as_raw_fd();
        // SAFETY: write the fd number (4 bytes) to the pipe.
        unsafe { libc::write(w, (&n as *const i32).cast(), 4) };
        match syscall0(libc::SYS_getppid) {
            (4242, _) => 0,
            (_, e) => 50 + e,
        }
    })
}

/// Duplicate the child's listener fd into this process (pidfd_getfd, Linux 5.6).
fn take_listener(child: &Child, r: &mut std::fs::File) -> OwnedFd {
    let mut n = [0u8; 4];
    r.read_exact(&mut n).unwrap();
    let target = i32::from_ne_bytes(n);
    // SAFETY: pidfd_open/pidfd_getfd on our own child; both return new fds we own.
    unsafe {
        let pidfd = libc::syscall(libc::SYS_pidfd_open, child.pid, 0);
        assert!(
            pidfd >= 0,
            "pidfd_open: {}",
            std::io::Error::last_os_error()
        );
        let pidfd = OwnedFd::from_raw_fd(pidfd as i32);
        let fd = libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), target, 0);
        assert!(fd >= 0, "pidfd_getfd: {}", std::io::Error::last_os_error());
        OwnedFd::from_raw_fd(fd as i32)
    }
}

/// Supervisor: receive one notification on `fd`, check it, answer getppid() = 4242.
fn answer_one(fd: &OwnedFd, pid: libc::pid_t) {
    // SAFETY: zeroed seccomp_notif/seccomp_notif_resp are valid; the ioctls fill/read them.
    unsafe {
        let mut notif: libc::seccomp_notif = std::mem::zeroed();
        let r = libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut notif);
        assert_eq!(r, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
        assert_eq!(notif.data.nr as libc::c_long, libc::SYS_getppid);
        assert_eq!(notif.pid as libc::pid_t, pid);
        let mut resp: libc::seccomp_notif_resp = std::mem::zeroed();
        resp.id = notif.id;
        resp.val = 4242;
        let r = libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp);
        assert_eq!(r, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    }
}

fn notify_profile() -> Compiled {
    let c = profile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/unused",
        "listenerMetadata": "hello",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}]}),
    );
    assert!(c.uses_notify());
    c
}

#[test]
fn notify_returns_a_listener_fd_a_supervisor_can_answer() {
    let c = notify_profile();
    let (mut r, w) = pipe();
    let child = notify_child(&c, &w);
    drop(w);
    let listener = take_listener(&child, &mut r);
    let pid = child.pid;
    let sup = std::thread::spawn(move || answer_one(&listener, pid));
    sup.join().expect("supervisor");
    assert_eq!(
        child.wait(),
        Exit::Code(0),
        "getppid() returned the supervisor's 4242"
    );
}

#[test]
fn send_to_listener_delivers_state_json_and_a_working_fd() {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.sock");
    let server = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let c = notify_profile();
    let (mut r, w) = pipe();
    let child = notify_child(&c, &w);
    drop(w);
    let pid = child.pid;
    let agent = std::thread::spawn(move || {
        let (mut conn, _) = server.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .unwrap();
        let mut fds = Vec::new();
        for m in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(v) = m {
                fds.extend(v);
            }
        }
        let n = msg.bytes;
        let mut data = buf[..n].to_vec();
        conn.read_to_end(&mut data).unwrap(); // rest of the document, until close
        assert_eq!(fds.len(), 1, "exactly one fd");
        // SAFETY: the fd just received over SCM_RIGHTS is ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fds[0]) };
        answer_one(&fd, pid);
        serde_json::from_slice::<serde_json::Value>(&data).expect("state is JSON")
    });
    let listener = take_listener(&child, &mut r);
    let state = json!({"ociVersion": "1.0.2", "id": "ctr1", "status": "creating", "pid": pid, "bundle": "/b"});
    send_to_listener(
        &path,
        listener.as_fd_borrowed(),
        pid,
        c.listener_metadata(),
        &state,
    )
    .unwrap();
    let doc = agent.join().expect("agent");
    assert_eq!(
        child.wait(),
        Exit::Code(0),
        "the agent answered through the received fd"
    );
    assert_eq!(doc["ociVersion"], "1.0.2");
    assert_eq!(doc["fds"], json!(["seccompFd"]));
    assert_eq!(doc["pid"], pid);
    assert_eq!(doc["metadata"], "hello");
    assert_eq!(doc["state"], state);
}

trait AsFdBorrowed {
    fn as_fd_borrowed(&self) -> std::os::fd::BorrowedFd<'_>;
}
impl AsFdBorrowed for OwnedFd {
    fn as_fd_borrowed(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self)
    }
}

#[test]
fn send_to_listener_reports_a_missing_socket() {
    let (r, _w) = pipe();
    let e = send_to_listener(
        std::path::Path::new("/nonexistent/agent.sock"),
        std::os::fd::AsFd::as_fd(&r),
        1,
        "",
        &json!({}),
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("/nonexistent/agent.sock") && msg.contains("connect"),
        "{msg}"
    );
}

/// The engine default profile loads and busybox runs under it.
#[test]
fn engine_default_profile_runs_busybox() {
    let text = std::fs::read_to_string("/usr/share/containers/seccomp.json")
        .expect("/usr/share/containers/seccomp.json (golang-github-containers-common)");
    let spec =
        hull_seccomp::engine::to_oci(&text, hull_seccomp::engine::PODMAN_DEFAULT_CAPS).unwrap();
    let c = compile(&spec).unwrap();
    assert!(
        c.warnings().iter().all(|w| w.contains("unknown syscall")),
        "{:?}",
        c.warnings()
    );
    assert!(
        std::path::Path::new("/bin/busybox").exists(),
        "/bin/busybox (busybox-static)"
    );
    let argv_c: Vec<std::ffi::CString> =
        ["busybox", "sh", "-c", "busybox true && echo ok-$((6*7))"]
            .iter()
            .map(|s| std::ffi::CString::new(*s).unwrap())
            .collect();
    let mut argv: Vec<*const libc::c_char> = argv_c.iter().map(|s| s.as_ptr()).collect();
    argv.push(std::ptr::null());
    let envp: [*const libc::c_char; 2] = [c"PATH=/bin:/usr/bin".as_ptr(), std::ptr::null()];
    let (mut r, w) = pipe();
    let wfd = w.as_raw_fd();
    let child = run_filtered(&c, |_| {
        // SAFETY: raw syscalls on memory prepared before fork.
        unsafe {
            if libc::syscall(libc::SYS_kexec_load, 0, 0, 0, 0) != -1 || errno() != libc::EPERM {
                return 10; // refused with errnoRet 1
            }
            if libc::syscall(1000) != -1 || errno() != libc::ENOSYS {
                return 11; // unknown number: defaultErrnoRet 38
            }
            libc::dup2(wfd, 1);
            libc::execve(c"/bin/busybox".as_ptr(), argv.as_ptr(), envp.as_ptr());
        }
        120
    });
    drop(w);
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    assert_eq!(child.wait(), Exit::Code(0));
    assert_eq!(out, "ok-42\n");
}

/// `int 0x80` from a 64-bit process makes an i386 syscall (AUDIT_ARCH_I386, i386 numbers).
#[cfg(target_arch = "x86_64")]
fn int80(nr: i32) -> i32 {
    let ret: i32;
    // SAFETY: an i386 system call without arguments (getppid = 64); clobbers only eax (result)
    // and, for the compat entry, r8-r11 which we declare.
    unsafe {
        std::arch::asm!("int 0x80", inlateout("eax") nr => ret,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, options(nostack));
    }
    ret
}

#[cfg(target_arch = "x86_64")]
#[test]
fn i386_calls_use_the_x86_table_or_get_the_bad_arch_action() {
    const I386_GETPPID: i32 = 64;
    // Without a filter: does this kernel run i386 syscalls at all (CONFIG_IA32_EMULATION)?
    let open =
        profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"]}));
    let probe = run_filtered(&open, |_| if int80(I386_GETPPID) > 0 { 0 } else { 1 });
    match probe.wait() {
        Exit::Code(0) => {}
        other => {
            eprintln!("SKIP: this kernel does not run i386 syscalls (int 0x80 gave {other:?}; ia32 emulation off)");
            return;
        }
    }
    let with_x86 = profile(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33}]}),
    );
    let child = run_filtered(&with_x86, |_| {
        if syscall0(libc::SYS_getppid) != (-1, 33) {
            return 1; // the x86_64 rule
        }
        -int80(I386_GETPPID) // the i386 rule: -errno in eax
    });
    assert_eq!(child.wait(), Exit::Code(33));
    let native_only = profile(json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33}]}));
    let child = run_filtered(&native_only, |_| {
        int80(I386_GETPPID);
        0
    });
    assert_eq!(
        child.wait(),
        Exit::Signal(libc::SIGSYS),
        "i386 not in the profile: bad-arch action"
    );
}
