//! The bootstrap contract with containerd, as plain data: which protocol a `start` is asked in
//! and how to answer it (containerd 1.6: flags only, answer the address; 1.7–2.2:
//! `MAX_SHIM_VERSION`, answer JSON; 2.3+: a `BootstrapParams` protobuf on stdin, answer a
//! `BootstrapResult` protobuf), which shim a container joins (pods), and the `-info` reply.

use std::collections::HashMap;

use containerd_shim_protos::bootstrap_api::{BootstrapParams, BootstrapResult};
use containerd_shim_protos::types::introspection::{RuntimeInfo, RuntimeVersion};
use protobuf::well_known_types::any::Any;
use protobuf::{Message, MessageField};

/// containerd's name for this runtime.
pub const RUNTIME_NAME: &str = "io.containerd.hull.v2";

/// The task API version announced in a versioned reply (containerd.task.v3.Task; both v2 and v3
/// are served).
pub const TASK_API_VERSION: i32 = 3;

/// Annotations that put a container in the shim of an existing group, first match wins: hull's
/// own group label, then the pod's sandbox id that the CRI plugin sets on every container of a
/// pod (and on the sandbox container itself, where it is its own id).
pub const GROUP_ANNOTATIONS: [&str; 2] = ["io.containerd.hull.v2.group", SANDBOX_ID];
pub const SANDBOX_ID: &str = "io.kubernetes.cri.sandbox-id";
pub const CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";

/// The runtime-spec `features` document, as containerd's runc shim wraps it in an `Any`.
pub const FEATURES_TYPE_URL: &str =
    "types.containerd.io/opencontainers/runtime-spec/1/features/Features";

/// How containerd asked, so how to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// containerd 1.6: print the address.
    Legacy,
    /// containerd 1.7–2.2 (`MAX_SHIM_VERSION` set): `{"version":N,"address":…,"protocol":"ttrpc"}`.
    Json { version: i32 },
    /// containerd 2.3+: `BootstrapParams` on stdin; answer a `BootstrapResult` protobuf.
    Proto { socket_dir: Option<String> },
}

/// What the `start` invocation says about the protocol: its stdin, `-id`, `-namespace` and the
/// `MAX_SHIM_VERSION` environment variable.
///
/// Before 2.3, stdin holds the runtime options (an `Any`) or nothing. An `Any` can happen to
/// parse as `BootstrapParams` (both begin with strings), so params count only when they name this
/// very instance and namespace.
pub fn detect(stdin: &[u8], id: &str, namespace: &str, max_shim_version: Option<&str>) -> Protocol {
    if !stdin.is_empty() {
        if let Ok(p) = BootstrapParams::parse_from_bytes(stdin) {
            if p.instance_id == id && p.namespace == namespace {
                return Protocol::Proto {
                    socket_dir: p.socket_dir.filter(|d| !d.is_empty()),
                };
            }
        }
    }
    match max_shim_version.and_then(|v| v.trim().parse::<i32>().ok()) {
        // containerd 1.7 refuses a version above 2 and 2.0–2.2 take 2 as well: answer what was
        // offered, at most what this shim speaks.
        Some(v) if v >= 2 => Protocol::Json {
            version: v.min(TASK_API_VERSION),
        },
        _ => Protocol::Legacy,
    }
}

impl Protocol {
    /// The bytes `start` writes to stdout for a shim listening on `address` (`unix://…`).
    pub fn reply(&self, address: &str) -> Vec<u8> {
        match self {
            Protocol::Legacy => address.as_bytes().to_vec(),
            Protocol::Json { version } => serde_json::json!({
                "version": version,
                "address": address,
                "protocol": "ttrpc",
            })
            .to_string()
            .into_bytes(),
            Protocol::Proto { .. } => {
                let mut r = BootstrapResult::new();
                r.version = TASK_API_VERSION;
                r.address = address.to_string();
                r.protocol = "ttrpc".to_string();
                r.write_to_bytes().unwrap_or_default()
            }
        }
    }

    /// Where the daemon wants the shim's socket, if it said.
    pub fn socket_dir(&self) -> Option<&str> {
        match self {
            Protocol::Proto { socket_dir } => socket_dir.as_deref(),
            _ => None,
        }
    }
}

