//! The `--systemd-cgroup` driver, as runc's: the container's cgroup is a transient systemd
//! unit (`prefix-name.scope` in a slice, see `unit`) that systemd creates when it starts the
//! unit with the init's pid in it. hull then computes the unit's directory on every
//! hierarchy, joins the v1 hierarchies systemd does not manage itself (cpuset, freezer,
//! net_cls, ...) and writes every limit with its own cgroupfs writers, as runc does after
//! setting the unit's properties. Everything else (pause, kill, ps, events, exec) works on
//! the recorded directories like the cgroupfs driver; `delete` stops the unit.
//!
//! The limits are passed as unit properties already when the unit starts (see
//! `properties`), so systemd's view agrees with the files from the first moment and a
//! later re-apply by systemd keeps them; `update` sets them again before writing the files.

mod annotations;
pub mod devices;
pub mod manager;
pub mod properties;
mod unified;
pub mod unit;

pub use manager::Manager;
pub use unit::Unit;

use crate::dbus::Value;
use anyhow::{Context, Result};
use oci_spec::runtime::LinuxResources;
use properties::Props;
use std::collections::HashMap;

/// systemd's own test for "booted with systemd" (sd_booted).
pub fn booted() -> bool {
    std::fs::symlink_metadata("/run/systemd/system").is_ok_and(|m| m.is_dir())
}

/// Whether the driver can work here for root: systemd runs and one of its sockets exists.
pub fn available() -> bool {
    booted()
        && (std::path::Path::new(crate::dbus::address::SYSTEMD_PRIVATE).exists()
            || std::path::Path::new(crate::dbus::address::SYSTEM_BUS_DEFAULT).exists())
}

/// The properties every container unit gets (runc's set), then `extra` (resources and
/// `org.systemd.property.*` annotations).
pub fn base_properties(unit: &Unit, id: &str, pid: Option<i32>, v2: bool) -> Props {
    let mut p: Props = vec![(
        "Description".into(),
        Value::str(&format!("hull container {id}")),
    )];
    if unit.is_slice() {
        // A slice's parent is a dependency; it cannot hold delegated pids.
        p.push((
            "Wants".into(),
            Value::array("s", vec![Value::str(&unit.slice)]),
        ));
    } else {
        p.push(("Slice".into(), Value::str(&unit.slice)));
        p.push(("Delegate".into(), Value::Bool(true)));
        if let Some(pid) = pid {
            p.push((
                "PIDs".into(),
                Value::array("u", vec![Value::U32(pid as u32)]),
            ));
        }
    }
    // Accounting on, so every controller's files exist as with the cgroupfs driver.
    let io = if v2 {
        "IOAccounting"
    } else {
        "BlockIOAccounting"
    };
    for name in ["MemoryAccounting", "CPUAccounting", io, "TasksAccounting"] {
        p.push((name.into(), Value::Bool(true)));
    }
    p.push(("DefaultDependencies".into(), Value::Bool(false)));
    p
}

/// The `org.systemd.property.NAME` annotations as properties, checked.
pub fn annotation_properties(annotations: &HashMap<String, String>) -> Result<Props> {
    annotations::properties(annotations)
}

/// One conversation with systemd about one container.
pub struct Session {
    manager: Manager,
    v2: bool,
}

impl Session {
    /// Connect to the manager that owns `unit`. `v2`: the host is cgroup v2 only.
    pub fn open(unit: &Unit, v2: bool) -> Result<Session> {
        Ok(Session {
            manager: Manager::connect(unit.user)?,
            v2,
        })
    }

    /// Use an existing manager connection (tests against a stand-in for systemd).
    pub fn over(manager: Manager, v2: bool) -> Session {
        Session { manager, v2 }
    }

    pub fn manager(&mut self) -> &mut Manager {
        &mut self.manager
    }

    /// Start `unit` holding `pid` with the base properties, `extra` and the limits of
    /// `res`; returns `res` adjusted as systemd keeps it (see `properties`), for the
    /// cgroupfs writes that follow.
    pub fn start(
        &mut self,
        unit: &Unit,
        id: &str,
        pid: Option<i32>,
        res: &LinuxResources,
        extra: Props,
    ) -> Result<LinuxResources> {
        let version = self.manager.version();
        let (limits, adjusted) = properties::for_resources(res, self.v2, version)?;
        let mut props = base_properties(unit, id, pid, self.v2);
        props.extend(extra);
        props.extend(limits);
        self.manager
            .start_transient(&unit.name, props)
            .with_context(|| format!("--systemd-cgroup: creating the unit for container {id:?}"))?;
        Ok(adjusted)
    }

    /// Set the limits of `res` on a running unit; returns `res` adjusted for the cgroupfs
    /// writes that follow.
    pub fn set(&mut self, unit: &Unit, res: &LinuxResources) -> Result<LinuxResources> {
        let version = self.manager.version();
        let (props, adjusted) = properties::for_resources(res, self.v2, version)?;
        self.manager.set_properties(&unit.name, props)?;
        Ok(adjusted)
    }

    /// Stop the unit and forget it if it failed.
    pub fn stop(&mut self, unit: &Unit) -> Result<()> {
        self.manager.stop(&unit.name)
    }

    /// systemd's InvocationID of the unit now loaded under `unit`'s name, if any.
    pub fn invocation_id(&mut self, unit: &Unit) -> Result<Option<String>> {
        self.manager.invocation_id(&unit.name)
    }

    /// The cgroup path systemd reports for the unit.
    pub fn control_group(&mut self, unit: &Unit) -> Result<String> {
        self.manager.control_group(&unit.name)
    }

    pub fn move_fd_above(&mut self, min: i32) -> Result<()> {
        self.manager.move_fd_above(min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_gets_runcs_base_properties_with_the_pid() {
        let u = Unit::parse(Some("system.slice:hull:c1"), "c1", false).unwrap();
        let p = base_properties(&u, "c1", Some(42), true);
        let names: Vec<&str> = p.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "Description",
                "Slice",
                "Delegate",
                "PIDs",
                "MemoryAccounting",
                "CPUAccounting",
                "IOAccounting",
                "TasksAccounting",
                "DefaultDependencies"
            ]
        );
        assert_eq!(p[1].1, Value::str("system.slice"));
        assert_eq!(p[3].1, Value::array("u", vec![Value::U32(42)]));
        assert_eq!(p[8].1, Value::Bool(false));
        let v1 = base_properties(&u, "c1", Some(42), false);
        assert!(v1.iter().any(|(n, _)| n == "BlockIOAccounting"));
    }

    #[test]
    fn a_slice_unit_wants_its_parent_and_takes_no_pids() {
        let u = Unit::parse(Some("system.slice:x:system-pod.slice"), "c1", false).unwrap();
        let p = base_properties(&u, "c1", Some(42), true);
        assert!(p.iter().any(
            |(n, v)| n == "Wants" && *v == Value::array("s", vec![Value::str("system.slice")])
        ));
        assert!(!p
            .iter()
            .any(|(n, _)| n == "PIDs" || n == "Delegate" || n == "Slice"));
    }

    #[test]
    fn this_host_without_systemd_is_not_available() {
        // The development and CI machines boot without systemd (see host-facts).
        if !std::path::Path::new("/run/systemd/system").exists() {
            assert!(!booted());
            assert!(!available());
        }
    }
}
