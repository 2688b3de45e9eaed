//! Process attributes beyond credentials: `process.scheduler` (sched_setattr), `process.ioPriority`
//! (ioprio_set), `process.execCPUAffinity` (sched_setaffinity) and the LSM fields
//! (`process.apparmorProfile`, `process.selinuxLabel`, `linux.mountLabel`).
//!
//! As elsewhere, the config is first turned into plain data in the parent ([`ProcessExtras::for_process`],
//! pure and unit-tested); the container init only applies it.

use crate::error::{Error, Result};
use nix::errno::Errno;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxSchedulerFlag, LinuxSchedulerPolicy, Process, Scheduler,
    Spec,
};

/// `struct sched_attr` of sched_setattr(2) (SCHED_ATTR_SIZE_VER0 + util clamps = VER1, 56 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

/// What the init applies after its rlimits (while it still holds its capabilities).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessExtras {
    pub scheduler: Option<SchedAttr>,
    /// The ioprio value (class << 13 | level).
    pub ioprio: Option<i32>,
    /// AppArmor profile to switch to at exec (only when AppArmor is enabled).
    pub apparmor: Option<String>,
}

fn policy_number(p: LinuxSchedulerPolicy) -> Result<u32> {
    Ok(match p {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => {
            return Err(Error::invalid(
                "process.scheduler.policy: SCHED_ISO is not implemented by Linux",
            ))
        }
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    })
}

