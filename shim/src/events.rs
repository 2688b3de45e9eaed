//! Task events, sent to containerd the way its own shims do since 1.5: `Events.Forward` over
//! ttrpc to `TTRPC_ADDRESS`, on one connection kept for the shim's life ([`Forwarder`]). When
//! that address is missing or does not answer, the `publish-binary` is the fallback
//! (`containerd --address A publish --topic T --namespace NS`, the event as a protobuf `Any` on
//! stdin): a process per event, a Go binary starting each time, so much slower.

use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim_protos::shim::event::Envelope;
use containerd_shim_protos::shim::events::ForwardRequest;
use containerd_shim_protos::topics;
use protobuf::well_known_types::any::Any;
use protobuf::well_known_types::timestamp::Timestamp;
use protobuf::{Message, MessageField};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use crate::exit::exit_status;
use crate::reaper::Monitor;

/// One event ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub topic: &'static str,
    pub any: Any,
}

/// `m` as a protobuf `Any` named `type_url`. containerd's typeurl names these messages by their
/// protobuf full name, without a URL prefix. The name is a constant, not
/// `M::descriptor().full_name()`: the first descriptor call builds the reflection tables of the
/// whole .proto file and its imports, about 300 KiB of heap kept for the shim's life.
pub fn pack<M: Message>(m: &M, type_url: &str) -> Any {
    let mut a = Any::new();
    a.type_url = type_url.to_string();
    a.value = m.write_to_bytes().unwrap_or_default();
    a
}

/// The topic each event type is published under, and its protobuf full name.
pub trait Topic: Message {
    const TOPIC: &'static str;
    const TYPE_URL: &'static str;
}

macro_rules! topic {
    ($t:ident, $c:expr) => {
        impl Topic for $t {
            const TOPIC: &'static str = $c;
            const TYPE_URL: &'static str = concat!("containerd.events.", stringify!($t));
        }
    };
}
topic!(TaskCreate, topics::TASK_CREATE_EVENT_TOPIC);
topic!(TaskStart, topics::TASK_START_EVENT_TOPIC);
topic!(TaskExit, topics::TASK_EXIT_EVENT_TOPIC);
topic!(TaskDelete, topics::TASK_DELETE_EVENT_TOPIC);
topic!(TaskExecAdded, topics::TASK_EXEC_ADDED_EVENT_TOPIC);
topic!(TaskExecStarted, topics::TASK_EXEC_STARTED_EVENT_TOPIC);
topic!(TaskPaused, topics::TASK_PAUSED_EVENT_TOPIC);
topic!(TaskResumed, topics::TASK_RESUMED_EVENT_TOPIC);
topic!(TaskOOM, topics::TASK_OOM_EVENT_TOPIC);

impl Event {
    pub fn new<M: Topic>(m: &M) -> Event {
        Event {
            topic: M::TOPIC,
            any: pack(m, M::TYPE_URL),
        }
    }

    /// The bytes written to the publish binary's stdin.
    pub fn stdin_bytes(&self) -> Vec<u8> {
        self.any.write_to_bytes().unwrap_or_default()
    }
}

/// Delivers events to containerd: [`Forwarder`] first, the publish binary as the fallback.
/// Used by the worker thread only, one event at a time.
pub struct Publisher {
    pub namespace: String,
    /// containerd's socket, for the publish binary's `--address`.
    pub address: String,
    pub publish_binary: String,
    pub forwarder: Option<Forwarder>,
    pub monitor: Arc<Monitor>,
}

impl Publisher {
    pub fn send(&mut self, ev: &Event) {
        if let Some(f) = self.forwarder.as_mut() {
            match f.forward(&self.namespace, ev) {
                Ok(()) => return,
                Err(e) => eprintln!(
                    "publish {}: Events.Forward: {e}; using the publish binary",
                    ev.topic
                ),
            }
        }
        if self.publish_binary.is_empty() {
            return;
        }
        let mut c = std::process::Command::new(&self.publish_binary);
        c.args([
            "--address",
            &self.address,
            "publish",
            "--topic",
            ev.topic,
            "--namespace",
            &self.namespace,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
        match self.monitor.spawn(&mut c) {
            Ok((mut child, rx)) => {
                if let Some(mut i) = child.stdin.take() {
                    let _ = i.write_all(&ev.stdin_bytes());
                }
                let mut errs = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = e.read_to_string(&mut errs);
                }
                match rx.recv() {
                    Ok(raw) if exit_status(raw) == 0 => {}
                    Ok(raw) => eprintln!(
                        "publish {}: exit {}: {}",
                        ev.topic,
                        exit_status(raw),
                        errs.trim()
                    ),
                    Err(_) => eprintln!("publish {}: reaper gone", ev.topic),
                }
            }
            Err(e) => eprintln!("publish {}: {}: {e}", ev.topic, self.publish_binary),
        }
    }
}

const FORWARD_SERVICE: &str = "containerd.services.events.ttrpc.v1.Events";
const HEADER_LEN: usize = 10;
const TYPE_REQUEST: u8 = 1;
const TYPE_RESPONSE: u8 = 2;
/// ttrpc's own bound on a message.
const MESSAGE_MAX: usize = 4 << 20;
/// How long one Forward may take before the event goes through the publish binary instead.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// A synchronous ttrpc client for one method, `Events.Forward`: no threads (the `ttrpc` crate's
/// client keeps two per connection). Calls are strictly one at a time, so the reply to a request
/// is the next response on the connection.
pub struct Forwarder {
    address: String,
    conn: Option<UnixStream>,
    /// Client stream ids are odd and increase.
    next_stream: u32,
}

impl Forwarder {
    /// `address` as containerd puts it in `TTRPC_ADDRESS` (a socket path, `unix://` optional).
    pub fn new(address: &str) -> Forwarder {
        Forwarder {
            address: address
                .strip_prefix("unix://")
                .unwrap_or(address)
                .to_string(),
            conn: None,
            next_stream: 1,
        }
    }

