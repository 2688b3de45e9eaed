//! Task events, published through containerd's `publish-binary`
//! (`containerd --address A publish --topic T --namespace NS`, the event as a protobuf `Any` on stdin).

use containerd_shim_protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskPaused, TaskResumed,
    TaskStart,
};
use containerd_shim_protos::topics;
use protobuf::well_known_types::any::Any;
use protobuf::{Message, MessageFull};

/// One event ready to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub topic: &'static str,
    pub any: Any,
}

fn pack<M: MessageFull>(m: &M) -> Any {
    let mut a = Any::new();
    // containerd's typeurl names events by their protobuf full name, without a URL prefix.
    a.type_url = M::descriptor().full_name().to_string();
    a.value = m.write_to_bytes().unwrap_or_default();
    a
}

/// The topic each event type is published under.
pub trait Topic: MessageFull {
    const TOPIC: &'static str;
}

macro_rules! topic {
    ($t:ty, $c:expr) => {
        impl Topic for $t {
            const TOPIC: &'static str = $c;
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

impl Event {
    pub fn new<M: Topic>(m: &M) -> Event {
        Event {
            topic: M::TOPIC,
            any: pack(m),
        }
    }

    /// The bytes written to the publish binary's stdin.
    pub fn stdin_bytes(&self) -> Vec<u8> {
        self.any.write_to_bytes().unwrap_or_default()
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
}
