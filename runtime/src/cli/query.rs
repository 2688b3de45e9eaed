//! The verbs that report: `state`, `list`, `ps`, `events`.

use super::table::{one_of, switch, value, with_default, Flag, Verb};
use crate::container::{self, Store};
use crate::error::Result;

pub(super) const FORMAT: Flag = one_of(
    with_default(
        value("format", Some('f'), "Output format: table or json"),
        "table",
    ),
    &["table", "json"],
);

pub(super) const STATE: Verb = Verb {
    name: "state",
    about: "Print the state of a container as JSON",
    flags: &[],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) const LIST: Verb = Verb {
    name: "list",
    about: "List containers",
    flags: &[&[FORMAT, switch("quiet", Some('q'), "Print only the IDs")]],
    args: &[],
    rest: None,
    hidden: false,
};

pub(super) const PS: Verb = Verb {
    name: "ps",
    about: "List a container's processes (runs the host's ps; --format json prints the pids)",
    flags: &[&[FORMAT]],
    args: &["container-id"],
    rest: Some("ps-options"),
    hidden: false,
};

pub(super) const EVENTS: Verb = Verb {
    name: "events",
    about: "Print a container's stats and OOM events as JSON, every --interval until it stops",
    flags: &[&[
        with_default(value("interval", None, "Stats collection interval"), "5s"),
        switch("stats", None, "Print the stats once and exit"),
    ]],
    args: &["container-id"],
    rest: None,
    hidden: false,
};

pub(super) fn state(store: &Store, id: &str) -> Result<i32> {
    let dir = store.open(id)?;
    let st = dir.load_current()?;
    let mut v = st.spec_json();
    v["owner"] = "".into();
    println!(
        "{}",
        serde_json::to_string_pretty(&v).expect("state serialises")
    );
    Ok(0)
}

pub(super) fn list(store: &Store, format: &str, quiet: bool) -> Result<i32> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    container::list::list(store, format, quiet, &mut out)?;
    Ok(0)
}

pub(super) fn ps(store: &Store, id: &str, format: &str, ps_args: &[String]) -> Result<i32> {
    print!("{}", container::ps::ps(store, id, format, ps_args)?);
    Ok(0)
}

pub(super) fn events(store: &Store, id: &str, interval: &str, stats: bool) -> Result<i32> {
    let iv = container::events::parse_duration(interval)?;
    container::events::events(store, id, stats, iv).map(|_| 0)
}
