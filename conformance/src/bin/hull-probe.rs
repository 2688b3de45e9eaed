//! hull-probe: a small static program copied into each conformance bundle.
//!
//! It runs inside the container and reports, as one JSON object per line on stdout, what it
//! sees from there. Its arguments are a list of actions run in order:
//!
//! | action              | what it does                                                      |
//! |---------------------|-------------------------------------------------------------------|
//! | `report`            | ids, caps, rlimits, mounts, devices, namespaces, cgroup, fds, ... |
//! | `write PATH`        | create/truncate PATH and write one byte; report the errno         |
//! | `read PATH`         | read PATH (first 64 KiB); report errno and content                |
//! | `stat PATH`         | lstat PATH; report kind, mode, owner, device numbers, link target |
//! | `ls PATH`           | list a directory                                                  |
//! | `syscall NR [ARGS]` | raw syscall with up to 6 integer args; report return and errno    |
//! | `sleep SECS`        | sleep                                                             |
//! | `waitsig`           | block every catchable signal, print `ready`, report the first one |
//! | `tick MS`           | forever: print an increasing counter every MS milliseconds       |
//! | `fork`              | fork a child that exits at once; report the errno of fork         |
//! | `exit N`            | exit with status N                                                |
use serde_json::{json, Map, Value};
use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn emit(v: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn read_lossy(path: &str) -> Option<String> {
    fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn status_fields() -> Map<String, Value> {
    let mut m = Map::new();
    for line in read_lossy("/proc/self/status").unwrap_or_default().lines() {
        if let Some((k, v)) = line.split_once(':') {
            m.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
        }
    }
    m
}

const RLIMITS: &[(&str, u32)] = &[
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
];

fn rlimits() -> Value {
    let mut m = Map::new();
    for (name, res) in RLIMITS {
        let mut rl = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes into the rlimit struct we own.
        let r = unsafe { libc::getrlimit(*res, &mut rl) };
        if r == 0 {
            m.insert(name.to_string(), json!([rl.rlim_cur, rl.rlim_max]));
        }
    }
    Value::Object(m)
}

/// For each stdio fd: whether the mount it lies on (mnt_id in /proc/self/fdinfo) is one of this
/// mount namespace's (an fd of the host's /dev/null is not; CRIU cannot dump such an fd).
fn stdio_mounts_inside() -> Value {
    let ids: Vec<String> = read_lossy("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').next().map(str::to_string))
        .collect();
    let inside = |fd: i32| {
        read_lossy(&format!("/proc/self/fdinfo/{fd}"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("mnt_id:").map(|v| v.trim().to_string()))
            .map(|id| ids.contains(&id))
    };
    json!((0..3).map(inside).collect::<Vec<_>>())
}

fn mounts() -> Value {
    let mut v = Vec::new();
    for line in read_lossy("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
    {
        // id parent maj:min root mountpoint options [optional...] - fstype source superopts
        let (left, right) = match line.split_once(" - ") {
            Some(p) => p,
            None => continue,
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 3 {
            continue;
        }
        v.push(json!({
            "id": l[0], "parent": l[1], "root": unescape(l[3]), "mountpoint": unescape(l[4]),
            "options": l[5], "optional": l[6..].join(" "),
            "fstype": r[0], "source": unescape(r[1]), "superopts": r[2],
        }));
    }
    Value::Array(v)
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

fn stat_json(path: &str) -> Value {
    match fs::symlink_metadata(path) {
        Err(e) => json!({"path": path, "errno": e.raw_os_error().unwrap_or(-1)}),
        Ok(md) => {
            let ft = md.file_type();
            let kind = if ft.is_symlink() {
                "l"
            } else if ft.is_dir() {
                "d"
            } else if ft.is_char_device() {
                "c"
            } else if ft.is_block_device() {
                "b"
            } else if ft.is_fifo() {
                "p"
            } else if ft.is_socket() {
                "s"
            } else {
                "f"
            };
            let rdev = md.rdev();
            let link = fs::read_link(path)
                .ok()
                .map(|p| p.to_string_lossy().into_owned());
            json!({
                "path": path, "errno": 0, "kind": kind, "mode": md.mode() & 0o7777,
                "uid": md.uid(), "gid": md.gid(),
                "major": libc::major(rdev), "minor": libc::minor(rdev), "link": link,
                "size": md.size(),
            })
        }
    }
}

fn devices() -> Value {
    let mut m = Map::new();
    for dir in ["/dev", "/dev/pts"] {
        if let Ok(rd) = fs::read_dir(dir) {
            for e in rd.flatten() {
                let p = format!("{dir}/{}", e.file_name().to_string_lossy());
                m.insert(p.clone(), stat_json(&p));
            }
        }
    }
    Value::Object(m)
}

fn link_map(dir: &str) -> Value {
    let mut m = Map::new();
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let target = fs::read_link(e.path())
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            m.insert(name, Value::String(target));
        }
    }
    Value::Object(m)
}

fn uts() -> (String, String) {
    // SAFETY: utsname is plain old data; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid, writable utsname.
    unsafe { libc::uname(&mut u) };
    let f = |a: &[libc::c_char]| {
        let bytes: Vec<u8> = a
            .iter()
            .take_while(|c| **c != 0)
            .map(|c| *c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    (f(&u.nodename), f(&u.domainname))
}

fn report() -> Value {
    // SAFETY: these id getters have no preconditions.
    let (uid, gid, euid, egid, pid, ppid) = unsafe {
        (
            libc::getuid(),
            libc::getgid(),
            libc::geteuid(),
            libc::getegid(),
            libc::getpid(),
            libc::getppid(),
        )
    };
    let mut groups = vec![0 as libc::gid_t; 256];
    // SAFETY: the buffer holds 256 gids and we pass that length.
    let n = unsafe { libc::getgroups(256, groups.as_mut_ptr()) };
    groups.truncate(n.max(0) as usize);
    // SAFETY: personality(0xffffffff) only queries the current persona.
    let persona = unsafe { libc::personality(0xffff_ffff) };
    // SAFETY: ioprio_get(IOPRIO_WHO_PROCESS=1, 0) only reads our own I/O priority.
    let ioprio = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, 0) };
    // SAFETY: isatty, getsid and getpgrp have no memory-safety preconditions.
    let ttys: Vec<bool> = (0..3).map(|fd| unsafe { libc::isatty(fd) == 1 }).collect();
    // SAFETY: as above.
    let (sid, pgid) = unsafe { (libc::getsid(0), libc::getpgrp()) };
    let (hostname, domainname) = uts();
    let status = status_fields();
    let pick = |k: &str| status.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "op": "report",
        "pid": pid, "ppid": ppid, "sid": sid, "pgid": pgid,
        "uid": uid, "gid": gid, "euid": euid, "egid": egid, "groups": groups,
        "caps": {
            "inheritable": pick("CapInh"), "permitted": pick("CapPrm"), "effective": pick("CapEff"),
            "bounding": pick("CapBnd"), "ambient": pick("CapAmb"),
        },
        "no_new_privs": pick("NoNewPrivs"), "seccomp": pick("Seccomp"), "umask": pick("Umask"),
        "rlimits": rlimits(),
        "mounts": mounts(),
        "stdio_mounts_inside": stdio_mounts_inside(),
        "devices": devices(),
        "hostname": hostname, "domainname": domainname,
        "cgroup": read_lossy("/proc/self/cgroup").unwrap_or_default(),
        "ns": link_map("/proc/self/ns"),
        "fds": link_map("/proc/self/fd"),
        "cwd": std::env::current_dir().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default(),
        "env": std::env::vars_os().map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())).collect::<Vec<_>>(),
        "args": std::env::args().collect::<Vec<_>>(),
        "oom_score_adj": read_lossy("/proc/self/oom_score_adj").map(|s| s.trim().to_string()),
        "personality": persona, "ioprio": ioprio,
        "ttys": ttys,
    })
}

fn write_file(path: &str) -> Value {
    let r = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(b"x"));
    let e = r.err().map(|e| e.raw_os_error().unwrap_or(-1)).unwrap_or(0);
    json!({"op": "write", "path": path, "errno": e})
}

