//! The one table from OCI names (`SCMP_ACT_*`, `SCMP_CMP_*`, `SCMP_ARCH_*`,
//! `SECCOMP_FILTER_FLAG_*`) to what the kernel understands. Everything else in the crate looks
//! names and values up here; a unit test checks the names against oci-spec's own serde names.

use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};

use crate::tables;

/// An OCI action: its name, the kernel's `SECCOMP_RET_*` value (without data), and whether it
/// carries `errnoRet` in its 16 data bits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ActionInfo {
    pub(crate) action: LinuxSeccompAction,
    pub(crate) name: &'static str,
    pub(crate) ret: u32,
    pub(crate) takes_data: bool,
}

pub(crate) const ACTIONS: &[ActionInfo] = &[
    act(
        LinuxSeccompAction::ScmpActKill,
        "SCMP_ACT_KILL",
        libc::SECCOMP_RET_KILL_THREAD,
        false,
    ),
    act(
        LinuxSeccompAction::ScmpActKillThread,
        "SCMP_ACT_KILL_THREAD",
        libc::SECCOMP_RET_KILL_THREAD,
        false,
    ),
    act(
        LinuxSeccompAction::ScmpActKillProcess,
        "SCMP_ACT_KILL_PROCESS",
        libc::SECCOMP_RET_KILL_PROCESS,
        false,
    ),
    act(
        LinuxSeccompAction::ScmpActTrap,
        "SCMP_ACT_TRAP",
        libc::SECCOMP_RET_TRAP,
        false,
    ),
    act(
        LinuxSeccompAction::ScmpActErrno,
        "SCMP_ACT_ERRNO",
        libc::SECCOMP_RET_ERRNO,
        true,
    ),
    act(
        LinuxSeccompAction::ScmpActNotify,
        "SCMP_ACT_NOTIFY",
        libc::SECCOMP_RET_USER_NOTIF,
        false,
    ),
    act(
        LinuxSeccompAction::ScmpActTrace,
        "SCMP_ACT_TRACE",
        libc::SECCOMP_RET_TRACE,
        true,
    ),
    act(
        LinuxSeccompAction::ScmpActLog,
        "SCMP_ACT_LOG",
        libc::SECCOMP_RET_LOG,
        false,
    ),
    act(
        LinuxSeccompAction::ScmpActAllow,
        "SCMP_ACT_ALLOW",
        libc::SECCOMP_RET_ALLOW,
        false,
    ),
];

const fn act(
    action: LinuxSeccompAction,
    name: &'static str,
    ret: u32,
    takes_data: bool,
) -> ActionInfo {
    ActionInfo {
        action,
        name,
        ret,
        takes_data,
    }
}

/// The comparison a `SCMP_CMP_*` operator asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Ne,
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
    MaskedEq,
}

pub(crate) const OPERATORS: &[(LinuxSeccompOperator, &str, Cmp)] = &[
    (LinuxSeccompOperator::ScmpCmpNe, "SCMP_CMP_NE", Cmp::Ne),
    (LinuxSeccompOperator::ScmpCmpLt, "SCMP_CMP_LT", Cmp::Lt),
    (LinuxSeccompOperator::ScmpCmpLe, "SCMP_CMP_LE", Cmp::Le),
    (LinuxSeccompOperator::ScmpCmpEq, "SCMP_CMP_EQ", Cmp::Eq),
    (LinuxSeccompOperator::ScmpCmpGe, "SCMP_CMP_GE", Cmp::Ge),
    (LinuxSeccompOperator::ScmpCmpGt, "SCMP_CMP_GT", Cmp::Gt),
    (
        LinuxSeccompOperator::ScmpCmpMaskedEq,
        "SCMP_CMP_MASKED_EQ",
        Cmp::MaskedEq,
    ),
];

