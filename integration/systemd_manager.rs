//! The systemd driver's manager calls against a stand-in for systemd: a thread that owns
//! the name org.freedesktop.systemd1 on a private dbus-daemon and answers the Manager
//! methods hull uses (Subscribe, StartTransientUnit with its JobRemoved signal, StopUnit,
//! ResetFailedUnit, SetUnitProperties, GetUnit, Properties.Get), recording each call. This
//! host has no systemd; the stand-in proves the calls' shapes, the job waits, the error
//! paths and the timeouts (real systemd: integration/vm/systemd).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hull::cgroups::systemd::{Manager, Session, Unit};
use hull::dbus::{error_name, Address, Connection, Message, Peer, Value};
use oci_spec::runtime::LinuxResources;

use crate::dbus_wire::PrivateBus;

const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const ROOT: &str = "/org/freedesktop/systemd1";

#[derive(Debug, Clone)]
struct Call {
    member: String,
    body: Vec<Value>,
}

/// The stand-in: units named `fail-*` end their start job "failed", `hang-*` never end it.
struct FakeSystemd {
    stop: Arc<AtomicBool>,
    calls: Arc<Mutex<Vec<Call>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeSystemd {
    fn start(addr: &Address) -> FakeSystemd {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let (a, s, c) = (addr.clone(), stop.clone(), calls.clone());
        let thread = std::thread::spawn(move || serve(a, s, c, tx));
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the stand-in for systemd did not come up");
        FakeSystemd {
            stop,
            calls,
            thread: Some(thread),
        }
    }

    fn calls(&self, member: &str) -> Vec<Vec<Value>> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.member == member)
            .map(|c| c.body.clone())
            .collect()
    }
}

impl Drop for FakeSystemd {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn unit_object(name: &str) -> String {
    let esc: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("_{b:02x}")
            }
        })
        .collect();
    format!("{ROOT}/unit/{esc}")
}