fn read_file(path: &str) -> Value {
    match fs::read(path) {
        Ok(b) => {
            let b = &b[..b.len().min(65536)];
            json!({"op": "read", "path": path, "errno": 0, "data": String::from_utf8_lossy(b)})
        }
        Err(e) => json!({"op": "read", "path": path, "errno": e.raw_os_error().unwrap_or(-1)}),
    }
}

fn list_dir(path: &str) -> Value {
    match fs::read_dir(path) {
        Ok(rd) => {
            let mut names: Vec<String> = rd
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            json!({"op": "ls", "path": path, "errno": 0, "entries": names})
        }
        Err(e) => json!({"op": "ls", "path": path, "errno": e.raw_os_error().unwrap_or(-1)}),
    }
}

fn parse_num(s: &str) -> i64 {
    if let Some(h) = s.strip_prefix("0x") {
        i64::from_str_radix(h, 16).unwrap_or(0)
    } else {
        s.parse().unwrap_or(0)
    }
}

fn raw_syscall(nr: i64, a: &[i64]) -> Value {
    let g = |i: usize| a.get(i).copied().unwrap_or(0);
    // SAFETY: the harness only asks for syscalls whose integer arguments are not pointers
    // (getppid, getpriority, personality query...), so no memory is touched.
    let ret = unsafe { libc::syscall(nr, g(0), g(1), g(2), g(3), g(4), g(5)) };
    let e = if ret == -1 { errno() } else { 0 };
    json!({"op": "syscall", "nr": nr, "ret": ret, "errno": e})
}

