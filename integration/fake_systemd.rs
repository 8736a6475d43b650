//! A stand-in for systemd's manager on a private dbus-daemon: a thread that owns the name
//! org.freedesktop.systemd1 and answers the Manager methods hull uses (Subscribe,
//! StartTransientUnit with its JobRemoved signal, StopUnit, ResetFailedUnit,
//! SetUnitProperties, GetUnit, Properties.Get of Version and ControlGroup), recording each
//! call. Units named `fail-*` end their start job "failed", `hang-*` never end it.
//!
//! `start_placing` also does what systemd does with a scope's PIDs on a hybrid host: makes
//! the unit's directory on the hierarchies systemd manages (cpu, cpuacct, memory, devices,
//! blkio, pids, name=systemd and the unified one; not cpuset or freezer) and moves the
//! pids there; StopUnit removes those directories again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hull::cgroups::layout::Layout;
use hull::cgroups::systemd::unit::expand_slice;
use hull::dbus::{Address, Connection, Message, Peer, Value};

const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const ROOT: &str = "/org/freedesktop/systemd1";

/// The v1 controllers systemd manages for a delegated unit.
const MANAGED: &[&str] = &[
    "cpu",
    "cpuacct",
    "memory",
    "devices",
    "blkio",
    "pids",
    "name=systemd",
];

#[derive(Debug, Clone)]
struct Call {
    member: String,
    body: Vec<Value>,
}

