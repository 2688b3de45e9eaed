//! Help and usage text, generated from the same tables the parser reads.

use super::table::{Flag, Kind, Verb};

pub(super) fn usage_line(verb: &Verb) -> String {
    let mut s = format!("hull {}", verb.name);
    if verb.flags.iter().any(|g| !g.is_empty()) {
        s.push_str(" [flags]");
    }
    for a in verb.args {
        match a.strip_suffix('?') {
            Some(opt) => s.push_str(&format!(" [<{opt}>]")),
            None => s.push_str(&format!(" <{a}>")),
        }
    }
    if let Some(r) = verb.rest {
        s.push_str(&format!(" [<{r}>...]"));
    }
    s
}

fn flag_lines(out: &mut String, flags: &[Flag]) {
    for f in flags.iter().filter(|f| !f.help.is_empty()) {
        let mut left = match f.short {
            Some(c) => format!("  -{c}, --{}", f.long),
            None => format!("      --{}", f.long),
        };
        if f.kind != Kind::Bool {
            left.push_str(" <value>");
        }
        let mut help = f.help.to_string();
        if let Some(d) = f.default {
            help.push_str(&format!(" [default: {d}]"));
        }
        if f.kind == Kind::Multi && !help.contains("repeatable") {
            help.push_str(" (repeatable)");
        }
        out.push_str(&format!("{left:<32} {help}\n"));
    }
}

pub(super) fn help_text(verbs: &[Verb], global: &[Flag]) -> String {
    let mut s = String::from(
        "hull: a fast, runc-compatible OCI container runtime\n\n\
         Usage: hull [global flags] <command> [flags] [arguments]\n\nCommands:\n",
    );
    for v in verbs.iter().filter(|v| !v.hidden) {
        s.push_str(&format!("  {:<12} {}\n", v.name, v.about));
    }
    s.push_str("\nGlobal flags:\n");
    flag_lines(&mut s, global);
    s.push_str(&format!(
        "{:<32} Print this help\n{:<32} Print the version\n",
        "  -h, --help", "  -v, --version"
    ));
    s
}

pub(super) fn verb_help(verb: &Verb) -> String {
    let mut s = format!("{}\n\nUsage: {}\n", verb.about, usage_line(verb));
    if verb.flags.iter().any(|g| !g.is_empty()) {
        s.push_str("\nFlags:\n");
        for group in verb.flags {
            flag_lines(&mut s, group);
        }
    }
    s.push_str("\nGlobal flags (see `hull --help`) may also follow the command.\n");
    s
}
