//! `hull list`: every container under the root, as a table or JSON.
//!
//! JSON and `--quiet` output stream: each state is loaded, written and dropped before the next
//! one is read, so memory does not grow with the number of containers. The table needs its
//! column widths first, so it keeps only the six printed strings of each row.

use super::state::{State, Store};
use crate::error::{Error, Result};
use crate::logging;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;

/// Write the listing to `out` (buffered by the caller).
pub fn list(store: &Store, format: &str, quiet: bool, out: &mut dyn Write) -> Result<()> {
    store.sweep_stale();
    let mut owners = Owners::default();
    let mut rows: Vec<[String; 6]> = Vec::new();
    let mut first = true;
    let json = format == "json" && !quiet;
    let w = |r: std::io::Result<()>| r.map_err(|e| Error::io("write", "stdout", e));
    if json {
        w(out.write_all(b"["))?;
    }
    for id in store.ids()? {
        let Some(st) = load(store, &id, &mut owners) else {
            continue;
        };
        if quiet {
            w(writeln!(out, "{}", st.id))?;
        } else if json {
            if !first {
                w(out.write_all(b","))?;
            }
            first = false;
            w(serde_json::to_writer(&mut *out, &st.spec_json()).map_err(std::io::Error::from))?;
        } else {
            rows.push(row(st));
        }
    }
    if json {
        w(out.write_all(b"]\n"))?;
    } else if !quiet {
        w(out.write_all(table(rows).as_bytes()))?;
    }
    w(out.flush())
}

/// One container's current state, or None when it vanished meanwhile. A half-created one is
/// listed too (`creating`, or `stopped` once its init is gone); an unreadable state.json as
/// `stopped`, with a warning naming the file.
fn load(store: &Store, id: &str, owners: &mut Owners) -> Option<State> {
    let dir = store.open(id).ok()?;
    let mut st = match dir.load_current() {
        Ok(st) => st,
        Err(e @ Error::CorruptState { .. }) => {
            logging::warn(&e.to_string());
            let mut st = dir.orphan();
            st.status = super::Status::Stopped;
            st
        }
        Err(_) => return None,
    };
    st.owner = owners.of(&dir.path);
    Some(st)
}

fn row(s: State) -> [String; 6] {
    let pid = if s.status == super::Status::Stopped {
        0
    } else {
        s.pid
    };
    [
        s.id,
        pid.to_string(),
        s.status.to_string(),
        s.bundle.display().to_string(),
        s.created,
        s.owner,
    ]
}

fn table(rows: Vec<[String; 6]>) -> String {
    let head = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
    let all: Vec<&[String; 6]> = std::iter::once(&head).chain(rows.iter()).collect();
    let mut width = [0usize; 6];
    for r in &all {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.len() + 1).max(12);
        }
    }
    let mut out = String::new();
    for r in &all {
        for (i, c) in r.iter().enumerate() {
            if i == 5 {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}", w = width[i]));
            }
        }
        out.push('\n');
    }
    out
}

/// User names of state-dir owners, looked up in /etc/passwd once per uid.
#[derive(Default)]
struct Owners(HashMap<u32, String>);

impl Owners {
    fn of(&mut self, p: &std::path::Path) -> String {
        let uid = std::fs::metadata(p).map(|m| m.uid()).unwrap_or(0);
        if uid == 0 {
            return "root".into();
        }
        self.0.entry(uid).or_insert_with(|| name_of(uid)).clone()
    }
}

fn name_of(uid: u32) -> String {
    let want = uid.to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == want).then(|| f[0].to_string())
            })
        })
        .unwrap_or(want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_columns_to_the_widest_cell() {
        let r = [
            "a-very-long-container-id",
            "42",
            "running",
            "/b",
            "t",
            "root",
        ]
        .map(String::from);
        let t = table(vec![r]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 2);
        // Every column after the first starts at the same offset on both lines.
        assert_eq!(lines[0].find("PID"), lines[1].find("42"));
        assert_eq!(lines[0].find("OWNER"), lines[1].find("root"));
        assert!(lines[0].starts_with("ID "));
    }

    #[test]
    fn empty_root_lists_an_empty_json_array() {
        let dir = std::env::temp_dir().join(format!("hull-list-empty-{}", std::process::id()));
        let store = Store::new(&dir);
        let mut out = Vec::new();
        list(&store, "json", false, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[]\n");
        let mut out = Vec::new();
        list(&store, "table", false, &mut out).unwrap();
        assert!(String::from_utf8(out).unwrap().starts_with("ID"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
