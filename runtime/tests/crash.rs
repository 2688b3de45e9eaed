//! Crash tests: hull SIGKILLed at every failpoint of create/start/run/exec/delete, and at random
//! moments of real `create`/`run` commands; after each crash `delete -f` must leave nothing:
//! no process of the container, none of its cgroup directories (every v1 hierarchy and the v2
//! one), nothing of it in /proc/self/mountinfo, no state directory.
//!
//! Needs the failpoints build: `cargo test -p hull --features failpoints --test crash`
//! (`make test-state`). Uses the hull built with that feature (CARGO_BIN_EXE_hull), not HULL_BIN.
#![cfg(feature = "failpoints")]

mod common;
#[path = "common/leftovers.rs"]
mod leftovers;

use common::*;
use leftovers::{assert_clean, mark};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn fp_hull_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hull"))
}

fn cmd(env: &Env, id: &str, args: &[&str], failpoint: Option<&str>) -> Command {
    let mut c = Command::new(fp_hull_bin());
    c.arg("--root").arg(&env.root).args(args);
    c.env("HULL_CRASH_MARK", id).env_remove("HULL_FAILPOINT");
    if let Some(fp) = failpoint {
        c.env("HULL_FAILPOINT", fp);
    }
    c.stdin(Stdio::null());
    c
}

