//! Device rules: v1 devices.allow/deny lines, and the v2 eBPF (BPF_PROG_TYPE_CGROUP_DEVICE) program.
use crate::CgroupError;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;

/// A normalised device rule. `None` = wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceRule {
    pub allow: bool,
    /// 'a', 'b' or 'c'
    pub kind: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    /// ACC_* bits
    pub access: u32,
}

impl DeviceRule {
    pub fn from_oci(r: &LinuxDeviceCgroup, idx: usize) -> Result<Self, CgroupError> {
        let field = || format!("devices[{idx}]");
        let kind = match r.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => 'a',
            LinuxDeviceType::B => 'b',
            LinuxDeviceType::C | LinuxDeviceType::U => 'c',
            LinuxDeviceType::P => {
                return Err(CgroupError::value(
                    field(),
                    "type \"p\" (FIFO) cannot be used in a device cgroup rule",
                ))
            }
        };
        let num = |v: Option<i64>, what: &str| -> Result<Option<u32>, CgroupError> {
            match v {
                None | Some(-1) => Ok(None),
                Some(n) if (0..=u32::MAX as i64).contains(&n) => Ok(Some(n as u32)),
                Some(n) => Err(CgroupError::value(
                    field(),
                    format!("{what} {n} out of range"),
                )),
            }
        };
        let access = parse_access(r.access().as_deref().unwrap_or("rwm"))
            .map_err(|e| CgroupError::value(field(), e))?;
        Ok(DeviceRule {
            allow: r.allow(),
            kind,
            major: num(r.major(), "major")?,
            minor: num(r.minor(), "minor")?,
            access,
        })
    }

    /// The rule matches every device with every access.
    pub fn is_wildcard_all(&self) -> bool {
        self.kind == 'a'
            && self.major.is_none()
            && self.minor.is_none()
            && self.access == ACC_MKNOD | ACC_READ | ACC_WRITE
    }

    /// "c 1:3 rwm" as devices.allow/deny take it.
    pub fn v1_line(&self) -> String {
        let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_else(|| "*".into());
        let mut acc = String::new();
        if self.access & ACC_READ != 0 {
            acc.push('r');
        }
        if self.access & ACC_WRITE != 0 {
            acc.push('w');
        }
        if self.access & ACC_MKNOD != 0 {
            acc.push('m');
        }
        format!("{} {}:{} {}", self.kind, n(self.major), n(self.minor), acc)
    }
}

pub fn parse_access(s: &str) -> Result<u32, String> {
    if s.is_empty() {
        return Ok(ACC_MKNOD | ACC_READ | ACC_WRITE);
    }
    let mut a = 0;
    for c in s.chars() {
        a |= match c {
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            'm' => ACC_MKNOD,
            _ => return Err(format!("access {s:?}: only r, w and m are allowed")),
        };
    }
    Ok(a)
}

pub fn rules_from_oci(rules: &[LinuxDeviceCgroup]) -> Result<Vec<DeviceRule>, CgroupError> {
    rules
        .iter()
        .enumerate()
        .map(|(i, r)| DeviceRule::from_oci(r, i))
        .collect()
}

fn rule(
    allow: bool,
    kind: char,
    major: Option<u32>,
    minor: Option<u32>,
    acc: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(allow);
    r.set_typ(Some(match kind {
        'b' => LinuxDeviceType::B,
        'c' => LinuxDeviceType::C,
        _ => LinuxDeviceType::A,
    }));
    r.set_major(major.map(i64::from));
    r.set_minor(minor.map(i64::from));
    r.set_access(Some(acc.to_string()));
    r
}

/// The default device rules runc gives every container (deny all, then mknod of any node and
/// rwm on null, zero, full, random, urandom, tty, console, ptmx and the pts). The runtime puts
/// these before the config's own rules, as runc does.
pub fn default_device_rules() -> Vec<LinuxDeviceCgroup> {
    vec![
        rule(false, 'a', None, None, "rwm"),
        rule(true, 'c', None, None, "m"),
        rule(true, 'b', None, None, "m"),
        rule(true, 'c', Some(1), Some(3), "rwm"),
        rule(true, 'c', Some(1), Some(5), "rwm"),
        rule(true, 'c', Some(1), Some(7), "rwm"),
        rule(true, 'c', Some(1), Some(8), "rwm"),
        rule(true, 'c', Some(1), Some(9), "rwm"),
        rule(true, 'c', Some(5), Some(0), "rwm"),
        rule(true, 'c', Some(5), Some(1), "rwm"),
        rule(true, 'c', Some(5), Some(2), "rwm"),
        rule(true, 'c', Some(136), None, "rwm"),
    ]
}

/// The effective program semantics, as cgroup v1 applies rules: start from "allow all"; a
/// wildcard rule ("a *:* rwm") resets the default and forgets earlier rules; otherwise the last
/// matching rule decides. Returns (default_allow, remaining rules in order).
pub fn effective(rules: &[DeviceRule]) -> (bool, Vec<DeviceRule>) {
    let mut default_allow = true;
    let mut list: Vec<DeviceRule> = Vec::new();
    for r in rules {
        if r.is_wildcard_all() {
            default_allow = r.allow;
            list.clear();
        } else {
            list.push(*r);
        }
    }
    (default_allow, list)
}

