//! Arbitrary bytes as what containerd writes on the shim's socket: the shim's own ttrpc server
//! (src/server.rs, unchanged) reads frames, decodes `ttrpc.Request`s and runs them through the
//! generated task-service handlers (protobuf decode of CreateTaskRequest, StartRequest, ...) into
//! a stub service whose Create decodes the runtime options as the real one does. Never a panic
//! (libfuzzer aborts on one in any thread); every reply is a well-formed response frame.
#![no_main]

#[path = "../../src/options.rs"]
#[allow(dead_code)]
mod options;
#[path = "../../src/server.rs"]
#[allow(dead_code)]
mod server;

use containerd_shim_protos::api;
use libfuzzer_sys::fuzz_target;
use protobuf::Message;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use ttrpc::{Code, TtrpcContext};

/// Every method but Create keeps the generated default (UNIMPLEMENTED); Create decodes options.
struct Stub;

impl containerd_shim_protos::Task for Stub {
    fn create(
        &self,
        _ctx: &TtrpcContext,
        req: api::CreateTaskRequest,
    ) -> ttrpc::Result<api::CreateTaskResponse> {
        let (url, value) = req
            .options
            .as_ref()
            .map(|a| (a.type_url.as_str(), a.value.as_slice()))
            .unwrap_or(("", &[]));
        match options::decode(url, value) {
            Ok(_) => Ok(api::CreateTaskResponse::new()),
            Err(e) => Err(ttrpc::Error::RpcStatus(ttrpc::get_status(
                Code::INVALID_ARGUMENT,
                e.0,
            ))),
        }
    }
}

/// The server, started once: a socket in a private temp dir, `server::serve` on its own thread.
fn socket() -> &'static PathBuf {
    static SOCK: OnceLock<PathBuf> = OnceLock::new();
    SOCK.get_or_init(|| {
        let base = std::env::var_os("HULL_FUZZ_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let dir = base.join(format!("hull-fuzz-ttrpc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("socket dir");
        let path = dir.join("shim.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind");
        let methods: server::Methods = containerd_shim_protos::create_task(Arc::new(Stub))
            .into_iter()
            .collect::<HashMap<_, _>>();
        let methods = Arc::new(methods);
        std::thread::spawn(move || server::serve(listener, methods, Arc::new(|| {})));
        path
    })
}

fuzz_target!(|data: &[u8]| {
    let mut c = UnixStream::connect(socket()).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The server may close early (a frame over the size limit): a failed write is fine.
    let _ = c.write_all(data);
    let _ = c.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    // A server that drops the connection with input unread (a frame over the size limit) makes
    // the kernel reset it: the end of the conversation too, and the last reply may be cut.
    let reset = match c.read_to_end(&mut out) {
        Ok(_) => false,
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => true,
        Err(e) => panic!("the server answers and closes, no hang: {e}"),
    };
    // Replies: 10-byte header (len, stream, type 2 = response, flags) + a ttrpc.Response.
    let mut rest = &out[..];
    while !rest.is_empty() {
        if reset
            && (rest.len() < 10
                || rest.len() < 10 + u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize)
        {
            break;
        }
        assert!(rest.len() >= 10, "truncated reply header");
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        assert_eq!(rest[8], 2, "reply type");
        assert!(rest.len() >= 10 + len, "truncated reply body");
        ttrpc::proto::Response::parse_from_bytes(&rest[10..10 + len]).expect("reply decodes");
        rest = &rest[10 + len..];
    }
});
