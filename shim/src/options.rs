//! Runtime options carried in `CreateTaskRequest.options`.
//!
//! containerd (and `ctr --runc-binary`) send `containerd.runc.v1.Options` for runc-style shims.
//! The message is not in containerd-shim-protos, and we need two fields of it, so we decode the
//! protobuf wire format directly: field 6 `binary_name` (string), field 7 `root` (string).
//! Every other field is skipped by wire type. Bool field 9 `systemd_cgroup` is kept too.

use protobuf::CodedInputStream;

/// Type URLs under which containerd sends runc options.
pub const RUNC_OPTIONS_URLS: &[&str] = &[
    "containerd.runc.v1.Options",
    "type.googleapis.com/containerd.runc.v1.Options",
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
    if !RUNC_OPTIONS_URLS.contains(&type_url) {
        return Err(OptionsError(format!(
            "options: unsupported type {type_url:?} (expected containerd.runc.v1.Options)"
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

    #[test]
    fn wrong_type_or_garbage_is_a_clear_error() {
        let e = decode("containerd.linux.runc.RuncOptions", &[]).unwrap_err();
        assert!(e.0.contains("unsupported type"), "{}", e.0);
        let e = decode("containerd.runc.v1.Options", &[0x32, 0x10, b'x']).unwrap_err();
        assert!(e.0.contains("malformed"), "{}", e.0);
    }
}
