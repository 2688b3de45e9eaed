//! Unit tests: a small classic-BPF interpreter runs the compiled program against synthetic
//! `seccomp_data` and the tests check the returned action/errno.

use serde_json::json;

use crate::bpf::*;
use crate::names::{self, AUDIT_ARCH_AARCH64, AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, X32_SYSCALL_BIT};
use crate::{compile_with, parse_profile, Compiled, KernelSupport, SeccompError};

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const KILL_THREAD: u32 = libc::SECCOMP_RET_KILL_THREAD;
const KILL_PROCESS: u32 = libc::SECCOMP_RET_KILL_PROCESS;
const TRAP: u32 = libc::SECCOMP_RET_TRAP;
const NOTIFY: u32 = libc::SECCOMP_RET_USER_NOTIF;
const LOG: u32 = libc::SECCOMP_RET_LOG;
fn errno(e: u32) -> u32 {
    libc::SECCOMP_RET_ERRNO | e
}
fn trace(m: u32) -> u32 {
    libc::SECCOMP_RET_TRACE | m
}

/// Checks what the kernel's checker checks (forward jumps in range, aligned loads inside
/// seccomp_data, known opcodes, ends in ret) and runs the program.
fn run(prog: &[libc::sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    assert!(!prog.is_empty() && prog.len() <= MAX_INSNS);
    let mut a: u32 = 0;
    let mut pc = 0usize;
    loop {
        let i = prog
            .get(pc)
            .unwrap_or_else(|| panic!("pc {pc} ran off the end"));
        pc += 1;
        match i.code {
            c if c == BPF_LD | BPF_W | BPF_ABS => {
                let k = i.k as usize;
                assert!(k.is_multiple_of(4) && k + 4 <= 64, "bad load offset {k}");
                a = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
            }
            c if c == BPF_ALU | BPF_AND | BPF_K => a &= i.k,
            c if c == BPF_RET | BPF_K => return i.k,
            c if c == BPF_JMP | BPF_JA => pc += i.k as usize,
            c if c & 0x07 == BPF_JMP => {
                let taken = match c & 0xf0 {
                    x if x == BPF_JEQ => a == i.k,
                    x if x == BPF_JGT => a > i.k,
                    x if x == BPF_JGE => a >= i.k,
                    x => panic!("unknown jump {x:#x}"),
                };
                pc += if taken { i.jt } else { i.jf } as usize;
            }
            c => panic!("unknown opcode {c:#x}"),
        }
        assert!(pc < prog.len(), "jump past the end");
    }
}

fn compile_json(v: serde_json::Value) -> Result<Compiled, SeccompError> {
    compile_with(&parse_profile(&v.to_string())?, &KernelSupport::all())
}

fn compiled(v: serde_json::Value) -> Compiled {
    compile_json(v).expect("profile compiles")
}

fn nr(abi: &names::ArchInfo, name: &str) -> u32 {
    names::syscall_nr(abi, name).unwrap_or_else(|| panic!("{name} in table"))
}

fn x86_64(c: &Compiled, name: &str, args: [u64; 6]) -> u32 {
    run(
        c.program(),
        AUDIT_ARCH_X86_64,
        nr(&names::X86_64, name),
        args,
    )
}

const NOARGS: [u64; 6] = [0; 6];
type CmpFn = fn(u64, u64) -> bool;

mod against_libseccomp;
mod arches_and_profiles;

#[test]
fn table_names_match_oci_spec_serde_names() {
    for a in names::ACTIONS {
        assert_eq!(serde_json::to_value(a.action).unwrap(), json!(a.name));
    }
    for (op, name, _) in names::OPERATORS {
        assert_eq!(serde_json::to_value(op).unwrap(), json!(name));
    }
    for (arch, name, _) in names::ARCHES {
        assert_eq!(serde_json::to_value(arch).unwrap(), json!(name));
    }
    for (f, name, _) in names::FLAGS {
        assert_eq!(serde_json::to_value(f).unwrap(), json!(name));
    }
}

#[test]
fn syscall_tables_sorted_and_spot_checked() {
    for abi in [&names::X86_64, &names::X86, &names::X32, &names::AARCH64] {
        let table = names::table(abi);
        assert!(
            table.windows(2).all(|w| w[0].0 < w[1].0),
            "{} sorted, no duplicates",
            names::arch_name(abi)
        );
        assert!(table
            .iter()
            .all(|(_, n)| (n & X32_SYSCALL_BIT != 0) == abi.x32_bit));
        assert!(
            table.len() > 300,
            "{}: {} syscalls",
            names::arch_name(abi),
            table.len()
        );
        let mut nrs: Vec<u32> = table.iter().map(|(_, n)| *n).collect();
        nrs.sort();
        nrs.dedup();
        assert_eq!(
            nrs.len(),
            table.len(),
            "{}: no number twice",
            names::arch_name(abi)
        );
    }
    assert_eq!(nr(&names::X86_64, "read"), 0);
    assert_eq!(nr(&names::X86_64, "openat"), 257);
    assert_eq!(nr(&names::X86_64, "clone3"), 435);
    assert_eq!(nr(&names::X86_64, "mseal"), 462);
    assert_eq!(nr(&names::X86, "openat"), 295);
    assert_eq!(nr(&names::X86, "socketcall"), 102);
    assert_eq!(nr(&names::X32, "openat"), X32_SYSCALL_BIT | 257);
    assert_eq!(nr(&names::X32, "rt_sigaction"), X32_SYSCALL_BIT | 512);
    assert_eq!(nr(&names::AARCH64, "openat"), 56);
    assert_eq!(nr(&names::AARCH64, "fstat"), 80);
    assert_eq!(names::syscall_nr(&names::AARCH64, "open"), None);
    assert_eq!(names::syscall_nr(&names::X86_64, "socketcall"), None);
    // The table agrees with the libc crate for the host.
    assert_eq!(
        nr(names::native().unwrap(), "getppid") as libc::c_long,
        libc::SYS_getppid
    );
    assert_eq!(
        nr(names::native().unwrap(), "seccomp") as libc::c_long,
        libc::SYS_seccomp
    );
}

#[test]
fn default_action_and_errno_ret() {
    let c = compiled(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    assert_eq!(x86_64(&c, "read", NOARGS), ALLOW);
    assert_eq!(x86_64(&c, "write", NOARGS), errno(38));
    assert_eq!(run(c.program(), AUDIT_ARCH_X86_64, 9999, NOARGS), errno(38));
    let c = compiled(json!({"defaultAction": "SCMP_ACT_ERRNO"}));
    assert_eq!(
        x86_64(&c, "write", NOARGS),
        errno(libc::EPERM as u32),
        "ERRNO without errnoRet is EPERM"
    );
    let c = compiled(json!({"defaultAction": "SCMP_ACT_ALLOW"}));
    assert_eq!(x86_64(&c, "write", NOARGS), ALLOW);
    assert!(
        c.instruction_count() < 10,
        "empty allow profile is tiny: {}",
        c.instruction_count()
    );
}

/// runc's ENOSYS stub: syscalls newer than every name in the profile fail with ENOSYS.
#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let c = compiled(
        json!({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["read", "openat"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["mkdirat"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    let enosys = errno(libc::ENOSYS as u32);
    assert_eq!(x86_64(&c, "read", NOARGS), ALLOW);
    assert_eq!(
        x86_64(&c, "write", NOARGS),
        errno(1),
        "below the newest named call: default"
    );
    assert_eq!(x86_64(&c, "mkdirat", NOARGS), errno(1));
    assert_eq!(
        x86_64(&c, "unlinkat", NOARGS),
        enosys,
        "unlinkat (263) is newer than mkdirat (258)"
    );
    assert_eq!(run(c.program(), AUDIT_ARCH_X86_64, 258, NOARGS), errno(1));
    assert_eq!(
        run(c.program(), AUDIT_ARCH_X86_64, 259, NOARGS),
        enosys,
        "newer than mkdirat (258), the newest named"
    );
    assert_eq!(x86_64(&c, "clone3", NOARGS), enosys);
    assert_eq!(
        run(
            c.program(),
            AUDIT_ARCH_I386,
            nr(&names::X86, "clone3"),
            NOARGS
        ),
        enosys
    );
    assert_eq!(
        run(
            c.program(),
            AUDIT_ARCH_X86_64,
            nr(&names::X32, "clone3"),
            NOARGS
        ),
        enosys
    );
    assert_eq!(
        run(
            c.program(),
            AUDIT_ARCH_X86_64,
            nr(&names::X32, "write"),
            NOARGS
        ),
        errno(1)
    );
    // An allowing default, or an ENOSYS default, needs no stub.
    let c = compiled(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"}]}),
    );
    assert_eq!(x86_64(&c, "clone3", NOARGS), ALLOW);
    let c = compiled(
        json!({"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]}),
    );
    assert_eq!(
        x86_64(&c, "write", NOARGS),
        enosys,
        "write (1) is newer than read (0)"
    );
    assert_eq!(run(c.program(), AUDIT_ARCH_X86_64, 0, NOARGS), ALLOW);
}

#[test]
fn every_action() {
    let c = compiled(
        json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_KILL"},
            {"names": ["write"], "action": "SCMP_ACT_KILL_THREAD"},
            {"names": ["openat"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["close"], "action": "SCMP_ACT_TRAP"},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["chdir"], "action": "SCMP_ACT_TRACE", "errnoRet": 1234},
            {"names": ["fchdir"], "action": "SCMP_ACT_LOG"},
            {"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"},
        ]}),
    );
    assert_eq!(x86_64(&c, "read", NOARGS), KILL_THREAD);
    assert_eq!(x86_64(&c, "write", NOARGS), KILL_THREAD);
    assert_eq!(x86_64(&c, "openat", NOARGS), KILL_PROCESS);
    assert_eq!(x86_64(&c, "close", NOARGS), TRAP);
    assert_eq!(x86_64(&c, "mkdir", NOARGS), errno(13));
    assert_eq!(x86_64(&c, "rmdir", NOARGS), errno(1));
    assert_eq!(x86_64(&c, "chdir", NOARGS), trace(1234));
    assert_eq!(x86_64(&c, "fchdir", NOARGS), LOG);
    assert_eq!(x86_64(&c, "getppid", NOARGS), NOTIFY);
    assert_eq!(x86_64(&c, "getpid", NOARGS), ALLOW);
    assert!(c.uses_notify());
    assert_eq!(
        c.flags() & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32,
        libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32
    );
    assert_eq!(c.listener_path(), Some(std::path::Path::new("/x")));
}

/// 64-bit edge values around every comparison: the hi/lo split must agree with u64 semantics.
#[test]
fn every_comparison_on_64_bit_edges() {
    let values: [u64; 10] = [
        0,
        1,
        5,
        0xffff_ffff,
        0x1_0000_0000,
        0x1_0000_0005,
        0x2_0000_0000,
        0x8000_0000_0000_0000,
        u64::MAX - 1,
        u64::MAX,
    ];
    let ops: [(&str, CmpFn); 6] = [
        ("SCMP_CMP_NE", |x, v| x != v),
        ("SCMP_CMP_LT", |x, v| x < v),
        ("SCMP_CMP_LE", |x, v| x <= v),
        ("SCMP_CMP_EQ", |x, v| x == v),
        ("SCMP_CMP_GE", |x, v| x >= v),
        ("SCMP_CMP_GT", |x, v| x > v),
    ];
    for (op, f) in ops {
        for &v in &values {
            for index in [0usize, 3, 5] {
                let c = compiled(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                    {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
                     "args": [{"index": index, "value": v, "op": op}]}]}));
                for &x in values.iter().chain(&[
                    v.wrapping_sub(1),
                    v.wrapping_add(1),
                    v ^ (1 << 32),
                    v ^ 1,
                ]) {
                    let mut args = [0x1111_2222_3333_4444u64; 6];
                    args[index] = x;
                    let want = if f(x, v) { errno(7) } else { ALLOW };
                    assert_eq!(
                        x86_64(&c, "read", args),
                        want,
                        "arg{index}={x:#x} {op} {v:#x}"
                    );
                }
            }
        }
    }
}

#[test]
fn masked_eq() {
    let cases: [(u64, u64); 5] = [
        (0xff, 0x12),
        (0xffff_0000_0000_0000, 0x1234_0000_0000_0000),
        (0x0000_00ff_0000_00ff, 0x0000_0001_0000_0002),
        (0x7e02_0000, 0), // clone flags mask of the engine profile
        (0xf, 0x10),      // datum outside the mask: never matches
    ];
    for (mask, datum) in cases {
        let c = compiled(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9,
             "args": [{"index": 1, "value": mask, "valueTwo": datum, "op": "SCMP_CMP_MASKED_EQ"}]}]}));
        for x in [
            0u64,
            datum,
            datum | !mask,
            datum ^ 1,
            datum ^ (1 << 40),
            u64::MAX,
            0x7e02_0000,
            0x1_0000_0000,
        ] {
            let want = if x & mask == datum { errno(9) } else { ALLOW };
            assert_eq!(
                x86_64(&c, "read", [0, x, 0, 0, 0, 0]),
                want,
                "{x:#x} & {mask:#x} == {datum:#x}"
            );
        }
    }
}