fn flag_bit(f: LinuxSchedulerFlag) -> u64 {
    match f {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

/// `process.scheduler` → sched_attr, with the kernel's rules checked up front (runc 1.2 / the
/// runtime-spec: priority only for FIFO/RR, 1..99; nice -20..19; DEADLINE needs
/// runtime <= deadline <= period).
pub fn plan_scheduler(s: &Scheduler) -> Result<SchedAttr> {
    let policy = policy_number(*s.policy())?;
    let mut a = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy,
        ..Default::default()
    };
    for f in s.flags().iter().flatten() {
        a.flags |= flag_bit(*f);
    }
    if let Some(n) = s.nice() {
        if !(-20..=19).contains(n) {
            return Err(Error::invalid(format!(
                "process.scheduler.nice: {n} is out of range (-20..19)"
            )));
        }
        a.nice = *n;
    }
    let realtime = policy == 1 || policy == 2;
    match (s.priority(), realtime) {
        (Some(p), true) if (1..=99).contains(p) => a.priority = *p as u32,
        (Some(p), true) => {
            return Err(Error::invalid(format!(
                "process.scheduler.priority: {p} is out of range (1..99 for SCHED_FIFO/SCHED_RR)"
            )))
        }
        (None, true) => {
            return Err(Error::invalid(
                "process.scheduler.priority: required for SCHED_FIFO/SCHED_RR (1..99)",
            ))
        }
        (Some(p), false) if *p != 0 => {
            return Err(Error::invalid(format!(
            "process.scheduler.priority: {p} given, but only SCHED_FIFO/SCHED_RR take a priority"
        )))
        }
        _ => {}
    }
    if policy == 6 {
        let (r, d, p) = (
            s.runtime().unwrap_or(0),
            s.deadline().unwrap_or(0),
            s.period().unwrap_or(0),
        );
        let p = if p == 0 { d } else { p };
        if r == 0 || r > d || d > p {
            return Err(Error::invalid(format!(
                "process.scheduler: SCHED_DEADLINE needs 0 < runtime <= deadline <= period (got {r}, {d}, {p})"
            )));
        }
        a.runtime = r;
        a.deadline = d;
        a.period = p;
    } else if s.runtime().is_some() || s.deadline().is_some() || s.period().is_some() {
        return Err(Error::invalid(
            "process.scheduler: runtime/deadline/period are for SCHED_DEADLINE only",
        ));
    }
    Ok(a)
}

/// `process.ioPriority` → the ioprio_set value. Levels are 0..7 for RT and BE; IDLE has none.
pub fn plan_ioprio(p: &LinuxIOPriority) -> Result<i32> {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = p.priority();
    if !(0..=7).contains(&level) {
        return Err(Error::invalid(format!(
            "process.ioPriority.priority: {level} is out of range (0..7)"
        )));
    }
    let level = if class == 3 { 0 } else { level as i32 };
    Ok((class << 13) | level)
}

/// A CPU list (`0-3,7`) → CPU numbers. Used for `execCPUAffinity`.
pub fn parse_cpu_list(s: &str) -> std::result::Result<Vec<usize>, String> {
    let mut out = Vec::new();
    for part in s.split(',') {
        let part = part.trim();
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: usize = a.parse().map_err(|_| format!("bad CPU {a:?} in {s:?}"))?;
        let b: usize = b.parse().map_err(|_| format!("bad CPU {b:?} in {s:?}"))?;
        if a > b || b >= libc::CPU_SETSIZE as usize {
            return Err(format!("bad CPU range {part:?} in {s:?}"));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

fn file_says(path: &str, yes: &[&str]) -> bool {
    std::fs::read_to_string(path)
        .map(|s| yes.iter().any(|y| s.trim() == *y))
        .unwrap_or(false)
}

pub fn apparmor_enabled() -> bool {
    file_says("/sys/module/apparmor/parameters/enabled", &["Y"])
}

pub fn selinux_enabled() -> bool {
    std::path::Path::new("/sys/fs/selinux/enforce").exists()
}

impl ProcessExtras {
    /// Decide from a spec's process (tests; see [`ProcessExtras::for_process`]).
    pub fn plan_with(spec: &Spec, apparmor: bool, selinux: bool) -> Result<ProcessExtras> {
        let Some(p) = spec.process().as_ref() else {
            return Ok(ProcessExtras::default());
        };
        let mount_label = spec.linux().as_ref().and_then(|l| l.mount_label().clone());
        Self::for_process(p, mount_label.as_deref(), apparmor, selinux)
    }

    /// Decide from the config, in the parent (pure: whether AppArmor and SELinux are enabled
    /// comes in). The LSM rules follow runc 1.1.5 on a host without the LSM: an AppArmor
    /// profile or an SELinux label is an error (runc fails writing /proc/self/attr/exec, or
    /// refuses "selinux label is specified in config, but selinux is disabled or not
    /// supported"); hull says so before anything is created.
    pub fn for_process(
        p: &Process,
        mount_label: Option<&str>,
        apparmor: bool,
        selinux: bool,
    ) -> Result<ProcessExtras> {
        let mut x = ProcessExtras::default();
        if let Some(s) = p.scheduler() {
            x.scheduler = Some(plan_scheduler(s)?);
        }
        if let Some(io) = p.io_priority() {
            x.ioprio = Some(plan_ioprio(io)?);
        }
        if let Some(a) = p.exec_cpu_affinity() {
            for (name, v) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
                if let Some(v) = v.as_deref() {
                    parse_cpu_list(v).map_err(|e| {
                        Error::invalid(format!("process.execCPUAffinity.{name}: {e}"))
                    })?;
                }
            }
        }
        if let Some(prof) = p.apparmor_profile().as_deref().filter(|s| !s.is_empty()) {
            if !apparmor {
                return Err(Error::invalid(format!(
                    "process.apparmorProfile {prof:?}: AppArmor is not enabled on this host"
                )));
            }
            x.apparmor = Some(prof.to_string());
        }
        if let Some(l) = p.selinux_label().as_deref().filter(|s| !s.is_empty()) {
            return Err(Error::invalid(if selinux {
                format!("process.selinuxLabel {l:?}: SELinux labels are not supported by hull")
            } else {
                format!(
                    "process.selinuxLabel {l:?}: SELinux is disabled or not supported on this host"
                )
            }));
        }
        if let Some(l) = mount_label.filter(|s| !s.is_empty()) {
            return Err(Error::invalid(if selinux {
                format!("linux.mountLabel {l:?}: SELinux labels are not supported by hull")
            } else {
                format!("linux.mountLabel {l:?}: SELinux is disabled or not supported on this host")
            }));
        }
        Ok(x)
    }

    /// In the init, before capabilities are dropped (RT policies and negative nice need
    /// CAP_SYS_NICE; the RT I/O class needs CAP_SYS_ADMIN).
    pub fn apply(&self) -> Result<()> {
        if let Some(a) = &self.scheduler {
            // SAFETY: sched_setattr(0 = self, valid attr of the size it declares, flags 0).
            let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, a as *const SchedAttr, 0) };
            if rc != 0 {
                let e = Errno::last();
                let hint = if e == Errno::EPERM && (a.policy == 1 || a.policy == 2) {
                    " (realtime policies need CAP_SYS_NICE and, with RT group scheduling, realtime \
                     runtime in the container's cpu cgroup: cpu.rt_runtime_us)"
                } else {
                    ""
                };
                return Err(Error::sys(
                    format!("process.scheduler: sched_setattr{hint}"),
                    e,
                ));
            }
        }
        if let Some(v) = self.ioprio {
            const IOPRIO_WHO_PROCESS: libc::c_int = 1;
            // SAFETY: ioprio_set with integer arguments (0 = this process).
            let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, v) };
            if rc != 0 {
                return Err(Error::sys("process.ioPriority: ioprio_set", Errno::last()));
            }
        }
        Ok(())
    }

    /// Last thing before execve: switch AppArmor profile on exec.
    pub fn apply_lsm(&self) -> Result<()> {
        if let Some(p) = &self.apparmor {
            let data = format!("exec {p}");
            let r = crate::guard::proc_write("self/attr/apparmor/exec", data.as_bytes())
                .or_else(|_| crate::guard::proc_write("self/attr/exec", data.as_bytes()));
            r.map_err(|e| Error::invalid(format!("process.apparmorProfile {p:?}: {e}")))?;
        }
        Ok(())
    }
}

