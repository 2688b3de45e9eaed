//! The scanner: reads one scope's flags (`--flag value`, `--flag=value`, Go-style `-flag`, short
//! and clustered `-dt`, `--bool=false`, `--`) against its tables, then splits a command line into
//! the global flags, the verb, and the verb's flags, positionals and trailing command.

use super::help::{help_text, usage_line, verb_help};
use super::table::{lookup, Flag, Kind, Matches, UsageError, Verb};

/// What a command line asks for, before it is built into a [`super::Cli`].
pub(super) enum Scan {
    /// Print this text (help) to stdout and exit 0.
    Print(String),
    /// `-v` / `--version`.
    Version,
    /// Run `verb` with the global flags and the verb's matches.
    Verb {
        global: Matches,
        verb: &'static Verb,
        m: Matches,
    },
}

/// The tables a command line is read against.
pub(super) struct Tables {
    pub(super) global: &'static [Flag],
    /// Global flags that may not follow the verb.
    pub(super) before_verb_only: &'static [&'static str],
    pub(super) verbs: &'static [Verb],
}

fn parse_bool(flag: &Flag, v: &str) -> Result<String, UsageError> {
    match v {
        "true" | "1" => Ok("true".into()),
        "false" | "0" => Ok("false".into()),
        _ => Err(UsageError(format!(
            "invalid value {v:?} for --{}: expected true or false",
            flag.long
        ))),
    }
}

fn check_choice(flag: &Flag, v: &str) -> Result<(), UsageError> {
    if flag.choices.is_empty() || flag.choices.contains(&v) {
        return Ok(());
    }
    Err(UsageError(format!(
        "invalid value {v:?} for --{}: expected one of {}",
        flag.long,
        flag.choices.join(", ")
    )))
}

/// Reads the flags of one scope: the top level (global flags) or a verb (its flags + the globals).
struct Scanner {
    tables: Vec<&'static [Flag]>,
    scope: &'static str,
}

enum Step {
    /// The token (and maybe the next one) was a flag; advance by this many tokens.
    Flag(usize),
    /// `-h` / `--help`.
    Help,
    /// A positional token.
    Positional,
    /// `--`: every later token is positional.
    EndOfFlags,
}

impl Scanner {
    fn unknown(&self, tok: &str) -> UsageError {
        UsageError(format!(
            "unknown flag {tok} for {} (see `hull {}--help`)",
            self.scope,
            if self.scope == "hull" {
                String::new()
            } else {
                format!("{} ", self.scope)
            }
        ))
    }

    /// Read the flag at `toks[i]` into `m`.
    fn step(&self, toks: &[String], i: usize, m: &mut Matches) -> Result<Step, UsageError> {
        let tok = toks[i].as_str();
        if tok == "--" {
            return Ok(Step::EndOfFlags);
        }
        if tok == "-" || !tok.starts_with('-') {
            return Ok(Step::Positional);
        }
        if tok == "-h" || tok == "--help" || tok == "-help" {
            return Ok(Step::Help);
        }
        let body = tok.trim_start_matches('-');
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let double = tok.starts_with("--");
        // Long flag: `--name`, or Go's `-name` when `name` is one of this scope's long flags.
        let long = if double || name.len() > 1 {
            lookup(&self.tables, |f| f.long == name)
        } else {
            None
        };
        if let Some(flag) = long {
            return self.take(flag, inline, toks, i, m);
        }
        if double {
            return Err(self.unknown(tok));
        }
        // Short flags, clustered: `-dt`, `-bDIR`, `-b DIR`.
        let chars: Vec<(usize, char)> = tok.char_indices().skip(1).collect();
        for (pos, c) in chars {
            let flag = lookup(&self.tables, |f| f.short == Some(c))
                .ok_or_else(|| self.unknown(&format!("-{c}")))?;
            if flag.kind == Kind::Bool {
                m.given.push((flag.long, "true".into()));
                continue;
            }
            let rest = &tok[pos + c.len_utf8()..];
            let rest = rest.strip_prefix('=').unwrap_or(rest);
            if !rest.is_empty() {
                return self.take(flag, Some(rest), toks, i, m);
            }
            return self.take(flag, None, toks, i, m);
        }
        Ok(Step::Flag(1))
    }

