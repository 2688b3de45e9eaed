//! config-linux.md#devices, #default-devices, #masked-paths, #readonly-paths.
use super::*;

pub(super) fn dev_cases() -> Vec<Case> {
    let mut v = vec![];
    for (name, maj, min) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        v.push(case(DEFDEV, format!("default-device-{name}"), move |c| {
            let r = c.report(c.config(&[]))?;
            let d = &r["devices"][format!("/dev/{name}")];
            check_eq!(
                d["kind"].as_str().unwrap_or("missing"),
                "c",
                format!("/dev/{name} type")
            );
            check_eq!(
                (
                    d["major"].as_i64().unwrap_or(-1),
                    d["minor"].as_i64().unwrap_or(-1)
                ),
                (maj, min),
                format!("/dev/{name} major:minor")
            );
            Ok(())
        }));
    }
    v.push(case(DEFDEV, "default-device-null-writable", |c| {
        let (_, l, _) = c.run_probe(&c.config(&["write", "/dev/null"]))?;
        check_eq!(
            l[0]["errno"].as_i64().unwrap_or(-1),
            0,
            "errno writing /dev/null"
        );
        Ok(())
    }));
    v.push(case(DEFDEV, "default-device-ptmx", |c| {
        let r = c.report(c.config(&[]))?;
        let d = &r["devices"]["/dev/ptmx"];
        let ok = (d["kind"] == "l" && d["link"].as_str().unwrap_or("").ends_with("pts/ptmx"))
            || (d["kind"] == "c" && d["major"] == 5 && d["minor"] == 2);
        check!(
            ok,
            "/dev/ptmx is {d}, want a symlink to pts/ptmx or a bind of it"
        );
        Ok(())
    }));
    for (name, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        v.push(case(
            "runtime-linux.md#dev-symbolic-links",
            format!("dev-symlink-{name}"),
            move |c| {
                let r = c.report(c.config(&[]))?;
                let d = &r["devices"][format!("/dev/{name}")];
                check_eq!(
                    d["kind"].as_str().unwrap_or("missing"),
                    "l",
                    format!("/dev/{name} type")
                );
                check_eq!(
                    d["link"].as_str().unwrap_or(""),
                    target,
                    format!("/dev/{name} target")
                );
                Ok(())
            },
        ));
    }
    let dev = |path: &str, ty: &str, maj: i64, min: i64| json!({"path": path, "type": ty, "major": maj, "minor": min, "fileMode": 0o640, "uid": 1, "gid": 2});
    let d1 = dev("/dev/hc-char", "c", 1, 3);
    v.push(case(DEV, "linux-devices-char-type-numbers", move |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] = json!([d1.clone()]);
        let r = c.report(cfg)?;
        let d = &r["devices"]["/dev/hc-char"];
        check_eq!(
            d["kind"].as_str().unwrap_or("missing"),
            "c",
            "type of /dev/hc-char"
        );
        check_eq!(
            (
                d["major"].as_i64().unwrap_or(-1),
                d["minor"].as_i64().unwrap_or(-1)
            ),
            (1, 3),
            "major:minor"
        );
        Ok(())
    }));
    let d1 = dev("/dev/hc-char", "c", 1, 3);
    v.push(case(DEV, "linux-devices-file-mode", move |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] = json!([d1.clone()]);
        let r = c.report(cfg)?;
        check_eq!(
            r["devices"]["/dev/hc-char"]["mode"].as_i64().unwrap_or(-1),
            0o640,
            "mode of /dev/hc-char"
        );
        Ok(())
    }));
    let d1 = dev("/dev/hc-char", "c", 1, 3);
    v.push(case(DEV, "linux-devices-owner", move |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] = json!([d1.clone()]);
        let r = c.report(cfg)?;
        let d = &r["devices"]["/dev/hc-char"];
        check_eq!(
            (
                d["uid"].as_i64().unwrap_or(-1),
                d["gid"].as_i64().unwrap_or(-1)
            ),
            (1, 2),
            "uid:gid of /dev/hc-char"
        );
        Ok(())
    }));
    let d2 = dev("/dev/hc-blk", "b", 7, 200);
    v.push(case(DEV, "linux-devices-block", move |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] = json!([d2.clone()]);
        let r = c.report(cfg)?;
        let d = &r["devices"]["/dev/hc-blk"];
        check_eq!(
            d["kind"].as_str().unwrap_or("missing"),
            "b",
            "type of /dev/hc-blk"
        );
        check_eq!(
            (
                d["major"].as_i64().unwrap_or(-1),
                d["minor"].as_i64().unwrap_or(-1)
            ),
            (7, 200),
            "major:minor"
        );
        Ok(())
    }));
    v.push(case(DEV, "linux-devices-fifo", |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] = json!([{"path": "/dev/hc-fifo", "type": "p", "fileMode": 0o600}]);
        let r = c.report(cfg)?;
        check_eq!(
            r["devices"]["/dev/hc-fifo"]["kind"]
                .as_str()
                .unwrap_or("missing"),
            "p",
            "type of /dev/hc-fifo"
        );
        Ok(())
    }));
    v.push(case(DEV, "linux-devices-nested-path", |c| {
        let mut cfg = c.config(&[]);
        cfg["linux"]["devices"] =
            json!([{"path": "/dev/hcdir/sub", "type": "c", "major": 1, "minor": 5}]);
        let (_, l, _) = c.run_probe(&{
            let mut x = cfg.clone();
            x["process"]["args"] = json!([crate::harness::PROBE, "stat", "/dev/hcdir/sub"]);
            x
        })?;
        check_eq!(
            l[0]["kind"].as_str().unwrap_or("missing"),
            "c",
            "type of /dev/hcdir/sub"
        );
        Ok(())
    }));
    v
}