fn run(env: &Env, id: &str, args: &[&str], failpoint: Option<&str>) -> Output {
    let out = env.tmp.path().join(format!(".o-{id}"));
    let err = env.tmp.path().join(format!(".e-{id}"));
    let mut c = cmd(env, id, args, failpoint);
    c.stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    let o = wait_output(c.spawn().unwrap(), Duration::from_secs(60));
    Output {
        status: o.status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

fn bundle(env: &Env, id: &str, args: &[&str]) -> PathBuf {
    let mut c = config(args);
    c["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(mark(id).into());
    env.bundle(&format!("b-{id}"), &c)
}

fn killed(o: &Output) -> bool {
    o.status.signal() == Some(libc::SIGKILL)
}

/// After a crash every command understands what it finds.
fn check_understood(env: &Env, id: &str, what: &str, bundle: &Path) {
    let st = run(env, id, &["state", id], None);
    if st.status.success() {
        let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
        let s = v["status"].as_str().unwrap();
        assert!(
            ["creating", "created", "running", "stopped"].contains(&s),
            "{what}: state says {s}"
        );
        let l = run(env, id, &["list", "-q"], None);
        assert!(stdout(&l).lines().any(|l| l == id), "{what}: list lacks it");
        let c = run(
            env,
            id,
            &["create", "--bundle", &bundle.to_string_lossy(), id],
            None,
        );
        assert!(!c.status.success(), "{what}: create over it succeeded");
        let e = stderr(&c);
        assert!(e.contains("already exists"), "{what}: {e}");
        if s == "creating" {
            assert!(e.contains(&format!("hull delete -f {id}")), "{what}: {e}");
        }
    } else {
        assert!(
            stderr(&st).contains("does not exist"),
            "{what}: {}",
            stderr(&st)
        );
    }
}

fn created(env: &Env, id: &str, b: &Path) {
    let o = run(
        env,
        id,
        &["create", "--bundle", &b.to_string_lossy(), id],
        None,
    );
    assert!(o.status.success(), "create {id}: {}", stderr(&o));
}

fn started(env: &Env, id: &str, b: &Path) {
    created(env, id, b);
    let o = run(env, id, &["start", id], None);
    assert!(o.status.success(), "start {id}: {}", stderr(&o));
}

#[test]
fn sigkill_at_every_failpoint_then_delete_force_leaves_nothing() {
    let env = Env::new();
    for &fp in hull::failpoint::POINTS {
        let id = env.id(&fp.replace(':', "-"));
        let verb = fp.split(':').next().unwrap();
        let args: &[&str] = if fp == "run:after-exit" {
            &["true"]
        } else {
            &["sleep", "1000"]
        };
        let b = bundle(&env, &id, args);
        let bs = b.to_string_lossy().to_string();
        let o = match verb {
            "create" => run(&env, &id, &["create", "--bundle", &bs, &id], Some(fp)),
            "start" => {
                created(&env, &id, &b);
                run(&env, &id, &["start", &id], Some(fp))
            }
            "run" => run(&env, &id, &["run", "--bundle", &bs, &id], Some(fp)),
            "exec" => {
                started(&env, &id, &b);
                run(&env, &id, &["exec", &id, "sleep", "1000"], Some(fp))
            }
            "delete" => {
                started(&env, &id, &b);
                run(&env, &id, &["delete", "-f", &id], Some(fp))
            }
            _ => unreachable!("{fp}"),
        };
        assert!(
            killed(&o),
            "{fp}: hull was not killed there ({:?}); stderr: {}",
            o.status,
            stderr(&o)
        );
        check_understood(&env, &id, fp, &b);
        let d = run(&env, &id, &["delete", "-f", &id], None);
        assert!(d.status.success(), "{fp}: delete -f: {}", stderr(&d));
        assert_clean(&env, &id, &b, fp);
        eprintln!("ok: {fp}");
    }
}

/// xorshift64*, seeded from the clock (printed, and taken from HULL_CRASH_SEED to replay).
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("HULL_CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("HULL_CRASH_SEED={seed}");
        Rng(seed)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

const ROUNDS: usize = 100;

/// SIGKILL `args` after a uniformly random delay within its measured duration, `ROUNDS` times.
fn random_kills(verb: &str) {
    let env = Env::new();
    let mut rng = Rng::new();
    let argv = |id: &str, b: &str| -> Vec<String> {
        match verb {
            "create" => vec!["create".into(), "--bundle".into(), b.into(), id.into()],
            _ => vec!["run".into(), "--bundle".into(), b.into(), id.into()],
        }
    };
    // The duration of an undisturbed command (median of 5).
    let mut times = vec![];
    for _ in 0..5 {
        let id = env.id(&format!("t{verb}"));
        let b = bundle(&env, &id, &["true"]);
        let a = argv(&id, &b.to_string_lossy());
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let t = Instant::now();
        let o = run(&env, &id, &a, None);
        times.push(t.elapsed());
        assert!(o.status.success(), "{verb}: {}", stderr(&o));
        let d = run(&env, &id, &["delete", "-f", &id], None);
        assert!(d.status.success(), "{}", stderr(&d));
        assert_clean(&env, &id, &b, "timing round");
    }
    times.sort();
    let dur = times[2];
    eprintln!("{verb}: median {dur:?}; {ROUNDS} rounds killed within it");
    let (mut before, mut after) = (0, 0);
    for round in 0..ROUNDS {
        let id = env.id(&format!("r{verb}"));
        let b = bundle(&env, &id, &["true"]);
        let a = argv(&id, &b.to_string_lossy());
        let mut c = cmd(
            &env,
            &id,
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            None,
        );
        c.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(dur.as_micros() as u64)));
        let _ = child.kill();
        let st = child.wait().unwrap();
        if st.signal() == Some(libc::SIGKILL) {
            before += 1;
        } else {
            after += 1;
        }
        let what = format!("{verb} round {round}");
        check_understood(&env, &id, &what, &b);
        let d = run(&env, &id, &["delete", "-f", &id], None);
        assert!(d.status.success(), "{what}: delete -f: {}", stderr(&d));
        assert_clean(&env, &id, &b, &what);
    }
    eprintln!("{verb}: {before} killed mid-way, {after} finished first");
    assert!(
        before > ROUNDS / 4,
        "too few rounds were really interrupted"
    );
}

#[test]
fn random_sigkill_of_create_then_delete_force_leaves_nothing() {
    random_kills("create");
}

#[test]
fn random_sigkill_of_run_then_delete_force_leaves_nothing() {
    random_kills("run");
}
