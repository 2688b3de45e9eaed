//! OCI profile -> classic BPF.
//!
//! Program layout (execution order):
//!
//! ```text
//!   ld  arch
//!   jeq AUDIT_ARCH_1 -> S1          one test per audit arch, the native one first
//!   jeq AUDIT_ARCH_2 -> S2
//!   ret KILL_THREAD                 arch not in the profile (libseccomp's default bad-arch action)
//! S1: ld nr
//!   [x86_64: jge 0x40000000 -> HI]  x32 numbers: x32 part, or bad arch when x32 is not listed
//!   binary search (jge pivots) over the ABI's number space cut into segments: runs of
//!   neighbouring numbers with the same unconditional result share a segment (`ret ACTION`),
//!   numbers without rules get `ret DEFAULT`, a syscall with argument rules gets a rule block
//!   that tests each rule's conditions (AND) in turn and returns its action.
//! ```
//!
//! A lookup compares the number with log2(segments) pivots and no number twice; rule blocks sit
//! at their leaf, so only the top pivots need `ja` trampolines.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSyscall};

use crate::bpf::{self, Builder, Label, BPF_JEQ, BPF_JGE, BPF_JGT};
use crate::names::{self, ArchInfo, Cmp, X32_SYSCALL_BIT};
use crate::SeccompError;

/// One argument condition, already validated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cond {
    pub(crate) index: u32,
    pub(crate) cmp: Cmp,
    pub(crate) value: u64,
    pub(crate) value_two: u64,
}

/// One rule of one syscall: all conditions must hold (AND) to return `ret`.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) ret: u32,
    pub(crate) conds: Vec<Cond>,
}

