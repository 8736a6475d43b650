//! `--systemd-cgroup` end to end through the real binary, against the stand-in for systemd
//! (fake_systemd.rs, which places pids in cgroupfs as systemd does on this hybrid host).
//! Each hull command runs in a private mount namespace with a tmpfs on /run holding
//! /run/systemd/system (so hull sees "systemd booted" there and nowhere else) and with
//! $DBUS_SYSTEM_BUS_ADDRESS naming the private bus. The units go in a slice named for the
//! test run, whose directories the guard removes on every hierarchy.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use hull::dbus::{Address, Value};
use serde_json::json;

use crate::common::*;
use crate::dbus_wire::PrivateBus;
use crate::fake_systemd::{prop, FakeSystemd};

/// A slice for this test's units; its directories go on drop.
struct TestSlice(String);

impl TestSlice {
    fn new() -> TestSlice {
        // No dash: the slice sits directly below the root.
        TestSlice(unique_id("sd").replace('-', "x") + ".slice")
    }

    fn dirs(&self, leaf: &str) -> Vec<PathBuf> {
        cgroup_mounts()
            .into_iter()
            .map(|m| m.join(&self.0).join(leaf))
            .collect()
    }
}

impl Drop for TestSlice {
    fn drop(&mut self) {
        for m in cgroup_mounts() {
            let top = m.join(&self.0);
            if let Ok(rd) = std::fs::read_dir(&top) {
                for e in rd.flatten().filter(|e| e.path().is_dir()) {
                    let _ = std::fs::remove_dir(e.path());
                }
            }
            let _ = std::fs::remove_dir(&top);
        }
    }
}

