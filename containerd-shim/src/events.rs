//! Publishing task events to containerd (`/containerd.services.events.ttrpc.v1.Events/Forward`
//! on its ttrpc socket) from one thread, in order. containerd may be restarting: a failed
//! forward reconnects and retries with backoff for about a minute, so an exit that happens
//! while containerd is down still reaches the containerd that comes back. The connection is
//! dropped after a second without events: ttrpc's client keeps two threads per connection
//! (one polling every 10 ms), which an idle shim should not pay for.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::time::Duration;

use containerd_shim::protos::events::task::{
    TaskCreate, TaskDelete, TaskExecAdded, TaskExecStarted, TaskExit, TaskOOM, TaskPaused,
    TaskResumed, TaskStart,
};
use containerd_shim::protos::protobuf::well_known_types::any::Any;
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;
use containerd_shim::protos::protobuf::Message;
use containerd_shim::protos::shim::events::{Envelope, ForwardRequest};
use containerd_shim::protos::shim_sync::{Client, EventsClient};
use containerd_shim::protos::topics;
use containerd_shim::Context;

use crate::log;

/// One event, packed when it happened.
struct Item {
    topic: &'static str,
    at: Timestamp,
    event: Any,
}

pub struct Publisher {
    tx: Mutex<Sender<Item>>,
}

impl Publisher {
    /// Start the publishing thread for containerd at `address` (its `TTRPC_ADDRESS`).
    pub fn start(address: String, namespace: String) -> Publisher {
        let (tx, rx) = channel();
        let _ = std::thread::Builder::new()
            .name("events".into())
            .stack_size(128 * 1024)
            .spawn(move || forward_all(rx, &address, &namespace));
        Publisher { tx: Mutex::new(tx) }
    }

    fn send(&self, topic: &'static str, event: &impl Message) {
        let name = format!("containerd.events.{}", topic_message(topic));
        self.send_packed(topic, pack(event, &name));
    }

    fn send_packed(&self, topic: &'static str, any: Option<Any>) {
        let Some(any) = any else {
            return;
        };
        let item = Item {
            topic,
            at: now(),
            event: any,
        };
        let _ = self.tx.lock().unwrap_or_else(|e| e.into_inner()).send(item);
    }

    pub fn create(&self, e: TaskCreate) {
        self.send(topics::TASK_CREATE_EVENT_TOPIC, &e)
    }
    pub fn start_(&self, e: TaskStart) {
        self.send(topics::TASK_START_EVENT_TOPIC, &e)
    }
    pub fn exit(&self, e: TaskExit) {
        self.send(topics::TASK_EXIT_EVENT_TOPIC, &e)
    }
    pub fn delete(&self, e: TaskDelete) {
        self.send(topics::TASK_DELETE_EVENT_TOPIC, &e)
    }
    pub fn exec_added(&self, e: TaskExecAdded) {
        self.send(topics::TASK_EXEC_ADDED_EVENT_TOPIC, &e)
    }
    pub fn exec_started(&self, e: TaskExecStarted) {
        self.send(topics::TASK_EXEC_STARTED_EVENT_TOPIC, &e)
    }
    pub fn paused(&self, e: TaskPaused) {
        self.send(topics::TASK_PAUSED_EVENT_TOPIC, &e)
    }
    pub fn resumed(&self, e: TaskResumed) {
        self.send(topics::TASK_RESUMED_EVENT_TOPIC, &e)
    }
    pub fn oom(&self, e: TaskOOM) {
        self.send(topics::TASK_OOM_EVENT_TOPIC, &e)
    }
}

/// Delays between attempts to forward one event: 0.1 s doubling to 5 s, about a minute in
/// all (containerd's restart, and loading its shims, fit in that).
pub fn backoff() -> impl Iterator<Item = Duration> {
    (0..18).map(|i| Duration::from_millis((100u64 << i.min(6)).min(5000)))
}

/// How long a connection to containerd is kept without events to forward.
const IDLE: Duration = Duration::from_secs(1);