/// The validated profile, independent of the kernel.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) default_ret: u32,
    pub(crate) bad_arch_ret: u32,
    /// Architectures to filter, native first, deduplicated.
    pub(crate) arches: Vec<&'static ArchInfo>,
    /// One rule per `syscalls[]` entry, in profile order.
    pub(crate) rules: Vec<Rule>,
    /// Per ABI: numbers above this one return ENOSYS (runc's stub), when set.
    pub(crate) enosys_above: Vec<Option<u32>>,
    /// Every resolved (ABI index in `arches`, syscall number, index in `rules`), profile order.
    pub(crate) calls: Vec<(usize, u32, usize)>,
    /// Actions used (for the kernel support check), as `SECCOMP_RET_*` without data.
    /// With the first field that uses each one (for the error when the kernel lacks it).
    pub(crate) actions_used: Vec<(&'static str, u32, String)>,
    pub(crate) flags: Vec<(&'static str, u32)>,
    pub(crate) uses_notify: bool,
    pub(crate) warnings: Vec<String>,
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SeccompError {
    SeccompError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

/// `action` + optional errnoRet -> full return value; `field` names the place in the profile.
fn action_ret(
    action: LinuxSeccompAction,
    errno_ret: Option<u32>,
    errno_field: &str,
) -> Result<u32, SeccompError> {
    let info = names::action(action);
    match errno_ret {
        Some(_) if !info.takes_data => Err(invalid(
            errno_field,
            format!(
                "is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {}",
                info.name
            ),
        )),
        Some(e) if e > libc::SECCOMP_RET_DATA => Err(invalid(
            errno_field,
            format!("{e} does not fit the 16-bit SECCOMP_RET_DATA (max 65535)"),
        )),
        Some(e) => Ok(info.ret | e),
        // libseccomp/runc: ERRNO without errnoRet is EPERM; TRACE's message defaults to EPERM too.
        None if info.takes_data => Ok(info.ret | libc::EPERM as u32),
        None => Ok(info.ret),
    }
}

/// Validate the profile and resolve every name; no kernel access.
pub(crate) fn plan(spec: &LinuxSeccomp) -> Result<Plan, SeccompError> {
    let mut warnings = Vec::new();
    let default = spec.default_action();
    if default == LinuxSeccompAction::ScmpActNotify {
        return Err(invalid(
            "defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action (as in runc/libseccomp)",
        ));
    }
    let default_ret = action_ret(default, spec.default_errno_ret(), "defaultErrnoRet")?;
    let mut actions_used = vec![(
        names::action(default).name,
        names::action(default).ret,
        "defaultAction".to_string(),
    )];

    // Architectures: native always, then the listed ones.
    let mut arches: Vec<&'static ArchInfo> = Vec::new();
    if let Some(n) = names::native() {
        arches.push(n);
    }
    for (i, a) in spec.architectures().iter().flatten().enumerate() {
        match names::arch(*a) {
            (_, Some(info)) => {
                if !arches.iter().any(|x| std::ptr::eq(*x, info)) {
                    arches.push(info);
                }
            }
            (name, None) => warnings.push(format!(
                "architectures[{i}]: {name} has no syscall table in hull and cannot run on this host; \
                 its syscalls get the bad-arch action"
            )),
        }
    }
    if arches.is_empty() {
        return Err(invalid(
            "architectures",
            "no architecture hull can filter (supported: x86_64, x86, x32, aarch64)",
        ));
    }

    let mut flags = Vec::new();
    for f in spec.flags().iter().flatten() {
        let nf = names::flag(*f);
        if !flags.contains(&nf) {
            flags.push(nf);
        }
    }

    let mut rules = Vec::new();
    let mut calls = Vec::new();
    let mut last_nr: Vec<Option<u32>> = vec![None; arches.len()];
    let mut uses_notify = false;
    for (si, sc) in spec.syscalls().iter().flatten().enumerate() {
        let field = format!("syscalls[{si}]");
        let rule = rule_of(sc, &field)?;
        let info = names::action(sc.action());
        if sc.names().is_empty() {
            return Err(invalid(format!("{field}.names"), "is empty"));
        }
        // A rule whose result is the default changes nothing (runc skips it too); its names
        // still count for the ENOSYS stub.
        let keep = rule.ret != default_ret;
        if keep && !actions_used.iter().any(|(n, _, _)| *n == info.name) {
            actions_used.push((info.name, info.ret, format!("{field}.action")));
        }
        let rule_index = rules.len();
        rules.push(rule);
        for (ni, name) in sc.names().iter().enumerate() {
            if name.is_empty() {
                return Err(invalid(
                    format!("{field}.names[{ni}]"),
                    "is an empty syscall name",
                ));
            }
            let mut known = false;
            let row = names::resolve(name);
            for (ai, a) in arches.iter().enumerate() {
                if let Some(nr) = row.and_then(|row| names::nr_in(a, row)) {
                    known = true;
                    last_nr[ai] = last_nr[ai].max(Some(nr));
                    if keep {
                        calls.push((ai, nr, rule_index));
                    }
                }
            }
            if !known {
                let list: Vec<&str> = arches.iter().map(|a| names::arch_name(a)).collect();
                warnings.push(format!(
                    "{field}.names[{ni}]: unknown syscall {name:?} on {} skipped",
                    list.join(", ")
                ));
                continue;
            }
            if keep && sc.action() == LinuxSeccompAction::ScmpActNotify {
                uses_notify = true;
            }
        }
    }
    if uses_notify && spec.listener_path().is_none() {
        return Err(invalid(
            "listenerPath",
            "SCMP_ACT_NOTIFY is used but listenerPath is not set",
        ));
    }
    // runc's ENOSYS stub: numbers above every syscall the profile names are newer than the
    // profile, so they fail with ENOSYS (glibc then falls back, e.g. clone3 -> clone) instead of
    // the default action. Not needed when the default lets calls through or is ENOSYS already.
    let enosys_ret = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    let lets_through = matches!(
        default,
        LinuxSeccompAction::ScmpActAllow | LinuxSeccompAction::ScmpActLog
    );
    let enosys_above = if lets_through || default_ret == enosys_ret {
        vec![None; arches.len()]
    } else {
        last_nr
    };
    Ok(Plan {
        default_ret,
        enosys_above,
        bad_arch_ret: libc::SECCOMP_RET_KILL_THREAD,
        arches,
        rules,
        calls,
        actions_used,
        flags,
        uses_notify,
        warnings,
    })
}

fn rule_of(sc: &LinuxSyscall, field: &str) -> Result<Rule, SeccompError> {
    let ret = action_ret(sc.action(), sc.errno_ret(), &format!("{field}.errnoRet"))?;
    let mut conds = Vec::new();
    for (ai, a) in sc.args().iter().flatten().enumerate() {
        if a.index() > 5 {
            return Err(invalid(
                format!("{field}.args[{ai}].index"),
                format!("{} is out of range 0..=5", a.index()),
            ));
        }
        let (_, cmp) = names::operator(a.op());
        conds.push(Cond {
            index: a.index() as u32,
            cmp,
            value: a.value(),
            value_two: a.value_two().unwrap_or(0),
        });
    }
    Ok(Rule { ret, conds })
}

/// Emit the program for a plan.
pub(crate) fn emit(plan: &Plan) -> Vec<libc::sock_filter> {
    let mut b = Builder::default();
    // Group ABIs by audit arch (x86_64 and x32 share one), keeping the native-first order.
    let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
    for (i, a) in plan.arches.iter().enumerate() {
        match groups.iter_mut().find(|(audit, _)| *audit == a.audit) {
            Some((_, v)) => v.push(i),
            None => groups.push((a.audit, vec![i])),
        }
    }
    let mut sections = Vec::new();
    for (_, abis) in groups.iter().rev() {
        sections.push(emit_section(&mut b, plan, abis));
    }
    sections.reverse();
    b.ret(plan.bad_arch_ret);
    for ((audit, _), label) in groups.iter().zip(sections.iter()).rev() {
        let next = b.here();
        b.jump(BPF_JEQ, *audit, *label, next);
    }
    b.load(bpf::OFF_ARCH);
    b.finish()
}

/// One audit arch: `ld nr`, then the ABI split (x86_64/x32) and the search trees.
fn emit_section(b: &mut Builder, plan: &Plan, abis: &[usize]) -> Label {
    let low = abis.iter().find(|a| !plan.arches[**a].x32_bit).copied();
    let high = abis.iter().find(|a| plan.arches[**a].x32_bit).copied();
    let x86_64_family = abis
        .iter()
        .any(|a| plan.arches[*a].audit == names::AUDIT_ARCH_X86_64);
    if x86_64_family {
        // HI: numbers with the x32 bit. -1 (a tracer skipping the call) gets the default action.
        match high {
            Some(x32) => emit_tree(b, plan, x32),
            None => b.ret(plan.bad_arch_ret),
        };
        let hi_rest = b.here();
        b.ret(plan.default_ret);
        let minus_one = b.here();
        let hi = b.jump(BPF_JEQ, u32::MAX, minus_one, hi_rest);
        let lo = match low {
            Some(l) => emit_tree(b, plan, l),
            None => b.ret(plan.bad_arch_ret),
        };
        b.jump(BPF_JGE, X32_SYSCALL_BIT, hi, lo);
    } else {
        emit_tree(b, plan, low.or(high).expect("a group has at least one ABI"));
    }
    b.load(bpf::OFF_NR)
}

/// What a syscall number leads to.
enum Target<'a> {
    /// An unconditional result.
    Ret(u32),
    /// Conditional rules (tried in order, the default when none matches).
    Rules(Vec<&'a Rule>),
}

/// One ABI's syscall space as a sorted partition into segments `[lo, next lo)`: numbers without
/// rules get the default, and neighbouring numbers with the same unconditional result share one
/// segment. A binary search over the segment starts (`jge`) then needs about 2 instructions per
/// segment, and each lookup compares the number against log2(segments) pivots.
fn emit_tree(b: &mut Builder, plan: &Plan, abi_index: usize) -> Label {
    let abi = plan.arches[abi_index];
    let mut calls: Vec<(u32, usize)> = plan
        .calls
        .iter()
        .filter(|c| c.0 == abi_index)
        .map(|c| (c.1, c.2))
        .collect();
    calls.sort_by_key(|c| c.0); // stable: profile order within one number
    let floor = if abi.x32_bit { X32_SYSCALL_BIT } else { 0 };
    let mut segs: Vec<(u32, Target)> = Vec::new();
    fn push<'a>(segs: &mut Vec<(u32, Target<'a>)>, lo: u32, t: Target<'a>) {
        if let (Some((_, Target::Ret(prev))), Target::Ret(r)) = (segs.last(), &t) {
            if prev == r {
                return;
            }
        }
        segs.push((lo, t));
    }
    let mut next = floor;
    for group in calls.chunk_by(|x, y| x.0 == y.0) {
        let nr = group[0].0;
        if nr > next {
            push(&mut segs, next, Target::Ret(plan.default_ret));
        }
        // Rule precedence, as measured with runc 1.1.5 + libseccomp: the first unconditional
        // rule of a syscall decides alone (it overrides conditional rules, whatever their
        // order); otherwise the conditional rules are tried in profile order.
        let rules = group.iter().map(|(_, r)| &plan.rules[*r]);
        let t = match rules.clone().find(|r| r.conds.is_empty()) {
            Some(r) => Target::Ret(r.ret),
            None => Target::Rules(rules.collect()),
        };
        push(&mut segs, nr, t);
        next = nr + 1;
    }
    match plan.enosys_above[abi_index] {
        Some(last) => {
            if next <= last {
                push(&mut segs, next, Target::Ret(plan.default_ret));
            }
            push(
                &mut segs,
                last + 1,
                Target::Ret(libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32),
            );
        }
        None => push(&mut segs, next, Target::Ret(plan.default_ret)),
    }
    emit_segments(b, plan, abi, &segs)
}

fn emit_segments(b: &mut Builder, plan: &Plan, abi: &ArchInfo, segs: &[(u32, Target)]) -> Label {
    if let [(_, t)] = segs {
        return match t {
            Target::Ret(r) => b.ret(*r),
            Target::Rules(rules) => emit_rules(b, plan, abi, rules),
        };
    }
    let mid = segs.len() / 2;
    let right = emit_segments(b, plan, abi, &segs[mid..]);
    let left = emit_segments(b, plan, abi, &segs[..mid]);
    b.jump(BPF_JGE, segs[mid].0, right, left)
}

/// Rules of one syscall, tried in order; the first whose conditions all hold returns.
fn emit_rules(b: &mut Builder, plan: &Plan, abi: &ArchInfo, rules: &[&Rule]) -> Label {
    let mut fail = if rules.last().is_some_and(|r| r.conds.is_empty()) {
        0
    } else {
        b.ret(plan.default_ret)
    };
    for rule in rules.iter().rev() {
        let mut succ = b.ret(rule.ret);
        for c in rule.conds.iter().rev() {
            succ = emit_cond(b, abi.bits32, c, succ, fail);
        }
        fail = succ;
    }
    fail
}

/// One argument comparison: falls through to `succ` when it holds, jumps to `fail` otherwise.
/// 64-bit values are compared as (high word, low word) pairs; 32-bit ABIs compare the low word.
fn emit_cond(b: &mut Builder, bits32: bool, c: &Cond, succ: Label, fail: Label) -> Label {
    let lo_off = bpf::OFF_ARGS + 8 * c.index;
    let hi_off = lo_off + 4;
    let (vh, vl) = ((c.value >> 32) as u32, c.value as u32);
    // Low word: the final decision.
    match c.cmp {
        Cmp::Eq => b.jump(BPF_JEQ, vl, succ, fail),
        Cmp::Ne => b.jump(BPF_JEQ, vl, fail, succ),
        Cmp::Gt => b.jump(BPF_JGT, vl, succ, fail),
        Cmp::Ge => b.jump(BPF_JGE, vl, succ, fail),
        Cmp::Lt => b.jump(BPF_JGE, vl, fail, succ),
        Cmp::Le => b.jump(BPF_JGT, vl, fail, succ),
        Cmp::MaskedEq => {
            b.jump(BPF_JEQ, c.value_two as u32, succ, fail);
            b.and(vl)
        }
    };
    let lo = b.load(lo_off);
    if bits32 {
        return lo;
    }
    // High word: decide when it differs, go on to the low word when equal.
    match c.cmp {
        Cmp::Eq => b.jump(BPF_JEQ, vh, lo, fail),
        Cmp::Ne => b.jump(BPF_JEQ, vh, lo, succ),
        Cmp::Gt | Cmp::Ge => {
            b.jump(BPF_JEQ, vh, lo, fail);
            let eq = b.here();
            b.jump(BPF_JGT, vh, succ, eq)
        }
        Cmp::Lt | Cmp::Le => {
            b.jump(BPF_JEQ, vh, lo, succ);
            let eq = b.here();
            b.jump(BPF_JGT, vh, fail, eq)
        }
        Cmp::MaskedEq => {
            b.jump(BPF_JEQ, (c.value_two >> 32) as u32, lo, fail);
            b.and(vh)
        }
    };
    b.load(hi_off)
}
