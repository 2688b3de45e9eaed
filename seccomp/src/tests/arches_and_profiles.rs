//! Architecture checks, unknown names, malformed profiles, flags, long jumps.
use super::*;

#[test]
fn arch_checks_x86_64_only() {
    let c = compiled(json!({"defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["openat", "read"], "action": "SCMP_ACT_ALLOW"}]}));
    assert_eq!(x86_64(&c, "openat", NOARGS), ALLOW);
    // i386 (int 0x80) is not in the profile: bad-arch action.
    assert_eq!(
        run(
            c.program(),
            AUDIT_ARCH_I386,
            nr(&names::X86, "openat"),
            NOARGS
        ),
        KILL_THREAD
    );
    assert_eq!(
        run(c.program(), AUDIT_ARCH_AARCH64, 56, NOARGS),
        KILL_THREAD
    );
    // x32 numbers (x86_64 audit arch + bit 30) must not slip past, even for allowed calls.
    assert_eq!(
        run(
            c.program(),
            AUDIT_ARCH_X86_64,
            X32_SYSCALL_BIT | 257,
            NOARGS
        ),
        KILL_THREAD
    );
    assert_eq!(
        run(c.program(), AUDIT_ARCH_X86_64, X32_SYSCALL_BIT, NOARGS),
        KILL_THREAD
    );
    // -1: a tracer skipped the call; the default action, as libseccomp does.
    assert_eq!(
        run(c.program(), AUDIT_ARCH_X86_64, u32::MAX, NOARGS),
        errno(1)
    );
}

#[test]
fn arch_checks_x86_and_x32_listed() {
    let c = compiled(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_NATIVE"],
        "syscalls": [
            {"names": ["openat", "socketcall", "rt_sigaction"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
             "args": [{"index": 0, "value": 0x1_0000_0003u64, "op": "SCMP_CMP_EQ"}]}]}),
    );
    assert!(
        c.warnings().is_empty(),
        "socketcall exists on x86: {:?}",
        c.warnings()
    );
    let i386 = |name: &str, args| run(c.program(), AUDIT_ARCH_I386, nr(&names::X86, name), args);
    let x32 = |name: &str, args| run(c.program(), AUDIT_ARCH_X86_64, nr(&names::X32, name), args);
    assert_eq!(i386("openat", NOARGS), ALLOW);
    assert_eq!(i386("socketcall", NOARGS), ALLOW);
    assert_eq!(i386("write", NOARGS), errno(38));
    assert_eq!(x32("openat", NOARGS), ALLOW);
    assert_eq!(x32("rt_sigaction", NOARGS), ALLOW);
    assert_eq!(x32("write", NOARGS), errno(38));
    assert_eq!(x86_64(&c, "openat", NOARGS), ALLOW);
    assert_eq!(x86_64(&c, "rt_sigaction", NOARGS), ALLOW);
    // x86_64's rt_sigaction number (13) with the x32 bit is not x32's rt_sigaction (512).
    assert_eq!(
        run(c.program(), AUDIT_ARCH_X86_64, X32_SYSCALL_BIT | 13, NOARGS),
        errno(38)
    );
    // 64-bit ABIs compare both words; the 32-bit ABI compares the low word only (as libseccomp).
    assert_eq!(x86_64(&c, "read", [0x1_0000_0003, 0, 0, 0, 0, 0]), errno(5));
    assert_eq!(x86_64(&c, "read", [3, 0, 0, 0, 0, 0]), errno(38));
    assert_eq!(i386("read", [3, 0, 0, 0, 0, 0]), errno(5));
    assert_eq!(
        run(c.program(), AUDIT_ARCH_AARCH64, 63, NOARGS),
        KILL_THREAD
    );
}

#[test]
fn aarch64_table_is_used_when_listed() {
    let c = compiled(json!({"defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_S390X"],
        "syscalls": [{"names": ["openat", "open"], "action": "SCMP_ACT_ALLOW"}]}));
    assert_eq!(run(c.program(), AUDIT_ARCH_AARCH64, 56, NOARGS), ALLOW);
    assert_eq!(
        run(c.program(), AUDIT_ARCH_AARCH64, 2, NOARGS),
        errno(1),
        "aarch64 has no open"
    );
    assert_eq!(c.warnings().len(), 1, "{:?}", c.warnings());
    assert!(
        c.warnings()[0].contains("architectures[1]") && c.warnings()[0].contains("SCMP_ARCH_S390X")
    );
}

#[test]
fn unknown_names_are_skipped_with_a_warning() {
    let c = compiled(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["read", "no_such_syscall", "write"], "action": "SCMP_ACT_ALLOW"}]}));
    assert_eq!(c.warnings().len(), 1);
    assert!(
        c.warnings()[0].contains("syscalls[0].names[1]")
            && c.warnings()[0].contains("no_such_syscall")
    );
    assert_eq!(x86_64(&c, "read", NOARGS), ALLOW);
    assert_eq!(x86_64(&c, "write", NOARGS), ALLOW);
}

