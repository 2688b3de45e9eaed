//! hull-conformance: a runtime-agnostic OCI runtime-spec conformance suite.
//!
//! `hull-conformance --runtime PATH [--rootfs DIR] [--probe PATH] [--filter PATTERN] [--list]
//!  [--known-failures FILE] [--jobs N] [--hide-cgroup2]`
//!
//! Every case builds its own bundle (busybox rootfs + the static `hull-probe`), drives the runtime
//! through its runc-compatible CLI with a private `--root`, and compares what the probe sees from
//! inside the container, and what the host sees, with the config. Output is TAP.
mod cases;
mod compare;
mod harness;

use harness::{Bad, CgLayout, Ctx, Env};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

pub type CaseFn = Box<dyn Fn(&mut Ctx) -> harness::R + Send + Sync>;

/// One conformance case.
pub struct Case {
    pub name: String,
    /// The spec section it checks (e.g. "runtime.md#lifecycle").
    pub section: &'static str,
    pub run: CaseFn,
}

pub fn case(
    section: &'static str,
    name: impl Into<String>,
    f: impl Fn(&mut Ctx) -> harness::R + Send + Sync + 'static,
) -> Case {
    Case {
        name: name.into(),
        section,
        run: Box::new(f),
    }
}

struct Opts {
    runtime: Option<PathBuf>,
    rootfs: Option<PathBuf>,
    probe: Option<PathBuf>,
    filter: Vec<String>,
    list: bool,
    known: Option<PathBuf>,
    jobs: usize,
    hide_cgroup2: bool,
    timeout: u64,
    compare: Vec<(String, PathBuf)>,
}

const USAGE: &str = "usage: hull-conformance --runtime PATH [--rootfs DIR] [--probe PATH] [--filter PATTERN[,PATTERN...]]
                        [--list] [--known-failures FILE] [--jobs N] [--timeout SECS] [--hide-cgroup2]
  --rootfs        busybox rootfs to copy into each bundle (default: $HULL_ROOTFS)
  --probe         static hull-probe binary (default: $HULL_PROBE, else target/probe/.../hull-probe)
  --filter        run only cases whose name contains one of the comma-separated patterns
  --known-failures  file of case names (one a line, '# reason' comments) expected to fail
  --compare NAME=TAPFILE  (repeatable) print a markdown table comparing saved TAP outputs
  --hide-cgroup2  run in a private mount namespace where the cgroup2 mount of a hybrid host is
                  unmounted (crun 1.8 refuses hybrid hosts); the host's mounts are not changed";

fn parse_args() -> Result<Opts, String> {
    let mut o = Opts {
        runtime: None,
        rootfs: None,
        probe: None,
        filter: vec![],
        list: false,
        known: None,
        jobs: 4,
        hide_cgroup2: false,
        timeout: 30,
        compare: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut val = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--runtime" => o.runtime = Some(PathBuf::from(val("--runtime")?)),
            "--rootfs" => o.rootfs = Some(PathBuf::from(val("--rootfs")?)),
            "--probe" => o.probe = Some(PathBuf::from(val("--probe")?)),
            "--filter" => o.filter.extend(
                val("--filter")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from),
            ),
            "--known-failures" => o.known = Some(PathBuf::from(val("--known-failures")?)),
            "--jobs" | "-j" => {
                o.jobs = val("--jobs")?
                    .parse()
                    .map_err(|_| "--jobs: not a number".to_string())?
            }
            "--timeout" => {
                o.timeout = val("--timeout")?
                    .parse()
                    .map_err(|_| "--timeout: not a number".to_string())?
            }
            "--list" => o.list = true,
            "--compare" => {
                let v = val("--compare")?;
                let (n, f) = v.split_once('=').ok_or("--compare takes NAME=TAPFILE")?;
                o.compare.push((n.to_string(), PathBuf::from(f)));
            }
            "--hide-cgroup2" => o.hide_cgroup2 = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

/// Known failures: case name -> reason.
fn read_known(path: &PathBuf) -> Result<BTreeMap<String, String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--known-failures {}: {e}", path.display()))?;
    let mut m = BTreeMap::new();
    let mut pending_reason = String::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            pending_reason.clear();
            continue;
        }
        if let Some(c) = line.strip_prefix('#') {
            pending_reason = c.trim().to_string();
            continue;
        }
        let (name, reason) = match line.split_once('#') {
            Some((n, r)) => (n.trim(), r.trim().to_string()),
            None => (line, pending_reason.clone()),
        };
        if reason.is_empty() {
            return Err(format!(
                "{}:{}: known failure {name:?} has no '# reason'",
                path.display(),
                n + 1
            ));
        }
        m.insert(name.to_string(), reason);
    }
    Ok(m)
}