pub(super) fn masked_cases() -> Vec<Case> {
    vec![
        case(MASK, "masked-path-file", |c| {
            let mut cfg = c.config(&["read", "/secret-file"]);
            cfg["linux"]["maskedPaths"] = json!(["/secret-file"]);
            let b = c.bundle(&cfg)?;
            std::fs::write(b.rootfs().join("secret-file"), "secret")
                .map_err(|e| Bad::Fail(e.to_string()))?;
            let o = c.run(&b);
            let l = b.lines();
            check!(!l.is_empty(), "probe printed nothing: {}", o.brief());
            check!(
                l[0]["errno"].as_i64() != Some(0) || l[0]["data"] == "",
                "masked file is readable: {:?}",
                l[0]["data"]
            );
            Ok(())
        }),
        case(MASK, "masked-path-directory", |c| {
            let mut cfg = c.config(&["ls", "/secret-dir"]);
            cfg["linux"]["maskedPaths"] = json!(["/secret-dir"]);
            let b = c.bundle(&cfg)?;
            std::fs::create_dir_all(b.rootfs().join("secret-dir")).ok();
            std::fs::write(b.rootfs().join("secret-dir/f"), "secret")
                .map_err(|e| Bad::Fail(e.to_string()))?;
            let o = c.run(&b);
            let l = b.lines();
            check!(!l.is_empty(), "probe printed nothing: {}", o.brief());
            let empty = l[0]["entries"].as_array().is_some_and(|a| a.is_empty());
            check!(
                l[0]["errno"].as_i64() != Some(0) || empty,
                "masked directory lists {:?}",
                l[0]["entries"]
            );
            Ok(())
        }),
        case(MASK, "masked-path-proc-kcore", |c| {
            let (_, l, _) = c.run_probe(&c.config(&["stat", "/proc/kcore"]))?;
            let s = &l[0];
            let masked = s["errno"] != 0
                || s["size"] == 0
                || (s["kind"] == "c" && s["major"] == 1 && s["minor"] == 3);
            check!(masked, "/proc/kcore is not masked: {s}");
            Ok(())
        }),
        case(MASK, "masked-path-missing-ignored", |c| {
            let mut cfg = c.config(&[]);
            cfg["linux"]["maskedPaths"] = json!(["/no/such/path"]);
            c.report(cfg)?;
            Ok(())
        }),
        case(RO, "readonly-path-proc-sys", |c| {
            let (_, l, _) = c.run_probe(&c.config(&["write", "/proc/sys/kernel/hostname"]))?;
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(0),
                30,
                "errno writing /proc/sys/kernel/hostname (EROFS)"
            );
            Ok(())
        }),
        case(RO, "readonly-path-directory", |c| {
            let mut cfg = c.config(&["write", "/rodir/new", "write", "/tmp/ok"]);
            cfg["root"]["readonly"] = json!(false);
            cfg["linux"]["readonlyPaths"] = json!(["/rodir"]);
            let b = c.bundle(&cfg)?;
            std::fs::create_dir_all(b.rootfs().join("rodir")).ok();
            let o = c.run(&b);
            let l = b.lines();
            check!(
                l.len() >= 2,
                "probe printed {} lines: {}",
                l.len(),
                o.brief()
            );
            check_eq!(
                l[0]["errno"].as_i64().unwrap_or(0),
                30,
                "errno writing into a readonly path (EROFS)"
            );
            check_eq!(
                l[1]["errno"].as_i64().unwrap_or(-1),
                0,
                "errno writing outside it"
            );
            Ok(())
        }),
        case(RO, "readonly-path-missing-ignored", |c| {
            let mut cfg = c.config(&[]);
            cfg["linux"]["readonlyPaths"] = json!(["/no/such/path"]);
            c.report(cfg)?;
            Ok(())
        }),
    ]
}
