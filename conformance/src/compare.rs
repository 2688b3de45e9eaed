//! `--compare NAME=TAP...`: merge several TAP outputs of this suite into one markdown table.
use std::collections::BTreeMap;

/// The result of one case in one TAP file.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Res {
    Pass,
    Fail,
    Known,
    Skip,
}

impl Res {
    fn cell(self) -> &'static str {
        match self {
            Res::Pass => "pass",
            Res::Fail => "**FAIL**",
            Res::Known => "fail (known)",
            Res::Skip => "skip",
        }
    }
}

/// Parse `ok N - name[ # skip ...]` / `not ok N - name[ # TODO ...]` lines, in order.
pub fn parse_tap(text: &str) -> Vec<(String, Res)> {
    let mut v = vec![];
    for line in text.lines() {
        let (ok, rest) = if let Some(r) = line.strip_prefix("ok ") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("not ok ") {
            (false, r)
        } else {
            continue;
        };
        let Some((_, after)) = rest.split_once(" - ") else {
            continue;
        };
        let (name, directive) = match after.split_once(" # ") {
            Some((n, d)) => (n.trim(), d.trim()),
            None => (after.trim(), ""),
        };
        let d = directive.to_ascii_lowercase();
        let r = match (ok, d.starts_with("skip"), d.starts_with("todo")) {
            (true, true, _) => Res::Skip,
            (true, _, _) => Res::Pass,
            (false, _, true) => Res::Known,
            (false, _, _) => Res::Fail,
        };
        v.push((name.to_string(), r));
    }
    v
}

pub fn table(runs: &[(String, String)]) -> String {
    let parsed: Vec<(String, BTreeMap<String, Res>)> = runs
        .iter()
        .map(|(n, t)| (n.clone(), parse_tap(t).into_iter().collect()))
        .collect();
    let mut order: Vec<String> = vec![];
    for (_, t) in runs {
        for (name, _) in parse_tap(t) {
            if !order.contains(&name) {
                order.push(name);
            }
        }
    }
    let mut out = String::new();
    out.push_str("| case |");
    for (n, _) in &parsed {
        out.push_str(&format!(" {n} |"));
    }
    out.push_str("\n|---|");
    for _ in &parsed {
        out.push_str("---|");
    }
    out.push('\n');
    for name in &order {
        out.push_str(&format!("| {name} |"));
        for (_, m) in &parsed {
            out.push_str(&format!(
                " {} |",
                m.get(name).map(|r| r.cell()).unwrap_or("-")
            ));
        }
        out.push('\n');
    }
    for (label, want) in [
        ("passed", Res::Pass),
        ("failed", Res::Fail),
        ("known failures", Res::Known),
        ("skipped", Res::Skip),
    ] {
        out.push_str(&format!("| **{label}** |"));
        for (_, m) in &parsed {
            out.push_str(&format!(
                " {} |",
                m.values().filter(|r| **r == want).count()
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_line() {
        let t = "TAP version 13\nok 1 - a\nnot ok 2 - b\n#   why\nok 3 - c # skip no v2\nnot ok 4 - d # TODO runc bug\n1 passed, 1 failed, 1 skipped\n";
        let v = parse_tap(t);
        assert_eq!(
            v,
            vec![
                ("a".into(), Res::Pass),
                ("b".into(), Res::Fail),
                ("c".into(), Res::Skip),
                ("d".into(), Res::Known)
            ]
        );
    }

    #[test]
    fn table_has_a_column_per_runtime_and_totals() {
        let t = table(&[
            ("x".into(), "ok 1 - a\nnot ok 2 - b\n".into()),
            ("y".into(), "not ok 1 - a # TODO r\nok 2 - b\n".into()),
        ]);
        assert!(t.contains("| case | x | y |"));
        assert!(t.contains("| a | pass | fail (known) |"));
        assert!(t.contains("| b | **FAIL** | pass |"));
        assert!(t.contains("| **passed** | 1 | 1 |"));
    }
}