/// Enter a private mount namespace and unmount the cgroup2 mount of a hybrid layout there.
fn hide_cgroup2() -> Result<(), String> {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| format!("make / rprivate: {e}"))?;
    let cg = CgLayout::detect();
    if !cg.v1.is_empty() {
        if let Some(u) = &cg.unified {
            umount2(u, MntFlags::MNT_DETACH).map_err(|e| format!("umount {}: {e}", u.display()))?;
        }
    }
    Ok(())
}

fn default_probe() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HULL_PROBE") {
        return Some(PathBuf::from(p));
    }
    let exe = std::env::current_exe().ok()?;
    // target/<profile>/hull-conformance -> target/probe/x86_64-unknown-linux-gnu/release/hull-probe
    let target = exe.parent()?.parent()?;
    let p = target.join("probe/x86_64-unknown-linux-gnu/release/hull-probe");
    p.exists().then_some(p)
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hull-conformance: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    if !o.compare.is_empty() {
        let mut runs = vec![];
        for (n, f) in &o.compare {
            match std::fs::read_to_string(f) {
                Ok(t) => runs.push((n.clone(), t)),
                Err(e) => {
                    eprintln!("hull-conformance: --compare {n}={}: {e}", f.display());
                    std::process::exit(2);
                }
            }
        }
        print!("{}", compare::table(&runs));
        return;
    }
    let all = cases::all();
    let selected: Vec<Arc<Case>> = all
        .into_iter()
        .filter(|c| o.filter.is_empty() || o.filter.iter().any(|f| c.name.contains(f.as_str())))
        .map(Arc::new)
        .collect();
    if o.list {
        for c in &selected {
            println!("{}\t{}", c.name, c.section);
        }
        return;
    }
    let die = |msg: String| -> ! {
        eprintln!("hull-conformance: {msg}");
        std::process::exit(2)
    };
    let runtime = o
        .runtime
        .clone()
        .unwrap_or_else(|| die(format!("--runtime is required\n{USAGE}")));
    let runtime = std::fs::canonicalize(&runtime)
        .unwrap_or_else(|e| die(format!("--runtime {}: {e}", runtime.display())));
    let rootfs = o
        .rootfs
        .clone()
        .or_else(|| std::env::var_os("HULL_ROOTFS").map(PathBuf::from))
        .unwrap_or_else(|| die("no rootfs: pass --rootfs DIR or set HULL_ROOTFS".into()));
    if !rootfs.join("bin/busybox").exists() {
        die(format!(
            "--rootfs {}: no bin/busybox in it (make rootfs)",
            rootfs.display()
        ));
    }
    let probe = o.probe.clone().or_else(default_probe).unwrap_or_else(|| die("no probe: pass --probe PATH or set HULL_PROBE (build it static, see docs/conformance.md)".into()));
    if !probe.exists() {
        die(format!("--probe {}: not found", probe.display()));
    }
    let known = match &o.known {
        Some(p) => read_known(p).unwrap_or_else(|e| die(e)),
        None => BTreeMap::new(),
    };
    if o.hide_cgroup2 {
        if let Err(e) = hide_cgroup2() {
            die(format!("--hide-cgroup2: {e}"));
        }
    }
    let base = std::env::temp_dir();
    let workdir = base.join(format!("hull-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&workdir)
        .unwrap_or_else(|e| die(format!("{}: {e}", workdir.display())));
    let env = Arc::new(Env {
        runtime,
        rootfs: std::fs::canonicalize(&rootfs).unwrap_or(rootfs),
        probe,
        workdir: workdir.clone(),
        cg: CgLayout::detect(),
        timeout: Duration::from_secs(o.timeout),
        tag: format!("{}", std::process::id()),
    });

    println!("TAP version 13");
    println!("# runtime: {}", env.runtime.display());
    println!("1..{}", selected.len());
    let (tx, rx) = mpsc::channel::<(usize, Result<(), Bad>, Vec<String>)>();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let jobs = o.jobs.max(1);
    for _ in 0..jobs {
        let (tx, next, env, selected) = (tx.clone(), next.clone(), env.clone(), selected.clone());
        std::thread::spawn(move || loop {
            let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if i >= selected.len() {
                break;
            }
            let (ctx_tx, ctx_rx) = mpsc::channel();
            let (env2, case) = (env.clone(), selected[i].clone());
            // each case on its own thread so that a hung case is reported, not waited on forever
            std::thread::spawn(move || {
                let mut notes = vec![];
                let r = match Ctx::new(&env2) {
                    Err(e) => Err(Bad::Fail(format!("temp dir: {e}"))),
                    Ok(mut ctx) => {
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            (case.run)(&mut ctx)
                        }))
                        .unwrap_or_else(|p| {
                            Err(Bad::Fail(format!("case panicked: {}", panic_msg(&p))))
                        });
                        notes = std::mem::take(&mut ctx.notes);
                        r
                    }
                };
                let _ = ctx_tx.send((r, notes));
            });
            let (r, notes) = ctx_rx
                .recv_timeout(Duration::from_secs(env.timeout.as_secs() * 4 + 30))
                .unwrap_or_else(|_| (Err(Bad::Fail("case timed out".into())), vec![]));
            if tx.send((i, r, notes)).is_err() {
                break;
            }
        });
    }
    drop(tx);
    let mut done: BTreeMap<usize, (Result<(), Bad>, Vec<String>)> = BTreeMap::new();
    let (mut pass, mut failn, mut skipn, mut todo, mut fixed) = (0, 0, 0, 0, vec![]);
    let mut printed = 0;
    for (i, r, notes) in rx {
        done.insert(i, (r, notes));
        while let Some((r, notes)) = done.remove(&printed) {
            let c = &selected[printed];
            let n = printed + 1;
            let kf = known.get(&c.name);
            match r {
                Ok(()) => {
                    pass += 1;
                    println!("ok {n} - {}", c.name);
                    if kf.is_some() {
                        println!("# note: {} is listed as a known failure but passes now: remove it from the list", c.name);
                        fixed.push(c.name.clone());
                    }
                }
                Err(Bad::Skip(why)) => {
                    skipn += 1;
                    println!("ok {n} - {} # skip {}", c.name, why.replace('\n', " "));
                }
                Err(Bad::Fail(why)) => {
                    match kf {
                        Some(reason) => {
                            todo += 1;
                            println!("not ok {n} - {} # TODO {}", c.name, reason);
                        }
                        None => {
                            failn += 1;
                            println!("not ok {n} - {}", c.name);
                        }
                    }
                    for l in why.lines() {
                        println!("#   {l}");
                    }
                    println!("#   spec: {}", c.section);
                }
            }
            for note in notes {
                println!("# {note}");
            }
            printed += 1;
        }
    }
    let _ = std::fs::remove_dir(&workdir);
    if !fixed.is_empty() {
        println!("# known failures that now pass: {}", fixed.join(" "));
    }
    println!("# todo: {todo}");
    println!("{pass} passed, {failn} failed, {skipn} skipped");
    std::process::exit(if failn > 0 { 1 } else { 0 });
}

fn panic_msg(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}