fn serve(
    addr: Address,
    stop: Arc<AtomicBool>,
    calls: Arc<Mutex<Vec<Call>>>,
    ready: mpsc::Sender<()>,
) {
    let mut c = Connection::open(&addr, Peer::Bus, Duration::from_secs(5)).unwrap();
    let got = c
        .call(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "RequestName",
            vec![Value::str("org.freedesktop.systemd1"), Value::U32(4)],
        )
        .unwrap();
    assert_eq!(
        got,
        [Value::U32(1)],
        "could not own org.freedesktop.systemd1"
    );
    ready.send(()).unwrap();
    // unit name -> failed?
    let mut units: HashMap<String, bool> = HashMap::new();
    let mut jobs = 0u32;
    while !stop.load(Ordering::SeqCst) {
        let Some(m) = c
            .next_message(Instant::now() + Duration::from_millis(50))
            .unwrap()
        else {
            continue;
        };
        if m.member.is_none()
            || m.reply_serial.is_some()
            || m.interface.as_deref() == Some("org.freedesktop.DBus")
        {
            continue;
        }
        let member = m.member.clone().unwrap();
        calls.lock().unwrap().push(Call {
            member: member.clone(),
            body: m.body.clone(),
        });
        let arg = |i: usize| {
            m.body
                .get(i)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        let no_unit = |name: &str| {
            Message::error(
                &m,
                "org.freedesktop.systemd1.NoSuchUnit",
                &format!("Unit {name} not loaded."),
            )
        };
        let mut job_removed = None;
        let reply = match member.as_str() {
            "Subscribe" => Message::method_return(&m, vec![]),
            "Get" => match (arg(0).as_str(), arg(1).as_str()) {
                (MANAGER, "Version") => {
                    Message::method_return(&m, vec![Value::variant(Value::str("252.22-1~deb12u1"))])
                }
                ("org.freedesktop.systemd1.Scope", "ControlGroup") => {
                    let path = m.path.clone().unwrap();
                    let name = units.keys().find(|u| unit_object(u) == path).cloned();
                    match name {
                        Some(n) => Message::method_return(
                            &m,
                            vec![Value::variant(Value::str(&format!("/system.slice/{n}")))],
                        ),
                        None => no_unit(&path),
                    }
                }
                _ => Message::error(&m, "org.freedesktop.DBus.Error.UnknownProperty", "no"),
            },
            "StartTransientUnit" => {
                let name = arg(0);
                if units.contains_key(&name) {
                    Message::error(
                        &m,
                        "org.freedesktop.systemd1.UnitExists",
                        &format!("Unit {name} already exists."),
                    )
                } else {
                    jobs += 1;
                    let failed = name.starts_with("fail-");
                    units.insert(name.clone(), failed);
                    if !name.starts_with("hang-") {
                        job_removed = Some((jobs, name, if failed { "failed" } else { "done" }));
                    }
                    Message::method_return(&m, vec![Value::path(&format!("{ROOT}/job/{jobs}"))])
                }
            }
            "StopUnit" => {
                let name = arg(0);
                if units.remove(&name).is_none() {
                    no_unit(&name)
                } else {
                    jobs += 1;
                    job_removed = Some((jobs, name, "done"));
                    Message::method_return(&m, vec![Value::path(&format!("{ROOT}/job/{jobs}"))])
                }
            }
            "ResetFailedUnit" => {
                let name = arg(0);
                match units.get(&name) {
                    None => no_unit(&name),
                    Some(failed) => {
                        if *failed {
                            units.remove(&name);
                        }
                        Message::method_return(&m, vec![])
                    }
                }
            }
            "SetUnitProperties" | "GetUnit" => {
                let name = arg(0);
                if !units.contains_key(&name) {
                    no_unit(&name)
                } else if member == "GetUnit" {
                    Message::method_return(&m, vec![Value::path(&unit_object(&name))])
                } else {
                    Message::method_return(&m, vec![])
                }
            }
            _ => Message::error(&m, "org.freedesktop.DBus.Error.UnknownMethod", "no"),
        };
        c.send(reply, deadline).unwrap();
        if let Some((id, unit, result)) = job_removed {
            let sig = Message::signal(
                ROOT,
                MANAGER,
                "JobRemoved",
                vec![
                    Value::U32(id),
                    Value::path(&format!("{ROOT}/job/{id}")),
                    Value::str(&unit),
                    Value::str(result),
                ],
            );
            c.send(sig, deadline).unwrap();
        }
    }
}

fn manager(bus: &PrivateBus) -> Manager {
    let mut c = Connection::open(&bus.addr, Peer::Bus, Duration::from_secs(5)).unwrap();
    c.timeout = Duration::from_secs(5);
    Manager::over(c).unwrap()
}

fn prop<'a>(props: &'a Value, name: &str) -> Option<&'a Value> {
    props.items()?.iter().find_map(|p| match p {
        Value::Struct(f) if f[0].as_str() == Some(name) => Some(f[1].unwrap_variant()),
        _ => None,
    })
}

#[test]
fn systemd_manager_start_sends_runcs_properties_and_waits_for_the_job() {
    let bus = PrivateBus::start();
    let fake = FakeSystemd::start(&bus.addr);
    let mut s = Session::over(manager(&bus), true);
    let unit = Unit::parse(Some("system.slice:hull:c1"), "c1", false).unwrap();
    let res: LinuxResources = serde_json::from_str(
        r#"{"memory":{"limit":33554432},"pids":{"limit":20},
            "cpu":{"quota":12345,"period":100000,"cpus":"0"}}"#,
    )
    .unwrap();
    let adjusted = s.start(&unit, "c1", Some(4242), &res, vec![]).unwrap();
    assert_eq!(adjusted.cpu().as_ref().unwrap().quota(), Some(13_000));
    let starts = fake.calls("StartTransientUnit");
    assert_eq!(starts.len(), 1);
    let b = &starts[0];
    assert_eq!(b[0].as_str(), Some("hull-c1.scope"));
    assert_eq!(b[1].as_str(), Some("replace"));
    assert_eq!(b[2].signature(), "a(sv)");
    assert_eq!(b[3], Value::array("(sa(sv))", vec![]));
    let props = &b[2];
    assert_eq!(prop(props, "Slice"), Some(&Value::str("system.slice")));
    assert_eq!(prop(props, "Delegate"), Some(&Value::Bool(true)));
    assert_eq!(
        prop(props, "PIDs"),
        Some(&Value::array("u", vec![Value::U32(4242)]))
    );
    assert_eq!(prop(props, "MemoryMax"), Some(&Value::U64(32 << 20)));
    assert_eq!(prop(props, "TasksMax"), Some(&Value::U64(20)));
    assert_eq!(
        prop(props, "CPUQuotaPerSecUSec"),
        Some(&Value::U64(130_000))
    );
    assert_eq!(
        prop(props, "AllowedCPUs"),
        Some(&Value::array("y", vec![Value::Byte(1)]))
    );
    assert_eq!(
        prop(props, "DefaultDependencies"),
        Some(&Value::Bool(false))
    );
    assert_eq!(
        s.control_group(&unit).unwrap(),
        "/system.slice/hull-c1.scope"
    );
    // update: SetUnitProperties(name, runtime=true, props).
    let res2: LinuxResources = serde_json::from_str(r#"{"memory":{"limit":67108864}}"#).unwrap();
    s.set(&unit, &res2).unwrap();
    let sets = fake.calls("SetUnitProperties");
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0][1], Value::Bool(true));
    assert_eq!(prop(&sets[0][2], "MemoryMax"), Some(&Value::U64(64 << 20)));
    // delete: StopUnit, then ResetFailedUnit.
    s.stop(&unit).unwrap();
    assert_eq!(fake.calls("StopUnit")[0][1].as_str(), Some("replace"));
    assert_eq!(fake.calls("ResetFailedUnit").len(), 1);
    // Stopping again: the unit is gone, which is fine.
    s.stop(&unit).unwrap();
}

