//! Commands racing on the state root: one container's commands serialise on its lock, parallel
//! deletes delete once, 100 parallel lifecycles leave nothing, and a read-only or full `--root`
//! gives a clear error naming the path and leaves no half-written file.

mod common;
#[path = "common/leftovers.rs"]
mod leftovers;

use common::*;
use leftovers::{assert_clean, assert_gone, cgroup_dirs, mark, marked_pids};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn bundle_with(
    env: &Env,
    id: &str,
    args: &[&str],
    f: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let mut c = config(args);
    c["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(mark(id).into());
    f(&mut c);
    env.bundle(&format!("b-{id}"), &c)
}

/// `Env::hull` for threads (Env is not Sync): output through files under `scratch`.
fn hull_at(root: &Path, scratch: &Path, args: &[&str]) -> Output {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    let (out, err) = (
        scratch.join(format!(".t-out-{n}")),
        scratch.join(format!(".t-err-{n}")),
    );
    let child = Command::new(hull_bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let o = wait_output(child, Duration::from_secs(60));
    Output {
        status: o.status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

fn ok(o: &std::process::Output, what: &str) {
    assert!(o.status.success(), "{what}: {}", stderr(o));
}

#[test]
fn commands_on_one_container_wait_for_its_lock() {
    let env = Env::new();
    let id = env.id("lock");
    let gate = env.tmp.path().join("gate");
    let inside = env.tmp.path().join("in-hook");
    // The prestart hook runs while `create` holds the container's lock: it says it is in, then
    // waits for the gate.
    let script = format!(
        "touch {}; while [ ! -e {} ]; do sleep 0.02; done",
        inside.display(),
        gate.display()
    );
    let b = bundle_with(&env, &id, &["sleep", "1000"], |c| {
        c["hooks"] =
            serde_json::json!({"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", script]}]});
    });
    let mut create = env
        .cmd(&["create", "--bundle", &b.to_string_lossy(), &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env("HULL_CRASH_MARK", &id)
        .spawn()
        .unwrap();
    wait_until("the hook to run", Duration::from_secs(20), || {
        inside.exists()
    });
    // `state` and `delete -f` must wait for the create to finish.
    let out = env.tmp.path().join("state.out");
    let err = env.tmp.path().join("state.err");
    let mut state = env
        .cmd(&["state", &id])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let mut del = env
        .cmd(&["delete", &id])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        state.try_wait().unwrap().is_none(),
        "state did not wait for the lock"
    );
    assert!(
        del.try_wait().unwrap().is_none(),
        "delete did not wait for the lock"
    );
    std::fs::write(&gate, b"").unwrap();
    assert!(create.wait().unwrap().success(), "create failed");
    // It saw the container as the create left it (or, when the delete got the lock first, not at
    // all), never half-made.
    if state.wait().unwrap().success() {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        assert_eq!(v["status"], "created", "state during create: {v}");
    } else {
        let e = std::fs::read_to_string(&err).unwrap();
        assert!(e.contains("does not exist"), "{e}");
    }
    let d = del.wait_with_output().unwrap();
    // delete of a created container kills its init and removes it.
    assert!(d.status.success(), "{}", String::from_utf8_lossy(&d.stderr));
    assert_clean(&env, &id, &b, "after the serialised delete");
}

#[test]
fn eight_parallel_delete_force_delete_once() {
    let env = Env::new();
    let id = env.id("del8");
    let (root, scratch) = (env.root.clone(), env.tmp.path().to_path_buf());
    let log = env.tmp.path().join("poststop.log");
    let hook = format!("echo deleted >> {}", log.display());
    let b = bundle_with(&env, &id, &["sleep", "1000"], |c| {
        c["hooks"] =
            serde_json::json!({"poststop": [{"path": "/bin/sh", "args": ["sh", "-c", hook]}]});
    });
    ok(
        &env.hull(&["create", "--bundle", &b.to_string_lossy(), &id]),
        "create",
    );
    ok(&env.hull(&["start", &id]), "start");
    let outs: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| hull_at(&root, &scratch, &["delete", "-f", &id])))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        // As runc: `delete -f` of a container that is already gone succeeds, silently.
        assert!(o.status.success(), "delete -f: {}", stderr(o));
        assert_eq!(stderr(o), "", "delete -f said something");
    }
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(lines.lines().count(), 1, "poststop ran {lines:?}");
    assert_clean(&env, &id, &b, "after 8 parallel delete -f");

    // Without -f: one deletes the stopped container, the others say only "does not exist".
    let id = env.id("del8s");
    let b = bundle_with(&env, &id, &["true"], |_| {});
    ok(
        &env.hull(&["run", "--keep", "--bundle", &b.to_string_lossy(), &id]),
        "run --keep",
    );
    assert_eq!(env.status(&id), "stopped");
    let outs: Vec<_> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| s.spawn(|| hull_at(&root, &scratch, &["delete", &id])))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let okays = outs.iter().filter(|o| o.status.success()).count();
    assert_eq!(okays, 1, "deletions: {okays}");
    for o in outs.iter().filter(|o| !o.status.success()) {
        assert_eq!(
            stderr(o).trim(),
            format!("hull: container {id} does not exist"),
            "unexpected error"
        );
    }
    assert_clean(&env, &id, &b, "after 8 parallel delete");
}