/// `AUDIT_ARCH_*` values the kernel puts in `seccomp_data.arch`.
pub(crate) const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
pub(crate) const AUDIT_ARCH_I386: u32 = 0x4000_0003;
pub(crate) const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// x32 syscalls run under `AUDIT_ARCH_X86_64` with this bit set in the syscall number.
pub(crate) const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// What the filter needs to know about an architecture hull has a syscall table for.
#[derive(Debug)]
pub(crate) struct ArchInfo {
    /// `seccomp_data.arch` for this ABI (x32 shares x86_64's).
    pub(crate) audit: u32,
    /// Arguments are 32 bits wide: only the low word is compared (as libseccomp does).
    pub(crate) bits32: bool,
    /// Syscall numbers of this ABI all have [`X32_SYSCALL_BIT`] set (x32), or all have it clear.
    pub(crate) x32_bit: bool,
    /// This ABI's column in `tables::SYSCALLS`.
    pub(crate) col: usize,
}

pub(crate) static X86_64: ArchInfo = ArchInfo {
    audit: AUDIT_ARCH_X86_64,
    bits32: false,
    x32_bit: false,
    col: 0,
};
pub(crate) static X86: ArchInfo = ArchInfo {
    audit: AUDIT_ARCH_I386,
    bits32: true,
    x32_bit: false,
    col: 1,
};
pub(crate) static X32: ArchInfo = ArchInfo {
    audit: AUDIT_ARCH_X86_64,
    bits32: false,
    x32_bit: true,
    col: 2,
};
pub(crate) static AARCH64: ArchInfo = ArchInfo {
    audit: AUDIT_ARCH_AARCH64,
    bits32: false,
    x32_bit: false,
    col: 3,
};

/// Every OCI architecture name, with hull's syscall table where it has one. Architectures
/// without a table cannot run on the hosts hull supports; they are skipped with a warning.
pub(crate) const ARCHES: &[(Arch, &str, Option<&ArchInfo>)] = &[
    (Arch::ScmpArchNative, "SCMP_ARCH_NATIVE", None), // resolved by `native()`
    (Arch::ScmpArchX86, "SCMP_ARCH_X86", Some(&X86)),
    (Arch::ScmpArchX86_64, "SCMP_ARCH_X86_64", Some(&X86_64)),
    (Arch::ScmpArchX32, "SCMP_ARCH_X32", Some(&X32)),
    (Arch::ScmpArchArm, "SCMP_ARCH_ARM", None),
    (Arch::ScmpArchAarch64, "SCMP_ARCH_AARCH64", Some(&AARCH64)),
    (Arch::ScmpArchMips, "SCMP_ARCH_MIPS", None),
    (Arch::ScmpArchMips64, "SCMP_ARCH_MIPS64", None),
    (Arch::ScmpArchMips64n32, "SCMP_ARCH_MIPS64N32", None),
    (Arch::ScmpArchMipsel, "SCMP_ARCH_MIPSEL", None),
    (Arch::ScmpArchMipsel64, "SCMP_ARCH_MIPSEL64", None),
    (Arch::ScmpArchMipsel64n32, "SCMP_ARCH_MIPSEL64N32", None),
    (Arch::ScmpArchPpc, "SCMP_ARCH_PPC", None),
    (Arch::ScmpArchPpc64, "SCMP_ARCH_PPC64", None),
    (Arch::ScmpArchPpc64le, "SCMP_ARCH_PPC64LE", None),
    (Arch::ScmpArchS390, "SCMP_ARCH_S390", None),
    (Arch::ScmpArchS390x, "SCMP_ARCH_S390X", None),
    (Arch::ScmpArchParisc, "SCMP_ARCH_PARISC", None),
    (Arch::ScmpArchParisc64, "SCMP_ARCH_PARISC64", None),
    (Arch::ScmpArchRiscv64, "SCMP_ARCH_RISCV64", None),
    (Arch::ScmpArchLoongarch64, "SCMP_ARCH_LOONGARCH64", None),
    (Arch::ScmpArchM68k, "SCMP_ARCH_M68K", None),
    (Arch::ScmpArchSh, "SCMP_ARCH_SH", None),
    (Arch::ScmpArchSheb, "SCMP_ARCH_SHEB", None),
];