fn wait_signal() -> Value {
    // SAFETY: sigset_t is plain data initialised by sigfillset; sigprocmask and sigwaitinfo
    // only read/write the sets and siginfo we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        emit(json!({"op": "ready"}));
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let sig = libc::sigwaitinfo(&set, &mut info);
        json!({"op": "signal", "signal": sig})
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    while i < args.len() {
        match args[i].as_str() {
            "report" => emit(report()),
            "write" => {
                emit(write_file(&arg(i + 1)));
                i += 1;
            }
            "read" => {
                emit(read_file(&arg(i + 1)));
                i += 1;
            }
            "stat" => {
                let mut v = stat_json(&arg(i + 1));
                v["op"] = json!("stat");
                emit(v);
                i += 1;
            }
            "ls" => {
                emit(list_dir(&arg(i + 1)));
                i += 1;
            }
            "syscall" => {
                let nr = parse_num(&arg(i + 1));
                let mut a = Vec::new();
                let mut j = i + 2;
                while j < args.len()
                    && args[j].starts_with(|c: char| c.is_ascii_digit() || c == '-')
                {
                    a.push(parse_num(&args[j]));
                    j += 1;
                }
                emit(raw_syscall(nr, &a));
                i = j - 1;
            }
            "sleep" => {
                let s: f64 = arg(i + 1).parse().unwrap_or(1.0);
                std::thread::sleep(std::time::Duration::from_secs_f64(s));
                i += 1;
            }
            "waitsig" => emit(wait_signal()),
            "tick" => {
                let ms: u64 = arg(i + 1).parse().unwrap_or(50);
                let mut n = 0u64;
                loop {
                    emit(json!({"op": "tick", "n": n}));
                    n += 1;
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                }
            }
            "fork" => {
                // SAFETY: the child only calls _exit, which is async-signal-safe.
                let pid = unsafe { libc::fork() };
                if pid == 0 {
                    // SAFETY: _exit ends the child without running the parent's destructors.
                    unsafe { libc::_exit(0) };
                }
                let e = if pid < 0 { errno() } else { 0 };
                if pid > 0 {
                    // SAFETY: waiting for our own child; status is a valid out-pointer.
                    unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
                }
                emit(json!({"op": "fork", "errno": e}));
            }
            "exit" => std::process::exit(arg(i + 1).parse().unwrap_or(0)),
            "umask" => {
                let m = u32::from_str_radix(&arg(i + 1), 8).unwrap_or(0o22);
                // SAFETY: umask has no preconditions.
                unsafe { libc::umask(m as libc::mode_t) };
                i += 1;
            }
            "exec" => {
                let rest: Vec<CString> = args[i + 1..]
                    .iter()
                    .map(|s| CString::new(s.as_str()).unwrap_or_default())
                    .collect();
                let mut ptrs: Vec<*const libc::c_char> = rest.iter().map(|c| c.as_ptr()).collect();
                ptrs.push(std::ptr::null());
                // SAFETY: ptrs is a NULL-terminated array of valid C strings that outlive the call.
                unsafe { libc::execvp(ptrs[0], ptrs.as_ptr()) };
                emit(json!({"op": "exec", "errno": errno()}));
                std::process::exit(127);
            }
            other => emit(json!({"op": "error", "unknown": other})),
        }
        i += 1;
    }
}
