//! The systemd driver's manager calls against a stand-in for systemd (see fake_systemd.rs):
//! the calls' shapes, the job waits, the error paths and the timeouts. This host has no
//! systemd; real systemd is exercised in a VM (integration/vm/systemd).

use std::time::{Duration, Instant};

use hull::cgroups::systemd::{Manager, Session, Unit};
use hull::dbus::{error_name, Connection, Peer, Value};
use oci_spec::runtime::LinuxResources;

use crate::dbus_wire::PrivateBus;
use crate::fake_systemd::{job_removed_signal, prop, FakeSystemd};

fn manager(bus: &PrivateBus) -> Manager {
    let mut c = Connection::open(&bus.addr, Peer::Bus, Duration::from_secs(5)).unwrap();
    c.timeout = Duration::from_secs(5);
    Manager::over(c).unwrap()
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
        let sig = job_removed_signal(id, "hang-x.scope", "done");
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