/// Decide a request the way the generated program does (used by unit tests to cross-check).
pub fn decide(rules: &[DeviceRule], kind: char, major: u32, minor: u32, access: u32) -> bool {
    let (default_allow, list) = effective(rules);
    for r in list.iter().rev() {
        if (r.kind == 'a' || r.kind == kind)
            && r.access & access == access
            && r.major.is_none_or(|m| m == major)
            && r.minor.is_none_or(|m| m == minor)
        {
            return r.allow;
        }
    }
    default_allow
}

// ---- eBPF ----------------------------------------------------------------------------------

/// One struct bpf_insn, encoded as the kernel reads it (little-endian x86_64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct BpfInsn {
    pub code: u8,
    /// dst_reg (low 4 bits) | src_reg << 4
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

const BPF_LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const BPF_ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const BPF_ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const BPF_ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const BPF_ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const BPF_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const BPF_JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const BPF_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

const fn ins(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> BpfInsn {
    BpfInsn {
        code,
        regs: (dst & 0xf) | (src << 4),
        off,
        imm,
    }
}

/// Registers after the prologue: r2 = device type (BPF_DEVCG_DEV_BLOCK=1 / CHAR=2),
/// r3 = access (BPF_DEVCG_ACC_*), r4 = major, r5 = minor; r1 is scratch afterwards.
fn prologue() -> Vec<BpfInsn> {
    vec![
        // struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }
        ins(BPF_LDX_MEM_W, 2, 1, 0, 0),        // r2 = ctx->access_type
        ins(BPF_ALU32_AND_K, 2, 0, 0, 0xffff), // w2 &= 0xffff  (type)
        ins(BPF_LDX_MEM_W, 3, 1, 0, 0),        // r3 = ctx->access_type
        ins(BPF_ALU32_RSH_K, 3, 0, 0, 16),     // w3 >>= 16     (access)
        ins(BPF_LDX_MEM_W, 4, 1, 4, 0),        // r4 = ctx->major
        ins(BPF_LDX_MEM_W, 5, 1, 8, 0),        // r5 = ctx->minor
    ]
}

fn ret(allow: bool) -> [BpfInsn; 2] {
    [
        ins(BPF_ALU64_MOV_K, 0, 0, 0, allow as i32),
        ins(BPF_EXIT, 0, 0, 0, 0),
    ]
}

/// Compile device rules to a BPF_PROG_TYPE_CGROUP_DEVICE program: rules are tested last to
/// first (the last matching rule wins); a request matches a rule when its access bits are a
/// subset of the rule's. Falls through to the default (see [`effective`]).
pub fn compile(rules: &[DeviceRule]) -> Vec<BpfInsn> {
    let (default_allow, list) = effective(rules);
    let mut prog = prologue();
    for r in list.iter().rev() {
        // Each check jumps to the end of this block when it fails: build the block, then fix offsets.
        let mut block: Vec<(BpfInsn, bool)> = Vec::new();
        match r.kind {
            'b' => block.push((ins(BPF_JNE_K, 2, 0, 0, 1), true)),
            'c' => block.push((ins(BPF_JNE_K, 2, 0, 0, 2), true)),
            _ => {}
        }
        if r.access != ACC_MKNOD | ACC_READ | ACC_WRITE {
            block.push((ins(BPF_ALU32_MOV_X, 1, 3, 0, 0), false)); // w1 = w3
            block.push((ins(BPF_ALU32_AND_K, 1, 0, 0, r.access as i32), false)); // w1 &= acc
            block.push((ins(BPF_JNE_X, 1, 3, 0, 0), true)); // if w1 != w3 (not a subset): next
        }
        if let Some(m) = r.major {
            block.push((ins(BPF_JNE_K, 4, 0, 0, m as i32), true));
        }
        if let Some(m) = r.minor {
            block.push((ins(BPF_JNE_K, 5, 0, 0, m as i32), true));
        }
        let [a, b] = ret(r.allow);
        block.push((a, false));
        block.push((b, false));
        let len = block.len();
        for (i, (mut insn, jump)) in block.into_iter().enumerate() {
            if jump {
                insn.off = (len - i - 1) as i16;
            }
            prog.push(insn);
        }
    }
    prog.extend(ret(default_allow));
    prog
}

// ---- bpf(2) ---------------------------------------------------------------------------------

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// # Safety
/// `attr` must point to a live bpf_attr variant for `cmd` of `size` bytes.
unsafe fn sys_bpf<T>(cmd: libc::c_int, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: the caller passes a properly laid-out attr; the kernel reads/writes at most size bytes.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T as *mut libc::c_void,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn bpf_err(op: &'static str, path: &Path, source: std::io::Error, log: String) -> CgroupError {
    CgroupError::Bpf {
        op,
        path: path.to_path_buf(),
        log,
        source,
    }
}

/// Load the program into the kernel; returns its fd.
pub fn load(prog: &[BpfInsn], path: &Path) -> Result<OwnedFd, CgroupError> {
    let license = b"Apache\0";
    let mut log = vec![0u8; 64 * 1024];
    let mut name = [0u8; 16];
    name[..9].copy_from_slice(b"hull_devs");
    let mut attr = ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: prog.len() as u32,
        insns: prog.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    // SAFETY: attr is a BPF_PROG_LOAD attr whose pointers (insns, license, log) outlive the call.
    match unsafe { sys_bpf(BPF_PROG_LOAD, &mut attr) } {
        // SAFETY: on success the kernel returned a new fd that nothing else owns.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(0);
            let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
            let text = if text.is_empty() {
                String::new()
            } else {
                format!("; verifier: {text}")
            };
            Err(bpf_err("BPF_PROG_LOAD", path, e, text))
        }
    }
}

/// Ids of the device programs attached to the cgroup.
pub fn query(cgroup: &OwnedFd, path: &Path) -> Result<Vec<u32>, CgroupError> {
    let mut ids = vec![0u32; 64];
    let mut attr = QueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    // SAFETY: attr is a BPF_PROG_QUERY attr; prog_ids points to prog_cnt u32s we own.
    unsafe { sys_bpf(BPF_PROG_QUERY, &mut attr) }
        .map_err(|e| bpf_err("BPF_PROG_QUERY", path, e, String::new()))?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

/// Attach `prog` to the cgroup, then detach the device programs that were there before, so
/// that the cgroup is never without a filter during an update (runc does the same).
pub fn attach_replacing(cgroup: &OwnedFd, prog: &OwnedFd, path: &Path) -> Result<(), CgroupError> {
    let old = query(cgroup, path)?;
    let mut attr = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    // SAFETY: attr is a BPF_PROG_ATTACH attr with two fds we hold open.
    unsafe { sys_bpf(BPF_PROG_ATTACH, &mut attr) }
        .map_err(|e| bpf_err("BPF_PROG_ATTACH", path, e, String::new()))?;
    for id in old {
        let mut g = GetFdAttr {
            prog_id: id,
            ..Default::default()
        };
        // SAFETY: attr is a BPF_PROG_GET_FD_BY_ID attr.
        let fd = match unsafe { sys_bpf(BPF_PROG_GET_FD_BY_ID, &mut g) } {
            // SAFETY: a fresh fd returned by the kernel.
            Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd as i32) },
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(bpf_err("BPF_PROG_GET_FD_BY_ID", path, e, String::new())),
        };
        let mut d = AttachAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_bpf_fd: fd.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..Default::default()
        };
        // SAFETY: attr is a BPF_PROG_DETACH attr with two fds we hold open.
        match unsafe { sys_bpf(BPF_PROG_DETACH, &mut d) } {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(bpf_err("BPF_PROG_DETACH", path, e, String::new())),
        }
    }
    Ok(())
}

