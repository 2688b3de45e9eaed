//! config.md#process (+ config-linux.md process fields): args, env, cwd, user, terminal,
//! rlimits, capabilities, noNewPrivileges, oomScoreAdj, umask, ioPriority, scheduler.
use crate::harness::{cap_mask, caps_to_mask, Bad, Ctx, PROBE, R};
use crate::{case, check, check_eq, fail, Case};
use serde_json::{json, Value};
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

const P: &str = "config.md#process";
const USER: &str = "config.md#user";
const CAPS: &str = "config.md#linux-process (capabilities)";
const ENGINES: &str = "engine compatibility (podman, ctr --privileged ask for every capability)";
const RL: &str = "config.md#posix-process (rlimits)";

const RLIMIT_TYPES: &[(&str, u64, u64)] = &[
    ("RLIMIT_CPU", 3000, 4000),
    ("RLIMIT_FSIZE", 1 << 30, 1 << 31),
    ("RLIMIT_DATA", 1 << 32, 1 << 33),
    ("RLIMIT_STACK", 4 << 20, 6 << 20),
    ("RLIMIT_CORE", 1000, 2000),
    ("RLIMIT_RSS", 1 << 30, 1 << 31),
    ("RLIMIT_NPROC", 1000, 2000),
    ("RLIMIT_NOFILE", 512, 777),
    ("RLIMIT_MEMLOCK", 4096, 8192),
    ("RLIMIT_AS", 1 << 34, 1 << 35),
    ("RLIMIT_LOCKS", 100, 200),
    ("RLIMIT_SIGPENDING", 1000, 2000),
    ("RLIMIT_MSGQUEUE", 4096, 8192),
    // RLIMIT_NICE and RLIMIT_RTPRIO: the hard limit is 0 on these hosts and cannot be raised
    // without CAP_SYS_RESOURCE, so no value would tell a runtime that applies them from one that does not.
    ("RLIMIT_RTTIME", 100000, 200000),
];

fn report_of(c: &mut Ctx, f: impl FnOnce(&mut Value)) -> R<Value> {
    let mut cfg = c.config(&[]);
    f(&mut cfg);
    c.report(cfg)
}

fn caps_case(set: &'static str, key: &'static str) -> Case {
    case(CAPS, format!("caps-{set}"), move |c| {
        // a distinct list per set so a runtime that mixes the sets up fails
        let bnd = [
            "CAP_CHOWN",
            "CAP_KILL",
            "CAP_SETUID",
            "CAP_SETGID",
            "CAP_NET_BIND_SERVICE",
            "CAP_AUDIT_WRITE",
            "CAP_SYS_CHROOT",
        ];
        let prm = [
            "CAP_CHOWN",
            "CAP_KILL",
            "CAP_SETUID",
            "CAP_SETGID",
            "CAP_NET_BIND_SERVICE",
        ];
        // for uid 0 execve sets effective = permitted (capabilities(7)), so they are configured equal
        let eff = prm;
        let inh = ["CAP_KILL", "CAP_NET_BIND_SERVICE"];
        let amb = ["CAP_KILL"];
        let r = report_of(c, |cfg| {
            cfg["process"]["capabilities"] = json!({"bounding": bnd, "permitted": prm, "effective": eff, "inheritable": inh, "ambient": amb});
        })?;
        let want = match set {
            "bounding" => caps_to_mask(&bnd),
            "permitted" => caps_to_mask(&prm),
            "effective" => caps_to_mask(&eff),
            "inheritable" => caps_to_mask(&inh),
            _ => caps_to_mask(&amb),
        };
        let got = cap_mask(&r["caps"][key]);
        check!(got == want, "{set} set is {got:#x}, want {want:#x}");
        Ok(())
    })
}

/// Receive the pty master sent by the runtime on the console socket.
fn console_listener(path: &std::path::Path) -> R<std::thread::JoinHandle<Result<Vec<u8>, String>>> {
    let l = std::os::unix::net::UnixListener::bind(path)
        .map_err(|e| Bad::Fail(format!("bind {}: {e}", path.display())))?;
    l.set_nonblocking(true).ok();
    Ok(std::thread::spawn(move || -> Result<Vec<u8>, String> {
        let end = Instant::now() + Duration::from_secs(20);
        let conn = loop {
            match l.accept() {
                Ok((s, _)) => break s,
                Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("no connection on the console socket: {e}")),
            }
        };
        conn.set_nonblocking(false).ok();
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let mut buf = [0u8; 4096];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 2]);
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::empty(),
        )
        .map_err(|e| format!("recvmsg: {e}"))?;
        let mut master = None;
        for cm in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
            if let ControlMessageOwned::ScmRights(fds) = cm {
                for fd in fds {
                    // SAFETY: the fd was just received with SCM_RIGHTS and is owned by nobody else.
                    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                    if master.is_none() {
                        master = Some(owned);
                    }
                }
            }
        }
        let master = master.ok_or("no fd received on the console socket")?;
        let mut f = std::fs::File::from(master);
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        let end = Instant::now() + Duration::from_secs(20);
        while Instant::now() < end {
            match f.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
                Err(_) => break, // EIO once the slave side is closed
            }
        }
        Ok(out)
    }))
}

