//! `--log FILE`, `--log-format text|json`, `--debug`: the runc-compatible log.
//!
//! containerd's runc shim reads the json log and shows the last `{"level":"error","msg":...}` line
//! to the user, so every fatal error is written there as well as to stderr.

use std::fs::File;
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

struct Logger {
    file: Option<File>,
    json: bool,
    min: Level,
}

static LOGGER: Mutex<Logger> = Mutex::new(Logger {
    file: None,
    json: false,
    min: Level::Warn,
});

/// Configure the logger. Without a file, messages at or above the level go to stderr.
pub fn init(path: Option<&str>, json: bool, debug: bool) -> std::io::Result<()> {
    let file = match path {
        Some(p) if !p.is_empty() => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
        _ => None,
    };
    let mut l = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    l.file = file;
    l.json = json;
    l.min = if debug { Level::Debug } else { Level::Warn };
    Ok(())
}

/// True when a log file was given (fatal errors then also go to the file).
pub fn has_file() -> bool {
    LOGGER.lock().map(|l| l.file.is_some()).unwrap_or(false)
}

pub fn log(level: Level, msg: &str) {
    let mut l = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    if level < l.min {
        return;
    }
    let line = if l.json {
        let v = serde_json::json!({"level": level.as_str(), "msg": msg, "time": rfc3339_now()});
        format!("{v}\n")
    } else {
        format!(
            "time=\"{}\" level={} msg={:?}\n",
            rfc3339_now(),
            level.as_str(),
            msg
        )
    };
    match l.file.as_mut() {
        Some(f) => {
            let _ = f.write_all(line.as_bytes());
        }
        None => {
            // Without --log, warnings and debug output go to stderr (errors are printed by main).
            if level < Level::Error {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }
}

pub fn warn(msg: &str) {
    log(Level::Warn, msg)
}

pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}

/// Current time as RFC 3339 with nanoseconds, UTC (the format runc's state uses).
pub fn rfc3339_now() -> String {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    rfc3339(d.as_secs() as i64, d.subsec_nanos())
}

pub fn rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400, 5), "2000-02-29T00:00:00.000000005Z");
        assert_eq!(
            rfc3339(1_795_400_000, 123_456_789),
            "2026-11-23T02:13:20.123456789Z"
        );
    }
}