#[track_caller]
fn assert_invalid(v: serde_json::Value, field: &str) {
    match compile_json(v) {
        Err(e @ SeccompError::Invalid { .. }) => {
            assert!(
                e.to_string().contains(field),
                "error {e} should name {field}"
            )
        }
        other => panic!("expected an error naming {field}, got {other:?}"),
    }
}

#[test]
fn malformed_profiles_give_errors_naming_the_field() {
    assert_invalid(json!({"defaultAction": "SCMP_ACT_FOO"}), "defaultAction");
    assert_invalid(json!({}), "defaultAction");
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_VAX"]}),
        "architectures[0]",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NOPE"]}),
        "flags[0]",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["read"], "action": "ALLOW"}]}),
        "syscalls[1].action",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQUAL"}]}]}),
        "syscalls[0].args[0].op",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
        "syscalls[0].args[1].index",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]}),
        "syscalls[0].errnoRet",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]}),
        "syscalls[0].errnoRet",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_KILL", "defaultErrnoRet": 1}),
        "defaultErrnoRet",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}),
        "defaultAction",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]}),
        "listenerPath",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [], "action": "SCMP_ACT_ALLOW"}]}),
        "syscalls[0].names",
    );
    assert_invalid(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [""], "action": "SCMP_ACT_ALLOW"}]}),
        "syscalls[0].names[0]",
    );
    assert!(matches!(
        parse_profile("{not json"),
        Err(SeccompError::Parse(_))
    ));
    assert!(matches!(
        parse_profile(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":"read","action":"SCMP_ACT_ALLOW"}]}"#
        ),
        Err(SeccompError::Parse(_))
    ));
}

#[test]
fn flags_follow_kernel_support() {
    let spec = parse_profile(
        &json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [
        "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]})
        .to_string(),
    )
    .unwrap();
    let c = compile_with(&spec, &KernelSupport::all()).unwrap();
    assert_eq!(
        c.flags(),
        0b111,
        "WAIT_KILLABLE_RECV dropped without NOTIFY"
    );
    assert!(c
        .warnings()
        .iter()
        .any(|w| w.contains("WAIT_KILLABLE_RECV")));
    let old = KernelSupport {
        actions: KernelSupport::all().actions,
        flags: libc::SECCOMP_FILTER_FLAG_TSYNC as u32,
    };
    let c = compile_with(&spec, &old).unwrap();
    assert_eq!(c.flags(), libc::SECCOMP_FILTER_FLAG_TSYNC as u32);
    assert!(c
        .warnings()
        .iter()
        .any(|w| w.contains("SECCOMP_FILTER_FLAG_LOG not supported")));
    // TSYNC with NOTIFY needs TSYNC_ESRCH.
    let spec = parse_profile(
        &json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]})
        .to_string(),
    )
    .unwrap();
    let c = compile_with(&spec, &KernelSupport::all()).unwrap();
    assert_eq!(
        c.flags(),
        (libc::SECCOMP_FILTER_FLAG_TSYNC
            | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
            | libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH
            | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) as u32
    );
    // A kernel without user notification: a clear error before any container exists.
    let no_notif = KernelSupport {
        actions: vec![ALLOW, errno(0)],
        flags: 0x3f,
    };
    let e = compile_with(&spec, &no_notif).unwrap_err();
    assert!(
        e.to_string().contains("SCMP_ACT_NOTIFY") && e.to_string().contains("syscalls[0].action"),
        "{e}"
    );
}

/// Enough conditional rules that offsets exceed 255 and trampolines are needed.
#[test]
fn large_profiles_with_long_jumps_stay_correct() {
    let names: Vec<&str> = names::table(&names::X86_64)
        .iter()
        .map(|(n, _)| *n)
        .take(300)
        .collect();
    let rules: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"names": [n], "action": "SCMP_ACT_ERRNO", "errnoRet": i + 1,
            "args": [{"index": i % 6, "value": (i as u64) << 32 | 7, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    let c = compiled(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}));
    assert!(
        c.program().iter().any(|i| i.code == BPF_JMP | BPF_JA),
        "trampolines used"
    );
    for (i, n) in names.iter().enumerate() {
        let mut args = [0u64; 6];
        args[i % 6] = (i as u64) << 32 | 7;
        assert_eq!(x86_64(&c, n, args), errno(i as u32 + 1), "{n}");
        args[i % 6] = 7;
        assert_eq!(
            x86_64(&c, n, args),
            if i == 0 { errno(1) } else { ALLOW },
            "{n} low word only"
        );
    }
}
