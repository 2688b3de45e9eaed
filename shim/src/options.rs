//! Runtime options carried in `CreateTaskRequest.options`.
//!
//! containerd (and `ctr --runc-binary`) send `containerd.runc.v1.Options` for runc-style shims.
//! The message is not in containerd-shim-protos, and we need two fields of it, so we decode the
//! protobuf wire format directly: field 6 `binary_name` (string), field 7 `root` (string).
//! Every other field is skipped by wire type. Bool field 9 `systemd_cgroup` is kept too.
//! containerd's CRI plugin sends `runtimeoptions.v1.Options` to every shim whose runtime_type is
//! not runc's: field 3 `config_body` carries the handler's `options` TOML table (containerd 1.7+),
//! or field 2 `config_path` names a TOML file; the same keys (`BinaryName`, `Root`,
//! `SystemdCgroup`) are read from it.

use protobuf::CodedInputStream;

/// Type URLs under which containerd sends runc options.
pub const RUNC_OPTIONS_URLS: &[&str] = &[
    "containerd.runc.v1.Options",
    "type.googleapis.com/containerd.runc.v1.Options",
];

/// Type URLs of CRI's generic options (`runtimeoptions.v1.Options`).
pub const CRI_OPTIONS_URLS: &[&str] = &[
    "runtimeoptions.v1.Options",
    "type.googleapis.com/runtimeoptions.v1.Options",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuncOptions {
    pub binary_name: String,
    pub root: String,
    pub systemd_cgroup: bool,
}

#[derive(Debug)]
pub struct OptionsError(pub String);

impl std::fmt::Display for OptionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decode `options` (`type_url`, `value`). An empty type URL means no options.
pub fn decode(type_url: &str, value: &[u8]) -> Result<RuncOptions, OptionsError> {
    if type_url.is_empty() && value.is_empty() {
        return Ok(RuncOptions::default());
    }
    if CRI_OPTIONS_URLS.contains(&type_url) {
        return decode_cri(value);
    }
    if !RUNC_OPTIONS_URLS.contains(&type_url) {
        return Err(OptionsError(format!(
            "options: unsupported type {type_url:?} (expected containerd.runc.v1.Options or runtimeoptions.v1.Options)"
        )));
    }
    let mut out = RuncOptions::default();
    let mut is = CodedInputStream::from_bytes(value);
    let bad = |e: protobuf::Error| {
        OptionsError(format!(
            "options: malformed containerd.runc.v1.Options: {e}"
        ))
    };
    while !is.eof().map_err(bad)? {
        let tag = is.read_raw_varint32().map_err(bad)?;
        let (field, wire) = (tag >> 3, tag & 7);
        match (field, wire) {
            (6, 2) => out.binary_name = is.read_string().map_err(bad)?,
            (7, 2) => out.root = is.read_string().map_err(bad)?,
            (9, 0) => out.systemd_cgroup = is.read_bool().map_err(bad)?,
            (_, 0) => {
                is.read_raw_varint64().map_err(bad)?;
            }
            (_, 1) => {
                is.read_raw_bytes(8).map_err(bad)?;
            }
            (_, 2) => {
                let n = is.read_raw_varint32().map_err(bad)?;
                is.skip_raw_bytes(n).map_err(bad)?;
            }
            (_, 5) => {
                is.read_raw_bytes(4).map_err(bad)?;
            }
            (f, w) => {
                return Err(OptionsError(format!(
                    "options: field {f} has unsupported wire type {w}"
                )))
            }
        }
    }
    Ok(out)
}

/// Decode `runtimeoptions.v1.Options`: field 1 `type_url`, 2 `config_path`, 3 `config_body`.
fn decode_cri(value: &[u8]) -> Result<RuncOptions, OptionsError> {
    let bad = |e: protobuf::Error| {
        OptionsError(format!("options: malformed runtimeoptions.v1.Options: {e}"))
    };
    let (mut path, mut body) = (String::new(), Vec::new());
    let mut is = CodedInputStream::from_bytes(value);
    while !is.eof().map_err(bad)? {
        let tag = is.read_raw_varint32().map_err(bad)?;
        match (tag >> 3, tag & 7) {
            (2, 2) => path = is.read_string().map_err(bad)?,
            (3, 2) => body = is.read_bytes().map_err(bad)?,
            (_, 2) => {
                let n = is.read_raw_varint32().map_err(bad)?;
                is.skip_raw_bytes(n).map_err(bad)?;
            }
            (_, 0) => {
                is.read_raw_varint64().map_err(bad)?;
            }
            (f, w) => {
                return Err(OptionsError(format!(
                    "options: runtimeoptions.v1.Options field {f} has unsupported wire type {w}"
                )))
            }
        }
    }
    let (what, text) = if !body.is_empty() {
        let text = String::from_utf8(body)
            .map_err(|_| OptionsError("options: config_body is not UTF-8 TOML".into()))?;
        ("the runtime's options table".to_string(), text)
    } else if !path.is_empty() {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| OptionsError(format!("options: ConfigPath {path}: {e}")))?;
        (format!("ConfigPath {path}"), text)
    } else {
        return Ok(RuncOptions::default());
    };
    from_toml(&what, &text)
}

