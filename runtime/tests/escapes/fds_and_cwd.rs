//! CVE-2024-21626: leaked fds and a cwd of /proc/self/fd/N.
use super::*;

// ------------------------------------------- CVE-2024-21626: leaked fds and cwd /proc/self/fd/N

/// Run the runtime with fd 7 (a host file) and fd 8 (a host directory) leaked to it without
/// CLOEXEC, as an engine that leaks fds would.
fn run_leaking(env: &Env, args: &[String], file: &Path, dir: &Path) -> std::process::Output {
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg("exec 7< \"$1\" 8< \"$2\"; shift 2; exec \"$@\"")
        .arg("sh")
        .arg(file)
        .arg(dir)
        .arg(hull_bin())
        .arg("--root")
        .arg(&env.root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    wait_output(c.spawn().unwrap(), Duration::from_secs(30))
}

fn fds_of(out: &str) -> Vec<String> {
    let mut v: Vec<String> = out.split_whitespace().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Only stdio (0 1 2) and the preserved fds reach the container's processes. Listed from a
/// child (`ls`), so the listing's own fd is not counted.
fn no_fd_leak(seccomp: Option<Value>) {
    let env = Env::new();
    let host = out_dir(&env, "hostdir");
    std::fs::write(host.join("f"), "host\n").unwrap();
    let mut cfg = sh("ls /proc/1/fd; sleep 30");
    if let Some(sc) = seccomp {
        cfg["linux"]["seccomp"] = sc;
        cfg["process"]["noNewPrivileges"] = json!(false);
    }
    let id = env.id("fds");
    let b = env.bundle("b", &cfg);
    let log = env.tmp.path().join("init.out");
    let args: Vec<String> = vec![
        "run".into(),
        "-d".into(),
        "-b".into(),
        b.to_string_lossy().into(),
        id.clone(),
    ];
    // The init's stdout is a file, so its listing can be read after `run -d` returned.
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg("exec 7< \"$1\" 8< \"$2\" > \"$3\"; shift 3; exec \"$@\"")
        .arg("sh")
        .arg(host.join("f"))
        .arg(&host)
        .arg(&log)
        .arg(hull_bin())
        .arg("--root")
        .arg(&env.root)
        .args(&args)
        .stdin(Stdio::null())
        .stderr(std::fs::File::create(env.tmp.path().join("run.err")).unwrap());
    let o = wait_output(c.spawn().unwrap(), Duration::from_secs(30));
    let err = read(&env.tmp.path().join("run.err"));
    assert!(o.status.success(), "run: {err}");
    wait_until("init listing", Duration::from_secs(10), || {
        !read(&log).is_empty()
    });
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        fds_of(&read(&log)),
        ["0", "1", "2"],
        "fds of the container init"
    );
    // An exec'd process, started by a runtime that leaks the same fds.
    let o = run_leaking(
        &env,
        &[
            "exec".into(),
            id.clone(),
            "sh".into(),
            "-c".into(),
            "ls /proc/$$/fd; true".into(),
        ],
        &host.join("f"),
        &host,
    );
    assert!(o.status.success(), "exec: {}", stderr(&o));
    // `ls` runs as a child of this sh, the fds listed are the sh's.
    assert_eq!(
        fds_of(&stdout(&o)),
        ["0", "1", "2"],
        "fds of the exec'd process"
    );
    // --preserve-fds 5 keeps 3..7: the leaked 7 stays, 8 does not.
    let o = run_leaking(
        &env,
        &[
            "exec".into(),
            "--preserve-fds".into(),
            "5".into(),
            id.clone(),
            "sh".into(),
            "-c".into(),
            "ls /proc/$$/fd; true".into(),
        ],
        &host.join("f"),
        &host,
    );
    assert!(o.status.success(), "exec --preserve-fds: {}", stderr(&o));
    assert_eq!(
        fds_of(&stdout(&o)),
        ["0", "1", "2", "7"],
        "fds with --preserve-fds 5 (3..7 kept, of which only 7 is open; 8 closed)"
    );
}

#[test]
fn no_fd_leaks_into_the_container() {
    no_fd_leak(None);
}

/// close_range fails (a seccomp profile answers ENOSYS, as on a kernel without it, and is
/// installed before the fd step without noNewPrivileges): the fallback must close them anyway.
#[test]
fn no_fd_leaks_without_close_range() {
    no_fd_leak(Some(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    })));
}

/// A check the container runs from its cwd: climbing `..` must stay in the container's root, so
/// the host marker (a file in this test's temp dir) is never found.
fn cwd_probe(marker: &Path) -> String {
    format!(
        "cd ../../../../../../../../..; if [ -e .{m} ]; then echo ESCAPED; else echo inside; fi",
        m = marker.display()
    )
}

#[test]
fn cwd_through_a_leaked_fd_never_reaches_the_host() {
    let env = Env::new();
    let host = out_dir(&env, "hostdir");
    let marker = host.join("marker");
    std::fs::write(&marker, "host\n").unwrap();
    for n in 3..=12 {
        let mut cfg = sh(&cwd_probe(&marker));
        cfg["process"]["cwd"] = json!(format!("/proc/self/fd/{n}"));
        let id = env.id("cwd");
        let b = env.bundle(&format!("b{n}"), &cfg);
        let o = run_leaking(
            &env,
            &[
                "run".into(),
                "-b".into(),
                b.to_string_lossy().into(),
                id.clone(),
            ],
            &marker,
            &host,
        );
        let out = stdout(&o);
        assert!(
            !out.contains("ESCAPED"),
            "process.cwd /proc/self/fd/{n} reached the host:\n{out}"
        );
        if !o.status.success() {
            assert!(
                stderr(&o).contains("cwd"),
                "fd {n}: the error should name the cwd: {}",
                stderr(&o)
            );
        }
    }
    // `exec --cwd /proc/self/fd/N` in a running container.
    let id = env.id("cwd-exec");
    let b = env.bundle("bexec", &config(&["sleep", "30"]));
    let o = env.hull(&["run", "-d", "-b", b.to_str().unwrap(), &id]);
    assert!(o.status.success(), "{}", stderr(&o));
    for n in 3..=12 {
        let fd = format!("/proc/self/fd/{n}");
        let o = run_leaking(
            &env,
            &[
                "exec".into(),
                "--cwd".into(),
                fd,
                id.clone(),
                "sh".into(),
                "-c".into(),
                cwd_probe(&marker),
            ],
            &marker,
            &host,
        );
        let out = stdout(&o);
        assert!(
            !out.contains("ESCAPED"),
            "exec --cwd /proc/self/fd/{n} reached the host:\n{out}"
        );
        if !o.status.success() {
            assert!(stderr(&o).contains("cwd"), "fd {n}: {}", stderr(&o));
        }
    }
}