    /// Forward `ev` for `namespace`. A broken kept connection is replaced once.
    pub fn forward(&mut self, namespace: &str, ev: &Event) -> io::Result<()> {
        let body = forward_request(namespace, ev, std::time::SystemTime::now());
        let kept = self.conn.is_some();
        match self.call(&body) {
            // containerd closed the kept connection (restart, idle close): once more, afresh.
            Err(e) if kept && closed(&e) => self.call(&body),
            r => r,
        }
    }

    fn call(&mut self, body: &[u8]) -> io::Result<()> {
        if self.conn.is_none() {
            let c = UnixStream::connect(&self.address)?;
            c.set_read_timeout(Some(FORWARD_TIMEOUT))?;
            c.set_write_timeout(Some(FORWARD_TIMEOUT))?;
            self.conn = Some(c);
        }
        let stream = self.next_stream;
        self.next_stream = self.next_stream.wrapping_add(2);
        let r = exchange(self.conn.as_mut().expect("connected above"), stream, body);
        if r.is_err() {
            // The stream may be half-written or a reply still pending: never reuse it.
            self.conn = None;
        }
        r
    }
}

fn closed(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        BrokenPipe | ConnectionReset | ConnectionAborted | NotConnected | UnexpectedEof
    )
}

/// The ttrpc `Request` for `Events.Forward(ForwardRequest{envelope})`.
fn forward_request(namespace: &str, ev: &Event, at: std::time::SystemTime) -> Vec<u8> {
    let d = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let mut t = Timestamp::new();
    t.seconds = d.as_secs() as i64;
    t.nanos = d.subsec_nanos() as i32;
    let mut env = Envelope::new();
    env.timestamp = MessageField::some(t);
    env.namespace = namespace.to_string();
    env.topic = ev.topic.to_string();
    env.event = MessageField::some(ev.any.clone());
    let mut fr = ForwardRequest::new();
    fr.envelope = MessageField::some(env);
    let mut req = ttrpc::proto::Request::new();
    req.service = FORWARD_SERVICE.to_string();
    req.method = "Forward".to_string();
    req.timeout_nano = FORWARD_TIMEOUT.as_nanos() as i64;
    req.payload = fr.write_to_bytes().unwrap_or_default();
    // containerd reads the namespace from this header too (its ttrpc namespace interceptor).
    let mut kv = ttrpc::proto::KeyValue::new();
    kv.key = "containerd-namespace-ttrpc".to_string();
    kv.value = namespace.to_string();
    req.metadata.push(kv);
    req.write_to_bytes().unwrap_or_default()
}

