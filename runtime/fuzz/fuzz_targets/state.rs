//! Arbitrary bytes as a container's state.json, read through the real loader (`Store::open` +
//! `load_current`: lock, read, parse, status from /proc) as `hull state`/`delete` do: never a
//! panic, only errors; a state that loads renders its runtime-spec state document and saves and
//! loads again unchanged in status and id.
#![no_main]

use hull::container::state::Store;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

const ID: &str = "fuzz";

/// One private state root for the whole run (on tmpfs when /dev/shm exists), removed at exit
/// by the Makefile's temp dir; each input overwrites `ROOT/fuzz/state.json`.
fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = std::env::var_os("HULL_FUZZ_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let r = base.join(format!("hull-fuzz-state-{}", std::process::id()));
        std::fs::create_dir_all(r.join(ID)).expect("state root");
        r
    })
}

fuzz_target!(|data: &[u8]| {
    let root = root();
    std::fs::write(root.join(ID).join("state.json"), data).expect("write state.json");
    let store = Store::new(root);
    let dir = store.open(ID).expect("open an existing state dir");
    let Ok(state) = dir.load_current() else {
        return;
    };
    let doc = state.spec_json();
    assert_eq!(doc["id"], serde_json::json!(state.id));
    dir.save(&state).expect("save a loaded state");
    let again = dir.load().expect("load what was saved");
    assert_eq!(again.id, state.id);
    assert_eq!(again.status, state.status);
    assert_eq!(again.pid, state.pid);
});
