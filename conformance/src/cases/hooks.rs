//! config.md#posix-platform-hooks and runtime.md#lifecycle: prestart, createRuntime,
//! createContainer, startContainer, poststart, poststop.
//! Every test hook reads its stdin (the state): crun fails a hook that exits before it wrote it.
use crate::harness::{proc_ns, Bad, Bundle, Ctx, R};
use crate::{case, check, check_eq, Case};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

const H: &str = "config.md#posix-platform-hooks";
const LC: &str = "runtime.md#lifecycle";
const ALL: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A hook that records its name (in `order`), its mount namespace and its stdin under `out`.
fn hook(name: &str, out: &str, sh: &str) -> Value {
    let script = format!("echo {name} >> {out}/order; readlink /proc/self/ns/mnt > {out}/{name}.ns; cat > {out}/{name}.stdin; true");
    json!({"path": sh, "args": ["sh", "-c", script]})
}

fn failing_hook(sh: &str) -> Value {
    json!({"path": sh, "args": ["sh", "-c", "cat > /dev/null; exit 3"]})
}

struct HookRun {
    b: Bundle,
    out: PathBuf,
    pid: i32,
    after_create: Vec<String>,
    after_start: Vec<String>,
    final_order: Vec<String>,
    container_mnt: String,
}

impl HookRun {
    fn read(&self, f: &str) -> String {
        std::fs::read_to_string(self.out.join(f))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
    fn stdin_state(&self, name: &str) -> R<Value> {
        let s = self.read(&format!("{name}.stdin"));
        serde_json::from_str(&s)
            .map_err(|e| Bad::Fail(format!("{name} hook stdin is not state JSON ({e}): {s:?}")))
    }
}

fn order(out: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(out.join("order"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// A container with every hook; create, start, kill, delete, recording what ran when.
fn hook_run(c: &mut Ctx, tweak: impl Fn(&mut Value, &str)) -> R<HookRun> {
    let mut cfg = c.config(&["sleep", "300"]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({"destination": "/hookout", "type": "bind", "source": "HOOKOUT", "options": ["rbind", "rw"]}));
    let b = c.bundle(&cfg)?;
    let out = b.dir.join("hookout");
    std::fs::create_dir_all(&out).map_err(|e| Bad::Fail(e.to_string()))?;
    let o = out.to_string_lossy().into_owned();
    let mut hooks = serde_json::Map::new();
    for name in ALL {
        let h = if *name == "startContainer" {
            hook(name, "/hookout", "/bin/sh")
        } else {
            hook(name, &o, "/bin/sh")
        };
        hooks.insert(name.to_string(), json!([h]));
    }
    let mut cfg: Value =
        serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap_or_default())
            .unwrap_or(Value::Null);
    for m in cfg["mounts"].as_array_mut().unwrap() {
        if m["source"] == "HOOKOUT" {
            m["source"] = json!(o);
        }
    }
    cfg["hooks"] = Value::Object(hooks);
    tweak(&mut cfg, &o);
    std::fs::write(
        b.dir.join("config.json"),
        serde_json::to_vec_pretty(&cfg).unwrap(),
    )
    .map_err(|e| Bad::Fail(e.to_string()))?;
    c.create(&b)?;
    let after_create = order(&out);
    let pid = c.pid(&b.id)?;
    let container_mnt = proc_ns(pid, "mnt");
    c.start(&b.id)?;
    let after_start = order(&out);
    let k = c.kill(&b.id, "KILL");
    check!(k.ok(), "kill failed: {}", k.brief());
    c.wait_status(&b.id, "stopped", 10)?;
    let d = c.delete(&b.id, false);
    check!(d.ok(), "delete failed: {}", d.brief());
    let final_order = order(&out);
    Ok(HookRun {
        b,
        out,
        pid,
        after_create,
        after_start,
        final_order,
        container_mnt,
    })
}

fn called_case(name: &'static str) -> Case {
    case(H, format!("hooks-{name}-called"), move |c| {
        let r = hook_run(c, |_, _| {})?;
        check!(
            r.final_order.iter().any(|x| x == name),
            "{name} hook did not run (ran: {:?})",
            r.final_order
        );
        Ok(())
    })
}

fn ns_case(name: &'static str, in_container: bool) -> Case {
    let label = if in_container { "container" } else { "runtime" };
    case(H, format!("hooks-{name}-in-{label}-namespace"), move |c| {
        let r = hook_run(c, |_, _| {})?;
        let got = r.read(&format!("{name}.ns"));
        check!(
            !got.is_empty(),
            "{name} hook did not record its mount namespace"
        );
        let want = if in_container {
            r.container_mnt.clone()
        } else {
            c.env.host_ns("mnt")
        };
        check_eq!(
            got,
            want,
            format!("{name} hook's mount namespace ({label}'s)")
        );
        Ok(())
    })
}

/// A config whose hook `name` fails; returns (create ok, start ok or None, marker written, bundle).
fn fail_case(name: &'static str) -> Case {
    case(H, format!("hooks-{name}-failure-errors"), move |c| {
        let mut cfg = c.config(&["write", "/tmp/ran", "sleep", "300"]);
        cfg["root"]["readonly"] = json!(false);
        let sh = "/bin/sh";
        cfg["hooks"] = json!({name: [failing_hook(sh)]});
        let b = c.bundle(&cfg)?;
        let cr = c.create_with(&b, &[]);
        let failed = if cr.ok() {
            let st = c.rt(&["start", &b.id]);
            !st.ok()
        } else {
            true
        };
        check!(
            failed,
            "create and start succeeded although the {name} hook failed"
        );
        std::thread::sleep(Duration::from_millis(300));
        check!(
            !b.rootfs().join("tmp/ran").exists(),
            "the user program ran although the {name} hook failed"
        );
        let st = c.rt(&["state", &b.id]);
        if st.ok() {
            let v: Value = serde_json::from_str(&st.stdout).unwrap_or(Value::Null);
            check_eq!(
                v["status"].as_str().unwrap_or(""),
                "stopped",
                format!("status after a failed {name} hook")
            );
        }
        Ok(())
    })
}

pub fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = ALL.iter().map(|n| called_case(n)).collect();
    v.push(ns_case("prestart", false));
    v.push(ns_case("createRuntime", false));
    v.push(ns_case("createContainer", true));
    v.push(ns_case("startContainer", true));
    v.push(ns_case("poststart", false));
    v.push(ns_case("poststop", false));
    for n in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
    ] {
        v.push(fail_case(n));
    }
    v.push(case(LC, "hooks-order", |c| {
        let r = hook_run(c, |_, _| {})?;
        let want: Vec<String> = ALL.iter().map(|s| s.to_string()).collect();
        check_eq!(r.final_order, want, "order the hooks ran in");
        Ok(())
    }));
    v.push(case(LC, "hooks-create-phase", |c| {
        let r = hook_run(c, |_, _| {})?;
        check_eq!(
            r.after_create,
            vec![
                "prestart".to_string(),
                "createRuntime".into(),
                "createContainer".into()
            ],
            "hooks run when create returned"
        );
        Ok(())
    }));
    v.push(case(LC, "hooks-start-phase", |c| {
        let r = hook_run(c, |_, _| {})?;
        let want: Vec<String> = ALL[..5].iter().map(|s| s.to_string()).collect();
        check_eq!(r.after_start, want, "hooks run when start returned");
        Ok(())
    }));
    v.push(case(H, "hooks-array-order", |c| {
        let r = hook_run(c, |cfg, o| {
            cfg["hooks"]["createRuntime"] = json!([
                {"path": "/bin/sh", "args": ["sh", "-c", format!("cat > /dev/null; echo first >> {o}/seq")]},
                {"path": "/bin/sh", "args": ["sh", "-c", format!("cat > /dev/null; echo second >> {o}/seq")]},
                {"path": "/bin/sh", "args": ["sh", "-c", format!("cat > /dev/null; echo third >> {o}/seq")]},
            ]);
        })?;
        check_eq!(
            r.read("seq"),
            "first\nsecond\nthird",
            "order of hooks within createRuntime"
        );
        Ok(())
    }));
    for name in ["createRuntime", "createContainer", "poststart"] {
        v.push(case(H, format!("hooks-{name}-state-on-stdin"), move |c| {
            let r = hook_run(c, |_, _| {})?;
            let s = r.stdin_state(name)?;
            check_eq!(
                s["id"].as_str().unwrap_or(""),
                r.b.id,
                "id in the hook's state"
            );
            check_eq!(
                s["pid"].as_i64().unwrap_or(0),
                r.pid as i64,
                "pid in the hook's state"
            );
            check_eq!(
                s["bundle"].as_str().unwrap_or(""),
                r.b.dir.to_string_lossy(),
                "bundle in the hook's state"
            );
            check!(
                s["ociVersion"].is_string(),
                "no ociVersion in the hook's state: {s}"
            );
            Ok(())
        }));
    }
    v.push(case(H, "hooks-poststop-state-on-stdin", |c| {
        let r = hook_run(c, |_, _| {})?;
        let s = r.stdin_state("poststop")?;
        check_eq!(
            s["id"].as_str().unwrap_or(""),
            r.b.id,
            "id in the poststop hook's state"
        );
        check_eq!(
            s["bundle"].as_str().unwrap_or(""),
            r.b.dir.to_string_lossy(),
            "bundle in the poststop hook's state"
        );
        Ok(())
    }));
    v.push(case(H, "hooks-args-and-env", |c| {
        let r = hook_run(c, |cfg, o| {
            cfg["hooks"]["createRuntime"] = json!([{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > /dev/null; echo \"$HC_HOOK $1 $2\" > {o}/argenv"), "sh", "one", "two"], "env": ["HC_HOOK=hello", "PATH=/usr/bin:/bin"]}]);
        })?;
        check_eq!(r.read("argenv"), "hello one two", "hook env and args");
        Ok(())
    }));
    v.push(case(H, "hooks-poststart-failure-warns-and-continues", |c| {
        let r = hook_run(c, |cfg, o| {
            cfg["hooks"]["poststart"] = json!([failing_hook("/bin/sh"), {"path": "/bin/sh", "args": ["sh", "-c", format!("cat > /dev/null; echo after >> {o}/post")]}]);
        });
        let r = r?;
        check_eq!(r.read("post"), "after", "poststart hook after the failing one");
        Ok(())
    }));
    v.push(case(H, "hooks-poststop-failure-warns-and-continues", |c| {
        let r = hook_run(c, |cfg, o| {
            cfg["hooks"]["poststop"] = json!([failing_hook("/bin/sh"), {"path": "/bin/sh", "args": ["sh", "-c", format!("cat > /dev/null; echo after >> {o}/post")]}]);
        })?;
        check_eq!(r.read("post"), "after", "poststop hook after the failing one");
        check!(!c.rt(&["state", &r.b.id]).ok(), "container still known after delete");
        Ok(())
    }));
    v.push(case(H, "hooks-timeout", |c| {
        let mut cfg = c.config(&["sleep", "300"]);
        cfg["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /dev/null; exec sleep 20"], "timeout": 1}]});
        let b = c.bundle(&cfg)?;
        let t = std::time::Instant::now();
        let o = c.create_with(&b, &[]);
        check!(!o.ok(), "create succeeded although the createRuntime hook ran past its 1 s timeout");
        check!(t.elapsed() < Duration::from_secs(15), "create waited {:?} for a hook with a 1 s timeout", t.elapsed());
        Ok(())
    }));
    v
}
