//! `hull checkpoint` / `restore` through the binary: bad input and, on a kernel criu cannot
//! dump on (this host), the clear error quoting criu's own log. Needs root and criu.

mod common;
use common::*;

const COUNTER: &str = "i=0; while :; do i=$((i+1)); echo $i > /tmp/n; sleep 0.1; done";

fn criu_works() -> bool {
    std::process::Command::new("criu")
        .arg("check")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn checkpoint_bad_input_is_refused_and_leaves_nothing() {
    let env = Env::new();
    let id = env.id("ckpt-bad");
    let b = env.bundle(&id, &config(&["sh", "-c", COUNTER]));
    let o = env.hull(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    let img = env.tmp.path().join("img-bad");
    let ip = img.to_str().unwrap();
    let o = env.hull(&[
        "checkpoint",
        "--image-path",
        ip,
        "--manage-cgroups-mode",
        "bogus",
        &id,
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--manage-cgroups-mode"),
        "{}",
        stderr(&o)
    );
    let o = env.hull(&["checkpoint", "--image-path", ip, "--empty-ns", "nope", &id]);
    assert!(stderr(&o).contains("--empty-ns"), "{}", stderr(&o));
    assert!(!img.exists(), "a refused checkpoint created {ip}");
    assert_eq!(env.status(&id), "running");
    let o = env.hull(&["restore", "--image-path", ip, &id]);
    assert!(!o.status.success() && stderr(&o).contains("not supported"));
    // A stopped container has nothing to checkpoint.
    assert!(env.hull(&["kill", &id, "KILL"]).status.success());
    wait_until("stopped", std::time::Duration::from_secs(10), || {
        env.status(&id) == "stopped"
    });
    let o = env.hull(&["checkpoint", "--image-path", ip, &id]);
    assert!(
        !o.status.success() && stderr(&o).contains("is stopped"),
        "{}",
        stderr(&o)
    );
    assert!(!img.exists());
    assert!(env.hull(&["delete", &id]).status.success());
    let o = env.hull(&["checkpoint", "--image-path", ip, "no-such-ckpt"]);
    assert!(!o.status.success() && stderr(&o).contains("no-such-ckpt"));
}

#[test]
fn checkpoint_where_criu_cannot_dump_quotes_criu() {
    if criu_works() {
        eprintln!("skip: criu check passes here; the VM test covers a real dump");
        return;
    }
    let env = Env::new();
    let id = env.id("ckpt-host");
    let b = env.bundle(&id, &config(&["sh", "-c", COUNTER]));
    assert!(env
        .hull(&["run", "-d", "-b", b.to_str().unwrap(), &id])
        .status
        .success());
    let img = env.tmp.path().join("img");
    let o = env.hull(&["checkpoint", "--image-path", img.to_str().unwrap(), &id]);
    let e = stderr(&o);
    assert!(!o.status.success());
    assert!(
        e.contains("criu dump failed") && e.contains("dump.log"),
        "{e}"
    );
    assert!(
        e.contains("Error ("),
        "criu's own error line is quoted: {e}"
    );
    // The failed dump leaves the container as it was.
    assert_eq!(env.status(&id), "running");
    assert!(env.hull(&["delete", "-f", &id]).status.success());
}