/// Which shim serves a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// The grouping key the socket is named after: the pod's sandbox id, or the container's id.
    pub key: String,
    /// The container belongs to a pod whose sandbox has a shim already (CRI container type
    /// `container`): that shim must be running; starting a fresh one for it would be wrong.
    pub needs_running_shim: bool,
}

/// The group of container `id` from its bundle's config.json annotations.
pub fn group(id: &str, annotations: &HashMap<String, String>) -> Group {
    let key = GROUP_ANNOTATIONS
        .iter()
        .find_map(|a| annotations.get(*a).filter(|v| !v.is_empty()))
        .cloned()
        .unwrap_or_else(|| id.to_string());
    let needs_running_shim = key != id
        && annotations.get(CONTAINER_TYPE).map(String::as_str) == Some("container")
        && annotations.contains_key(SANDBOX_ID);
    Group {
        key,
        needs_running_shim,
    }
}

/// The annotations of a config.json (none if it has none).
pub fn annotations(config_json: &[u8]) -> Result<HashMap<String, String>, String> {
    #[derive(serde::Deserialize)]
    struct Spec {
        #[serde(default)]
        annotations: HashMap<String, String>,
    }
    serde_json::from_slice::<Spec>(config_json)
        .map(|s| s.annotations)
        .map_err(|e| format!("config.json: {e}"))
}

/// The `-info` answer: name, version, the options given on stdin (echoed, as the runc shim
/// does) and the runtime's `features` document when it has one.
pub fn runtime_info(options: Option<Any>, features_json: Option<Vec<u8>>) -> RuntimeInfo {
    let mut v = RuntimeVersion::new();
    v.version = env!("CARGO_PKG_VERSION").to_string();
    v.revision = option_env!("HULL_GIT_REVISION")
        .unwrap_or_default()
        .to_string();
    let mut info = RuntimeInfo::new();
    info.name = RUNTIME_NAME.to_string();
    info.version = MessageField::some(v);
    info.options = options.into();
    if let Some(json) = features_json {
        let mut a = Any::new();
        a.type_url = FEATURES_TYPE_URL.to_string();
        a.value = json;
        info.features = MessageField::some(a);
    }
    info
}

