//! `hull list`: every container under the root, as a table or JSON.

use super::state::Store;
use crate::error::{Error, Result};
use crate::logging;
use std::os::unix::fs::MetadataExt;

pub fn list(store: &Store, format: &str, quiet: bool) -> Result<String> {
    store.sweep_stale();
    let mut rows = Vec::new();
    for id in store.ids()? {
        // A container deleted meanwhile is simply skipped.
        let Ok(dir) = store.open(&id) else { continue };
        // A half-created one is listed too (`creating`, or `stopped` once its init is gone); an
        // unreadable state.json as `stopped`, with a warning naming the file.
        let mut st = match dir.load_current() {
            Ok(st) => st,
            Err(e @ Error::CorruptState { .. }) => {
                logging::warn(&e.to_string());
                let mut st = dir.orphan();
                st.status = super::Status::Stopped;
                st
            }
            Err(_) => continue,
        };
        st.owner = owner_of(&dir.path);
        rows.push(st);
    }
    if quiet {
        return Ok(rows.iter().map(|s| format!("{}\n", s.id)).collect());
    }
    if format == "json" {
        let v: Vec<_> = rows.iter().map(|s| s.spec_json()).collect();
        return Ok(format!("{}\n", serde_json::Value::Array(v)));
    }
    let mut table = vec![[
        "ID".to_string(),
        "PID".into(),
        "STATUS".into(),
        "BUNDLE".into(),
        "CREATED".into(),
        "OWNER".into(),
    ]];
    for s in &rows {
        let pid = if s.status == super::Status::Stopped {
            0
        } else {
            s.pid
        };
        table.push([
            s.id.clone(),
            pid.to_string(),
            s.status.to_string(),
            s.bundle.display().to_string(),
            s.created.clone(),
            s.owner.clone(),
        ]);
    }
    let mut width = [0usize; 6];
    for r in &table {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.len() + 1).max(12);
        }
    }
    let mut out = String::new();
    for r in &table {
        for (i, c) in r.iter().enumerate() {
            if i == 5 {
                out.push_str(c);
            } else {
                out.push_str(&format!("{c:<w$}", w = width[i]));
            }
        }
        out.push('\n');
    }
    Ok(out)
}

fn owner_of(p: &std::path::Path) -> String {
    let uid = std::fs::metadata(p).map(|m| m.uid()).unwrap_or(0);
    if uid == 0 {
        return "root".into();
    }
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}
