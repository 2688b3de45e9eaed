//! runtime.md: state, lifecycle and operations; plus the runc CLI conventions every engine relies on.
use crate::harness::{find, pid_alive, proc_ns, Bundle, Ctx, PROBE, R};
use crate::{case, check, check_eq, fail, Case};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

mod verbs;

const LC: &str = "runtime.md#lifecycle";
const OPS: &str = "runtime.md#operations";
const ST: &str = "runtime.md#state";
const CLI: &str = "runc CLI (runtime-tools command-line interface)";

fn sleeper(c: &Ctx) -> Value {
    c.config(&["sleep", "300"])
}

/// A created (not started) sleeping container.
fn created(c: &mut Ctx) -> R<Bundle> {
    let cfg = sleeper(c);
    let b = c.bundle(&cfg)?;
    c.create(&b)?;
    Ok(b)
}

/// A running sleeping container.
fn running(c: &mut Ctx) -> R<(Bundle, i32)> {
    let b = created(c)?;
    let pid = c.pid(&b.id)?;
    c.start(&b.id)?;
    Ok((b, pid))
}

/// A container whose process has exited.
fn stopped(c: &mut Ctx) -> R<Bundle> {
    let cfg = c.config(&["exit", "0"]);
    let b = c.bundle(&cfg)?;
    c.create(&b)?;
    c.start(&b.id)?;
    c.wait_status(&b.id, "stopped", 20)?;
    Ok(b)
}

