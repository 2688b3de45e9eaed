//! Parsing a seccomp profile from JSON with errors that name the field.
//!
//! oci-spec's serde types reject unknown names too, but only with a line/column; this pass checks
//! the names against hull's table first so the error says `syscalls[2].action: unknown action
//! "SCMP_ACT_FOO"`.

use oci_spec::runtime::LinuxSeccomp;
use serde_json::Value;

use crate::names;
use crate::SeccompError;

fn invalid(field: String, reason: String) -> SeccompError {
    SeccompError::Invalid { field, reason }
}

fn check_name(v: &Value, field: String, what: &str, known: &[&str]) -> Result<(), SeccompError> {
    match v.as_str() {
        Some(s) if known.contains(&s) => Ok(()),
        Some(s) => Err(invalid(
            field,
            format!("unknown {what} {s:?} (known: {})", known.join(", ")),
        )),
        None => Err(invalid(field, format!("must be a string naming a {what}"))),
    }
}

/// Parse `linux.seccomp` (the object, not the whole config) from JSON.
pub fn parse_profile(json: &str) -> Result<LinuxSeccomp, SeccompError> {
    let v: Value = serde_json::from_str(json)
        .map_err(|e| SeccompError::Parse(format!("invalid JSON: {e}")))?;
    let actions: Vec<&str> = names::ACTIONS.iter().map(|a| a.name).collect();
    let ops: Vec<&str> = names::OPERATORS.iter().map(|o| o.1).collect();
    let arches: Vec<&str> = names::ARCHES.iter().map(|a| a.1).collect();
    let flags: Vec<&str> = names::FLAGS.iter().map(|f| f.1).collect();
    let obj = v
        .as_object()
        .ok_or_else(|| SeccompError::Parse("the profile must be a JSON object".into()))?;
    match obj.get("defaultAction") {
        Some(a) => check_name(a, "defaultAction".into(), "action", &actions)?,
        None => return Err(invalid("defaultAction".into(), "is required".into())),
    }
    if let Some(Value::Array(list)) = obj.get("architectures") {
        for (i, a) in list.iter().enumerate() {
            check_name(a, format!("architectures[{i}]"), "architecture", &arches)?;
        }
    }
    if let Some(Value::Array(list)) = obj.get("flags") {
        for (i, f) in list.iter().enumerate() {
            check_name(f, format!("flags[{i}]"), "flag", &flags)?;
        }
    }
    if let Some(Value::Array(list)) = obj.get("syscalls") {
        for (i, sc) in list.iter().enumerate() {
            let field = format!("syscalls[{i}]");
            match sc.get("action") {
                Some(a) => check_name(a, format!("{field}.action"), "action", &actions)?,
                None => return Err(invalid(format!("{field}.action"), "is required".into())),
            }
            if let Some(Value::Array(args)) = sc.get("args") {
                for (j, a) in args.iter().enumerate() {
                    match a.get("op") {
                        Some(op) => {
                            check_name(op, format!("{field}.args[{j}].op"), "operator", &ops)?
                        }
                        None => {
                            return Err(invalid(
                                format!("{field}.args[{j}].op"),
                                "is required".into(),
                            ))
                        }
                    }
                }
            }
        }
    }
    serde_json::from_value(v).map_err(|e| SeccompError::Parse(e.to_string()))
}