/// The OCI filter flags and their `SECCOMP_FILTER_FLAG_*` values.
pub(crate) const FLAGS: &[(LinuxSeccompFilterFlag, &str, u32)] = &[
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
        "SECCOMP_FILTER_FLAG_TSYNC",
        libc::SECCOMP_FILTER_FLAG_TSYNC as u32,
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagLog,
        "SECCOMP_FILTER_FLAG_LOG",
        libc::SECCOMP_FILTER_FLAG_LOG as u32,
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW as u32,
    ),
    (
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV as u32,
    ),
];

pub(crate) fn action(a: LinuxSeccompAction) -> &'static ActionInfo {
    ACTIONS
        .iter()
        .find(|i| i.action == a)
        .expect("every LinuxSeccompAction is in ACTIONS")
}

pub(crate) fn operator(op: LinuxSeccompOperator) -> (&'static str, Cmp) {
    let (_, name, cmp) = OPERATORS
        .iter()
        .find(|(o, _, _)| *o == op)
        .expect("every operator is in OPERATORS");
    (name, *cmp)
}

pub(crate) fn arch(a: Arch) -> (&'static str, Option<&'static ArchInfo>) {
    let (_, name, info) = ARCHES
        .iter()
        .find(|(x, _, _)| *x == a)
        .expect("every Arch is in ARCHES");
    if a == Arch::ScmpArchNative {
        return (name, native());
    }
    (name, *info)
}

pub(crate) fn flag(f: LinuxSeccompFilterFlag) -> (&'static str, u32) {
    let (_, name, v) = FLAGS
        .iter()
        .find(|(x, _, _)| *x == f)
        .expect("every flag is in FLAGS");
    (name, *v)
}

/// The architecture hull runs on (always part of the filter, as libseccomp does).
pub(crate) fn native() -> Option<&'static ArchInfo> {
    if cfg!(target_arch = "x86_64") {
        Some(&X86_64)
    } else if cfg!(target_arch = "x86") {
        Some(&X86)
    } else if cfg!(target_arch = "aarch64") {
        Some(&AARCH64)
    } else {
        None
    }
}

/// The OCI name of an `ArchInfo` (for messages).
pub(crate) fn arch_name(info: &ArchInfo) -> &'static str {
    ARCHES
        .iter()
        .find(|(_, _, i)| i.is_some_and(|i| std::ptr::eq(i, info)))
        .map(|(_, n, _)| *n)
        .unwrap_or("?")
}

/// A syscall's numbers in every ABI (one binary search for all of them).
pub(crate) fn resolve(name: &str) -> Option<&'static [u32; 4]> {
    let t = tables::SYSCALLS;
    t.binary_search_by(|(n, _)| (*n).cmp(name))
        .ok()
        .map(|i| &t[i].1)
}

/// A syscall's number in one ABI's column of a [`resolve`] row.
pub(crate) fn nr_in(info: &ArchInfo, row: &[u32; 4]) -> Option<u32> {
    Some(row[info.col]).filter(|n| *n != tables::NONE)
}

/// Name lookup in one ABI.
#[cfg(test)]
pub(crate) fn syscall_nr(info: &ArchInfo, name: &str) -> Option<u32> {
    resolve(name).and_then(|row| nr_in(info, row))
}

/// One ABI's whole table, sorted by name.
#[cfg(test)]
pub(crate) fn table(info: &ArchInfo) -> Vec<(&'static str, u32)> {
    tables::SYSCALLS
        .iter()
        .filter_map(|(n, row)| nr_in(info, row).map(|nr| (*n, nr)))
        .collect()
}