fn wait_gone(pid: i32, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if !pid_alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn marker_cfg(c: &Ctx) -> Value {
    let mut cfg = c.config(&["write", "/tmp/ran", "sleep", "300"]);
    cfg["root"]["readonly"] = json!(false);
    cfg
}

fn wait_file(p: &std::path::Path, secs: u64) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if p.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Start a container running `waitsig`, wait for it to be ready, send `sig` with `kill`, return
/// the signal number the probe saw.
fn signal_seen(c: &mut Ctx, sig: Option<&str>) -> R<i64> {
    let cfg = c.config(&["waitsig"]);
    let b = c.bundle(&cfg)?;
    c.create(&b)?;
    c.start(&b.id)?;
    c.wait_lines(&b, 1, 20)?;
    let o = match sig {
        Some(s) => c.kill(&b.id, s),
        None => c.rt(&["kill", &b.id]),
    };
    check!(o.ok(), "kill {} {:?} failed: {}", b.id, sig, o.brief());
    let l = c.wait_lines(&b, 2, 10)?;
    Ok(find(&l, "signal")?["signal"].as_i64().unwrap_or(-1))
}

pub fn cases() -> Vec<Case> {
    let mut v = lifecycle_cases();
    v.extend(verbs::cases());
    v
}

/// runtime.md#lifecycle and #operations: create/start/kill/delete and their errors.
fn lifecycle_cases() -> Vec<Case> {
    vec![
        case(LC, "lifecycle-create-status-created", |c| {
            let b = created(c)?;
            check_eq!(c.status(&b.id)?, "created", "status after create");
            Ok(())
        }),
        case(LC, "lifecycle-create-does-not-run-program", |c| {
            let cfg = marker_cfg(c);
            let b = c.bundle(&cfg)?;
            c.create(&b)?;
            std::thread::sleep(Duration::from_millis(500));
            check!(
                !b.rootfs().join("tmp/ran").exists(),
                "the user program ran before start"
            );
            Ok(())
        }),
        case(LC, "lifecycle-start-runs-program", |c| {
            let cfg = marker_cfg(c);
            let b = c.bundle(&cfg)?;
            c.create(&b)?;
            c.start(&b.id)?;
            check!(
                wait_file(&b.rootfs().join("tmp/ran"), 10),
                "the user program did not run after start"
            );
            Ok(())
        }),
        case(LC, "lifecycle-start-status-running", |c| {
            let (b, _) = running(c)?;
            check_eq!(c.status(&b.id)?, "running", "status after start");
            Ok(())
        }),
        case(LC, "lifecycle-exit-status-stopped", |c| {
            let b = stopped(c)?;
            check_eq!(
                c.status(&b.id)?,
                "stopped",
                "status after the process exited"
            );
            Ok(())
        }),
        case(LC, "lifecycle-delete-stopped", |c| {
            let b = stopped(c)?;
            let o = c.delete(&b.id, false);
            check!(
                o.ok(),
                "delete of a stopped container failed: {}",
                o.brief()
            );
            let s = c.rt(&["state", &b.id]);
            check!(!s.ok(), "state still succeeds after delete: {}", s.stdout);
            Ok(())
        }),
        case(OPS, "delete-running-without-force-errors", |c| {
            let (b, _) = running(c)?;
            let o = c.delete(&b.id, false);
            check!(!o.ok(), "delete of a running container succeeded");
            Ok(())
        }),
        case(OPS, "delete-running-without-force-no-effect", |c| {
            let (b, pid) = running(c)?;
            let _ = c.delete(&b.id, false);
            check!(
                pid_alive(pid),
                "the container process died after a refused delete"
            );
            check_eq!(c.status(&b.id)?, "running", "status after a refused delete");
            Ok(())
        }),
        case(OPS, "delete-created-without-force-errors", |c| {
            let b = created(c)?;
            let pid = c.pid(&b.id)?;
            let o = c.delete(&b.id, false);
            check!(
                !o.ok(),
                "delete of a created (not stopped) container succeeded"
            );
            check!(
                pid_alive(pid),
                "the container process died after a refused delete"
            );
            Ok(())
        }),
        case(CLI, "delete-force-running", |c| {
            let (b, pid) = running(c)?;
            let o = c.delete(&b.id, true);
            check!(o.ok(), "delete --force failed: {}", o.brief());
            check!(
                wait_gone(pid, 10),
                "process {pid} still alive after delete --force"
            );
            check!(
                !c.rt(&["state", &b.id]).ok(),
                "state still succeeds after delete --force"
            );
            Ok(())
        }),
        case(CLI, "delete-force-created", |c| {
            let b = created(c)?;
            let pid = c.pid(&b.id)?;
            let o = c.delete(&b.id, true);
            check!(o.ok(), "delete --force failed: {}", o.brief());
            check!(
                wait_gone(pid, 10),
                "process {pid} still alive after delete --force"
            );
            Ok(())
        }),
        case(OPS, "delete-unknown-id-errors", |c| {
            let id = c.new_id();
            check!(
                !c.delete(&id, false).ok(),
                "delete of an unknown id succeeded"
            );
            Ok(())
        }),
        case(OPS, "start-twice-errors", |c| {
            let (b, _) = running(c)?;
            check!(
                !c.rt(&["start", &b.id]).ok(),
                "second start of a running container succeeded"
            );
            Ok(())
        }),
        case(OPS, "start-stopped-errors", |c| {
            let b = stopped(c)?;
            check!(
                !c.rt(&["start", &b.id]).ok(),
                "start of a stopped container succeeded"
            );
            Ok(())
        }),
        case(OPS, "start-unknown-id-errors", |c| {
            let id = c.new_id();
            check!(
                !c.rt(&["start", &id]).ok(),
                "start of an unknown id succeeded"
            );
            Ok(())
        }),
        case(OPS, "state-unknown-id-errors", |c| {
            let id = c.new_id();
            let o = c.rt(&["state", &id]);
            check!(!o.ok(), "state of an unknown id succeeded: {}", o.stdout);
            Ok(())
        }),
        case(OPS, "create-duplicate-id-errors", |c| {
            let b = created(c)?;
            let cfg = sleeper(c);
            let b2 = c.bundle_with_id(&cfg, &b.id)?;
            check!(
                !c.create_with(&b2, &[]).ok(),
                "a second create with the same id succeeded"
            );
            Ok(())
        }),
        case(OPS, "create-duplicate-id-no-effect", |c| {
            let b = created(c)?;
            let pid = c.pid(&b.id)?;
            let cfg = sleeper(c);
            let b2 = c.bundle_with_id(&cfg, &b.id)?;
            let _ = c.create_with(&b2, &[]);
            let s = c.state(&b.id)?;
            check_eq!(
                s["status"].as_str().unwrap_or(""),
                "created",
                "status of the first container"
            );
            check_eq!(
                s["pid"].as_i64().unwrap_or(0),
                pid as i64,
                "pid of the first container"
            );
            check_eq!(
                s["bundle"].as_str().unwrap_or(""),
                b.dir.to_string_lossy(),
                "bundle of the first container"
            );
            Ok(())
        }),
        case(OPS, "kill-unknown-id-errors", |c| {
            let id = c.new_id();
            check!(!c.kill(&id, "KILL").ok(), "kill of an unknown id succeeded");
            Ok(())
        }),
        case(OPS, "kill-stopped-errors", |c| {
            let b = stopped(c)?;
            check!(
                !c.kill(&b.id, "KILL").ok(),
                "kill of a stopped container succeeded"
            );
            check_eq!(c.status(&b.id)?, "stopped", "status after the refused kill");
            Ok(())
        }),
        case(OPS, "kill-delivers-signal", |c| {
            check_eq!(
                signal_seen(c, Some("USR1"))?,
                10,
                "signal seen by the process"
            );
            Ok(())
        }),
        case(CLI, "kill-signal-by-number", |c| {
            check_eq!(
                signal_seen(c, Some("12"))?,
                12,
                "signal seen by the process"
            );
            Ok(())
        }),
        case(CLI, "kill-signal-with-sig-prefix", |c| {
            check_eq!(
                signal_seen(c, Some("SIGHUP"))?,
                1,
                "signal seen by the process"
            );
            Ok(())
        }),
        case(CLI, "kill-default-signal-is-sigterm", |c| {
            check_eq!(signal_seen(c, None)?, 15, "signal seen by the process");
            Ok(())
        }),
        case(OPS, "kill-running-stops", |c| {
            let (b, pid) = running(c)?;
            let o = c.kill(&b.id, "KILL");
            check!(o.ok(), "kill failed: {}", o.brief());
            c.wait_status(&b.id, "stopped", 10)?;
            check!(wait_gone(pid, 10), "process {pid} still alive");
            Ok(())
        }),
        case(OPS, "kill-created-stops", |c| {
            let b = created(c)?;
            let pid = c.pid(&b.id)?;
            let o = c.kill(&b.id, "KILL");
            check!(o.ok(), "kill of a created container failed: {}", o.brief());
            c.wait_status(&b.id, "stopped", 10)?;
            check!(wait_gone(pid, 10), "process {pid} still alive");
            Ok(())
        }),
        case(LC, "create-missing-config-errors", |c| {
            let cfg = sleeper(c);
            let b = c.bundle(&cfg)?;
            std::fs::remove_file(b.dir.join("config.json")).ok();
            check!(
                !c.create_with(&b, &[]).ok(),
                "create without config.json succeeded"
            );
            check!(
                !c.rt(&["state", &b.id]).ok(),
                "a failed create left a container behind"
            );
            Ok(())
        }),
        case(LC, "create-invalid-json-errors", |c| {
            let cfg = sleeper(c);
            let b = c.bundle(&cfg)?;
            std::fs::write(
                b.dir.join("config.json"),
                "{\"ociVersion\": \"1.0.2\", \"process\": [",
            )
            .ok();
            check!(
                !c.create_with(&b, &[]).ok(),
                "create with a malformed config.json succeeded"
            );
            check!(
                !c.rt(&["state", &b.id]).ok(),
                "a failed create left a container behind"
            );
            Ok(())
        }),
        case(LC, "create-missing-rootfs-errors", |c| {
            let mut cfg = sleeper(c);
            cfg["root"]["path"] = json!("no-such-rootfs");
            let b = c.bundle(&cfg)?;
            check!(
                !c.create_with(&b, &[]).ok(),
                "create with a missing root.path succeeded"
            );
            check!(
                !c.rt(&["state", &b.id]).ok(),
                "a failed create left a container behind"
            );
            Ok(())
        }),
        case(LC, "create-failure-leaves-no-cgroup", |c| {
            let mut cfg = sleeper(c);
            cfg["root"]["path"] = json!("no-such-rootfs");
            let b = c.bundle(&cfg)?;
            let _ = c.create_with(&b, &[]);
            for d in c.env.cg.all_dirs(&b.cgpath) {
                check!(
                    !d.exists(),
                    "a failed create left cgroup {} behind",
                    d.display()
                );
            }
            Ok(())
        }),
        case(LC, "missing-executable-errors", |c| {
            let mut cfg = sleeper(c);
            cfg["process"]["args"] = json!(["/no/such/program"]);
            let b = c.bundle(&cfg)?;
            let created = c.create_with(&b, &[]);
            if created.ok() {
                check!(
                    !c.rt(&["start", &b.id]).ok(),
                    "create and start of a missing executable both succeeded"
                );
            }
            Ok(())
        }),
        case(CLI, "create-pid-file", |c| {
            let cfg = sleeper(c);
            let b = c.bundle(&cfg)?;
            let pf = b.dir.join("pidfile");
            let pfs = pf.to_string_lossy().into_owned();
            let o = c.create_with(&b, &["--pid-file", &pfs]);
            check!(o.ok(), "create --pid-file failed: {}", o.brief());
            let txt = std::fs::read_to_string(&pf).unwrap_or_default();
            let want = c.pid(&b.id)?;
            check_eq!(
                txt.trim().parse::<i32>().unwrap_or(-1),
                want,
                "pid in --pid-file vs state pid"
            );
            Ok(())
        }),
    ]
}
