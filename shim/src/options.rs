//! Runtime options carried in `CreateTaskRequest.options`: `containerd.runc.v1.Options`, which
//! containerd (CRI's `BinaryName`/`SystemdCgroup`/`Root`, `ctr --runc-binary`) sends to runc-style
//! shims. Decoded with the type containerd-shim-protos generates from containerd's `oci.proto`
//! (`containerd_shim_protos::shim::oci::Options`); this module only checks the type URL.
//!
//! containerd 1.6/1.7's CRI plugin sends runc options only to `io.containerd.runc.v1/v2`; for any
//! other `runtime_type` with an `options` table it sends `runtimeoptions.v1.Options`
//! (`type_url` = 1, `config_path` = 2: two strings, decoded here by hand since
//! containerd-shim-protos does not generate that message) and drops every other key. The runc
//! options then come from the TOML file at `config_path` (`BinaryName = "..."`, `Root`,
//! `SystemdCgroup`, ...: the keys of the runc options table); see docs/shim.md.

use containerd_shim_protos::protobuf::Message;

/// The generated message (fields as in containerd's api/types/runc/options/oci.proto).
pub type RuncOptions = containerd_shim_protos::shim::oci::Options;

/// Type URLs under which containerd sends runc options.
pub const RUNC_OPTIONS_URLS: &[&str] = &[
    "containerd.runc.v1.Options",
    "type.googleapis.com/containerd.runc.v1.Options",
];

/// Type URLs of the CRI plugin's generic runtime options (containerd's runtimeoptions.v1).
pub const CRI_OPTIONS_URLS: &[&str] = &[
    "runtimeoptions.v1.Options",
    "type.googleapis.com/runtimeoptions.v1.Options",
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
    if CRI_OPTIONS_URLS.contains(&type_url) {
        let (_, config_path) = decode_cri_options(value)?;
        if config_path.is_empty() {
            return Ok(RuncOptions::default());
        }
        let text = std::fs::read_to_string(&config_path).map_err(|e| {
            OptionsError(format!(
                "options: runtimeoptions.v1.Options config_path {config_path}: {e}"
            ))
        })?;
        return parse_toml_options(&text)
            .map_err(|e| OptionsError(format!("options: {config_path}: {}", e.0)));
    }
    if !RUNC_OPTIONS_URLS.contains(&type_url) {
        return Err(OptionsError(format!(
            "options: unsupported type {type_url:?} (expected containerd.runc.v1.Options or runtimeoptions.v1.Options)"
        )));
    }
    RuncOptions::parse_from_bytes(value).map_err(|e| {
        OptionsError(format!(
            "options: malformed containerd.runc.v1.Options: {e}"
        ))
    })
}

/// containerd.runc.v1.CheckpointOptions, which containerd sends with a Checkpoint task call.
pub type CheckpointOptions = containerd_shim_protos::shim::oci::CheckpointOptions;

const CHECKPOINT_OPTIONS_URLS: &[&str] = &[
    "containerd.runc.v1.CheckpointOptions",
    "type.googleapis.com/containerd.runc.v1.CheckpointOptions",
];

/// Decode a Checkpoint call's `options`; none means the defaults (leave running, no extras).
pub fn decode_checkpoint(type_url: &str, value: &[u8]) -> Result<CheckpointOptions, OptionsError> {
    if type_url.is_empty() && value.is_empty() {
        return Ok(CheckpointOptions::default());
    }
    if !CHECKPOINT_OPTIONS_URLS.contains(&type_url) {
        return Err(OptionsError(format!(
            "checkpoint options: unsupported type {type_url:?} (expected containerd.runc.v1.CheckpointOptions)"
        )));
    }
    CheckpointOptions::parse_from_bytes(value).map_err(|e| {
        OptionsError(format!(
            "checkpoint options: malformed containerd.runc.v1.CheckpointOptions: {e}"
        ))
    })
}

/// `runtimeoptions.v1.Options` wire format: (type_url, config_path). Unknown fields are skipped.
pub fn decode_cri_options(value: &[u8]) -> Result<(String, String), OptionsError> {
    let bad = |e: protobuf::Error| {
        OptionsError(format!("options: malformed runtimeoptions.v1.Options: {e}"))
    };
    let mut is = protobuf::CodedInputStream::from_bytes(value);
    let (mut type_url, mut config_path) = (String::new(), String::new());
    while let Some(tag) = is.read_raw_tag_or_eof().map_err(bad)? {
        match tag {
            0x0a => type_url = is.read_string().map_err(bad)?,
            0x12 => config_path = is.read_string().map_err(bad)?,
            t => protobuf::rt::skip_field_for_tag(t, &mut is).map_err(bad)?,
        }
    }
    Ok((type_url, config_path))
}