/// `hull --root ROOT --systemd-cgroup ARGS` where systemd seems to run. Output goes
/// through files: a created container inherits hull's stdio and would hold pipes open.
fn sd(h: &Hull, bus: &PrivateBus, args: &[&str]) -> Output {
    let Address::Path(sock) = &bus.addr else {
        unreachable!()
    };
    let out = TempDir::new("sdout");
    let (o, e) = (out.path().join("stdout"), out.path().join("stderr"));
    let status = Command::new("unshare")
        .args(["-m", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount -t tmpfs hull-test /run && mkdir -p /run/systemd/system && exec \"$@\"")
        .arg("sh")
        .arg(hull_bin())
        .arg("--root")
        .arg(h.root.path())
        .arg("--systemd-cgroup")
        .args(args)
        .env(
            "DBUS_SYSTEM_BUS_ADDRESS",
            format!("unix:path={}", sock.display()),
        )
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .status()
        .unwrap();
    Output {
        status,
        stdout: std::fs::read(&o).unwrap(),
        stderr: std::fs::read(&e).unwrap(),
    }
}

fn sd_ok(h: &Hull, bus: &PrivateBus, args: &[&str]) -> String {
    let o = sd(h, bus, args);
    assert!(
        o.status.success(),
        "hull --systemd-cgroup {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
fn systemd_driver_create_update_pause_delete_through_a_stand_in_systemd() {
    let bus = PrivateBus::start();
    let fake = FakeSystemd::start_placing(&bus.addr);
    // Dropped after the Hull guard, which deletes the containers inside it.
    let slice = TestSlice::new();
    let h = Hull::new();
    let id = unique_id("sdrv");
    let b = Bundle::busybox(&["sleep", "60"]);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("{}:hull:{id}", slice.0));
        c["linux"]["resources"]["memory"] = json!({"limit": 32 << 20});
        c["linux"]["resources"]["pids"] = json!({"limit": 50});
    });
    let unit = format!("hull-{id}.scope");
    sd_ok(&h, &bus, &["create", "--bundle", b.path_str(), &id]);
    let state: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    let pid = state["pid"].as_i64().unwrap() as u32;
    assert_eq!(state["status"], "created");

    // systemd got the unit with the init's pid and the limits as v1 properties.
    let starts = fake.calls("StartTransientUnit");
    assert_eq!(starts.len(), 1);
    assert_eq!(starts[0][0].as_str(), Some(unit.as_str()));
    let props = &starts[0][2];
    assert_eq!(
        prop(props, "Slice").and_then(Value::as_str),
        Some(slice.0.as_str())
    );
    assert_eq!(
        prop(props, "PIDs"),
        Some(&Value::array("u", vec![Value::U32(pid)]))
    );
    assert_eq!(prop(props, "MemoryLimit"), Some(&Value::U64(32 << 20)));
    assert_eq!(prop(props, "TasksMax"), Some(&Value::U64(50)));
    assert_eq!(
        prop(props, "DevicePolicy").and_then(Value::as_str),
        Some("strict")
    );
    assert_eq!(prop(props, "Delegate"), Some(&Value::Bool(true)));

    // The init is in the unit's cgroup on every hierarchy: where "systemd" put it, and in
    // cpuset and freezer, which hull joined itself.
    let scope = format!("/{}/{unit}", slice.0);
    let cgroups = read(PathBuf::from(format!("/proc/{pid}/cgroup")));
    for line in cgroups.lines() {
        assert!(
            line.ends_with(&format!(":{scope}")),
            "{line} (want {scope})"
        );
    }
    let mem = PathBuf::from("/sys/fs/cgroup/memory")
        .join(&slice.0)
        .join(&unit);
    assert_eq!(
        read(mem.join("memory.limit_in_bytes")),
        (32u64 << 20).to_string()
    );
    let pids = PathBuf::from("/sys/fs/cgroup/pids")
        .join(&slice.0)
        .join(&unit);
    assert_eq!(read(pids.join("pids.max")), "50");
    // state.json records the unit, so delete can stop it.
    let rec: serde_json::Value =
        serde_json::from_str(&read(h.root.path().join(&id).join("state.json"))).unwrap();
    assert_eq!(rec["cgroup"]["systemd"]["name"], unit.as_str());

    sd_ok(&h, &bus, &["start", &id]);
    // update: the unit's properties, then the file.
    sd_ok(&h, &bus, &["update", "--memory", "67108864", &id]);
    let sets = fake.calls("SetUnitProperties");
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0][0].as_str(), Some(unit.as_str()));
    assert_eq!(
        prop(&sets[0][2], "MemoryLimit"),
        Some(&Value::U64(64 << 20))
    );
    assert_eq!(
        read(mem.join("memory.limit_in_bytes")),
        (64u64 << 20).to_string()
    );
    // pause/resume through the freezer directory hull joined.
    sd_ok(&h, &bus, &["pause", &id]);
    let freezer = PathBuf::from("/sys/fs/cgroup/freezer")
        .join(&slice.0)
        .join(&unit);
    assert_eq!(read(freezer.join("freezer.state")), "FROZEN");
    sd_ok(&h, &bus, &["resume", &id]);
    assert_eq!(h.status(&id), "running");
    assert!(h.ok(&["ps", &id]).contains("sleep"));

    sd_ok(&h, &bus, &["delete", "--force", &id]);
    let stops = fake.calls("StopUnit");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0][0].as_str(), Some(unit.as_str()));
    for d in slice.dirs(&unit) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
    assert!(h.dirs().is_empty());
}

#[test]
fn systemd_driver_a_unit_systemd_fails_to_start_fails_create_and_leaves_nothing() {
    let bus = PrivateBus::start();
    let fake = FakeSystemd::start_placing(&bus.addr);
    // Dropped after the Hull guard, which deletes the containers inside it.
    let slice = TestSlice::new();
    let h = Hull::new();
    let id = unique_id("sdfail");
    let b = Bundle::busybox(&["sleep", "60"]);
    // The stand-in fails every unit whose name starts with "fail-".
    b.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("{}:fail:{id}", slice.0)));
    let o = sd(&h, &bus, &["create", "--bundle", b.path_str(), &id]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("fail-{id}.scope")) && err.contains("\"failed\""),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!fake.calls("ResetFailedUnit").is_empty());
    assert!(h.dirs().is_empty(), "state left: {:?}", h.dirs());
    for d in slice.dirs(&format!("fail-{id}.scope")) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}

