//! OCI hooks: run a hook binary with the state JSON on stdin, its own args and env, and a timeout.

use crate::error::{Error, Result};
use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run one hook and wait for it. A non-zero exit, a signal or the timeout is an error naming the hook.
pub fn run(kind: &str, idx: usize, hook: &Hook, state: &[u8]) -> Result<()> {
    let path = hook.path();
    let what = || format!("{kind}[{idx}] hook {}", path.display());
    let args = hook.args().clone().unwrap_or_default();
    let mut cmd = Command::new(path);
    if let Some(a0) = args.first() {
        cmd.arg0(a0);
    }
    if args.len() > 1 {
        cmd.args(&args[1..]);
    }
    cmd.env_clear();
    for e in hook.env().iter().flatten() {
        if let Some((k, v)) = e.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::invalid(format!("{}: {e}", what())))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin must not fail the write: ignore EPIPE.
        let _ = stdin.write_all(state);
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        match child.try_wait() {
            Ok(Some(st)) => {
                if st.success() {
                    return Ok(());
                }
                return Err(Error::invalid(format!("{}: failed: {st}", what())));
            }
            Ok(None) => {}
            Err(e) => return Err(Error::invalid(format!("{}: wait: {e}", what()))),
        }
        if let Some(d) = deadline {
            if Instant::now() >= d {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::invalid(format!(
                    "{}: timed out after {}s",
                    what(),
                    hook.timeout().unwrap_or(0)
                )));
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Run a list of hooks in order; the first failure stops the list.
pub fn run_all(kind: &str, hooks: &[Hook], state: &[u8]) -> Result<()> {
    for (i, h) in hooks.iter().enumerate() {
        run(kind, i, h, state)?;
    }
    Ok(())
}

/// The hooks of one kind from a spec.
pub fn of(spec: &oci_spec::runtime::Spec, kind: &str) -> Vec<Hook> {
    let Some(h) = spec.hooks().as_ref() else {
        return vec![];
    };
    let list = match kind {
        "prestart" => h.prestart(),
        "createRuntime" => h.create_runtime(),
        "createContainer" => h.create_container(),
        "startContainer" => h.start_container(),
        "poststart" => h.poststart(),
        "poststop" => h.poststop(),
        _ => &None,
    };
    list.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(v: serde_json::Value) -> Hook {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn hook_gets_state_args_and_env() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let h = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("echo \"$0 $1 $FOO\" > {0}; cat >> {0}", out.display()), "zero", "one"],
            "env": ["FOO=bar"]
        }));
        run("prestart", 0, &h, b"{\"id\":\"x\"}").unwrap();
        let got = std::fs::read_to_string(&out).unwrap();
        assert_eq!(got, "zero one bar\n{\"id\":\"x\"}");
    }

    #[test]
    fn failing_and_slow_hooks_are_errors() {
        let h = hook(serde_json::json!({"path": "/bin/false"}));
        let e = run("poststart", 2, &h, b"{}").unwrap_err().to_string();
        assert!(
            e.contains("poststart[2]") && e.contains("/bin/false"),
            "{e}"
        );
        let h =
            hook(serde_json::json!({"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}));
        let t = Instant::now();
        let e = run("createRuntime", 0, &h, b"{}").unwrap_err().to_string();
        assert!(e.contains("timed out"), "{e}");
        assert!(t.elapsed() < Duration::from_secs(4));
    }
}
