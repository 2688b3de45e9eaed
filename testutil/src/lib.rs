//! Test skips that cannot pass silently (a dev-dependency of every hull crate's tests).
//! A test that cannot run here says why on stderr; under `CI=true` a missing prerequisite that CI
//! provides (root, a binary, a package) fails the test instead, so a green CI run ran everything.

use std::fmt::Display;

/// True when the environment says this is a CI run (`CI=true` or `CI=1`, as CI services set it;
/// `.ci/run` exports it).
pub fn in_ci() -> bool {
    ci_value(std::env::var("CI").ok().as_deref())
}

fn ci_value(v: Option<&str>) -> bool {
    matches!(v.map(str::trim), Some(v) if v == "1" || v.eq_ignore_ascii_case("true"))
}

/// The running test's name (libtest names each test's thread after it), or "this test".
fn test_name() -> String {
    match std::thread::current().name() {
        Some(n) if n != "main" => n.to_string(),
        _ => "this test".to_string(),
    }
}

/// What a skip turns into: a message to print, or (under CI) a failure message.
fn verdict(ci: bool, name: &str, why: &str) -> Result<String, String> {
    if ci {
        Err(format!(
            "{name}: CI=true and a prerequisite CI provides is missing: {why} \
             (a skip here would hide an untested feature; fix the CI machine or .ci/packages)"
        ))
    } else {
        Ok(format!("SKIP {name}: {why}"))
    }
}

/// A prerequisite CI is meant to provide is missing (root, a binary, a built artefact): print why
/// and return, so that the caller can `return`; under `CI=true` panic with the reason instead.
#[track_caller]
pub fn skip(why: impl Display) {
    match verdict(in_ci(), &test_name(), &why.to_string()) {
        Ok(msg) => eprintln!("{msg}"),
        Err(msg) => panic!("{msg}"),
    }
}

/// The host itself cannot do this (a kernel feature, a device, an LSM that is or is not loaded):
/// print why; a skip even under CI, since no package can add it.
pub fn skip_host_cannot(why: impl Display) {
    eprintln!("SKIP {} (this host cannot): {why}", test_name());
}

/// Whether the tests run as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `if !require_root("create cgroups") { return; }`: false (after [`skip`]) when not root.
#[track_caller]
pub fn require_root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    skip(format!("needs root to {what}"));
    false
}

/// Skip the calling test (and `return` from it) unless `cond` holds:
/// `require!(path.exists(), "no {} (make release)", path.display());`
#[macro_export]
macro_rules! require {
    ($cond:expr, $($why:tt)+) => {
        if !$cond {
            $crate::skip(format!($($why)+));
            return;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_is_recognised_as_ci_services_set_it() {
        assert!(ci_value(Some("true")));
        assert!(ci_value(Some("TRUE")));
        assert!(ci_value(Some("1")));
        assert!(!ci_value(Some("false")));
        assert!(!ci_value(Some("")));
        assert!(!ci_value(None));
    }

    #[test]
    fn outside_ci_a_skip_prints_the_reason_and_the_test() {
        let m = verdict(false, "t1", "needs root").unwrap();
        assert_eq!(m, "SKIP t1: needs root");
    }

    #[test]
    fn under_ci_a_skip_is_a_failure_naming_the_reason() {
        let m = verdict(true, "t1", "no /usr/sbin/runc").unwrap_err();
        assert!(m.contains("t1") && m.contains("no /usr/sbin/runc"), "{m}");
    }

    #[test]
    fn test_name_is_the_libtest_thread_name() {
        let n = test_name();
        assert!(
            n == "this test" || n.ends_with("test_name_is_the_libtest_thread_name"),
            "{n}"
        );
    }

    fn gated(cond: bool, reached: &mut bool) {
        require!(cond, "cond was {cond}");
        *reached = true;
    }

    #[test]
    fn require_returns_early_only_when_the_condition_fails() {
        // Only the passing case here: the failing one panics when CI=true is set for the run.
        let mut reached = false;
        gated(true, &mut reached);
        assert!(reached);
        if !in_ci() {
            let mut reached = false;
            gated(false, &mut reached);
            assert!(!reached);
        }
    }
}
