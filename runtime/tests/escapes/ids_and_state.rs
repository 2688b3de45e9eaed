//! IDs, paths and the state dir.
use super::*;

// ------------------------------------------------------------- IDs, paths, the state dir

#[test]
fn bad_ids_build_no_path() {
    let env = Env::new();
    let b = env.bundle("b", &config(&["true"]));
    let b = b.to_str().unwrap();
    let long = "a".repeat(1025);
    let escape = format!("../{}", "escaped");
    for bad in [
        "a/b", "..", ".", "", " ", "a b", "x\ny", &escape, "/abs", &long,
    ] {
        let o = env.hull(&["create", "-b", b, bad]);
        assert!(!o.status.success(), "id {bad:?} accepted");
        assert!(
            stderr(&o).contains("container id") || stderr(&o).contains("ID"),
            "id {bad:?}: {}",
            stderr(&o)
        );
        for verb in [
            &["state", bad][..],
            &["delete", "-f", bad],
            &["kill", bad, "KILL"],
            &["start", bad],
        ] {
            let o = env.hull(verb);
            assert!(!o.status.success(), "{verb:?} accepted");
        }
    }
    assert!(
        !env.tmp.path().join("escaped").exists(),
        "state dir created outside --root"
    );
    let n = std::fs::read_dir(&env.root).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "something was created under --root");
}

#[test]
fn bundle_paths_are_checked() {
    let env = Env::new();
    let f = env.tmp.path().join("a-file");
    std::fs::write(&f, "x").unwrap();
    // The rootfs is a symlink to nowhere.
    let dangling = env.tmp.path().join("dangling");
    std::fs::create_dir_all(&dangling).unwrap();
    std::fs::write(
        dangling.join("config.json"),
        serde_json::to_vec(&config(&["true"])).unwrap(),
    )
    .unwrap();
    std::os::unix::fs::symlink("/nonexistent-hull-rootfs", dangling.join("rootfs")).unwrap();
    for (bundle, needle) in [
        (f.to_str().unwrap(), "a-file"),
        ("/nonexistent-hull-bundle", "/nonexistent-hull-bundle"),
        (dangling.to_str().unwrap(), "rootfs"),
    ] {
        let id = env.id("bundle");
        let o = env.hull(&["create", "-b", bundle, &id]);
        assert!(!o.status.success(), "bundle {bundle} accepted");
        assert!(
            stderr(&o).contains(needle),
            "bundle {bundle}: {}",
            stderr(&o)
        );
        assert!(!env.root.join(&id).exists(), "state left for {bundle}");
    }
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn state_dir_is_root_only() {
    let env = Env::new();
    let id = env.id("perm");
    let b = env.bundle("b", &config(&["sleep", "30"]));
    let o = env.hull(&["create", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&env.root), 0o700, "--root");
    let dir = env.root.join(&id);
    assert_eq!(mode(&dir), 0o700, "container dir");
    assert_eq!(mode(&dir.join("state.json")), 0o600, "state.json");
    use std::os::unix::fs::MetadataExt;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let md = e.metadata().unwrap();
        assert_eq!(md.uid(), 0, "{:?} not owned by root", e.path());
        if e.file_name() == "exec.fifo" {
            // Writable by the container's user (as runc: the init, after its user switch,
            // reopens it through its fd); no one else can reach it through the 0700 dir.
            assert_eq!(md.mode() & 0o7777, 0o622, "exec.fifo");
            continue;
        }
        assert_eq!(
            md.mode() & 0o007,
            0,
            "{:?} is open to others: {:o}",
            e.path(),
            md.mode()
        );
    }
    let o = env.hull(&["start", &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&dir), 0o700, "container dir after start");
    assert_eq!(
        mode(&dir.join("state.json")),
        0o600,
        "state.json after start"
    );
}