    fn take(
        &self,
        flag: &'static Flag,
        inline: Option<&str>,
        toks: &[String],
        i: usize,
        m: &mut Matches,
    ) -> Result<Step, UsageError> {
        if flag.kind == Kind::Bool {
            let v = match inline {
                Some(v) => parse_bool(flag, v)?,
                None => "true".into(),
            };
            m.given.push((flag.long, v));
            return Ok(Step::Flag(1));
        }
        let (v, used) = match inline {
            Some(v) => (v.to_string(), 1),
            None => match toks.get(i + 1) {
                Some(v) => (v.clone(), 2),
                None => {
                    return Err(UsageError(format!(
                        "flag --{} of {} needs a value",
                        flag.long, self.scope
                    )))
                }
            },
        };
        check_choice(flag, &v)?;
        m.given.push((flag.long, v));
        Ok(Step::Flag(used))
    }
}

/// Split the arguments after the program name into the global flags, the verb and its matches
/// (checked against the verb's positionals), or the text to print.
pub(super) fn scan(t: &Tables, toks: &[String]) -> Result<Scan, UsageError> {
    let top = Scanner {
        tables: vec![t.global],
        scope: "hull",
    };
    let mut global = Matches::default();
    let mut i = 0;
    let verb_at = loop {
        let Some(tok) = toks.get(i) else {
            return Err(UsageError(format!(
                "no command given\n\n{}",
                help_text(t.verbs, t.global)
            )));
        };
        if tok == "-v" || tok == "--version" || tok == "-version" {
            return Ok(Scan::Version);
        }
        match top.step(toks, i, &mut global)? {
            Step::Flag(n) => i += n,
            Step::Help => return Ok(Scan::Print(help_text(t.verbs, t.global))),
            Step::Positional => break i,
            Step::EndOfFlags => {
                i += 1;
                if i >= toks.len() {
                    return Err(UsageError("no command given".into()));
                }
                break i;
            }
        }
    };
    let name = toks[verb_at].as_str();
    if name == "help" {
        return Ok(Scan::Print(match toks.get(verb_at + 1) {
            Some(v) => verb_help(find_verb(t.verbs, v)?),
            None => help_text(t.verbs, t.global),
        }));
    }
    let verb = find_verb(t.verbs, name)?;

    // The verb's own flags first, then the globals that may follow a verb.
    let scan = Scanner {
        tables: verb.flags.iter().copied().chain([t.global]).collect(),
        scope: verb.name,
    };
    let mut m = Matches::default();
    let mut i = verb_at + 1;
    let mut flags_ended = false;
    while i < toks.len() {
        let fixed_done = m.args.len() >= verb.args.len();
        if verb.rest.is_some()
            && fixed_done
            && (flags_ended || !m.args.is_empty() || verb.args.is_empty())
        {
            // Trailing command: verbatim (a leading `--` separates it, as in `exec ID -- ls`).
            let mut rest = &toks[i..];
            if rest.first().map(String::as_str) == Some("--") && !flags_ended {
                rest = &rest[1..];
            }
            m.rest.extend(rest.iter().cloned());
            break;
        }
        if flags_ended {
            m.args.push(toks[i].clone());
            i += 1;
            continue;
        }
        match scan.step(toks, i, &mut m)? {
            Step::Flag(n) => i += n,
            Step::Help => return Ok(Scan::Print(verb_help(verb))),
            Step::Positional => {
                m.args.push(toks[i].clone());
                i += 1;
            }
            Step::EndOfFlags => {
                flags_ended = true;
                i += 1;
            }
        }
    }
    // Globals given after the verb count as given before it (the later one wins).
    for (name, v) in m.given.iter().filter(|(n, _)| {
        t.global.iter().any(|g| g.long == *n) && lookup(verb.flags, |f| f.long == *n).is_none()
    }) {
        if t.before_verb_only.contains(name) {
            return Err(scan.unknown(&format!("--{name}")));
        }
        global.given.push((name, v.clone()));
    }
    check_args(verb, &m)?;
    Ok(Scan::Verb { global, verb, m })
}

fn find_verb(verbs: &'static [Verb], name: &str) -> Result<&'static Verb, UsageError> {
    verbs.iter().find(|v| v.name == name).ok_or_else(|| {
        UsageError(format!(
            "unknown command {name:?} (see `hull --help` for the commands)"
        ))
    })
}

fn check_args(verb: &Verb, m: &Matches) -> Result<(), UsageError> {
    let required = verb.args.iter().filter(|a| !a.ends_with('?')).count();
    if m.args.len() < required {
        return Err(UsageError(format!(
            "{} needs <{}> (usage: {})",
            verb.name,
            verb.args[m.args.len()].trim_end_matches('?'),
            usage_line(verb)
        )));
    }
    if m.args.len() > verb.args.len() {
        return Err(UsageError(format!(
            "{}: unexpected argument {:?} (usage: {})",
            verb.name,
            m.args[verb.args.len()],
            usage_line(verb)
        )));
    }
    Ok(())
}
