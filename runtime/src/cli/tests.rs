//! The parser's rules, checked on command lines as engines give them.

use super::*;
use std::path::PathBuf;

fn cli(args: &[&str]) -> Cli {
    match parse(args.iter().map(|s| s.to_string())) {
        Ok(Outcome::Run(c)) => *c,
        other => panic!("{args:?}: {other:?}"),
    }
}

fn err(args: &[&str]) -> String {
    match parse(args.iter().map(|s| s.to_string())) {
        Err(e) => e.0,
        other => panic!("{args:?} should fail: {other:?}"),
    }
}

fn printed(args: &[&str]) -> String {
    match parse(args.iter().map(|s| s.to_string())) {
        Ok(Outcome::Print(t)) => t,
        other => panic!("{args:?} should print: {other:?}"),
    }
}

#[test]
fn globals_and_defaults() {
    let c = cli(&["state", "x"]);
    assert_eq!(c.root, PathBuf::from("/run/hull"));
    assert_eq!(c.log_format, "text");
    assert_eq!(c.rootless, "auto");
    assert!(!c.debug && !c.systemd_cgroup && c.log.is_none());
    assert!(matches!(c.cmd, Cmd::State { ref id } if id == "x"));

    // As containerd's go-runc and conmon pass them.
    let c = cli(&[
        "--root",
        "/r",
        "--log",
        "/b/log.json",
        "--log-format=json",
        "--systemd-cgroup",
        "--debug",
        "delete",
        "--force",
        "c1",
    ]);
    assert_eq!(c.root, PathBuf::from("/r"));
    assert_eq!(c.log.as_deref(), Some("/b/log.json"));
    assert_eq!(c.log_format, "json");
    assert!(c.debug && c.systemd_cgroup);
    assert!(matches!(c.cmd, Cmd::Delete { force: true, ref id } if id == "c1"));
}

#[test]
fn go_style_single_dash_long_flags_and_bool_values() {
    let c = cli(&["-root", "/r", "-debug=false", "kill", "-all", "c", "KILL"]);
    assert_eq!(c.root, PathBuf::from("/r"));
    assert!(!c.debug);
    assert!(
        matches!(c.cmd, Cmd::Kill { all: true, ref id, ref signal } if id == "c" && signal == "KILL")
    );
    assert!(err(&["--debug=maybe", "list"]).contains("--debug"));
}

#[test]
fn globals_may_follow_the_verb_but_rootless_may_not() {
    let c = cli(&["create", "--root", "/r2", "-b", "/b", "id"]);
    assert_eq!(c.root, PathBuf::from("/r2"));
    let c = cli(&["--root", "/r1", "state", "--root=/r2", "id"]);
    assert_eq!(c.root, PathBuf::from("/r2"), "the later one wins");
    let c = cli(&["--rootless", "true", "spec", "--rootless"]);
    assert_eq!(c.rootless, "true");
    assert!(matches!(c.cmd, Cmd::Spec { rootless: true, .. }));
    assert!(err(&["state", "--rootless", "true", "x"]).contains("--rootless"));
}

#[test]
fn create_and_run_flags() {
    let c = cli(&[
        "create",
        "--bundle",
        "/b",
        "--pid-file=/p",
        "--console-socket",
        "/s",
        "--no-pivot",
        "--no-new-keyring",
        "--preserve-fds",
        "2",
        "c1",
    ]);
    let Cmd::Create(f) = c.cmd else { panic!() };
    assert_eq!(f.bundle, PathBuf::from("/b"));
    assert_eq!(f.pid_file, Some(PathBuf::from("/p")));
    assert_eq!(f.console_socket, Some(PathBuf::from("/s")));
    assert!(f.no_pivot && f.no_new_keyring);
    assert_eq!((f.preserve_fds, f.id.as_str()), (2, "c1"));

    let c = cli(&["run", "-d", "-b/b", "c2", "--keep"]);
    let Cmd::Run {
        create,
        detach,
        keep,
    } = c.cmd
    else {
        panic!()
    };
    assert!(detach && keep);
    assert_eq!(create.bundle, PathBuf::from("/b"));
    assert_eq!(create.bundle, PathBuf::from("/b"));
    let Cmd::Create(f) = cli(&["create", "x"]).cmd else {
        panic!()
    };
    assert_eq!((f.bundle, f.preserve_fds), (PathBuf::from("."), 0));
    assert!(err(&["create", "--preserve-fds", "two", "x"]).contains("--preserve-fds"));
    assert!(err(&["create", "--preserve-fds=-1", "x"]).contains("--preserve-fds"));
}