#[test]
fn systemd_driver_malformed_cgroups_path_is_refused_by_name() {
    let bus = PrivateBus::start();
    let _fake = FakeSystemd::start(&bus.addr);
    let h = Hull::new();
    let id = unique_id("sdbad");
    let b = Bundle::busybox(&["true"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = json!("/not/a/unit"));
    let o = sd(&h, &bus, &["create", "--bundle", b.path_str(), &id]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("linux.cgroupsPath \"/not/a/unit\": with --systemd-cgroup, expected \"slice:prefix:name\""),
        "{err}"
    );
    assert!(h.dirs().is_empty());
}

#[test]
fn systemd_driver_without_systemd_fails_at_once_and_leaves_nothing() {
    if std::path::Path::new("/run/systemd/system").exists() {
        return; // only meaningful on a host without systemd, like this one
    }
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let id = unique_id("nosd");
    let t0 = std::time::Instant::now();
    let o = h.run(&["--systemd-cgroup", "run", "--bundle", b.path_str(), &id]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("--systemd-cgroup: systemd is not running"),
        "{err}"
    );
    assert!(t0.elapsed() < std::time::Duration::from_secs(2));
    assert!(h.dirs().is_empty());
}

#[test]
fn systemd_driver_a_taken_unit_name_fails_create_and_leaves_the_owner_alone() {
    let bus = PrivateBus::start();
    let fake = FakeSystemd::start_placing(&bus.addr);
    // Dropped after the Hull guard, which deletes the containers inside it.
    let slice = TestSlice::new();
    let h = Hull::new();
    let path = format!("{}:hull:taken", slice.0);
    let first = Bundle::busybox(&["sleep", "60"]);
    first.edit(|c| c["linux"]["cgroupsPath"] = json!(path));
    let second = Bundle::busybox(&["sleep", "60"]);
    second.edit(|c| c["linux"]["cgroupsPath"] = json!(path));
    let (a, b) = (unique_id("owner"), unique_id("intruder"));
    sd_ok(&h, &bus, &["create", "--bundle", first.path_str(), &a]);
    let o = sd(&h, &bus, &["create", "--bundle", second.path_str(), &b]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("already exists"), "{err}");
    assert!(!err.contains("warning"), "{err}");
    // Nothing of the owner was touched: no StopUnit, its init alive in its scope.
    assert!(fake.calls("StopUnit").is_empty());
    assert_eq!(h.status(&a), "created");
    let pid = serde_json::from_str::<serde_json::Value>(&h.ok(&["state", &a])).unwrap()["pid"]
        .as_i64()
        .unwrap();
    let cg = read(PathBuf::from(format!("/proc/{pid}/cgroup")));
    assert!(
        cg.contains(&format!("/{}/hull-taken.scope", slice.0)),
        "{cg}"
    );
    assert_eq!(h.dirs(), vec![a.clone()]);
    sd_ok(&h, &bus, &["delete", "--force", &a]);
}

#[test]
fn systemd_driver_delete_leaves_a_later_unit_of_the_same_name_alone() {
    let bus = PrivateBus::start();
    let fake = FakeSystemd::start_placing(&bus.addr);
    // Dropped after the Hull guard, which deletes the containers inside it.
    let slice = TestSlice::new();
    let h = Hull::new();
    let id = unique_id("reused");
    let b = Bundle::busybox(&["sleep", "60"]);
    b.edit(|c| c["linux"]["cgroupsPath"] = json!(format!("{}:hull:{id}", slice.0)));
    sd_ok(&h, &bus, &["create", "--bundle", b.path_str(), &id]);
    let unit = format!("hull-{id}.scope");
    let rec: serde_json::Value =
        serde_json::from_str(&read(h.root.path().join(&id).join("state.json"))).unwrap();
    let mine = rec["cgroup"]["systemd"]["invocation"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(mine.len(), 32, "{mine}");
    // The unit goes away and another one takes its name (a new InvocationID).
    let mut c = hull::dbus::Connection::open(
        &bus.addr,
        hull::dbus::Peer::Bus,
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    c.timeout = std::time::Duration::from_secs(5);
    let mut m = hull::cgroups::systemd::Manager::over(c).unwrap();
    m.stop(&unit).unwrap();
    // In the test's slice: a unit without Slice= would go to system.slice, which is not
    // this test's to create or remove.
    let in_slice = vec![("Slice".to_string(), hull::dbus::Value::str(&slice.0))];
    m.start_transient(&unit, in_slice).unwrap();
    let now = m.invocation_id(&unit).unwrap().unwrap();
    assert_ne!(now, mine);
    let stops = fake.calls("StopUnit").len();
    sd_ok(&h, &bus, &["delete", "--force", &id]);
    assert_eq!(
        fake.calls("StopUnit").len(),
        stops,
        "delete stopped the later unit"
    );
    assert_eq!(m.invocation_id(&unit).unwrap(), Some(now));
    assert!(h.dirs().is_empty());
    m.stop(&unit).unwrap();
}