/// Parse one devices.list line ("c 1:3 rwm", "a *:* rwm") as an allow rule.
pub fn parse_v1_list_line(line: &str) -> Option<DeviceRule> {
    let mut it = line.split_whitespace();
    let kind = it.next()?.chars().next()?;
    let (maj, min) = it.next()?.split_once(':')?;
    let access = parse_access(it.next()?).ok()?;
    let num = |s: &str| -> Option<Option<u32>> {
        if s == "*" {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    Some(DeviceRule {
        allow: true,
        kind,
        major: num(maj)?,
        minor: num(min)?,
        access,
    })
}

/// The writes that take a v1 devices cgroup from its current `devices.list` to `rules` without
/// a moment where a device allowed before and after is denied (the plain way, "deny all" then
/// the allows, briefly denies everything in a running container). Returns None when there is no
/// such path (the cgroup currently allows all, or the target is not "deny all + allows"); the
/// caller then writes the rules in order. Each item: (allow?, line).
pub fn v1_update_plan(current_list: &str, rules: &[DeviceRule]) -> Option<Vec<(bool, String)>> {
    let (default_allow, target) = effective(rules);
    let current: Vec<DeviceRule> = current_list
        .lines()
        .filter_map(parse_v1_list_line)
        .collect();
    if default_allow
        || target.iter().any(|r| !r.allow)
        || current.iter().any(DeviceRule::is_wildcard_all)
    {
        return None;
    }
    let same_dev = |a: &DeviceRule, b: &DeviceRule| {
        a.kind == b.kind && a.major == b.major && a.minor == b.minor
    };
    let mut plan: Vec<(bool, String)> = target.iter().map(|r| (true, r.v1_line())).collect();
    for c in &current {
        let keep = target
            .iter()
            .filter(|t| same_dev(t, c))
            .fold(0, |a, t| a | t.access);
        let drop = c.access & !keep;
        if drop != 0 {
            plan.push((
                false,
                DeviceRule {
                    allow: false,
                    access: drop,
                    ..*c
                }
                .v1_line(),
            ));
        }
    }
    Some(plan)
}