#[test]
fn exec_takes_the_command_verbatim() {
    let c = cli(&[
        "exec",
        "-t",
        "-e",
        "A=1",
        "--env=B=2",
        "-u",
        "1:2",
        "-g",
        "5",
        "--cap",
        "CAP_KILL",
        "--cgroup",
        "pids:/x",
        "-d",
        "c",
        "sh",
        "-c",
        "echo --root -d",
    ]);
    let Cmd::Exec(e) = c.cmd else { panic!() };
    assert!(e.tty && e.detach);
    assert_eq!(e.env, ["A=1", "B=2"]);
    assert_eq!(e.user.as_deref(), Some("1:2"));
    assert_eq!(e.additional_gids, ["5"]);
    assert_eq!(e.cap, ["CAP_KILL"]);
    assert_eq!(e.cgroup, ["pids:/x"]);
    assert_eq!(e.id, "c");
    assert_eq!(e.command, ["sh", "-c", "echo --root -d"]);
    assert_eq!(
        c.root,
        PathBuf::from("/run/hull"),
        "--root after the command is not ours"
    );

    let Cmd::Exec(e) = cli(&["exec", "c", "--", "ls", "-l"]).cmd else {
        panic!()
    };
    assert_eq!(e.command, ["ls", "-l"]);
    let Cmd::Exec(e) = cli(&["exec", "-dt", "--", "c", "true"]).cmd else {
        panic!()
    };
    assert!(e.detach && e.tty);
    assert_eq!(
        (e.id.as_str(), e.command.as_slice()),
        ("c", &["true".to_string()][..])
    );
    let Cmd::Exec(e) = cli(&["exec", "--process", "/p.json", "--pid-file", "/pid", "c"]).cmd else {
        panic!()
    };
    assert_eq!(e.process, Some(PathBuf::from("/p.json")));
    assert!(e.command.is_empty());
}

#[test]
fn update_values_may_start_with_a_dash() {
    let Cmd::Update(u) = cli(&[
        "update",
        "--memory",
        "-1",
        "--cpu-quota=-1",
        "--pids-limit",
        "10",
        "c",
    ])
    .cmd
    else {
        panic!()
    };
    assert_eq!(u.memory.as_deref(), Some("-1"));
    assert_eq!(u.cpu_quota.as_deref(), Some("-1"));
    assert_eq!(u.pids_limit.as_deref(), Some("10"));
    let Cmd::Update(u) = cli(&["update", "-r", "-", "c"]).cmd else {
        panic!()
    };
    assert_eq!(u.resources, Some(PathBuf::from("-")));
}

