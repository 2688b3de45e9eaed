//! Runtime options carried in `CreateTaskRequest.options`: `containerd.runc.v1.Options`, which
//! containerd (CRI's `BinaryName`/`SystemdCgroup`/`Root`, `ctr --runc-binary`) sends to runc-style
//! shims. Decoded with the type containerd-shim-protos generates from containerd's `oci.proto`
//! (`containerd_shim_protos::shim::oci::Options`); this module only checks the type URL.

use containerd_shim_protos::protobuf::Message;

/// The generated message (fields as in containerd's api/types/runc/options/oci.proto).
pub type RuncOptions = containerd_shim_protos::shim::oci::Options;

/// Type URLs under which containerd sends runc options.
pub const RUNC_OPTIONS_URLS: &[&str] = &[
    "containerd.runc.v1.Options",
    "type.googleapis.com/containerd.runc.v1.Options",
];

#[derive(Debug)]
pub struct OptionsError(pub String);

impl std::fmt::Display for OptionsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decode `options` (`type_url`, `value`). An empty type URL and value mean no options.
pub fn decode(type_url: &str, value: &[u8]) -> Result<RuncOptions, OptionsError> {
    if type_url.is_empty() && value.is_empty() {
        return Ok(RuncOptions::default());
    }
    if !RUNC_OPTIONS_URLS.contains(&type_url) {
        return Err(OptionsError(format!(
            "options: unsupported type {type_url:?} (expected containerd.runc.v1.Options)"
        )));
    }
    RuncOptions::parse_from_bytes(value).map_err(|e| {
        OptionsError(format!(
            "options: malformed containerd.runc.v1.Options: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_means_defaults() {
        assert_eq!(decode("", &[]).unwrap(), RuncOptions::default());
    }

    /// The wire layout containerd writes (field numbers of oci.proto), built by hand so the
    /// test does not just round-trip the generated code through itself.
    #[test]
    fn decodes_containerd_wire_format_and_keeps_other_fields() {
        let mut bytes = Vec::new();
        {
            let mut os = protobuf::CodedOutputStream::vec(&mut bytes);
            os.write_bool(1, true).unwrap(); // no_pivot_root
            os.write_string(3, "/shim-cgroup").unwrap(); // shim_cgroup
            os.write_uint32(4, 1000).unwrap(); // io_uid
            os.write_string(6, "/opt/hull").unwrap(); // binary_name
            os.write_string(7, "/run/x").unwrap(); // root
            os.write_bool(9, true).unwrap(); // systemd_cgroup
            os.write_uint32(13, 3).unwrap(); // task_api_version
            os.flush().unwrap();
        }
        let o = decode("containerd.runc.v1.Options", &bytes).unwrap();
        assert_eq!(o.binary_name, "/opt/hull");
        assert_eq!(o.root, "/run/x");
        assert!(o.systemd_cgroup);
        assert!(o.no_pivot_root);
        assert_eq!(o.shim_cgroup, "/shim-cgroup");
        assert_eq!(o.io_uid, 1000);
        assert_eq!(o.task_api_version, 3);
        let o2 = decode(
            "type.googleapis.com/containerd.runc.v1.Options",
            &o.write_to_bytes().unwrap(),
        )
        .unwrap();
        assert_eq!(o2, o);
    }

    #[test]
    fn wrong_type_or_garbage_is_a_clear_error() {
        let e = decode("containerd.linux.runc.RuncOptions", &[]).unwrap_err();
        assert!(e.0.contains("unsupported type"), "{}", e.0);
        // Field 6 (length-delimited) claims 16 bytes but only one follows.
        let e = decode("containerd.runc.v1.Options", &[0x32, 0x10, b'x']).unwrap_err();
        assert!(e.0.contains("malformed"), "{}", e.0);
    }
}
