//! The vocabulary of the command-line tables: a [`Flag`] (long/short name, kind, default, choices,
//! help), a [`Verb`] (its flag groups, positionals, trailing command), the [`Matches`] one scope
//! gave, and the [`UsageError`] every parsing step returns.

use std::path::PathBuf;

/// What a flag takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Kind {
    /// A switch: `--debug`, `--debug=false`.
    Bool,
    /// One value; a repeated flag keeps the last.
    Value,
    /// A value that may be repeated; every occurrence is kept.
    Multi,
}

#[derive(Debug)]
pub(super) struct Flag {
    pub(super) long: &'static str,
    pub(super) short: Option<char>,
    pub(super) kind: Kind,
    pub(super) default: Option<&'static str>,
    /// The only values accepted (empty: any).
    pub(super) choices: &'static [&'static str],
    /// Empty: hidden from the help.
    pub(super) help: &'static str,
}

pub(super) const fn switch(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        kind: Kind::Bool,
        default: None,
        choices: &[],
        help,
    }
}

pub(super) const fn value(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        kind: Kind::Value,
        default: None,
        choices: &[],
        help,
    }
}

pub(super) const fn multi(long: &'static str, short: Option<char>, help: &'static str) -> Flag {
    Flag {
        long,
        short,
        kind: Kind::Multi,
        default: None,
        choices: &[],
        help,
    }
}

pub(super) const fn with_default(mut f: Flag, default: &'static str) -> Flag {
    f.default = Some(default);
    f
}

pub(super) const fn one_of(mut f: Flag, choices: &'static [&'static str]) -> Flag {
    f.choices = choices;
    f
}

#[derive(Debug)]
pub(super) struct Verb {
    pub(super) name: &'static str,
    pub(super) about: &'static str,
    /// The verb's flags, in groups (`run` = `create`'s + its own).
    pub(super) flags: &'static [&'static [Flag]],
    /// Positional arguments in order; a name ending in `?` is optional.
    pub(super) args: &'static [&'static str],
    /// Name of the trailing command (everything after the positionals, taken verbatim).
    pub(super) rest: Option<&'static str>,
    pub(super) hidden: bool,
}

/// A command line hull cannot take: the message names the flag, verb or argument.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The flags, positional arguments and trailing command of one scope, as given.
#[derive(Default, Debug)]
pub(super) struct Matches {
    /// (long name, value) in command-line order; booleans hold "true" or "false".
    pub(super) given: Vec<(&'static str, String)>,
    pub(super) args: Vec<String>,
    pub(super) rest: Vec<String>,
}

impl Matches {
    pub(super) fn last(&self, long: &str) -> Option<&str> {
        self.given
            .iter()
            .rev()
            .find(|(n, _)| *n == long)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn all(&self, long: &str) -> Vec<String> {
        self.given
            .iter()
            .filter(|(n, _)| *n == long)
            .map(|(_, v)| v.clone())
            .collect()
    }

    pub(super) fn on(&self, long: &str) -> bool {
        self.last(long) == Some("true")
    }
}

/// Where a flag was found: the verb's own table or the global one.
pub(super) fn lookup(
    tables: &[&'static [Flag]],
    found: impl Fn(&Flag) -> bool,
) -> Option<&'static Flag> {
    tables.iter().flat_map(|t| t.iter()).find(|f| found(f))
}

/// The value given for `long`, or its default.
pub(super) fn get(m: &Matches, tables: &[&'static [Flag]], long: &str) -> String {
    m.last(long)
        .or_else(|| lookup(tables, |f| f.long == long).and_then(|f| f.default))
        .unwrap_or_default()
        .to_string()
}

pub(super) fn preserve_fds(m: &Matches, flags: &[&'static [Flag]]) -> Result<i32, UsageError> {
    let v = get(m, flags, "preserve-fds");
    v.parse::<i32>().ok().filter(|n| *n >= 0).ok_or_else(|| {
        UsageError(format!(
            "invalid value {v:?} for --preserve-fds: expected a number of fds"
        ))
    })
}

pub(super) fn path(m: &Matches, long: &str) -> Option<PathBuf> {
    m.last(long).map(PathBuf::from)
}

pub(super) fn string(m: &Matches, long: &str) -> Option<String> {
    m.last(long).map(String::from)
}
