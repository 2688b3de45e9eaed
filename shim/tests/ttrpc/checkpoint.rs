//! Checkpoint and restore through the task API, as containerd drives them (`ctr c checkpoint
//! --task`, `ctr c restore --live`): Checkpoint with containerd.runc.v1.CheckpointOptions, then a
//! Create naming the checkpoint and a Start that restores it. Needs CRIU that works on this
//! kernel (`criu check`; criu 3.17 does not on 6.18, so `make test-shim-checkpoint` runs this in
//! the VM's 6.1 kernel) and a runtime whose `features` says it can checkpoint.
use super::*;

/// Why CRIU cannot checkpoint on this machine, if it cannot.
fn criu_unusable() -> Option<(bool, String)> {
    match Command::new("criu").arg("check").output() {
        Err(e) => Some((
            false,
            format!("criu not installed ({e}): apt-get install criu"),
        )),
        Ok(o) if !o.status.success() => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
            Some((
                true,
                format!("`criu check` fails on kernel {}: {last}", kernel.trim()),
            ))
        }
        Ok(_) => None,
    }
}

/// containerd.runc.v1.CheckpointOptions{exit (1)} in protobuf wire format.
fn checkpoint_options(exit: bool) -> Any {
    let mut value = Vec::new();
    {
        let mut os = containerd_shim_protos::protobuf::CodedOutputStream::vec(&mut value);
        os.write_bool(1, exit).unwrap();
        os.flush().unwrap();
    }
    let mut a = Any::new();
    a.type_url = "containerd.runc.v1.CheckpointOptions".into();
    a.value = value;
    a
}

/// The counter the container keeps in its /dev/shm (a tmpfs CRIU dumps and restores), read
/// from the host through the process's root.
fn count(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/root/dev/shm/count"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

const COUNTER: &str = "i=0; while true; do i=$((i+1)); echo $i > /dev/shm/count; sleep 0.1; done";

#[test]
fn checkpoint_leave_running_then_exit_and_restore_keeps_counting() {
    let (hull, rootfs) = require!();
    match criu_unusable() {
        Some((true, why)) => return hull_testutil::skip_host_cannot(why),
        Some((false, why)) => return hull_testutil::skip(why),
        None => {}
    }
    // The runtime says whether it can checkpoint (runc's `features` annotation); hull's CLI
    // cannot yet, so `make test-shim-checkpoint` drives the shim with runc as its BinaryName.
    let features = Command::new(&hull).arg("features").output();
    let can = features.is_ok_and(|o| {
        String::from_utf8_lossy(&o.stdout)
            .contains("\"org.opencontainers.runc.checkpoint.enabled\": \"true\"")
    });
    if !can {
        eprintln!(
            "SKIP checkpoint: {} does not report checkpoint support in `features`",
            hull.display()
        );
        return;
    }
    let fx = Fixture::new(hull, rootfs, &["sh", "-c", COUNTER]);
    let _: api::CreateTaskResponse = call(fx.c(), "Create", &fx.create_req(Path::new(""))).unwrap();
    let pid = fx.start().pid;
    wait_for("the counter to pass 10", || count(pid) > 10);

    // Unknown id: NotFound; a non-running container cannot be checkpointed.
    let mut bad = api::CheckpointTaskRequest::new();
    bad.id = "no-such-container".into();
    bad.path = fx.dir.path().join("nowhere").to_string_lossy().into_owned();
    let e = call::<_, api::Empty>(fx.c(), "Checkpoint", &bad).unwrap_err();
    assert!(format!("{e:?}").contains("NOT_FOUND"), "{e:?}");

    // 1. Leave running (CheckpointOptions.exit = false): images written, the task still counts.
    let live = fx.dir.path().join("ckpt-live");
    let mut req = api::CheckpointTaskRequest::new();
    req.id = fx.id.clone();
    req.path = live.to_string_lossy().into_owned();
    req.options = MessageField::some(checkpoint_options(false));
    let _: api::Empty = call(fx.c(), "Checkpoint", &req).unwrap();
    assert!(
        live.join("inventory.img").is_file(),
        "CRIU images in {}",
        live.display()
    );
    let mut sreq = api::StateRequest::new();
    sreq.id = fx.id.clone();
    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::RUNNING));
    let after_live = count(pid);
    wait_for("the counter to go on after a leave-running dump", || {
        count(pid) > after_live
    });
    assert!(
        !fx.bundle().join("criu-work").exists(),
        "the shim's own CRIU work dir is removed"
    );

    // 2. Exit (CheckpointOptions.exit = true): the task stops; its count is in the images.
    wait_for("the counter to pass 20", || count(pid) > 20);
    let before = count(pid);
    let img = fx.dir.path().join("ckpt");
    req.path = img.to_string_lossy().into_owned();
    req.options = MessageField::some(checkpoint_options(true));
    let _: api::Empty = call(fx.c(), "Checkpoint", &req).unwrap();
    let _ = fx.wait("");
    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::STOPPED));
    fx.delete("");
    assert!(!fx.root().join(&fx.id).exists(), "runtime state removed");

    // 3. A Create naming a checkpoint that is not there fails and leaves nothing behind.
    let mut cr = fx.create_req(Path::new(""));
    cr.checkpoint = fx.dir.path().join("missing").to_string_lossy().into_owned();
    let e = call::<_, api::CreateTaskResponse>(fx.c(), "Create", &cr).unwrap_err();
    assert!(format!("{e:?}").contains("missing"), "{e:?}");
    assert!(
        !fx.rootfs_mounted(),
        "no rootfs mount left by the refused Create"
    );

    // 4. Create from the checkpoint (pid 0: nothing runs yet), Start restores it.
    cr.checkpoint = img.to_string_lossy().into_owned();
    let created: api::CreateTaskResponse = call(fx.c(), "Create", &cr).unwrap();
    assert_eq!(created.pid, 0, "a checkpointed task runs only after Start");
    let restored = fx.start().pid;
    assert!(restored > 0);
    let st: api::StateResponse = call(fx.c(), "State", &sreq).unwrap();
    assert_eq!(st.status.enum_value(), Ok(Status::RUNNING));
    assert_eq!(st.pid, restored);
    let first = count(restored);
    assert!(
        first >= before,
        "restored counter {first} continues from {before} (a fresh start would count from 1)"
    );
    wait_for("the restored counter to go on", || count(restored) > first);

    let mut k = api::KillRequest::new();
    k.id = fx.id.clone();
    k.signal = 9;
    let _: api::Empty = call(fx.c(), "Kill", &k).unwrap();
    assert_eq!(
        fx.wait("").exit_status,
        137,
        "the restored init is the shim's to reap"
    );
    fx.delete("");
    assert!(!fx.root().join(&fx.id).exists(), "runtime state removed");
    assert!(!fx.rootfs_mounted(), "rootfs unmounted by Delete");
}