fn forward_all(rx: Receiver<Item>, address: &str, namespace: &str) {
    let mut client: Option<EventsClient> = None;
    loop {
        let next = match client {
            Some(_) => rx.recv_timeout(IDLE),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let item = match next {
            Ok(item) => item,
            Err(RecvTimeoutError::Timeout) => {
                client = None;
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut req = ForwardRequest::new();
        let mut env = Envelope::new();
        env.timestamp = Some(item.at).into();
        env.namespace = namespace.to_string();
        env.topic = item.topic.to_string();
        env.event = Some(item.event).into();
        req.envelope = Some(env).into();
        let mut delays = backoff();
        loop {
            if client.is_none() {
                client = containerd_shim::util::connect(address)
                    .ok()
                    .and_then(|fd| Client::new(fd).ok())
                    .map(EventsClient::new);
            }
            if let Some(c) = &client {
                match c.forward(Context::default(), &req) {
                    Ok(_) => break,
                    Err(e) => {
                        log::warn(&format!("publishing {}: {e}", item.topic));
                        client = None;
                    }
                }
            }
            match delays.next() {
                Some(d) => std::thread::sleep(d),
                None => {
                    log::warn(&format!(
                        "dropping the {} event: containerd is gone",
                        item.topic
                    ));
                    break;
                }
            }
        }
    }
}

/// A message as containerd's typeurl reads it: the type URL is the message's full protobuf
/// name, without protobuf's `type.googleapis.com/` prefix. The name is given, not read from
/// the message's descriptor: building descriptors (reflection) would cost the long-lived
/// shim a few hundred KiB of heap. For the same reason the message is encoded through
/// `Message`, not `MessageDyn`: `write_to_bytes_dyn` asks for the descriptor's name, which
/// builds the descriptors of every message in the file and its imports (measured: 400 KiB
/// of heap, 140 KiB of it one mapping).
pub fn pack(m: &impl Message, full_name: &str) -> Option<Any> {
    let mut any = Any::new();
    any.value = m.write_to_bytes().ok()?;
    any.type_url = full_name.to_string();
    Some(any)
}

/// The event message published on a task topic (`/tasks/exec-added` -> `TaskExecAdded`).
pub fn topic_message(topic: &str) -> String {
    let mut out = String::from("Task");
    for part in topic.trim_start_matches("/tasks/").split('-') {
        let mut c = part.chars();
        if let Some(f) = c.next() {
            out.extend(f.to_uppercase());
            out.push_str(c.as_str());
        }
    }
    if out == "TaskOom" {
        out = "TaskOOM".into();
    }
    out
}

/// The current time as a protobuf timestamp.
pub fn now() -> Timestamp {
    let (s, n) = hull_common::clock::realtime();
    let mut t = Timestamp::new();
    t.seconds = s;
    t.nanos = n as i32;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_name_their_event_messages_and_types_are_full_names() {
        use containerd_shim::protos::protobuf::MessageFull;
        for (topic, name) in [
            (topics::TASK_CREATE_EVENT_TOPIC, TaskCreate::descriptor()),
            (topics::TASK_START_EVENT_TOPIC, TaskStart::descriptor()),
            (topics::TASK_EXIT_EVENT_TOPIC, TaskExit::descriptor()),
            (topics::TASK_DELETE_EVENT_TOPIC, TaskDelete::descriptor()),
            (
                topics::TASK_EXEC_ADDED_EVENT_TOPIC,
                TaskExecAdded::descriptor(),
            ),
            (
                topics::TASK_EXEC_STARTED_EVENT_TOPIC,
                TaskExecStarted::descriptor(),
            ),
            (topics::TASK_PAUSED_EVENT_TOPIC, TaskPaused::descriptor()),
            (topics::TASK_RESUMED_EVENT_TOPIC, TaskResumed::descriptor()),
            (topics::TASK_OOM_EVENT_TOPIC, TaskOOM::descriptor()),
        ] {
            let ours = format!("containerd.events.{}", topic_message(topic));
            assert_eq!(ours, name.full_name());
        }
    }

    #[test]
    fn retries_back_off_to_five_seconds_for_about_a_minute() {
        let d: Vec<_> = backoff().collect();
        assert_eq!(d[0], Duration::from_millis(100));
        assert_eq!(d[1], Duration::from_millis(200));
        assert_eq!(*d.last().unwrap(), Duration::from_secs(5));
        let total: Duration = d.iter().sum();
        assert!(total > Duration::from_secs(50) && total < Duration::from_secs(90));
    }
}