/// Write one request frame, read frames until the response for `stream`, check its status.
fn exchange(c: &mut UnixStream, stream: u32, body: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(HEADER_LEN + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&stream.to_be_bytes());
    frame.extend_from_slice(&[TYPE_REQUEST, 0]);
    frame.extend_from_slice(body);
    c.write_all(&frame)?;
    loop {
        let mut h = [0u8; HEADER_LEN];
        c.read_exact(&mut h)?;
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let sid = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        if len > MESSAGE_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("ttrpc message of {len} bytes"),
            ));
        }
        let mut payload = vec![0u8; len];
        c.read_exact(&mut payload)?;
        if sid != stream || h[8] != TYPE_RESPONSE {
            continue;
        }
        let resp = ttrpc::proto::Response::parse_from_bytes(&payload)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        return match resp.status.as_ref() {
            Some(st) if st.code.value() != 0 => Err(io::Error::other(format!(
                "Forward: {:?}: {}",
                st.code, st.message
            ))),
            _ => Ok(()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_event_round_trips_with_containerd_names() {
        let mut e = TaskExit::new();
        e.container_id = "c1".into();
        e.id = "c1".into();
        e.pid = 42;
        e.exit_status = 137;
        let ev = Event::new(&e);
        assert_eq!(ev.topic, "/tasks/exit");
        let any = Any::parse_from_bytes(&ev.stdin_bytes()).unwrap();
        assert_eq!(any.type_url, "containerd.events.TaskExit");
        let back = TaskExit::parse_from_bytes(&any.value).unwrap();
        assert_eq!(back, e);
    }

    /// A fake containerd: answers each Forward on `s` with `code`, returns what it received.
    fn serve(mut s: UnixStream, replies: Vec<i32>) -> Vec<(u32, ttrpc::proto::Request)> {
        let mut got = Vec::new();
        for code in replies {
            let mut h = [0u8; HEADER_LEN];
            s.read_exact(&mut h).unwrap();
            assert_eq!(h[8], TYPE_REQUEST);
            let len = u32::from_be_bytes(h[0..4].try_into().unwrap()) as usize;
            let sid = u32::from_be_bytes(h[4..8].try_into().unwrap());
            let mut b = vec![0u8; len];
            s.read_exact(&mut b).unwrap();
            got.push((sid, ttrpc::proto::Request::parse_from_bytes(&b).unwrap()));
            // An unrelated frame first: the client must skip it.
            let mut other = (0u32).to_be_bytes().to_vec();
            other.extend_from_slice(&(sid + 100).to_be_bytes());
            other.extend_from_slice(&[TYPE_RESPONSE, 0]);
            s.write_all(&other).unwrap();
            let mut resp = ttrpc::proto::Response::new();
            let mut st = ttrpc::proto::Status::new();
            st.code = protobuf::EnumOrUnknown::from_i32(code);
            st.message = "no such namespace".into();
            resp.status = MessageField::some(st);
            let body = resp.write_to_bytes().unwrap();
            let mut f = (body.len() as u32).to_be_bytes().to_vec();
            f.extend_from_slice(&sid.to_be_bytes());
            f.extend_from_slice(&[TYPE_RESPONSE, 0]);
            f.extend_from_slice(&body);
            s.write_all(&f).unwrap();
        }
        got
    }

    #[test]
    fn forward_sends_the_envelope_and_reads_the_status() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ttrpc.sock");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || serve(l.accept().unwrap().0, vec![0, 5]));
        let mut f = Forwarder::new(&format!("unix://{}", path.display()));
        let mut e = TaskExit::new();
        e.container_id = "c1".into();
        e.exit_status = 3;
        let ev = Event::new(&e);
        f.forward("ns1", &ev).unwrap();
        let refused = f.forward("ns1", &ev).unwrap_err();
        assert!(
            refused.to_string().contains("no such namespace"),
            "{refused}"
        );
        let got = server.join().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[1].0), (1, 3), "odd, increasing stream ids");
        let req = &got[0].1;
        assert_eq!(req.service, "containerd.services.events.ttrpc.v1.Events");
        assert_eq!(req.method, "Forward");
        assert_eq!(req.metadata[0].key, "containerd-namespace-ttrpc");
        assert_eq!(req.metadata[0].value, "ns1");
        let fr = ForwardRequest::parse_from_bytes(&req.payload).unwrap();
        let env = fr.envelope.unwrap();
        assert_eq!(
            (env.namespace.as_str(), env.topic.as_str()),
            ("ns1", "/tasks/exit")
        );
        assert!(env.timestamp.seconds > 0);
        let any = env.event.unwrap();
        assert_eq!(any.type_url, "containerd.events.TaskExit");
        assert_eq!(TaskExit::parse_from_bytes(&any.value).unwrap(), e);
    }

    #[test]
    fn forward_reconnects_once_when_the_kept_connection_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ttrpc.sock");
        let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            // First connection: one answer, then closed. Second: one answer.
            let a = serve(l.accept().unwrap().0, vec![0]);
            let b = serve(l.accept().unwrap().0, vec![0]);
            (a.len(), b.len())
        });
        let mut f = Forwarder::new(path.to_str().unwrap());
        let ev = Event::new(&TaskStart::new());
        f.forward("ns", &ev).unwrap();
        f.forward("ns", &ev).unwrap();
        assert_eq!(server.join().unwrap(), (1, 1));
        // Nobody listens any more: an error, not a hang.
        assert!(f.forward("ns", &ev).is_err());
    }

    #[test]
    fn topics_per_type() {
        assert_eq!(Event::new(&TaskCreate::new()).topic, "/tasks/create");
        assert_eq!(Event::new(&TaskStart::new()).topic, "/tasks/start");
        assert_eq!(Event::new(&TaskDelete::new()).topic, "/tasks/delete");
        assert_eq!(Event::new(&TaskExecAdded::new()).topic, "/tasks/exec-added");
        assert_eq!(
            Event::new(&TaskExecStarted::new()).topic,
            "/tasks/exec-started"
        );
        assert_eq!(
            Event::new(&TaskDelete::new()).any.type_url,
            "containerd.events.TaskDelete"
        );
    }

    /// The constant names are the messages' protobuf full names (what containerd's typeurl
    /// looks up to decode an event).
    #[test]
    fn type_urls_are_the_full_names() {
        use protobuf::MessageFull;
        fn check<M: Topic + MessageFull>() {
            assert_eq!(M::TYPE_URL, M::descriptor().full_name());
        }
        check::<TaskCreate>();
        check::<TaskStart>();
        check::<TaskExit>();
        check::<TaskDelete>();
        check::<TaskExecAdded>();
        check::<TaskExecStarted>();
        check::<TaskPaused>();
        check::<TaskResumed>();
        check::<TaskOOM>();
    }
}