/// The runc options table as TOML `Key = value` lines (the keys CRI's runc options use:
/// BinaryName, Root, CriuPath (criu_image_path), ShimCgroup, SystemdCgroup, NoPivotRoot, NoNewKeyring, IoUid,
/// IoGid). Section headers, comments and other keys are ignored; a listed key with a value of the
/// wrong kind is an error.
pub fn parse_toml_options(text: &str) -> Result<RuncOptions, OptionsError> {
    let mut o = RuncOptions::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
            continue;
        }
        let Some((key, val)) = line.split_once('=') else {
            continue;
        };
        let (key, val) = (key.trim().trim_matches('"'), val.trim());
        let bad = |kind: &str| OptionsError(format!("line {}: {key} wants a {kind}", n + 1));
        let string = || -> Result<String, OptionsError> {
            let v = val
                .strip_prefix('"')
                .and_then(|v| v.split_once('"'))
                .map(|(v, _)| v)
                .or_else(|| {
                    val.strip_prefix('\'')
                        .and_then(|v| v.split_once('\''))
                        .map(|(v, _)| v)
                })
                .ok_or_else(|| bad("quoted string"))?;
            Ok(v.to_string())
        };
        let word = val.split(|c: char| c.is_whitespace() || c == '#').next();
        let boolean = || match word {
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            _ => Err(bad("boolean")),
        };
        let number = || {
            word.and_then(|w| w.parse::<u32>().ok())
                .ok_or_else(|| bad("number"))
        };
        match key {
            "BinaryName" => o.binary_name = string()?,
            "Root" => o.root = string()?,
            "CriuPath" => o.criu_image_path = string()?,
            "ShimCgroup" => o.shim_cgroup = string()?,
            "SystemdCgroup" => o.systemd_cgroup = boolean()?,
            "NoPivotRoot" => o.no_pivot_root = boolean()?,
            "NoNewKeyring" => o.no_new_keyring = boolean()?,
            "IoUid" => o.io_uid = number()?,
            "IoGid" => o.io_gid = number()?,
            _ => {}
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CheckpointOptions as containerd writes them (field numbers of oci.proto, by hand).
    #[test]
    fn decodes_checkpoint_options_wire_format() {
        let mut bytes = Vec::new();
        {
            let mut os = protobuf::CodedOutputStream::vec(&mut bytes);
            os.write_bool(1, true).unwrap(); // exit
            os.write_bool(2, true).unwrap(); // open_tcp
            os.write_string(6, "network").unwrap(); // empty_namespaces
            os.write_string(7, "soft").unwrap(); // cgroups_mode
            os.write_string(8, "/img").unwrap(); // image_path
            os.write_string(9, "/work").unwrap(); // work_path
            os.flush().unwrap();
        }
        let o = decode_checkpoint("containerd.runc.v1.CheckpointOptions", &bytes).unwrap();
        assert!(o.exit && o.open_tcp && !o.external_unix_sockets && !o.terminal);
        assert_eq!(o.empty_namespaces, ["network"]);
        assert_eq!(
            (o.cgroups_mode.as_str(), o.image_path.as_str()),
            ("soft", "/img")
        );
        assert_eq!(o.work_path, "/work");
        assert!(!decode_checkpoint("", &[]).unwrap().exit);
        let e = decode_checkpoint("containerd.runc.v1.Options", &bytes).unwrap_err();
        assert!(e.0.contains("CheckpointOptions"), "{}", e.0);
    }

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

    /// runtimeoptions.v1.Options as containerd 1.6's CRI plugin writes it for a non-runc
    /// runtime_type: the runc options come from the TOML file at config_path.
    #[test]
    fn cri_runtime_options_read_the_toml_at_config_path() {
        let dir = std::env::temp_dir().join(format!("hull-opts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hull.toml");
        std::fs::write(
            &path,
            "# hull\n[hull]\nBinaryName = \"/opt/hull\"  # comment\nRoot = '/run/h'\n\
             SystemdCgroup = true\nIoUid = 7\nOther = 1\n",
        )
        .unwrap();
        let mut bytes = Vec::new();
        {
            let mut os = protobuf::CodedOutputStream::vec(&mut bytes);
            os.write_string(1, "io.containerd.hull.v1.toml").unwrap();
            os.write_string(2, path.to_str().unwrap()).unwrap();
            os.write_uint64(9, 5).unwrap(); // an unknown field is skipped
            os.flush().unwrap();
        }
        let o = decode("runtimeoptions.v1.Options", &bytes).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(o.binary_name, "/opt/hull");
        assert_eq!(o.root, "/run/h");
        assert!(o.systemd_cgroup);
        assert_eq!(o.io_uid, 7);
        let (url, cp) = decode_cri_options(&bytes).unwrap();
        assert_eq!(url, "io.containerd.hull.v1.toml");
        assert!(cp.ends_with("hull.toml"));
        // No config_path (options table without ConfigPath): defaults.
        assert_eq!(
            decode("type.googleapis.com/runtimeoptions.v1.Options", &[]).unwrap(),
            RuncOptions::default()
        );
        // A missing file and a mistyped value are errors naming what is wrong.
        let mut bytes = Vec::new();
        {
            let mut os = protobuf::CodedOutputStream::vec(&mut bytes);
            os.write_string(2, "/nonexistent/hull.toml").unwrap();
            os.flush().unwrap();
        }
        let e = decode("runtimeoptions.v1.Options", &bytes).unwrap_err();
        assert!(e.0.contains("/nonexistent/hull.toml"), "{}", e.0);
        let e = parse_toml_options("SystemdCgroup = \"yes\"").unwrap_err();
        assert!(e.0.contains("SystemdCgroup wants a boolean"), "{}", e.0);
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
