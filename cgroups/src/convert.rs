//! v1-style OCI values → cgroup v2 values, as runc converts them.

/// cpu.shares (2..=262144) → cpu.weight (1..=10000). 0 means "not set".
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

/// blkio.weight (10..=1000) → io.weight (1..=10000). 0 means "not set".
pub fn blkio_weight_to_io_weight(w: u64) -> u64 {
    if w == 0 {
        return 0;
    }
    let w = w.clamp(10, 1000);
    1 + ((w - 10) * 9999) / 990
}

/// OCI memory.swap is memory+swap (v1 memsw semantics); v2 memory.swap.max is swap alone.
/// Returns the string for memory.swap.max, or None when nothing is to be written.
pub fn swap_to_v2(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>, String> {
    let Some(swap) = swap else { return Ok(None) };
    if swap == -1 {
        return Ok(Some("max".into()));
    }
    if swap == 0 {
        // runc: 0 leaves swap as is.
        return Ok(None);
    }
    match limit {
        None | Some(0) | Some(-1) => {
            Err("a swap limit needs a memory limit (memory.limit) as well".into())
        }
        Some(l) if swap < l => Err(format!(
            "memory+swap ({swap}) must not be smaller than the memory limit ({l})"
        )),
        Some(l) => Ok(Some((swap - l).to_string())),
    }
}

/// -1 → "max", otherwise the number.
pub fn limit_str(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// cpu.max content from quota/period (None = unchanged).
pub fn cpu_max(quota: Option<i64>, period: Option<u64>) -> Option<String> {
    match (quota, period) {
        (None, None) => None,
        (q, p) => {
            let q = match q {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".to_string(),
            };
            Some(match p {
                Some(p) if p > 0 => format!("{q} {p}"),
                _ => q,
            })
        }
    }
}

/// Check a cpuset list ("0-3,7"): only digits, ',' and ranges lo-hi with lo <= hi.
pub fn valid_cpuset_list(s: &str) -> bool {
    let s = s.trim();
    if s.is_empty() {
        return true;
    }
    s.split(',').all(|part| {
        let mut it = part.splitn(2, '-');
        let lo = it.next().and_then(|x| x.parse::<u32>().ok());
        match (lo, it.next()) {
            (Some(_), None) => true,
            (Some(lo), Some(hi)) => hi.parse::<u32>().map(|hi| lo <= hi).unwrap_or(false),
            _ => false,
        }
    })
}
