//! Command-line contract of a containerd shim v2 binary (containerd 1.6 to 2.3).
//!
//! containerd runs `SHIM -namespace NS -address SOCK -publish-binary BIN -id ID [-debug] start`
//! with the bundle as working directory, and after a crash `... -id ID -bundle B delete`.
//! containerd 2 also runs `SHIM -info` (options on stdin, a RuntimeInfo protobuf on stdout).
//! Flags follow Go's `flag` package: one or two dashes, `-name value` or `-name=value`,
//! boolean flags without a value. `-v` prints the version.

use std::fmt;

/// What the invocation asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// `-v`: print the version and exit.
    Version,
    /// `-info`: print the RuntimeInfo protobuf and exit (containerd 2).
    Info,
    /// `start`: launch the long-lived shim and print its address.
    Start,
    /// `delete`: clean up a container whose shim is gone.
    Delete,
    /// No subcommand: be the long-lived shim (what `start` launches).
    Serve,
}

/// Parsed flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub namespace: String,
    pub address: String,
    pub publish_binary: String,
    pub id: String,
    pub bundle: String,
    /// Socket path the long-lived shim listens on (set by `start` for `Serve`).
    pub socket: String,
    /// The listening socket, already bound by `start` and inherited under this fd number.
    pub listen_fd: String,
    pub debug: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(pub String);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

/// Parse the arguments after the program name.
pub fn parse<I, S>(args: I) -> Result<(Flags, Action), ArgError>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut flags = Flags::default();
    let mut action: Option<Action> = None;
    let mut version = false;
    let mut info = false;
    let mut it = args.into_iter().map(Into::into);
    while let Some(arg) = it.next() {
        if let Some(stripped) = arg.strip_prefix('-') {
            let body = stripped.strip_prefix('-').unwrap_or(stripped);
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (body.to_string(), None),
            };
            match name.as_str() {
                "v" | "version" => version = true,
                "info" => info = true,
                "debug" => {
                    flags.debug = match inline.as_deref() {
                        None | Some("true") | Some("1") => true,
                        Some("false") | Some("0") => false,
                        Some(v) => {
                            return Err(ArgError(format!("flag -debug: invalid boolean {v:?}")))
                        }
                    }
                }
                "namespace" | "address" | "publish-binary" | "id" | "bundle" | "socket"
                | "listen-fd" => {
                    let value = match inline {
                        Some(v) => v,
                        None => it
                            .next()
                            .ok_or_else(|| ArgError(format!("flag -{name} needs a value")))?,
                    };
                    let slot = match name.as_str() {
                        "namespace" => &mut flags.namespace,
                        "address" => &mut flags.address,
                        "publish-binary" => &mut flags.publish_binary,
                        "id" => &mut flags.id,
                        "bundle" => &mut flags.bundle,
                        "listen-fd" => &mut flags.listen_fd,
                        _ => &mut flags.socket,
                    };
                    *slot = value;
                }
                _ => return Err(ArgError(format!("unknown flag -{name}"))),
            }
        } else {
            let a = match arg.as_str() {
                "start" => Action::Start,
                "delete" => Action::Delete,
                other => {
                    return Err(ArgError(format!(
                        "unknown command {other:?} (expected start or delete)"
                    )))
                }
            };
            if action.replace(a).is_some() {
                return Err(ArgError("more than one command given".into()));
            }
        }
    }
    if version {
        return Ok((flags, Action::Version));
    }
    if info {
        return Ok((flags, Action::Info));
    }
    let action = action.unwrap_or(Action::Serve);
    if flags.namespace.is_empty() {
        return Err(ArgError(
            "shim namespace cannot be empty (-namespace)".into(),
        ));
    }
    if flags.id.is_empty() {
        return Err(ArgError("shim id cannot be empty (-id)".into()));
    }
    if action == Action::Serve && flags.socket.is_empty() {
        return Err(ArgError(
            "-socket is required when no command is given (started by `start`)".into(),
        ));
    }
    Ok((flags, action))
}