#[test]
fn systemd_manager_an_existing_unit_is_reset_retried_once_then_refused() {
    let bus = PrivateBus::start();
    let fake = FakeSystemd::start(&bus.addr);
    let mut m = manager(&bus);
    m.start_transient("hull-dup.scope", vec![]).unwrap();
    let e = m.start_transient("hull-dup.scope", vec![]).unwrap_err();
    assert!(format!("{e:#}").contains("already exists"), "{e:#}");
    assert_eq!(fake.calls("StartTransientUnit").len(), 3);
    assert_eq!(fake.calls("ResetFailedUnit").len(), 1);
}

#[test]
fn systemd_manager_a_failed_job_is_an_error_and_the_unit_is_reset() {
    let bus = PrivateBus::start();
    let fake = FakeSystemd::start(&bus.addr);
    let mut m = manager(&bus);
    let e = m.start_transient("fail-x.scope", vec![]).unwrap_err();
    assert!(format!("{e:#}").contains("result \"failed\""), "{e:#}");
    assert_eq!(
        fake.calls("ResetFailedUnit")[0][0].as_str(),
        Some("fail-x.scope")
    );
    // Reset removed the failed unit: the name can be used again... and fails again.
    assert!(m.start_transient("fail-x.scope", vec![]).is_err());
}

#[test]
fn systemd_manager_a_job_that_never_ends_times_out_and_forged_signals_do_not_count() {
    let bus = PrivateBus::start();
    let fake = FakeSystemd::start(&bus.addr);
    let mut m = manager(&bus);
    m.set_job_timeout(Duration::from_millis(500));
    // Another bus client broadcasts "done" for every job number hull could get.
    let mut rogue = bus.connect();
    for id in 1..=3u32 {
        let sig = Message::signal(
            ROOT,
            MANAGER,
            "JobRemoved",
            vec![
                Value::U32(id),
                Value::path(&format!("{ROOT}/job/{id}")),
                Value::str("hang-x.scope"),
                Value::str("done"),
            ],
        );
        rogue
            .send(sig, Instant::now() + Duration::from_secs(5))
            .unwrap();
    }
    let t0 = Instant::now();
    let e = m.start_transient("hang-x.scope", vec![]).unwrap_err();
    assert!(format!("{e:#}").contains("timed out"), "{e:#}");
    assert!(t0.elapsed() < Duration::from_secs(5));
    // The connection is still usable: the failed start reset the unit.
    assert_eq!(fake.calls("ResetFailedUnit").len(), 1);
    assert!(m.version() >= 252);
}

#[test]
fn systemd_manager_errors_name_the_dbus_error() {
    let bus = PrivateBus::start();
    let _fake = FakeSystemd::start(&bus.addr);
    let mut m = manager(&bus);
    let e = m
        .set_properties("nope.scope", vec![("CPUWeight".into(), Value::U64(1))])
        .unwrap_err();
    assert_eq!(error_name(&e), Some("org.freedesktop.systemd1.NoSuchUnit"));
    assert!(format!("{e:#}").contains("nope.scope"), "{e:#}");
    m.reset_failed("nope.scope").unwrap();
}
