//! `spec` (write a default config.json) and `features` (what this runtime supports), both from
//! `crate::specgen`.

use super::table::{switch, value, with_default, Verb};
use crate::error::Result;
use std::path::Path;

pub(super) const SPEC: Verb = Verb {
    name: "spec",
    about: "Write a default config.json",
    flags: &[&[
        with_default(
            value("bundle", Some('b'), "Path to the bundle directory"),
            ".",
        ),
        switch("rootless", None, "A spec for a rootless container"),
    ]],
    args: &[],
    rest: None,
    hidden: false,
};

pub(super) const FEATURES: Verb = Verb {
    name: "features",
    about: "Print the features this runtime supports (runtime-spec features.md)",
    flags: &[],
    args: &[],
    rest: None,
    hidden: false,
};

pub(super) fn spec(bundle: &Path, rootless: bool) -> Result<i32> {
    crate::specgen::write_default(bundle, rootless).map(|_| 0)
}

pub(super) fn features() -> Result<i32> {
    println!(
        "{}",
        serde_json::to_string_pretty(&crate::specgen::features()).expect("json")
    );
    Ok(0)
}
