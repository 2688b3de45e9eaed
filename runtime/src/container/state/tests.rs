//! Store and state-file behaviour on a temporary root.

use super::*;
use std::os::unix::fs::MetadataExt;

#[test]
fn ids_are_validated() {
    for good in ["a", "abc-123", "x_y.z+1", "A.B"] {
        assert!(validate_id(good).is_ok(), "{good}");
    }
    for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0b", "é"] {
        let e = validate_id(bad).unwrap_err().to_string();
        assert!(e.contains("invalid container id"), "{bad}: {e}");
    }
    assert!(validate_id(&"a".repeat(1025)).is_err());
}

#[test]
fn proc_stat_reads_own_process() {
    let (st, start) = proc_stat(std::process::id() as i32).expect("own stat");
    assert!(st != 'Z' && st != 'X', "{st}");
    assert!(start > 0);
    assert!(process_alive(std::process::id() as i32, start));
    assert!(!process_alive(std::process::id() as i32, start + 1));
    assert!(!process_alive(0, 0));
}

fn state(id: &str, status: Status) -> State {
    State {
        oci_version: "1.2.0".into(),
        id: id.into(),
        status,
        pid: 0,
        bundle: "/b".into(),
        rootfs: "/b/rootfs".into(),
        created: "now".into(),
        owner: String::new(),
        annotations: HashMap::new(),
        start_time: 0,
        cgroup_path: None,
        systemd_cgroup: false,
        poststart: vec![],
        poststop: vec![],
    }
}

#[test]
fn store_create_is_exclusive_and_removable() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(&tmp.path().join("root"));
    let d = store.create(&state("c1", Status::Creating)).unwrap();
    // The first state is on disk as soon as the ID exists.
    let raw = fs::read(tmp.path().join("root/c1").join(STATE_FILE)).unwrap();
    let on_disk: State = serde_json::from_slice(&raw).unwrap();
    assert_eq!(on_disk.status, Status::Creating);
    d.save(&state("c1", Status::Created)).unwrap();
    drop(d);
    match store.create(&state("c1", Status::Creating)) {
        Err(Error::AlreadyExists { half_created, .. }) => assert!(!half_created),
        other => panic!("expected AlreadyExists, got {:?}", other.err()),
    }
    // Nothing but the container's own directory under the root (the temp dir is gone).
    let names: Vec<_> = fs::read_dir(store.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("c1")]);
    assert_eq!(store.ids().unwrap(), vec!["c1".to_string()]);
    let d = store.open("c1").unwrap();
    // pid 0 is never alive: the status is computed as stopped.
    assert_eq!(d.load_current().unwrap().status, Status::Stopped);
    d.remove().unwrap();
    assert!(store.ids().unwrap().is_empty());
    assert!(store.open("c1").err().unwrap().is_not_found());
}

#[test]
fn a_dir_without_state_is_half_created_and_removable() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(&tmp.path().join("root"));
    fs::create_dir_all(store.root().join("half")).unwrap();
    match store.create(&state("half", Status::Creating)) {
        Err(e @ Error::AlreadyExists { .. }) => {
            assert!(matches!(
                e,
                Error::AlreadyExists {
                    half_created: true,
                    ..
                }
            ));
            assert!(e.to_string().contains("hull delete -f half"), "{e}");
        }
        other => panic!("expected AlreadyExists, got {:?}", other.err()),
    }
    assert_eq!(store.ids().unwrap(), vec!["half".to_string()]);
    let d = store.open("half").unwrap();
    let st = d.load_current().unwrap();
    assert_eq!((st.status, st.pid), (Status::Stopped, 0));
    // While a command holds the lock, the ID is busy, not half-created.
    match store.create(&state("half", Status::Creating)) {
        Err(Error::AlreadyExists { half_created, .. }) => assert!(!half_created),
        other => panic!("expected AlreadyExists, got {:?}", other.err()),
    }
    d.remove().unwrap();
    assert!(!store.root().join("half").exists());
}

#[test]
fn a_corrupt_state_is_reported_by_path() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(&tmp.path().join("root"));
    fs::create_dir_all(store.root().join("bad")).unwrap();
    fs::write(store.root().join("bad").join(STATE_FILE), b"{\"oci").unwrap();
    let d = store.open("bad").unwrap();
    match d.load() {
        Err(e @ Error::CorruptState { .. }) => {
            assert!(e.to_string().contains("bad/state.json"), "{e}")
        }
        other => panic!("expected CorruptState, got {other:?}"),
    }
}

#[test]
fn stale_temp_dirs_of_dead_creators_are_swept() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::new(&tmp.path().join("root"));
    // A pid that cannot exist (above pid_max's ceiling) and our own, which lives.
    let dead = store.root().join(format!("{NEW_PREFIX}99999999-1"));
    let live = store
        .root()
        .join(format!("{NEW_PREFIX}{}-1", std::process::id()));
    fs::create_dir_all(&dead).unwrap();
    fs::create_dir_all(&live).unwrap();
    assert!(store.ids().unwrap().is_empty(), "temp dirs are not IDs");
    store.sweep_stale();
    assert!(!dead.exists());
    assert!(live.exists());
}

#[test]
fn replace_file_swaps_in_the_new_content_and_leaves_no_temp() {
    let d = tempfile::tempdir().unwrap();
    let (new, target) = (d.path().join(".t.tmp"), d.path().join("t"));
    // First write: no target yet, a plain rename.
    fs::write(&new, "one").unwrap();
    super::replace_file(&new, &target).unwrap();
    assert_eq!(fs::read_to_string(&target).unwrap(), "one");
    assert!(!new.exists());
    // Replacing: the target's inode changes (a swap, not a write in place) and the old
    // content is gone with the temp name.
    let before = fs::metadata(&target).unwrap().ino();
    fs::write(&new, "two").unwrap();
    let new_ino = fs::metadata(&new).unwrap().ino();
    super::replace_file(&new, &target).unwrap();
    assert_eq!(fs::read_to_string(&target).unwrap(), "two");
    assert_eq!(fs::metadata(&target).unwrap().ino(), new_ino);
    assert_ne!(new_ino, before);
    assert!(!new.exists());
}