#[test]
fn hundred_parallel_lifecycles_leave_nothing() {
    let env = Env::new();
    let ids: Vec<String> = (0..100).map(|_| env.id("par")).collect();
    let bundles: Vec<PathBuf> = ids
        .iter()
        .map(|id| bundle_with(&env, id, &["sleep", "1000"], |_| {}))
        .collect();
    let (root, scratch) = (env.root.clone(), env.tmp.path().to_path_buf());
    std::thread::scope(|s| {
        for (id, b) in ids.iter().zip(&bundles) {
            let (root, scratch) = (&root, &scratch);
            s.spawn(move || {
                let h = |args: &[&str]| hull_at(root, scratch, args);
                ok(
                    &h(&["create", "--bundle", &b.to_string_lossy(), id]),
                    "create",
                );
                ok(&h(&["start", id]), "start");
                let st: serde_json::Value =
                    serde_json::from_slice(&h(&["state", id]).stdout).unwrap();
                assert_eq!(st["status"], "running");
                ok(&h(&["delete", "-f", id]), "delete -f");
            });
        }
    });
    for (id, b) in ids.iter().zip(&bundles) {
        assert_gone(&env, id, b, id, false);
    }
    let rest: Vec<_> = std::fs::read_dir(&env.root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(rest.is_empty(), "left under --root: {rest:?}");
}

/// Run `script` in a private mount namespace (mounts made there vanish with it).
fn in_private_mountns(script: &str) -> (String, String) {
    let o = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-ec", script])
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(o.status.success(), "script failed: {err}\n{out}");
    (out, err)
}

fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in {out}"))
}

fn q(p: &Path) -> String {
    format!("'{}'", p.display())
}

#[test]
fn read_only_root_gives_a_clear_error() {
    let env = Env::new();
    let id = env.id("ro");
    let b = bundle_with(&env, &id, &["true"], |_| {});
    let ro = env.tmp.path().join("ro");
    std::fs::create_dir_all(ro.join("state")).unwrap();
    let hull = hull_bin();
    // The state root exists but is read-only (bind-mounted ro in a private mount namespace).
    let script = format!(
        "mount --bind {ro} {ro}; mount -o remount,bind,ro {ro}
         set +e
         {hull} --root {ro}/state create --bundle {b} {id} 2>{ro}.err; echo rc=$?
         {hull} --root {ro}/state delete -f {id} >/dev/null 2>&1
         echo left=$(ls -A {ro}/state)",
        ro = q(&ro),
        hull = q(&hull),
        b = q(&b),
    );
    let (out, _) = in_private_mountns(&script);
    let err = std::fs::read_to_string(format!("{}.err", ro.display())).unwrap();
    assert_eq!(field(&out, "rc"), "1", "create on a read-only root: {err}");
    assert!(
        err.contains(&ro.join("state").display().to_string())
            && err.contains("Read-only file system"),
        "error names the path and the cause: {err}"
    );
    assert_eq!(field(&out, "left"), "", "left under the read-only root");
    for d in cgroup_dirs(&id) {
        assert!(!d.exists(), "cgroup made: {}", d.display());
    }
    assert!(marked_pids(&id).is_empty());
}

#[test]
fn full_disk_gives_a_clear_error_and_no_half_written_file() {
    let env = Env::new();
    let hull = hull_bin();
    let mut failed = 0;
    // 0..4 free pages of a 64k tmpfs: the create fails at its first, second, ... write.
    for free in 0..5 {
        let id = env.id(&format!("full{free}"));
        let b = bundle_with(&env, &id, &["true"], |_| {});
        let d = env.tmp.path().join(format!("disk{free}"));
        std::fs::create_dir_all(&d).unwrap();
        let script = format!(
            "mount -t tmpfs -o size=64k,mode=700 tmpfs {d}
             mkdir {d}/state
             dd if=/dev/zero of={d}/fill bs=4096 count={fill} 2>/dev/null || true
             set +e
             HULL_CRASH_MARK={id} {hull} --root {d}/state create --bundle {b} {id} 2>{d}.err; echo rc=$?
             echo left=$(ls -A {d}/state)
             {hull} --root {d}/state delete -f {id} >/dev/null 2>&1
             echo after=$(ls -A {d}/state)",
            d = q(&d),
            hull = q(&hull),
            b = q(&b),
            fill = 16 - free,
        );
        let (out, _) = in_private_mountns(&script);
        let err = std::fs::read_to_string(format!("{}.err", d.display())).unwrap();
        if field(&out, "rc") == "0" {
            // Enough room: created, then deleted inside the namespace.
            assert_eq!(field(&out, "left"), id);
        } else {
            failed += 1;
            assert!(
                err.contains(&d.join("state").display().to_string())
                    && err.contains("No space left on device"),
                "{free} pages free: error names the path and the cause: {err}"
            );
            // Nothing half-written: no state dir, no temp file.
            assert_eq!(field(&out, "left"), "", "{free} pages free: {err}");
        }
        assert_eq!(field(&out, "after"), "");
        assert_gone(&env, &id, &b, &format!("{free} pages free"), false);
    }
    assert!(failed >= 2, "only {failed} of the full-disk cases failed");
}