#[test]
fn other_verbs() {
    assert!(matches!(
        cli(&["kill", "c"]).cmd,
        Cmd::Kill { all: false, ref signal, .. } if signal == "SIGTERM"
    ));
    assert!(matches!(
        cli(&["list", "-q", "--format", "json"]).cmd,
        Cmd::List { quiet: true, ref format } if format == "json"
    ));
    assert!(matches!(cli(&["list"]).cmd, Cmd::List { ref format, .. } if format == "table"));
    let Cmd::Ps {
        format,
        id,
        ps_args,
    } = cli(&["ps", "-f", "json", "c", "-e", "-o", "pid"]).cmd
    else {
        panic!()
    };
    assert_eq!((format.as_str(), id.as_str()), ("json", "c"));
    assert_eq!(ps_args, ["-e", "-o", "pid"]);
    assert!(matches!(
        cli(&["events", "--stats", "--interval", "1s", "c"]).cmd,
        Cmd::Events { stats: true, ref interval, .. } if interval == "1s"
    ));
    assert!(matches!(cli(&["features"]).cmd, Cmd::Features));
    assert!(matches!(cli(&["pause", "c"]).cmd, Cmd::Pause { .. }));
    assert!(matches!(cli(&["resume", "c"]).cmd, Cmd::Resume { .. }));
    assert!(matches!(cli(&["start", "c"]).cmd, Cmd::Start { .. }));
    let Cmd::Checkpoint(a) = cli(&[
        "checkpoint",
        "--image-path",
        "/x",
        "--leave-running",
        "--empty-ns",
        "network",
        "--page-server",
        "h:9",
        "c",
    ])
    .cmd
    else {
        panic!()
    };
    assert_eq!(a.id, "c");
    assert_eq!(a.common.image_path, std::path::Path::new("/x"));
    assert!(a.leave_running && !a.pre_dump);
    assert_eq!(a.common.empty_ns, libc::CLONE_NEWNET as u32);
    assert_eq!(a.page_server, Some(("h".to_string(), 9)));
    let Cmd::Restore(r) = cli(&["restore", "-d", "-b", "/b", "--pid-file", "p", "c2"]).cmd else {
        panic!()
    };
    assert!(r.detach && r.common.image_path == std::path::Path::new("checkpoint"));
    assert_eq!((r.id.as_str(), r.bundle.to_str()), ("c2", Some("/b")));
    assert!(err(&["checkpoint", "--manage-cgroups-mode", "x", "c"]).contains("soft, full"));
    assert!(err(&["restore", "--empty-ns", "bogus", "c"]).contains("--empty-ns"));
    assert!(err(&["checkpoint", "--page-server", "nope", "c"]).contains("--page-server"));
}

#[test]
fn usage_errors_name_what_is_wrong() {
    assert!(err(&["frobnicate"]).contains("\"frobnicate\""));
    assert!(err(&["create"]).contains("<container-id>"));
    assert!(err(&["start", "a", "b"]).contains("\"b\""));
    assert!(err(&["delete", "--bogus", "c"]).contains("--bogus"));
    assert!(err(&["delete", "-z", "c"]).contains("-z"));
    assert!(err(&["create", "c", "--bundle"]).contains("needs a value"));
    assert!(err(&["list", "--format", "yaml"]).contains("table, json"));
    assert!(err(&["--log-format", "xml", "list"]).contains("--log-format"));
    assert!(err(&[]).contains("no command"));
}

#[test]
fn help_and_version() {
    let h = printed(&["--help"]);
    for v in VERBS.iter().filter(|v| !v.hidden) {
        assert!(h.contains(v.name), "{} missing from help", v.name);
    }
    assert!(h.contains("checkpoint") && h.contains("--root"));
    let h = printed(&["exec", "--help"]);
    assert!(h.contains("--console-socket") && h.contains("<container-id>"));
    assert_eq!(printed(&["help", "kill"]), printed(&["kill", "-h"]));
    let h = printed(&["run", "--help"]);
    assert!(h.contains("--pid-file") && h.contains("--detach"), "{h}");
    // Inside exec's command, --help belongs to the command.
    let Cmd::Exec(e) = cli(&["exec", "c", "ls", "--help"]).cmd else {
        panic!()
    };
    assert_eq!(e.command, ["ls", "--help"]);
    let v = printed(&["--version"]);
    assert!(v.starts_with(&format!("hull version {}", env!("CARGO_PKG_VERSION"))));
    assert_eq!(printed(&["-v"]), v);
}