#[test]
fn several_args_are_anded_and_several_rules_tried_in_turn() {
    let c = compiled(
        json!({"defaultAction": "SCMP_ACT_KILL_PROCESS", "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
             "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 2, "value": 100, "op": "SCMP_CMP_GT"}, {"index": 2, "value": 200, "op": "SCMP_CMP_LT"}]},
        ]}),
    );
    assert_eq!(x86_64(&c, "socket", [1, 2, 0, 0, 0, 0]), ALLOW);
    assert_eq!(x86_64(&c, "socket", [1, 3, 0, 0, 0, 0]), KILL_PROCESS);
    assert_eq!(x86_64(&c, "socket", [0, 2, 0, 0, 0, 0]), KILL_PROCESS);
    assert_eq!(x86_64(&c, "socket", [10, 2, 0, 0, 0, 0]), errno(97));
    assert_eq!(
        x86_64(&c, "socket", [7, 7, 150, 0, 0, 0]),
        ALLOW,
        "100 < arg2 < 200"
    );
    assert_eq!(x86_64(&c, "socket", [7, 7, 200, 0, 0, 0]), KILL_PROCESS);
    assert_eq!(x86_64(&c, "read", NOARGS), KILL_PROCESS);
}

/// Precedence measured with runc 1.1.5 (libseccomp): the first unconditional rule wins over
/// every conditional one, identical rules: the first wins; rules equal to the default are dropped.
#[test]
fn rule_precedence_matches_runc() {
    let c = compiled(json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["mkdir"], "action": "SCMP_ACT_TRACE", "errnoRet": 5},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 34,
         "args": [{"index": 1, "value": 511, "op": "SCMP_CMP_EQ"}]},
        {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 33,
         "args": [{"index": 1, "value": 511, "op": "SCMP_CMP_EQ"}]},
        {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 34,
         "args": [{"index": 1, "value": 500, "op": "SCMP_CMP_GE"}]},
        {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
        {"names": ["getpid"], "action": "SCMP_ACT_LOG"},
    ]}));
    assert_eq!(x86_64(&c, "personality", [8, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(x86_64(&c, "personality", [0, 0, 0, 0, 0, 0]), ALLOW);
    assert_eq!(x86_64(&c, "mkdir", [0, 511, 0, 0, 0, 0]), trace(5));
    assert_eq!(x86_64(&c, "rmdir", [0, 511, 0, 0, 0, 0]), errno(33));
    assert_eq!(x86_64(&c, "rmdir", [0, 600, 0, 0, 0, 0]), errno(34));
    assert_eq!(x86_64(&c, "rmdir", [0, 5, 0, 0, 0, 0]), errno(1));
    assert_eq!(
        x86_64(&c, "getpid", NOARGS),
        LOG,
        "the rule equal to the default is dropped"
    );
}
