//! `hull events [--stats] [--interval D] ID`, in runc's output shape: one JSON object per line,
//! `{"type":"stats","id":ID,"data":{cpu,memory,pids,blkio,hugetlb}}` every interval and
//! `{"type":"oom","id":ID}` whenever the cgroup's OOM-kill count grows, until the container stops.

use super::state::{Status, Store};
use crate::error::{Error, Result};
use std::io::Write;
use std::time::{Duration, Instant};

/// Parse a Go-style duration ("5s", "100ms", "1m30s", "1.5s").
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || {
        Error::invalid(format!(
            "--interval {s:?}: invalid duration (e.g. 5s, 100ms, 1m)"
        ))
    };
    let mut total = 0f64;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let num: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += num * mult;
        rest = &rest[u..];
    }
    if total <= 0.0 || !total.is_finite() {
        return Err(Error::invalid(format!(
            "--interval {s:?}: must be positive"
        )));
    }
    Ok(Duration::from_secs_f64(total))
}

/// The stats event line for `id`.
pub fn stats_event(id: &str, stats: &hull_cgroups::Stats) -> String {
    // Field order as runc prints it (type, id, data).
    format!(
        "{{\"type\":\"stats\",\"id\":{},\"data\":{}}}",
        serde_json::to_string(id).expect("string"),
        serde_json::to_string(stats).expect("stats serialise")
    )
}

pub fn events(store: &Store, id: &str, stats_only: bool, interval: Duration) -> Result<()> {
    let (st, cg) = {
        let dir = store.open(id)?;
        let st = dir.load_current()?;
        if st.status == Status::Stopped {
            return Err(Error::wrong_state(id, "events", st.status));
        }
        let cg = super::cgroup_of(&st).ok_or_else(|| Error::missing(id, "events", "cgroup"))?;
        (st, cg)
    };
    let mut out = std::io::stdout().lock();
    if stats_only {
        let s = cg.stats()?;
        writeln!(out, "{}", stats_event(id, &s)).map_err(|e| Error::io("write", "stdout", e))?;
        return Ok(());
    }
    let poll = interval.min(Duration::from_millis(200));
    let mut last_oom = cg.oom_kill_count().unwrap_or(0);
    let mut next_stats = Instant::now() + interval;
    loop {
        std::thread::sleep(poll);
        if !super::state::process_alive(st.pid, st.start_time) {
            return Ok(());
        }
        if let Ok(n) = cg.oom_kill_count() {
            if n > last_oom {
                last_oom = n;
                let line = format!(
                    "{{\"type\":\"oom\",\"id\":{}}}",
                    serde_json::to_string(id).expect("string")
                );
                if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
                    return Ok(()); // the reader went away
                }
            }
        }
        if Instant::now() >= next_stats {
            next_stats += interval;
            match cg.stats() {
                Ok(s) => {
                    if writeln!(out, "{}", stats_event(id, &s))
                        .and_then(|_| out.flush())
                        .is_err()
                    {
                        return Ok(());
                    }
                }
                Err(e) => crate::logging::log(crate::logging::Level::Error, &e.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "5", "s", "5x", "0s", "-1s"] {
            assert!(
                parse_duration(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("--interval"),
                "{bad}"
            );
        }
    }

    #[test]
    fn stats_event_shape() {
        let mut s = hull_cgroups::Stats::default();
        s.pids.current = 3;
        let line = stats_event("c1", &s);
        assert!(
            line.starts_with(r#"{"type":"stats","id":"c1","data":{"#),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], "stats");
        assert_eq!(v["id"], "c1");
        assert_eq!(v["data"]["pids"]["current"], 3);
        for k in ["cpu", "memory", "pids", "blkio", "hugetlb"] {
            assert!(v["data"].get(k).is_some(), "{k}");
        }
    }
}
