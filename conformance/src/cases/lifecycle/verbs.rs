//! runtime.md#state fields, and the runc CLI verbs engines use beyond the spec: run, pause and
//! resume, exec, ps, list, update.
use super::*;

pub(super) fn cases() -> Vec<Case> {
    vec![
        case(ST, "state-pid-is-container-process", |c| {
            let cfg = c.config(&["report", "sleep", "300"]);
            let (_, pid, _) = c.start_probe(&cfg, 1)?;
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            check!(
                String::from_utf8_lossy(&cmd).contains(PROBE),
                "state pid {pid} is not the probe: {:?}",
                String::from_utf8_lossy(&cmd)
            );
            check!(
                proc_ns(pid, "pid") != c.env.host_ns("pid"),
                "state pid {pid} is not in the container's pid namespace"
            );
            Ok(())
        }),
        case(ST, "state-field-ociVersion", |c| {
            let b = created(c)?;
            let s = c.state(&b.id)?;
            let v = s["ociVersion"].as_str().unwrap_or("");
            check!(
                v.starts_with("1."),
                "ociVersion {:?} is not a 1.x version",
                s["ociVersion"]
            );
            Ok(())
        }),
        case(ST, "state-field-id", |c| {
            let b = created(c)?;
            check_eq!(
                c.state(&b.id)?["id"].as_str().unwrap_or(""),
                b.id,
                "state id"
            );
            Ok(())
        }),
        case(ST, "state-field-status", |c| {
            let b = created(c)?;
            let s = c.state(&b.id)?;
            let st = s["status"].as_str().unwrap_or("");
            check!(
                ["creating", "created", "running", "stopped", "paused"].contains(&st),
                "status {:?} is not a spec state",
                s["status"]
            );
            Ok(())
        }),
        case(ST, "state-field-pid", |c| {
            let b = created(c)?;
            let pid = c.pid(&b.id)?;
            check!(
                pid_alive(pid),
                "state pid {pid} of a created container is not a live process"
            );
            Ok(())
        }),
        case(ST, "state-field-bundle", |c| {
            let b = created(c)?;
            let s = c.state(&b.id)?;
            check_eq!(
                s["bundle"].as_str().unwrap_or(""),
                b.dir.to_string_lossy(),
                "state bundle (absolute path)"
            );
            Ok(())
        }),
        case(ST, "state-field-annotations", |c| {
            let mut cfg = sleeper(c);
            cfg["annotations"] = json!({"org.hull.conformance": "yes", "com.example.k": "v"});
            let b = c.bundle(&cfg)?;
            c.create(&b)?;
            let s = c.state(&b.id)?;
            check_eq!(
                s["annotations"]["org.hull.conformance"]
                    .as_str()
                    .unwrap_or(""),
                "yes",
                "annotation in state"
            );
            check_eq!(
                s["annotations"]["com.example.k"].as_str().unwrap_or(""),
                "v",
                "annotation in state"
            );
            Ok(())
        }),
        case(ST, "state-running-after-start-has-pid", |c| {
            let (b, pid) = running(c)?;
            check_eq!(c.pid(&b.id)?, pid, "state pid after start vs after create");
            Ok(())
        }),
        case(CLI, "run-exit-code-0", |c| run_code(c, 0)),
        case(CLI, "run-exit-code-3", |c| run_code(c, 3)),
        case(CLI, "run-exit-code-255", |c| run_code(c, 255)),
        case(CLI, "run-exit-code-killed-by-signal", |c| {
            let cfg = sleeper(c);
            let b = c.bundle(&cfg)?;
            let bd = b.dir.to_string_lossy().into_owned();
            let mut child = crate::harness::spawn(
                std::process::Command::new(&c.env.runtime)
                    .arg("--root")
                    .arg(&c.root)
                    .args(["run", "--bundle", &bd, &b.id])
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null()),
            )
            .map_err(|e| crate::harness::Bad::Fail(format!("spawn run: {e}")))?;
            c.wait_status(&b.id, "running", 20)?;
            let o = c.kill(&b.id, "KILL");
            check!(o.ok(), "kill failed: {}", o.brief());
            let (code, to) = crate::harness::wait_child(&mut child, Duration::from_secs(20));
            check!(!to, "run did not return after the container was killed");
            check_eq!(
                code,
                137,
                "exit code of run for a SIGKILLed container (128+9)"
            );
            Ok(())
        }),
        case(CLI, "run-removes-container", |c| {
            let cfg = c.config(&["exit", "0"]);
            let b = c.bundle(&cfg)?;
            let o = c.run(&b);
            check!(o.ok(), "run failed: {}", o.brief());
            check!(
                !c.rt(&["state", &b.id]).ok(),
                "container still known after run returned"
            );
            Ok(())
        }),
        case(CLI, "run-stdout-passthrough", |c| {
            let cfg = c.config(&["report"]);
            let b = c.bundle(&cfg)?;
            let o = c.run(&b);
            check!(o.ok(), "run failed: {}", o.brief());
            find(&b.lines(), "report")?;
            Ok(())
        }),
        case(CLI, "pause-status-paused", |c| {
            let (b, _) = running(c)?;
            let o = c.rt(&["pause", &b.id]);
            check!(o.ok(), "pause failed: {}", o.brief());
            check_eq!(c.status(&b.id)?, "paused", "status after pause");
            Ok(())
        }),
        case(CLI, "pause-freezes-process", |c| {
            let cfg = c.config(&["tick", "20"]);
            let (b, _, _) = c.start_probe(&cfg, 2)?;
            let o = c.rt(&["pause", &b.id]);
            check!(o.ok(), "pause failed: {}", o.brief());
            std::thread::sleep(Duration::from_millis(200));
            let n1 = b.lines().len();
            std::thread::sleep(Duration::from_millis(500));
            let n2 = b.lines().len();
            check_eq!(n2, n1, "ticks printed while paused");
            Ok(())
        }),
        case(CLI, "resume-status-running", |c| {
            let (b, _) = running(c)?;
            check!(c.rt(&["pause", &b.id]).ok(), "pause failed");
            let o = c.rt(&["resume", &b.id]);
            check!(o.ok(), "resume failed: {}", o.brief());
            check_eq!(c.status(&b.id)?, "running", "status after resume");
            Ok(())
        }),
        case(CLI, "resume-thaws-process", |c| {
            let cfg = c.config(&["tick", "20"]);
            let (b, _, _) = c.start_probe(&cfg, 2)?;
            check!(c.rt(&["pause", &b.id]).ok(), "pause failed");
            std::thread::sleep(Duration::from_millis(200));
            let n1 = b.lines().len();
            let o = c.rt(&["resume", &b.id]);
            check!(o.ok(), "resume failed: {}", o.brief());
            c.wait_lines(&b, n1 + 3, 10)?;
            Ok(())
        }),
        case(CLI, "pause-stopped-errors", |c| {
            let b = stopped(c)?;
            check!(
                !c.rt(&["pause", &b.id]).ok(),
                "pause of a stopped container succeeded"
            );
            Ok(())
        }),
        case(CLI, "resume-running-errors", |c| {
            let (b, _) = running(c)?;
            check!(
                !c.rt(&["resume", &b.id]).ok(),
                "resume of a running (not paused) container succeeded"
            );
            Ok(())
        }),
        case(CLI, "pause-freezer-cgroup", |c| {
            let (b, _) = running(c)?;
            check!(c.rt(&["pause", &b.id]).ok(), "pause failed");
            let Some((dir, v2)) = c.env.cg.dir("freezer", &b.cgpath).or_else(|| {
                c.env
                    .cg
                    .unified
                    .as_ref()
                    .map(|u| (u.join(b.cgpath.trim_start_matches('/')), true))
            }) else {
                crate::skip!("no freezer on this host")
            };
            let (file, want) = if v2 {
                ("cgroup.freeze", "1")
            } else {
                ("freezer.state", "FROZEN")
            };
            // v1 may pass through FREEZING: give the kernel 2 s to settle
            let end = Instant::now() + Duration::from_secs(2);
            let mut got = String::new();
            while Instant::now() < end {
                got = std::fs::read_to_string(dir.join(file))
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                if got == want {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            check_eq!(got, want, format!("{}/{file}", dir.display()));
            Ok(())
        }),
        case(CLI, "exec-joins-container-namespaces", |c| {
            let (b, pid) = running(c)?;
            let o = c.rt(&["exec", &b.id, PROBE, "report"]);
            check!(o.ok(), "exec failed: {}", o.brief());
            let r: Value = o
                .stdout
                .lines()
                .find_map(|l| serde_json::from_str(l).ok())
                .unwrap_or(Value::Null);
            for ns in ["pid", "net", "ipc", "uts", "mnt"] {
                check_eq!(
                    r["ns"][ns].as_str().unwrap_or(""),
                    proc_ns(pid, ns),
                    format!("exec'd process {ns} namespace")
                );
            }
            Ok(())
        }),
        case(CLI, "exec-exit-code", |c| {
            let (b, _) = running(c)?;
            let o = c.rt(&["exec", &b.id, PROBE, "exit", "5"]);
            check_eq!(o.code, 5, "exit code of exec");
            Ok(())
        }),
        case(CLI, "exec-env-and-cwd", |c| {
            let (b, _) = running(c)?;
            let o = c.rt(&[
                "exec",
                "--env",
                "HC_EXEC=1",
                "--cwd",
                "/tmp",
                &b.id,
                PROBE,
                "report",
            ]);
            check!(o.ok(), "exec failed: {}", o.brief());
            let r: Value = o
                .stdout
                .lines()
                .find_map(|l| serde_json::from_str(l).ok())
                .unwrap_or(Value::Null);
            check_eq!(
                r["cwd"].as_str().unwrap_or(""),
                "/tmp",
                "cwd of exec'd process"
            );
            check!(
                r["env"]
                    .as_array()
                    .is_some_and(|e| e.iter().any(|v| v == "HC_EXEC=1")),
                "HC_EXEC=1 missing from {:?}",
                r["env"]
            );
            Ok(())
        }),
        case(CLI, "exec-stopped-errors", |c| {
            let b = stopped(c)?;
            check!(
                !c.rt(&["exec", &b.id, PROBE, "exit", "0"]).ok(),
                "exec in a stopped container succeeded"
            );
            Ok(())
        }),
        case(CLI, "ps-lists-container-pid", |c| {
            let (b, pid) = running(c)?;
            let o = c.rt(&["ps", "--format", "json", &b.id]);
            check!(o.ok(), "ps failed: {}", o.brief());
            let v: Value = serde_json::from_str(o.stdout.trim()).unwrap_or(Value::Null);
            check!(
                v.as_array()
                    .is_some_and(|a| a.iter().any(|p| p.as_i64() == Some(pid as i64))),
                "ps --format json {:?} lacks pid {pid}",
                o.stdout.trim()
            );
            Ok(())
        }),
        case(CLI, "list-shows-container", |c| {
            let b = created(c)?;
            let o = c.rt(&["list", "--format", "json"]);
            check!(o.ok(), "list failed: {}", o.brief());
            check!(
                o.stdout.contains(&b.id),
                "list does not show {}: {}",
                b.id,
                o.stdout.trim()
            );
            Ok(())
        }),
        case(CLI, "update-memory-limit", |c| {
            let (b, _) = running(c)?;
            let Some((dir, v2)) = c.env.cg.dir("memory", &b.cgpath) else {
                crate::skip!("no memory controller here")
            };
            let o = c.rt(&["update", "--memory", "67108864", &b.id]);
            check!(o.ok(), "update --memory failed: {}", o.brief());
            let f = if v2 {
                "memory.max"
            } else {
                "memory.limit_in_bytes"
            };
            check_eq!(
                std::fs::read_to_string(dir.join(f))
                    .unwrap_or_default()
                    .trim(),
                "67108864",
                f
            );
            Ok(())
        }),
        case(CLI, "update-pids-limit", |c| {
            let (b, _) = running(c)?;
            let Some((dir, _)) = c.env.cg.dir("pids", &b.cgpath) else {
                crate::skip!("no pids controller here")
            };
            let o = c.rt(&["update", "--pids-limit", "77", &b.id]);
            check!(o.ok(), "update --pids-limit failed: {}", o.brief());
            check_eq!(
                std::fs::read_to_string(dir.join("pids.max"))
                    .unwrap_or_default()
                    .trim(),
                "77",
                "pids.max"
            );
            Ok(())
        }),
    ]
}

fn run_code(c: &mut Ctx, code: i32) -> R {
    let cfg = c.config(&["exit", &code.to_string()]);
    let b = c.bundle(&cfg)?;
    let o = c.run(&b);
    check!(!o.timed_out, "run timed out");
    if o.code != code {
        fail!(
            "run exited {} for a process that exited {code}: {}",
            o.code,
            o.brief()
        )
    }
    Ok(())
}
