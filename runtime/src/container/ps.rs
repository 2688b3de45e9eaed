//! `hull ps [--format table|json] ID [ps options]`, as runc: json prints the container's pids as
//! a JSON array; table runs the host's `ps` (default `-ef`) and keeps the header and the lines
//! whose PID column is one of the container's processes.

use super::state::Store;
use crate::error::{Error, Result};

/// The container's pids (every process in its cgroup).
pub fn pids(store: &Store, id: &str) -> Result<Vec<i32>> {
    let dir = store.open(id)?;
    let st = dir.load_current()?;
    if let Some(cg) = super::cgroup_of(&st) {
        let mut p = cg.pids()?;
        p.sort_unstable();
        p.dedup();
        return Ok(p);
    }
    if st.status == super::Status::Stopped {
        return Ok(vec![]);
    }
    Ok(super::kill::container_pids(&st))
}

/// Keep the header of `ps` output and the lines whose PID column is in `pids`.
pub fn filter_table(output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = output.lines();
    let header = lines.next().unwrap_or("");
    let idx = header
        .split_whitespace()
        .position(|f| f == "PID")
        .ok_or_else(|| Error::invalid("ps: couldn't find PID field in ps output"))?;
    let mut out = String::new();
    out.push_str(header);
    out.push('\n');
    for l in lines.filter(|l| !l.is_empty()) {
        let f = l.split_whitespace().nth(idx).unwrap_or("");
        let p: i32 = f
            .parse()
            .map_err(|_| Error::invalid(format!("ps: unable to parse pid {f:?}")))?;
        if pids.contains(&p) {
            out.push_str(l);
            out.push('\n');
        }
    }
    Ok(out)
}

pub fn ps(store: &Store, id: &str, format: &str, ps_args: &[String]) -> Result<String> {
    let pids = pids(store, id)?;
    if format == "json" {
        return Ok(format!(
            "{}\n",
            serde_json::to_string(&pids).expect("pids serialise")
        ));
    }
    let args: Vec<String> = if ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        ps_args.to_vec()
    };
    let o = std::process::Command::new("ps")
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io("run", "ps", e))?;
    if !o.status.success() {
        return Err(Error::invalid(format!(
            "ps {}: {}: {}{}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )));
    }
    filter_table(&String::from_utf8_lossy(&o.stdout), &pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_keeps_header_and_container_pids() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init\nroot 42 1 0 10:00 ? 00:00:00 sleep 60\n";
        let t = filter_table(out, &[42]).unwrap();
        assert_eq!(
            t,
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sleep 60\n"
        );
        assert!(filter_table("USER COMMAND\nx y\n", &[1])
            .unwrap_err()
            .to_string()
            .contains("PID field"));
    }
}
