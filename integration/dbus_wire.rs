//! hull's D-Bus client against a real bus: a private `dbus-daemon` (Debian package dbus,
//! which integration/test.sh installs) started per test on a socket in a temp dir, and
//! killed when the test ends, failed or not. The daemon validates every message it routes,
//! so a message it accepts and delivers proves the marshalling.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hull::dbus::{error_name, Address, Connection, Message, Peer, Value};

use crate::common::TempDir;

const DAEMON: &str = "/usr/bin/dbus-daemon";

/// A private session bus; the daemon is killed on drop.
pub struct PrivateBus {
    child: Child,
    pub addr: Address,
    _dir: TempDir,
}

impl PrivateBus {
    pub fn start() -> PrivateBus {
        assert!(
            Path::new(DAEMON).exists(),
            "{DAEMON} missing: install the Debian package dbus (integration/test.sh does)"
        );
        let dir = TempDir::new("bus");
        let sock = dir.path().join("bus");
        let mut child = Command::new(DAEMON)
            .args(["--session", "--nofork", "--print-address"])
            .arg(format!("--address=unix:path={}", sock.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let bus = PrivateBus {
            child,
            addr: Address::Path(sock),
            _dir: dir,
        };
        assert!(
            line.starts_with("unix:path="),
            "dbus-daemon printed {line:?}"
        );
        bus
    }

    pub fn connect(&self) -> Connection {
        Connection::open(&self.addr, Peer::Bus, Duration::from_secs(5)).unwrap()
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bus_call(c: &mut Connection, member: &str, body: Vec<Value>) -> anyhow::Result<Vec<Value>> {
    c.call(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        member,
        body,
    )
}

#[test]
fn dbus_wire_hello_getid_and_listnames_against_a_real_daemon() {
    let bus = PrivateBus::start();
    let mut c = bus.connect();
    let me = c.unique_name().unwrap().to_string();
    assert!(me.starts_with(":1."), "{me}");
    let id = bus_call(&mut c, "GetId", vec![]).unwrap();
    let id = id[0].as_str().unwrap();
    assert_eq!(id.len(), 32, "{id}");
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let names = bus_call(&mut c, "ListNames", vec![]).unwrap();
    let names: Vec<&str> = names[0]
        .items()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(names.contains(&"org.freedesktop.DBus"), "{names:?}");
    assert!(names.contains(&me.as_str()), "{names:?}");
}

#[test]
fn dbus_wire_error_replies_carry_the_error_name_and_message() {
    let bus = PrivateBus::start();
    let mut c = bus.connect();
    let e = bus_call(&mut c, "NoSuchMethodHere", vec![]).unwrap_err();
    assert_eq!(
        error_name(&e),
        Some("org.freedesktop.DBus.Error.UnknownMethod"),
        "{e:#}"
    );
    assert!(e.to_string().contains("NoSuchMethodHere"), "{e:#}");
    // A wrong argument type is refused by the daemon with its own error.
    let e = bus_call(&mut c, "GetNameOwner", vec![Value::U32(1)]).unwrap_err();
    assert_eq!(
        error_name(&e),
        Some("org.freedesktop.DBus.Error.InvalidArgs"),
        "{e:#}"
    );
    // The connection still works after error replies.
    let owner = bus_call(
        &mut c,
        "GetNameOwner",
        vec![Value::str("org.freedesktop.DBus")],
    );
    assert_eq!(owner.unwrap()[0].as_str(), Some("org.freedesktop.DBus"));
}

#[test]
fn dbus_wire_name_owner_changed_signal_is_received_after_addmatch() {
    let bus = PrivateBus::start();
    let mut c = bus.connect();
    bus_call(
        &mut c,
        "AddMatch",
        vec![Value::str(
            "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'",
        )],
    )
    .unwrap();
    let other = bus.connect();
    let who = other.unique_name().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(5);
    let sig = c
        .wait_signal(deadline, |m| {
            m.is_signal("org.freedesktop.DBus", "NameOwnerChanged")
                && m.body.first().and_then(Value::as_str) == Some(&who)
        })
        .unwrap()
        .expect("no NameOwnerChanged for the second connection");
    let args: Vec<&str> = sig.body.iter().filter_map(Value::as_str).collect();
    assert_eq!(args, [who.as_str(), "", who.as_str()]);
    assert_eq!(sig.sender.as_deref(), Some("org.freedesktop.DBus"));
}

#[test]
fn dbus_wire_systemd_shaped_body_crosses_the_daemon_intact() {
    let bus = PrivateBus::start();
    let mut rx = bus.connect();
    bus_call(
        &mut rx,
        "AddMatch",
        vec![Value::str("type='signal',interface='org.hull.Test'")],
    )
    .unwrap();
    let mut tx = bus.connect();
    // StartTransientUnit's argument shape, as a signal body the daemon must validate.
    let body = vec![
        Value::str("hull-c1.scope"),
        Value::str("replace"),
        Value::properties(vec![
            ("Description".into(), Value::str("hull container c1")),
            ("Delegate".into(), Value::Bool(true)),
            ("PIDs".into(), Value::array("u", vec![Value::U32(1234)])),
            ("MemoryMax".into(), Value::U64(64 << 20)),
            ("CPUQuotaPerSecUSec".into(), Value::U64(u64::MAX)),
            (
                "AllowedCPUs".into(),
                Value::array("y", vec![Value::Byte(1)]),
            ),
            (
                "DeviceAllow".into(),
                Value::array(
                    "(ss)",
                    vec![Value::Struct(vec![
                        Value::str("char-pts"),
                        Value::str("rwm"),
                    ])],
                ),
            ),
        ]),
        Value::array("(sa(sv))", vec![]),
    ];
    let sig = Message::signal("/org/hull/Test", "org.hull.Test", "Shape", body.clone());
    tx.send(sig, Instant::now() + Duration::from_secs(5))
        .unwrap();
    let got = rx
        .wait_signal(Instant::now() + Duration::from_secs(5), |m| {
            m.is_signal("org.hull.Test", "Shape")
        })
        .unwrap()
        .expect("the signal did not arrive");
    assert_eq!(got.body, body);
    assert_eq!(got.sender.as_deref(), tx.unique_name());
}

#[test]
fn dbus_wire_a_peer_that_never_answers_times_out() {
    let bus = PrivateBus::start();
    let silent = bus.connect();
    let mut c = bus.connect();
    c.timeout = Duration::from_millis(300);
    let t0 = Instant::now();
    let e = c
        .call(
            silent.unique_name().unwrap(),
            "/x",
            "org.hull.Test",
            "Never",
            vec![],
        )
        .unwrap_err();
    let took = t0.elapsed();
    assert!(format!("{e:#}").contains("timed out"), "{e:#}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
    // A wait for a signal that never comes ends at its deadline with None.
    let mut d = bus.connect();
    let t0 = Instant::now();
    let none = d
        .wait_signal(Instant::now() + Duration::from_millis(200), |_| false)
        .unwrap();
    assert!(none.is_none());
    assert!(t0.elapsed() < Duration::from_secs(3));
}

#[test]
fn dbus_wire_missing_socket_fails_at_once() {
    let dir = TempDir::new("nobus");
    let t0 = Instant::now();
    let e = Connection::open(
        &Address::Path(dir.path().join("none")),
        Peer::Bus,
        Duration::from_secs(5),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("No such file"), "{e:#}");
    assert!(t0.elapsed() < Duration::from_secs(1));
}