/// The runtime options containerd gives `-info` on stdin: an `Any`, or nothing.
pub fn info_options(stdin: &[u8]) -> Result<Option<Any>, String> {
    if stdin.is_empty() {
        return Ok(None);
    }
    Any::parse_from_bytes(stdin)
        .map(Some)
        .map_err(|e| format!("-info: stdin is not a protobuf Any of runtime options: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes containerd 2.3.4 wrote to `start`'s stdin (captured from a real daemon).
    fn containerd_2_3_params() -> Vec<u8> {
        let mut p = BootstrapParams::new();
        p.instance_id = "probe1".into();
        p.namespace = "probe".into();
        p.log_level = protobuf::EnumOrUnknown::from_i32(-4);
        p.containerd_version = "v2.3.4".into();
        p.containerd_ttrpc_address = "/tmp/cd/containerd.sock.ttrpc".into();
        p.containerd_grpc_address = "/tmp/cd/containerd.sock".into();
        p.containerd_binary = "/usr/bin/containerd".into();
        p.socket_dir = Some("/run/containerd/s".into());
        p.write_to_bytes().unwrap()
    }

    #[test]
    fn containerd_2_3_params_ask_for_a_protobuf_result() {
        let stdin = containerd_2_3_params();
        let p = detect(&stdin, "probe1", "probe", Some("2"));
        assert_eq!(
            p,
            Protocol::Proto {
                socket_dir: Some("/run/containerd/s".into())
            }
        );
        assert_eq!(p.socket_dir(), Some("/run/containerd/s"));
        let r = BootstrapResult::parse_from_bytes(&p.reply("unix:///run/containerd/s/ab")).unwrap();
        assert_eq!(r.version, 3);
        assert_eq!(r.address, "unix:///run/containerd/s/ab");
        assert_eq!(r.protocol, "ttrpc");
    }

    #[test]
    fn params_for_another_instance_are_not_taken() {
        let stdin = containerd_2_3_params();
        assert_eq!(detect(&stdin, "other", "probe", None), Protocol::Legacy);
        assert_eq!(detect(&stdin, "probe1", "k8s.io", None), Protocol::Legacy);
    }

    #[test]
    fn runtime_options_on_stdin_are_not_bootstrap_params() {
        // containerd 1.6–2.2 pass the runtime options Any on stdin; it parses as a
        // BootstrapParams whose instance_id is the type URL: not ours.
        let mut a = Any::new();
        a.type_url = "containerd.runc.v1.Options".into();
        a.value = b"2\x04hull".to_vec();
        let stdin = a.write_to_bytes().unwrap();
        assert_eq!(detect(&stdin, "c1", "default", None), Protocol::Legacy);
        assert_eq!(
            detect(&stdin, "c1", "default", Some("2")),
            Protocol::Json { version: 2 }
        );
    }

    #[test]
    fn max_shim_version_picks_the_json_reply() {
        assert_eq!(detect(b"", "c", "n", None), Protocol::Legacy);
        assert_eq!(detect(b"", "c", "n", Some("1")), Protocol::Legacy);
        assert_eq!(detect(b"", "c", "n", Some("bogus")), Protocol::Legacy);
        assert_eq!(
            detect(b"", "c", "n", Some("9")),
            Protocol::Json { version: 3 }
        );
        let p = detect(b"", "c", "n", Some("2"));
        let v: serde_json::Value = serde_json::from_slice(&p.reply("unix:///x/s/1")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"version": 2, "address": "unix:///x/s/1", "protocol": "ttrpc"})
        );
        assert_eq!(p.socket_dir(), None);
        assert_eq!(Protocol::Legacy.reply("unix:///x"), b"unix:///x");
    }

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pods_group_by_sandbox_id() {
        // The sandbox (pause) container: its own group.
        let sb = ann(&[(SANDBOX_ID, "pod1"), (CONTAINER_TYPE, "sandbox")]);
        assert_eq!(
            group("pod1", &sb),
            Group {
                key: "pod1".into(),
                needs_running_shim: false
            }
        );
        // A container of the pod: the pod's shim, which must be there.
        let c = ann(&[(SANDBOX_ID, "pod1"), (CONTAINER_TYPE, "container")]);
        assert_eq!(
            group("app", &c),
            Group {
                key: "pod1".into(),
                needs_running_shim: true
            }
        );
        // No annotations: one shim per container.
        assert_eq!(group("solo", &ann(&[])).key, "solo");
        // hull's own group label wins and does not require a running shim.
        let g = ann(&[("io.containerd.hull.v2.group", "g"), (SANDBOX_ID, "pod1")]);
        assert_eq!(
            group("x", &g),
            Group {
                key: "g".into(),
                needs_running_shim: false
            }
        );
        // An empty label is no label.
        assert_eq!(group("y", &ann(&[(SANDBOX_ID, "")])).key, "y");
    }

    #[test]
    fn annotations_from_config_json() {
        let a = annotations(br#"{"ociVersion":"1.0.2","annotations":{"a":"b"}}"#).unwrap();
        assert_eq!(a, ann(&[("a", "b")]));
        assert!(annotations(br#"{"ociVersion":"1.0.2"}"#)
            .unwrap()
            .is_empty());
        assert!(annotations(b"{not json")
            .unwrap_err()
            .contains("config.json"));
    }

    #[test]
    fn info_names_hull_and_wraps_features_as_the_runc_shim_does() {
        let mut opts = Any::new();
        opts.type_url = "containerd.runc.v1.Options".into();
        opts.value = b"2\x04hull".to_vec();
        let stdin = opts.write_to_bytes().unwrap();
        let parsed = info_options(&stdin).unwrap();
        let feats = br#"{"ociVersionMin":"1.0.0"}"#.to_vec();
        let bytes = runtime_info(parsed, Some(feats.clone()))
            .write_to_bytes()
            .unwrap();
        let info = RuntimeInfo::parse_from_bytes(&bytes).unwrap();
        assert_eq!(info.name, "io.containerd.hull.v2");
        assert_eq!(info.version.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(info.options.type_url, "containerd.runc.v1.Options");
        assert_eq!(info.options.value, b"2\x04hull");
        assert_eq!(info.features.type_url, FEATURES_TYPE_URL);
        assert_eq!(info.features.value, feats);
        // No options, no features: both left out.
        let none = runtime_info(info_options(b"").unwrap(), None);
        assert!(none.options.is_none() && none.features.is_none());
        assert!(info_options(b"\xff\xff\xff").is_err());
    }
}
