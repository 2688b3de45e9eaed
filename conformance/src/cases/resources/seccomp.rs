//! config-linux.md#seccomp: actions, errno values, argument comparisons, filters with and
//! without no_new_privileges.
use super::*;

const SC: &str = "config-linux.md#seccomp";

fn seccomp(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"], "syscalls": rules})
}

const GETPPID: &str = "110";
const GETPRIORITY: &str = "140";

fn seccomp_run(c: &mut Ctx, args: &[&str], sc: Value, nnp: bool) -> R<(i32, Vec<Value>)> {
    let mut cfg = c.config(args);
    cfg["linux"]["seccomp"] = sc;
    cfg["process"]["noNewPrivileges"] = json!(nnp);
    let b = c.bundle(&cfg)?;
    let o = c.run(&b);
    check!(!o.timed_out, "run timed out");
    let l = b.lines();
    if l.is_empty() && o.code != 0 && args.first() != Some(&"syscall") {
        crate::fail!("run failed: {}", o.brief())
    }
    Ok((o.code, l))
}

/// Syscalls the probe and every runtime's last steps before exec need (for a default-deny filter).
const ALLOW: &[&str] = &[
    "read",
    "write",
    "open",
    "openat",
    "close",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "poll",
    "ppoll",
    "lseek",
    "mmap",
    "mprotect",
    "munmap",
    "brk",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "ioctl",
    "pread64",
    "pwrite64",
    "readv",
    "writev",
    "access",
    "faccessat",
    "faccessat2",
    "pipe",
    "pipe2",
    "select",
    "pselect6",
    "sched_yield",
    "mremap",
    "madvise",
    "dup",
    "dup2",
    "dup3",
    "nanosleep",
    "clock_nanosleep",
    "getpid",
    "gettid",
    "getuid",
    "getgid",
    "geteuid",
    "getegid",
    "getgroups",
    "setgroups",
    "setuid",
    "setgid",
    "setresuid",
    "setresgid",
    "capget",
    "capset",
    "prctl",
    "arch_prctl",
    "exit",
    "exit_group",
    "execve",
    "execveat",
    "fcntl",
    "flock",
    "fsync",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "readlink",
    "readlinkat",
    "uname",
    "futex",
    "set_tid_address",
    "set_robust_list",
    "get_robust_list",
    "rseq",
    "prlimit64",
    "getrlimit",
    "setrlimit",
    "getrandom",
    "sigaltstack",
    "sched_getaffinity",
    "clock_gettime",
    "gettimeofday",
    "epoll_create1",
    "epoll_ctl",
    "epoll_wait",
    "epoll_pwait",
    "tgkill",
    "kill",
    "waitid",
    "wait4",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "personality",
    "ioprio_get",
    "getpgrp",
    "getsid",
    "setsid",
    "umask",
    "mkdir",
    "mkdirat",
    "unlink",
    "unlinkat",
    "sched_getparam",
    "sched_getscheduler",
    "getpriority",
    "socket",
    "connect",
    "sendmsg",
    "recvmsg",
    "sendto",
    "recvfrom",
    "close_range",
    "membarrier",
    "restart_syscall",
    "fchown",
    "fchmod",
    "fstatfs",
    "statfs",
    "mount",
    "umount2",
    "pivot_root",
    "sethostname",
    "setdomainname",
    "getpgid",
    "setpgid",
    "rt_sigtimedwait",
    "rt_sigsuspend",
    "sysinfo",
    "seccomp",
    "socketpair",
    "bind",
    "listen",
    "accept4",
    "getsockopt",
    "setsockopt",
    "fchownat",
    "fchmodat",
    "utimensat",
    "symlinkat",
    "linkat",
    "renameat",
    "renameat2",
    "pidfd_open",
    "pidfd_send_signal",
    "pidfd_getfd",
    "keyctl",
    "add_key",
    "setns",
    "unshare",
    "mknodat",
    "openat2",
    "chown",
    "chmod",
];

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(SC, "seccomp-filter-installed", |c| {
            let mut cfg = c.config(&[]);
            cfg["linux"]["seccomp"] =
                seccomp(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]));
            let r = c.report(cfg)?;
            check_eq!(
                r["seccomp"].as_str().unwrap_or(""),
                "2",
                "Seccomp mode in /proc/self/status (2 = filter)"
            );
            Ok(())
        }),
        case(SC, "seccomp-errno-default-eperm", |c| {
            let (_, l) = seccomp_run(
                c,
                &["syscall", GETPPID],
                seccomp(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}])),
                true,
            )?;
            check_eq!(
                find(&l, "syscall")?["errno"].as_i64().unwrap_or(0),
                1,
                "errno of a syscall with SCMP_ACT_ERRNO (EPERM)"
            );
            Ok(())
        }),
        case(SC, "seccomp-errno-ret", |c| {
            let (_, l) = seccomp_run(
                c,
                &["syscall", GETPPID],
                seccomp(
                    json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]),
                ),
                true,
            )?;
            check_eq!(
                find(&l, "syscall")?["errno"].as_i64().unwrap_or(0),
                13,
                "errno with errnoRet 13"
            );
            Ok(())
        }),
        case(SC, "seccomp-allowed-syscall-works", |c| {
            let (_, l) = seccomp_run(
                c,
                &["syscall", GETPRIORITY, "0", "0"],
                seccomp(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}])),
                true,
            )?;
            check_eq!(
                find(&l, "syscall")?["errno"].as_i64().unwrap_or(-1),
                0,
                "errno of an allowed syscall"
            );
            Ok(())
        }),
        case(SC, "seccomp-kill", |c| {
            let (code, l) = seccomp_run(
                c,
                &["syscall", GETPPID, "write", "/dev/null"],
                seccomp(json!([{"names": ["getppid"], "action": "SCMP_ACT_KILL"}])),
                true,
            )?;
            check!(
                l.is_empty(),
                "the process survived a SCMP_ACT_KILL syscall: {l:?}"
            );
            check_eq!(code, 128 + 31, "exit code of run (killed by SIGSYS)");
            Ok(())
        }),
        case(SC, "seccomp-kill-process", |c| {
            let (code, l) = seccomp_run(
                c,
                &["syscall", GETPPID, "write", "/dev/null"],
                seccomp(json!([{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}])),
                true,
            )?;
            check!(
                l.is_empty(),
                "the process survived a SCMP_ACT_KILL_PROCESS syscall: {l:?}"
            );
            check_eq!(code, 128 + 31, "exit code of run (killed by SIGSYS)");
            Ok(())
        }),
        case(SC, "seccomp-trap", |c| {
            let (code, l) = seccomp_run(
                c,
                &["syscall", GETPPID, "write", "/dev/null"],
                seccomp(json!([{"names": ["getppid"], "action": "SCMP_ACT_TRAP"}])),
                true,
            )?;
            check!(
                l.is_empty(),
                "the process survived a SCMP_ACT_TRAP syscall with no SIGSYS handler: {l:?}"
            );
            check_eq!(code, 128 + 31, "exit code of run (SIGSYS)");
            Ok(())
        }),
        case(SC, "seccomp-log", |c| {
            let (_, l) = seccomp_run(
                c,
                &["syscall", GETPPID],
                seccomp(json!([{"names": ["getppid"], "action": "SCMP_ACT_LOG"}])),
                true,
            )?;
            check_eq!(
                find(&l, "syscall")?["errno"].as_i64().unwrap_or(-1),
                0,
                "errno of a SCMP_ACT_LOG syscall"
            );
            Ok(())
        }),
        case(SC, "seccomp-args-eq", |c| {
            let rule = json!([{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}]}]);
            let (_, l) = seccomp_run(
                c,
                &[
                    "syscall",
                    GETPRIORITY,
                    "0",
                    "0",
                    "syscall",
                    GETPRIORITY,
                    "1",
                    "0",
                ],
                seccomp(rule),
                true,
            )?;
            check!(l.len() >= 2, "probe printed {l:?}");
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(-1),
                0,
                "getpriority(0, 0) (arg0 != 1)"
            );
            check_eq!(
                l[1]["errno"].as_i64().unwrap_or(0),
                1,
                "getpriority(1, 0) (arg0 == 1)"
            );
            Ok(())
        }),
        case(SC, "seccomp-args-gt", |c| {
            let rule = json!([{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_GT"}]}]);
            let (_, l) = seccomp_run(
                c,
                &[
                    "syscall",
                    GETPRIORITY,
                    "1",
                    "0",
                    "syscall",
                    GETPRIORITY,
                    "2",
                    "0",
                ],
                seccomp(rule),
                true,
            )?;
            check!(l.len() >= 2, "probe printed {l:?}");
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(-1),
                0,
                "getpriority(1, 0) (arg0 not > 1)"
            );
            check_eq!(
                l[1]["errno"].as_i64().unwrap_or(0),
                1,
                "getpriority(2, 0) (arg0 > 1)"
            );
            Ok(())
        }),
        case(SC, "seccomp-args-masked-eq", |c| {
            let rule = json!([{"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 2, "valueTwo": 2, "op": "SCMP_CMP_MASKED_EQ"}]}]);
            let (_, l) = seccomp_run(
                c,
                &[
                    "syscall",
                    GETPRIORITY,
                    "1",
                    "0",
                    "syscall",
                    GETPRIORITY,
                    "2",
                    "0",
                ],
                seccomp(rule),
                true,
            )?;
            check!(l.len() >= 2, "probe printed {l:?}");
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(-1),
                0,
                "getpriority(1, 0) (1 & 2 != 2)"
            );
            check_eq!(
                l[1]["errno"].as_i64().unwrap_or(0),
                1,
                "getpriority(2, 0) (2 & 2 == 2)"
            );
            Ok(())
        }),
        case(SC, "seccomp-default-action-errno", |c| {
            let sc = json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "architectures": ["SCMP_ARCH_X86_64"], "syscalls": [{"names": ALLOW, "action": "SCMP_ACT_ALLOW"}]});
            let (_, l) = seccomp_run(c, &["syscall", GETPPID], sc, true)?;
            check_eq!(
                find(&l, "syscall")?["errno"].as_i64().unwrap_or(0),
                38,
                "errno of a syscall not in the allow list (defaultErrnoRet 38)"
            );
            Ok(())
        }),
        case(SC, "seccomp-without-no-new-privileges", |c| {
            let mut cfg = c.config(&[]);
            cfg["process"]["noNewPrivileges"] = json!(false);
            cfg["linux"]["seccomp"] =
                seccomp(json!([{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]));
            let r = c.report(cfg)?;
            check_eq!(r["seccomp"].as_str().unwrap_or(""), "2", "Seccomp mode");
            check_eq!(r["no_new_privs"].as_str().unwrap_or(""), "0", "NoNewPrivs");
            Ok(())
        }),
    ]
}