pub struct FakeSystemd {
    stop: Arc<AtomicBool>,
    calls: Arc<Mutex<Vec<Call>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeSystemd {
    pub fn start(addr: &Address) -> FakeSystemd {
        FakeSystemd::spawn(addr, false)
    }

    /// Also place the pids of started scopes in cgroupfs, like systemd.
    pub fn start_placing(addr: &Address) -> FakeSystemd {
        FakeSystemd::spawn(addr, true)
    }

    fn spawn(addr: &Address, placing: bool) -> FakeSystemd {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let (a, s, c) = (addr.clone(), stop.clone(), calls.clone());
        let thread = std::thread::spawn(move || serve(a, s, c, tx, placing));
        rx.recv_timeout(Duration::from_secs(5))
            .expect("the stand-in for systemd did not come up");
        FakeSystemd {
            stop,
            calls,
            thread: Some(thread),
        }
    }

    /// The bodies of every call of `member` so far.
    pub fn calls(&self, member: &str) -> Vec<Vec<Value>> {
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

/// The value of property `name` in an `a(sv)` list.
pub fn prop<'a>(props: &'a Value, name: &str) -> Option<&'a Value> {
    props.items()?.iter().rev().find_map(|p| match p {
        Value::Struct(f) if f[0].as_str() == Some(name) => Some(f[1].unwrap_variant()),
        _ => None,
    })
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

/// One unit the stand-in knows.
struct FakeUnit {
    failed: bool,
    cgroup: String,
    dirs: Vec<PathBuf>,
    /// Its InvocationID: 16 bytes, new for every start.
    invocation: Vec<Value>,
}

/// systemd's `JobRemoved(u id, o job, s unit, s result)` signal for job `id`.
pub fn job_removed_signal(id: u32, unit: &str, result: &str) -> Message {
    Message::signal(
        ROOT,
        MANAGER,
        "JobRemoved",
        vec![
            Value::U32(id),
            Value::path(&format!("{ROOT}/job/{id}")),
            Value::str(unit),
            Value::str(result),
        ],
    )
}

/// systemd's part of placing `pids` in `cgroup`: its hierarchies only.
fn place(cgroup: &str, pids: &[u32]) -> Vec<PathBuf> {
    // These are the host's real hierarchies: a test must give its units a slice of its own
    // (system.slice, the default, belongs to the host and would be left behind).
    assert!(
        !cgroup.starts_with("/system.slice") && !cgroup.starts_with("/user.slice"),
        "stand-in systemd asked to place pids in {cgroup}: give the unit a test slice"
    );
    let layout = Layout::detect().unwrap();
    let mut dirs = Vec::new();
    for h in layout.v1.iter().chain(layout.v2.iter()) {
        if !h.v2 && !h.controllers.iter().any(|c| MANAGED.contains(&c.as_str())) {
            continue;
        }
        let d = h.mount.join(cgroup.trim_start_matches('/'));
        std::fs::create_dir_all(&d).unwrap();
        for p in pids {
            std::fs::write(d.join("cgroup.procs"), p.to_string()).unwrap();
        }
        dirs.push(d);
    }
    dirs
}

fn serve(
    addr: Address,
    stop: Arc<AtomicBool>,
    calls: Arc<Mutex<Vec<Call>>>,
    ready: mpsc::Sender<()>,
    placing: bool,
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
    let mut units: HashMap<String, FakeUnit> = HashMap::new();
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
        let no_unit = |name: &str| {
            Message::error(
                &m,
                "org.freedesktop.systemd1.NoSuchUnit",
                &format!("Unit {name} not loaded."),
            )
        };
        let job = |jobs: u32| {
            Message::method_return(&m, vec![Value::path(&format!("{ROOT}/job/{jobs}"))])
        };
        let mut job_removed = None;
        let reply = match member.as_str() {
            "Subscribe" => Message::method_return(&m, vec![]),
            "Get" => match (arg(0).as_str(), arg(1).as_str()) {
                (MANAGER, "Version") => {
                    Message::method_return(&m, vec![Value::variant(Value::str("252.22-1~deb12u1"))])
                }
                (_, prop @ ("ControlGroup" | "InvocationID")) => {
                    let path = m.path.clone().unwrap();
                    match units.iter().find(|(n, _)| unit_object(n) == path) {
                        Some((_, u)) if prop == "ControlGroup" => {
                            Message::method_return(&m, vec![Value::variant(Value::str(&u.cgroup))])
                        }
                        Some((_, u)) => Message::method_return(
                            &m,
                            vec![Value::variant(Value::array("y", u.invocation.clone()))],
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
                    let slice = prop(&m.body[2], "Slice")
                        .and_then(Value::as_str)
                        .unwrap_or("system.slice")
                        .to_string();
                    let cgroup = format!(
                        "{}/{name}",
                        expand_slice(&slice).unwrap().trim_end_matches('/')
                    );
                    let pids: Vec<u32> = prop(&m.body[2], "PIDs")
                        .and_then(Value::items)
                        .map(|p| p.iter().filter_map(Value::as_u32).collect())
                        .unwrap_or_default();
                    let dirs = if placing && !failed {
                        place(&cgroup, &pids)
                    } else {
                        Vec::new()
                    };
                    let invocation = (0..16u8).map(|i| Value::Byte(i ^ jobs as u8)).collect();
                    units.insert(
                        name.clone(),
                        FakeUnit {
                            failed,
                            cgroup,
                            dirs,
                            invocation,
                        },
                    );
                    if !name.starts_with("hang-") {
                        job_removed = Some((jobs, name, if failed { "failed" } else { "done" }));
                    }
                    job(jobs)
                }
            }
            "StopUnit" => {
                let name = arg(0);
                match units.remove(&name) {
                    None => no_unit(&name),
                    Some(u) => {
                        for d in u.dirs.iter().rev() {
                            let _ = std::fs::remove_dir(d);
                        }
                        jobs += 1;
                        job_removed = Some((jobs, name, "done"));
                        job(jobs)
                    }
                }
            }
            "ResetFailedUnit" => {
                let name = arg(0);
                match units.get(&name).map(|u| u.failed) {
                    None => no_unit(&name),
                    Some(failed) => {
                        if failed {
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
        let deadline = Instant::now() + Duration::from_secs(5);
        c.send(reply, deadline).unwrap();
        if let Some((id, unit, result)) = job_removed {
            c.send(job_removed_signal(id, &unit, result), deadline)
                .unwrap();
        }
    }
}