fn terminal_report(c: &mut Ctx) -> R<Value> {
    let mut cfg = c.config(&["report"]);
    cfg["process"]["terminal"] = json!(true);
    let b = c.bundle(&cfg)?;
    let sock = b.dir.join("console.sock");
    let h = console_listener(&sock)?;
    let s = sock.to_string_lossy().into_owned();
    let o = c.create_with(&b, &["--console-socket", &s]);
    check!(o.ok(), "create --console-socket failed: {}", o.brief());
    c.start(&b.id)?;
    let out = h
        .join()
        .map_err(|_| Bad::Fail("console thread panicked".into()))?
        .map_err(Bad::Fail)?;
    let text = String::from_utf8_lossy(&out);
    for line in text.lines() {
        let line = line.trim_matches(|ch: char| ch == '\r' || ch.is_whitespace());
        if let Ok(v) = serde_json::from_str::<Value>(line) {
            return Ok(v);
        }
    }
    fail!(
        "no report read from the pty master: {:?}",
        text.chars().take(200).collect::<String>()
    )
}

pub fn cases() -> Vec<Case> {
    let mut v = vec![
        case(P, "process-args", |c| {
            let args = json!([PROBE, "report", "sleep", "0", "exit", "0"]);
            let mut cfg = c.config(&[]);
            cfg["process"]["args"] = args.clone();
            let (_, l, _) = c.run_probe(&cfg)?;
            check_eq!(l[0]["args"], args, "argv seen by the process");
            Ok(())
        }),
        case(P, "process-env", |c| {
            let env = json!(["PATH=/bin", "HC_ONE=1", "HC_SPACE=a b c", "HC_EMPTY="]);
            let r = report_of(c, |cfg| cfg["process"]["env"] = env.clone())?;
            let got: Vec<String> = r["env"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect();
            for want in env.as_array().unwrap().iter().filter_map(|x| x.as_str()) {
                check!(
                    got.iter().any(|g| g == want),
                    "environment {got:?} lacks {want:?}"
                );
            }
            // runtimes may add HOME (runc does, from /etc/passwd), nothing else
            let extra: Vec<&String> = got
                .iter()
                .filter(|g| {
                    !env.as_array().unwrap().iter().any(|w| w == *g) && !g.starts_with("HOME=")
                })
                .collect();
            check!(
                extra.is_empty(),
                "unexpected variables in the environment: {extra:?}"
            );
            Ok(())
        }),
        case(P, "process-cwd", |c| {
            let r = report_of(c, |cfg| cfg["process"]["cwd"] = json!("/tmp"))?;
            check_eq!(r["cwd"].as_str().unwrap_or(""), "/tmp", "cwd");
            Ok(())
        }),
        case(P, "process-cwd-created-if-missing", |c| {
            let r = report_of(c, |cfg| cfg["process"]["cwd"] = json!("/work/dir"))?;
            check_eq!(r["cwd"].as_str().unwrap_or(""), "/work/dir", "cwd");
            Ok(())
        }),
        case(USER, "user-uid", |c| {
            let r = report_of(c, |cfg| {
                cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000})
            })?;
            check_eq!(
                (
                    r["uid"].as_i64().unwrap_or(-1),
                    r["euid"].as_i64().unwrap_or(-1)
                ),
                (1000, 1000),
                "uid, euid"
            );
            Ok(())
        }),
        case(USER, "user-gid", |c| {
            let r = report_of(c, |cfg| {
                cfg["process"]["user"] = json!({"uid": 1000, "gid": 1001})
            })?;
            check_eq!(
                (
                    r["gid"].as_i64().unwrap_or(-1),
                    r["egid"].as_i64().unwrap_or(-1)
                ),
                (1001, 1001),
                "gid, egid"
            );
            Ok(())
        }),
        case(USER, "user-additional-gids", |c| {
            let r = report_of(c, |cfg| {
                cfg["process"]["user"] =
                    json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 6, 7]})
            })?;
            let g: Vec<i64> = r["groups"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .filter_map(|x| x.as_i64())
                .collect();
            for want in [5, 6, 7] {
                check!(g.contains(&want), "supplementary groups {g:?} lack {want}");
            }
            Ok(())
        }),
        case(USER, "user-umask", |c| {
            let r = report_of(c, |cfg| {
                cfg["process"]["user"] = json!({"uid": 0, "gid": 0, "umask": 0o027})
            })?;
            check_eq!(r["umask"].as_str().unwrap_or(""), "0027", "umask");
            Ok(())
        }),
        case(USER, "user-root-by-default-config", |c| {
            let r = c.report(c.config(&[]))?;
            check_eq!(
                (
                    r["uid"].as_i64().unwrap_or(-1),
                    r["gid"].as_i64().unwrap_or(-1)
                ),
                (0, 0),
                "uid, gid"
            );
            Ok(())
        }),
        case(P, "terminal-false-no-tty", |c| {
            let r = c.report(c.config(&[]))?;
            check_eq!(
                r["ttys"],
                json!([false, false, false]),
                "isatty(0,1,2) without a terminal"
            );
            Ok(())
        }),
        case(P, "terminal-console-socket", |c| {
            let r = terminal_report(c)?;
            check_eq!(
                r["ttys"],
                json!([true, true, true]),
                "isatty(0,1,2) with terminal: true"
            );
            Ok(())
        }),
        case(
            "runtime-linux.md#dev-console",
            "terminal-dev-console",
            |c| {
                let r = terminal_report(c)?;
                let d = &r["devices"]["/dev/console"];
                check_eq!(
                    d["kind"].as_str().unwrap_or("missing"),
                    "c",
                    "/dev/console type with a terminal"
                );
                check!(
                    d["major"] == 136 || d["major"] == 5,
                    "/dev/console is {d}, want the pty (136:N)"
                );
                Ok(())
            },
        ),
        case(P, "terminal-session-leader", |c| {
            let r = terminal_report(c)?;
            check_eq!(
                r["sid"],
                r["pid"],
                "session id vs pid of a terminal process"
            );
            Ok(())
        }),
        case(P, "session-leader-without-terminal", |c| {
            // runc's init always calls setsid (CRIU refuses a session led from outside).
            let r = report_of(c, |_| {})?;
            check_eq!(r["sid"], r["pid"], "session id vs pid without a terminal");
            Ok(())
        }),
        case(P, "stdio-dev-null-is-the-containers", |c| {
            // The harness gives the runtime the host's /dev/null as stdin: runc reopens it as
            // the container's /dev/null after pivot_root (no fd of the host's mount namespace).
            let r = report_of(c, |_| {})?;
            check_eq!(
                r["stdio_mounts_inside"][0],
                json!(true),
                "fd 0's mount in the container's mount namespace"
            );
            Ok(())
        }),
        case(P, "no-new-privileges-true", |c| {
            let r = report_of(c, |cfg| cfg["process"]["noNewPrivileges"] = json!(true))?;
            check_eq!(r["no_new_privs"].as_str().unwrap_or(""), "1", "NoNewPrivs");
            Ok(())
        }),
        case(P, "no-new-privileges-false", |c| {
            let r = report_of(c, |cfg| cfg["process"]["noNewPrivileges"] = json!(false))?;
            check_eq!(r["no_new_privs"].as_str().unwrap_or(""), "0", "NoNewPrivs");
            Ok(())
        }),
        case(P, "oom-score-adj", |c| {
            let r = report_of(c, |cfg| cfg["process"]["oomScoreAdj"] = json!(567))?;
            check_eq!(
                r["oom_score_adj"].as_str().unwrap_or(""),
                "567",
                "oom_score_adj"
            );
            Ok(())
        }),
        case("config.md#linux-process (ioPriority)", "io-priority", |c| {
            let r = report_of(c, |cfg| {
                cfg["ociVersion"] = json!("1.1.0");
                cfg["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 3});
            })?;
            check_eq!(
                r["ioprio"].as_i64().unwrap_or(-1),
                (2 << 13) | 3,
                "ioprio_get (class BE=2, level 3)"
            );
            Ok(())
        }),
        case(CAPS, "caps-empty", |c| {
            let r = report_of(c, |cfg| cfg["process"]["capabilities"] = json!({}))?;
            for k in [
                "effective",
                "permitted",
                "inheritable",
                "ambient",
                "bounding",
            ] {
                check_eq!(
                    cap_mask(&r["caps"][k]),
                    0,
                    format!("{k} set with no capabilities configured")
                );
            }
            Ok(())
        }),
        case(CAPS, "caps-non-root-user-ambient", |c| {
            // a non-root process keeps across execve only what is ambient (capabilities(7))
            let r = report_of(c, |cfg| {
                cfg["process"]["user"] = json!({"uid": 1000, "gid": 1000});
                let s = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
                cfg["process"]["capabilities"] = json!({"bounding": s, "permitted": s, "effective": s, "inheritable": s, "ambient": ["CAP_NET_BIND_SERVICE"]});
            })?;
            check_eq!(
                cap_mask(&r["caps"]["effective"]),
                caps_to_mask(&["CAP_NET_BIND_SERVICE"]),
                "effective set of uid 1000 (= ambient)"
            );
            check_eq!(
                cap_mask(&r["caps"]["ambient"]),
                caps_to_mask(&["CAP_NET_BIND_SERVICE"]),
                "ambient set of uid 1000"
            );
            Ok(())
        }),
        case(ENGINES, "caps-unheld-by-runtime-dropped", |c| {
            // CAP_SYS_RESOURCE is not in this host's bounding set: runtimes drop it with a warning
            let hostbnd = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let b = hostbnd
                .lines()
                .find_map(|l| l.strip_prefix("CapBnd:"))
                .map(|s| u64::from_str_radix(s.trim(), 16).unwrap_or(0))
                .unwrap_or(0);
            let sr = caps_to_mask(&["CAP_SYS_RESOURCE"]);
            if b & sr != 0 {
                crate::skip!(
                    "the runtime's bounding set holds CAP_SYS_RESOURCE here: nothing to drop"
                )
            }
            let r = report_of(c, |cfg| {
                let s = json!(["CAP_KILL", "CAP_SYS_RESOURCE"]);
                cfg["process"]["capabilities"] =
                    json!({"bounding": s, "permitted": s, "effective": s});
            })?;
            check_eq!(
                cap_mask(&r["caps"]["effective"]),
                caps_to_mask(&["CAP_KILL"]),
                "effective set"
            );
            Ok(())
        }),
        case(RL, "rlimit-unknown-type-errors", |c| {
            let mut cfg = c.config(&["exit", "0"]);
            cfg["process"]["rlimits"] =
                json!([{"type": "RLIMIT_NO_SUCH_THING", "soft": 1, "hard": 1}]);
            let b = c.bundle(&cfg)?;
            let o = c.run(&b);
            check!(!o.ok(), "an unknown rlimit type was accepted");
            Ok(())
        }),
        case(RL, "rlimit-above-hard-limit-errors", |c| {
            let mut cfg = c.config(&["exit", "0"]);
            let mut cur = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit only writes the struct we own.
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur) };
            if cur.rlim_max == libc::RLIM_INFINITY {
                crate::skip!("RLIMIT_NOFILE hard limit is unlimited here")
            }
            let mut caps = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            caps = caps
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .unwrap_or("0")
                .trim()
                .to_string();
            if u64::from_str_radix(&caps, 16).unwrap_or(0) & caps_to_mask(&["CAP_SYS_RESOURCE"])
                != 0
            {
                crate::skip!("the runtime holds CAP_SYS_RESOURCE: it may raise the hard limit")
            }
            let over = cur.rlim_max + 1000;
            cfg["process"]["rlimits"] =
                json!([{"type": "RLIMIT_NOFILE", "soft": over, "hard": over}]);
            let b = c.bundle(&cfg)?;
            let o = c.run(&b);
            check!(
                !o.ok(),
                "RLIMIT_NOFILE {over} above the hard limit {} was accepted",
                cur.rlim_max
            );
            Ok(())
        }),
    ];
    for (set, key) in [
        ("bounding", "bounding"),
        ("permitted", "permitted"),
        ("effective", "effective"),
        ("inheritable", "inheritable"),
        ("ambient", "ambient"),
    ] {
        v.push(caps_case(set, key));
    }
    for &(ty, soft, hard) in RLIMIT_TYPES {
        v.push(case(
            RL,
            format!("rlimit-{}", ty.trim_start_matches("RLIMIT_").to_lowercase()),
            move |c| {
                let r = report_of(c, |cfg| {
                    cfg["process"]["rlimits"] = json!([{"type": ty, "soft": soft, "hard": hard}])
                })?;
                let got = (
                    r["rlimits"][ty][0].as_u64().unwrap_or(0),
                    r["rlimits"][ty][1].as_u64().unwrap_or(0),
                );
                check_eq!(got, (soft, hard), format!("{ty} (soft, hard)"));
                Ok(())
            },
        ));
    }
    v
}