/// The handler's options as TOML (what containerd's CRI plugin marshals from its config).
/// `BinaryName`, `Root`, `SystemdCgroup` are used; any other key must be unset (its zero value),
/// so a setting hull's shim would silently drop is an error naming it.
fn from_toml(what: &str, text: &str) -> Result<RuncOptions, OptionsError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e| OptionsError(format!("options: {what} is not valid TOML: {e}")))?;
    let mut out = RuncOptions::default();
    for (key, v) in &table {
        let wrong = |want: &str| OptionsError(format!("options: {what}: {key} must be {want}"));
        match key.as_str() {
            "BinaryName" => out.binary_name = v.as_str().ok_or_else(|| wrong("a string"))?.into(),
            "Root" => out.root = v.as_str().ok_or_else(|| wrong("a string"))?.into(),
            "SystemdCgroup" => {
                out.systemd_cgroup = v.as_bool().ok_or_else(|| wrong("a boolean"))?
            }
            _ => {
                let unset = match v {
                    toml::Value::String(s) => s.is_empty(),
                    toml::Value::Boolean(b) => !b,
                    toml::Value::Integer(i) => *i == 0,
                    _ => false,
                };
                if !unset {
                    return Err(OptionsError(format!(
                        "options: {what}: {key} is not supported by containerd-shim-hull-v2 \
                         (supported: BinaryName, Root, SystemdCgroup)"
                    )));
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
/// Encode options (used by tests, and documents the layout decoded above).
pub fn encode(o: &RuncOptions) -> Vec<u8> {
    let mut buf = Vec::new();
    {
        let mut os = protobuf::CodedOutputStream::vec(&mut buf);
        if !o.binary_name.is_empty() {
            os.write_string(6, &o.binary_name).expect("write to Vec");
        }
        if !o.root.is_empty() {
            os.write_string(7, &o.root).expect("write to Vec");
        }
        if o.systemd_cgroup {
            os.write_bool(9, true).expect("write to Vec");
        }
        os.flush().expect("flush to Vec");
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_defaults() {
        assert_eq!(decode("", &[]).unwrap(), RuncOptions::default());
    }

    #[test]
    fn round_trip_and_skips_other_fields() {
        let o = RuncOptions {
            binary_name: "/opt/hull".into(),
            root: "/run/x".into(),
            systemd_cgroup: true,
        };
        let mut bytes = Vec::new();
        {
            let mut os = protobuf::CodedOutputStream::vec(&mut bytes);
            os.write_bool(1, true).unwrap(); // no_pivot_root
            os.write_string(3, "/shim-cgroup").unwrap(); // shim_cgroup
            os.write_uint32(4, 1000).unwrap(); // io_uid
            os.flush().unwrap();
        }
        bytes.extend(encode(&o));
        assert_eq!(decode("containerd.runc.v1.Options", &bytes).unwrap(), o);
    }

    fn cri_options(path: &str, body: &str) -> Vec<u8> {
        let mut bytes = Vec::new();
        {
            let mut os = protobuf::CodedOutputStream::vec(&mut bytes);
            os.write_string(1, "").unwrap();
            if !path.is_empty() {
                os.write_string(2, path).unwrap();
            }
            if !body.is_empty() {
                os.write_bytes(3, body.as_bytes()).unwrap();
            }
            os.flush().unwrap();
        }
        bytes
    }

    #[test]
    fn cri_config_body_toml() {
        let body = "BinaryName = \"/opt/hull\"\nRoot = \"/run/r\"\nSystemdCgroup = true\nIoUid = 0\nShimCgroup = \"\"\n";
        let o = decode("runtimeoptions.v1.Options", &cri_options("", body)).unwrap();
        assert_eq!(
            o,
            RuncOptions {
                binary_name: "/opt/hull".into(),
                root: "/run/r".into(),
                systemd_cgroup: true,
            }
        );
        assert_eq!(
            decode("runtimeoptions.v1.Options", &cri_options("", "")).unwrap(),
            RuncOptions::default()
        );
    }

    #[test]
    fn cri_config_path_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("hull.toml");
        std::fs::write(&f, "BinaryName = \"/x/hull\"\n").unwrap();
        let o = decode(
            "type.googleapis.com/runtimeoptions.v1.Options",
            &cri_options(f.to_str().unwrap(), ""),
        )
        .unwrap();
        assert_eq!(o.binary_name, "/x/hull");
        let missing = dir.path().join("nope.toml");
        let e = decode(
            "runtimeoptions.v1.Options",
            &cri_options(missing.to_str().unwrap(), ""),
        )
        .unwrap_err();
        assert!(e.0.contains("nope.toml"), "{}", e.0);
        let e = decode(
            "runtimeoptions.v1.Options",
            &cri_options("", "NoPivotRoot = true"),
        )
        .unwrap_err();
        assert!(e.0.contains("NoPivotRoot is not supported"), "{}", e.0);
        let e = decode("runtimeoptions.v1.Options", &cri_options("", "Root = 3")).unwrap_err();
        assert!(e.0.contains("Root must be a string"), "{}", e.0);
        let e = decode("runtimeoptions.v1.Options", &cri_options("", "Root = ")).unwrap_err();
        assert!(e.0.contains("not valid TOML"), "{}", e.0);
    }

    #[test]
    fn wrong_type_or_garbage_is_a_clear_error() {
        let e = decode("containerd.linux.runc.RuncOptions", &[]).unwrap_err();
        assert!(e.0.contains("unsupported type"), "{}", e.0);
        let e = decode("containerd.runc.v1.Options", &[0x32, 0x10, b'x']).unwrap_err();
        assert!(e.0.contains("malformed"), "{}", e.0);
    }
}