/// `execCPUAffinity.initial` for a process started by `hull exec`: pin the calling process
/// before it joins the container's cgroup. (`final` is left to the cgroup: see docs/environment.md.)
/// The runtime-spec says the field does not apply to the container's init process.
pub fn apply_cpu_affinity(cpus: &[usize]) -> Result<()> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays within CPU_SETSIZE (checked
    // by parse_cpu_list).
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: c < CPU_SETSIZE.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: sched_setaffinity on self with a valid set of the size given.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(Error::sys(
            "process.execCPUAffinity: sched_setaffinity",
            Errno::last(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(process_extra: serde_json::Value) -> Spec {
        let mut v = serde_json::json!({
            "ociVersion": "1.2.0",
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["true"], "cwd": "/"},
            "root": {"path": "rootfs"}
        });
        for (k, x) in process_extra.as_object().unwrap() {
            v["process"][k] = x.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn scheduler_rules() {
        let s = spec(serde_json::json!({"scheduler": {"policy": "SCHED_FIFO", "priority": 10}}));
        let x = ProcessExtras::plan_with(&s, false, false).unwrap();
        let a = x.scheduler.unwrap();
        assert_eq!((a.policy, a.priority, a.size), (1, 10, 56));
        let s = spec(
            serde_json::json!({"scheduler": {"policy": "SCHED_BATCH", "nice": 5, "flags": ["SCHED_RESET_ON_FORK"]}}),
        );
        let a = ProcessExtras::plan_with(&s, false, false)
            .unwrap()
            .scheduler
            .unwrap();
        assert_eq!((a.policy, a.nice, a.flags), (3, 5, 1));
        for bad in [
            serde_json::json!({"policy": "SCHED_RR"}),
            serde_json::json!({"policy": "SCHED_RR", "priority": 100}),
            serde_json::json!({"policy": "SCHED_OTHER", "priority": 3}),
            serde_json::json!({"policy": "SCHED_OTHER", "nice": 40}),
            serde_json::json!({"policy": "SCHED_DEADLINE", "runtime": 10, "deadline": 5}),
        ] {
            let s = spec(serde_json::json!({ "scheduler": bad }));
            let e = ProcessExtras::plan_with(&s, false, false)
                .unwrap_err()
                .to_string();
            assert!(e.contains("process.scheduler"), "{e}");
        }
    }

    #[test]
    fn ioprio_values() {
        let s =
            spec(serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 6}}));
        assert_eq!(
            ProcessExtras::plan_with(&s, false, false).unwrap().ioprio,
            Some((2 << 13) | 6)
        );
        let s =
            spec(serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}}));
        assert_eq!(
            ProcessExtras::plan_with(&s, false, false).unwrap().ioprio,
            Some(3 << 13)
        );
        let s =
            spec(serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 9}}));
        let e = ProcessExtras::plan_with(&s, false, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("process.ioPriority.priority"), "{e}");
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-3,7").unwrap(), vec![0, 1, 2, 3, 7]);
        assert_eq!(parse_cpu_list("1").unwrap(), vec![1]);
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("x").is_err());
    }

    #[test]
    fn lsm_fields_without_an_lsm_are_errors() {
        let s = spec(serde_json::json!({"apparmorProfile": "foo"}));
        let e = ProcessExtras::plan_with(&s, false, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("process.apparmorProfile") && e.contains("not enabled"),
            "{e}"
        );
        let x = ProcessExtras::plan_with(&s, true, false).unwrap();
        assert_eq!(x.apparmor.as_deref(), Some("foo"));
        let s = spec(serde_json::json!({"selinuxLabel": "system_u:system_r:container_t:s0"}));
        let e = ProcessExtras::plan_with(&s, false, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("process.selinuxLabel"), "{e}");
        // Empty strings mean "not set".
        let s = spec(serde_json::json!({"apparmorProfile": "", "selinuxLabel": ""}));
        assert!(ProcessExtras::plan_with(&s, false, false).is_ok());
    }
}