/// The socket path for one shim: `<dir of containerd's socket>/s/<hash(address, ns, id)>`.
/// For containerd's default address this is `/run/containerd/s/…`, as for the runc shim; a private
/// containerd (or a test) with its socket elsewhere keeps its shims' sockets next to it.
/// containerd 2.3 names the directory itself (`BootstrapParams.socket_dir`): pass it as `dir`.
/// `id` is the grouping key: the pod's sandbox id for every container of a pod.
pub fn socket_path(address: &str, namespace: &str, id: &str, dir: Option<&str>) -> String {
    let address = address.strip_prefix("unix://").unwrap_or(address);
    let dir = match dir.filter(|d| !d.is_empty()) {
        Some(d) => d.trim_end_matches('/').to_string(),
        None => {
            let parent = std::path::Path::new(address)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| "/run/containerd".into());
            format!("{parent}/s")
        }
    };
    // Two independent 64-bit FNV-1a hashes: a short, stable name well under sun_path's 108 bytes.
    let key = format!("{address}\0{namespace}\0{id}");
    format!(
        "{dir}/{:016x}{:016x}",
        fnv1a(key.as_bytes(), 0xcbf2_9ce4_8422_2325),
        fnv1a(key.as_bytes(), 0x8422_2325_cbf2_9ce4)
    )
}

fn fnv1a(bytes: &[u8], seed: u64) -> u64 {
    bytes.iter().fold(seed, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_as_containerd_1_6_calls_it() {
        let (f, a) = parse([
            "-namespace",
            "default",
            "-address",
            "/run/containerd/containerd.sock",
            "-publish-binary",
            "/usr/bin/containerd",
            "-id",
            "c1",
            "-debug",
            "start",
        ])
        .unwrap();
        assert_eq!(a, Action::Start);
        assert_eq!(f.namespace, "default");
        assert_eq!(f.address, "/run/containerd/containerd.sock");
        assert_eq!(f.publish_binary, "/usr/bin/containerd");
        assert_eq!(f.id, "c1");
        assert!(f.debug);
    }

    #[test]
    fn delete_with_bundle_and_equals_form() {
        let (f, a) = parse(["--namespace=k8s", "-id=x", "-bundle", "/b", "delete"]).unwrap();
        assert_eq!(a, Action::Delete);
        assert_eq!(f.namespace, "k8s");
        assert_eq!(f.bundle, "/b");
        assert!(!f.debug);
    }

    #[test]
    fn version_needs_nothing_else() {
        assert_eq!(parse(["-v"]).unwrap().1, Action::Version);
    }

    #[test]
    fn info_as_containerd_2_calls_it() {
        // containerd 2.3 runs the bare flag, with the runtime options (if any) on stdin.
        assert_eq!(parse(["-info"]).unwrap().1, Action::Info);
        assert_eq!(parse(["--info", "-debug"]).unwrap().1, Action::Info);
    }

    #[test]
    fn errors_name_the_flag() {
        assert!(parse(["-id", "x", "start"])
            .unwrap_err()
            .0
            .contains("-namespace"));
        assert!(parse(["-namespace", "n", "start"])
            .unwrap_err()
            .0
            .contains("-id"));
        assert!(parse(["-namespace", "n", "-id"])
            .unwrap_err()
            .0
            .contains("-id needs a value"));
        assert!(parse(["-bogus"]).unwrap_err().0.contains("-bogus"));
        assert!(parse(["-namespace", "n", "-id", "x", "frob"])
            .unwrap_err()
            .0
            .contains("frob"));
        assert!(parse(["-namespace", "n", "-id", "x"])
            .unwrap_err()
            .0
            .contains("-socket"));
        assert!(parse(["-debug=maybe", "-namespace", "n", "-id", "x", "start"]).is_err());
    }

    #[test]
    fn socket_path_is_stable_short_and_distinct() {
        let sock = "/run/containerd/containerd.sock";
        let a = socket_path(sock, "default", "c1", None);
        assert_eq!(
            a,
            socket_path(
                "unix:///run/containerd/containerd.sock",
                "default",
                "c1",
                None
            )
        );
        assert!(a.starts_with("/run/containerd/s/"));
        assert!(a.len() < 108);
        assert_ne!(a, socket_path(sock, "default", "c2", None));
        assert_ne!(a, socket_path(sock, "other", "c1", None));
        assert!(socket_path("/tmp/x/c.sock", "n", "i", None).starts_with("/tmp/x/s/"));
        // The directory containerd 2.3 asks for; the name stays the same hash.
        let b = socket_path(sock, "default", "c1", Some("/run/other/s/"));
        assert_eq!(b, a.replace("/run/containerd/s/", "/run/other/s/"));
        assert_eq!(socket_path(sock, "default", "c1", Some("")), a);
    }
}
