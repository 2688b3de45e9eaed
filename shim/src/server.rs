//! A small synchronous ttrpc server for the task service.
//!
//! The `ttrpc` crate's sync server keeps seven threads for one containerd connection: a listener,
//! a connection reaper, and per connection a handler, a reader, a response writer and a pool of
//! at least two workers. Here the caller's thread accepts, and each connection has one thread
//! that reads requests and runs them one after the other. Only `Wait`, which blocks until a
//! process exits while the client goes on sending Start/Kill/State on the same connection, gets a
//! thread of its own for as long as it waits. Every other call takes the service lock, so
//! running them in turn loses no parallelism. Decoding, dispatch and encoding are the generated
//! handlers' (containerd-shim-protos `create_task`); this module only frames messages.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex};

use protobuf::{Message, MessageField};
use ttrpc::proto::{Request, Response};
use ttrpc::{Code, MessageHeader, MethodHandler, TtrpcContext};

pub type Methods = HashMap<String, Box<dyn MethodHandler + Send + Sync>>;

const HEADER_LEN: usize = 10;
const TYPE_REQUEST: u8 = 1;
const TYPE_RESPONSE: u8 = 2;
/// ttrpc's own bound on a message.
const MESSAGE_MAX: usize = 4 << 20;
/// Methods that may block until something else happens on the same connection.
const OWN_THREAD: &[&str] = &["Wait"];
/// Handlers run runtime commands and protobuf code; the default 2 MiB is more than needed.
const STACK: usize = 512 * 1024;

/// Called after each reply has been written (the shim exits there once Shutdown said so).
pub type AfterReply = Arc<dyn Fn() + Send + Sync>;

/// Accept connections on `listener` forever, one thread each.
pub fn serve(listener: UnixListener, methods: Arc<Methods>, after: AfterReply) -> io::Result<()> {
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("ttrpc accept: {e}");
                // EMFILE and the like: do not spin.
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
        };
        let (m, a) = (Arc::clone(&methods), Arc::clone(&after));
        if let Err(e) = std::thread::Builder::new()
            .name("ttrpc-conn".into())
            .stack_size(STACK)
            .spawn(move || connection(conn, m, a))
        {
            eprintln!("ttrpc: no thread for a new connection: {e}");
        }
    }
    Ok(())
}

/// Read requests until the client closes the connection.
fn connection(conn: UnixStream, methods: Arc<Methods>, after: AfterReply) {
    let writer = match conn.try_clone() {
        Ok(w) => Arc::new(Mutex::new(w)),
        Err(e) => {
            eprintln!("ttrpc: {e}");
            return;
        }
    };
    let fd = conn.as_raw_fd();
    let mut reader = conn;
    loop {
        let (mh, body) = match read_frame(&mut reader) {
            Ok(f) => f,
            Err(e) => {
                if e.kind() != io::ErrorKind::UnexpectedEof {
                    eprintln!("ttrpc read: {e}");
                }
                return;
            }
        };
        if mh.type_ != TYPE_REQUEST {
            continue;
        }
        let req = match Request::parse_from_bytes(&body) {
            Ok(r) => r,
            Err(e) => {
                let r = status_response(Code::INVALID_ARGUMENT, format!("bad request: {e}"));
                reply(&writer, mh.stream_id, r, &after);
                continue;
            }
        };
        if OWN_THREAD.contains(&req.method.as_str()) {
            let (m, w, a) = (
                Arc::clone(&methods),
                Arc::clone(&writer),
                Arc::clone(&after),
            );
            let spawned = std::thread::Builder::new()
                .name("ttrpc-wait".into())
                .stack_size(STACK)
                .spawn(move || dispatch(&m, &w, fd, mh, req, &a));
            if let Err(e) = spawned {
                let r = status_response(Code::RESOURCE_EXHAUSTED, format!("no thread: {e}"));
                reply(&writer, mh.stream_id, r, &after);
            }
        } else {
            dispatch(&methods, &writer, fd, mh, req, &after);
        }
    }
}

/// Run one request through its generated handler and write the reply.
fn dispatch(
    methods: &Methods,
    writer: &Mutex<UnixStream>,
    fd: RawFd,
    mh: MessageHeader,
    req: Request,
    after: &AfterReply,
) {
    let path = format!("/{}/{}", req.service, req.method);
    let Some(handler) = methods.get(&path) else {
        let r = status_response(Code::UNIMPLEMENTED, format!("{path} is not supported"));
        reply(writer, mh.stream_id, r, after);
        return;
    };
    let (tx, rx) = std::sync::mpsc::channel();
    // Never signalled: a handler here is never cancelled.
    let (_cancel, cancel_rx) = crossbeam_channel::bounded(0);
    let ctx = TtrpcContext {
        fd,
        cancel_rx,
        mh,
        res_tx: tx,
        metadata: ttrpc::context::from_pb(&req.metadata),
        timeout_nano: req.timeout_nano,
        conn_ctx: Arc::default(),
    };
    let failed = handler.handler(ctx, req).err();
    // The generated handler sends exactly one encoded Response before it returns Ok.
    let body = match (rx.try_recv(), failed) {
        (Ok((_, body)), _) => body,
        (Err(_), e) => status_response(
            Code::INTERNAL,
            format!("{path}: {}", e.map(|e| e.to_string()).unwrap_or_default()),
        )
        .write_to_bytes()
        .unwrap_or_default(),
    };
    write_reply(writer, mh.stream_id, &body, after);
}

fn status_response(code: Code, msg: String) -> Response {
    let mut r = Response::new();
    r.status = MessageField::some(ttrpc::get_status(code, msg));
    r
}

fn reply(writer: &Mutex<UnixStream>, stream: u32, r: Response, after: &AfterReply) {
    write_reply(
        writer,
        stream,
        &r.write_to_bytes().unwrap_or_default(),
        after,
    );
}

fn write_reply(writer: &Mutex<UnixStream>, stream: u32, body: &[u8], after: &AfterReply) {
    let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(&[TYPE_RESPONSE, 0]);
    frame.extend_from_slice(body);
    {
        let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
        // A client that went away does not get its answer; nothing else to do.
        let _ = w.write_all(&frame);
    }
    after();
}

fn read_frame(r: &mut UnixStream) -> io::Result<(MessageHeader, Vec<u8>)> {
    let mut h = [0u8; HEADER_LEN];
    r.read_exact(&mut h)?;
    let mh = MessageHeader {
        length: u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
        stream_id: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        type_: h[8],
        flags: h[9],
    };
    if mh.length as usize > MESSAGE_MAX {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {} bytes (limit {MESSAGE_MAX})", mh.length),
        ));
    }
    let mut body = vec![0u8; mh.length as usize];
    r.read_exact(&mut body)?;
    Ok((mh, body))
}
