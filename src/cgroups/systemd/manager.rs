//! systemd's manager (org.freedesktop.systemd1.Manager) over hull's D-Bus client: start a
//! transient unit and wait for its job, stop one, reset a failed one, set properties, and
//! read the version and cgroup paths.
//!
//! Where: as root, systemd's private socket (/run/systemd/private, no bus daemon, no
//! `Hello`), falling back to the system bus; the user's own instance on the session bus for
//! rootless containers. Jobs end with a JobRemoved signal: on a bus hull subscribes with a
//! match on systemd's name, so only systemd's own signals count; on the private socket
//! systemd is the only peer. Calls time out after 25 s (sd-bus's default) and a job wait
//! after 30 s (runc's), so hull never hangs on a stuck systemd.

use super::properties::Props;
use crate::dbus::{address, error_name, Address, Connection, Message, Peer, Value};
use anyhow::{bail, Context, Result};
use std::time::{Duration, Instant};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(25);
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// Error names that mean "there is no such unit (any more)".
const NO_UNIT: &[&str] = &[
    "org.freedesktop.systemd1.NoSuchUnit",
    "org.freedesktop.systemd1.LoadFailed",
];

pub struct Manager {
    conn: Connection,
    /// systemd's unique name on a bus (from its first reply), to vet signals.
    systemd_name: Option<String>,
    version: Option<u32>,
    job_timeout: Duration,
}

impl Manager {
    /// Connect to the system instance (root) or the user's instance (`user`).
    pub fn connect(user: bool) -> Result<Manager> {
        let mut tried = Vec::new();
        let candidates: Vec<(Address, Peer)> = if user {
            address::session_bus()
                .context("--systemd-cgroup (rootless): finding the user's session bus")?
                .into_iter()
                .map(|a| (a, Peer::Bus))
                .collect()
        } else {
            let mut c = Vec::new();
            if nix::unistd::geteuid().is_root() {
                c.push((Address::Path(address::SYSTEMD_PRIVATE.into()), Peer::Direct));
            }
            c.extend(address::system_bus()?.into_iter().map(|a| (a, Peer::Bus)));
            c
        };
        for (addr, peer) in candidates {
            match Connection::open(&addr, peer, CONNECT_TIMEOUT) {
                Ok(mut conn) => {
                    conn.timeout = CALL_TIMEOUT;
                    return Manager::over(conn);
                }
                Err(e) => tried.push(format!("{e:#}")),
            }
        }
        bail!(
            "--systemd-cgroup: cannot reach systemd{}: {}",
            if user { " (user instance)" } else { "" },
            tried.join("; ")
        )
    }

    /// Use an open connection (to systemd, or to a bus where systemd is), subscribing to
    /// job signals.
    pub fn over(mut conn: Connection) -> Result<Manager> {
        if conn.peer() == Peer::Bus {
            conn.call(
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "AddMatch",
                vec![Value::str(&format!(
                    "type='signal',sender='{DEST}',path='{PATH}',interface='{MANAGER}',\
                     member='JobRemoved'"
                ))],
            )
            .context("--systemd-cgroup: subscribing to systemd's job signals")?;
        }
        let mut m = Manager {
            conn,
            systemd_name: None,
            version: None,
            job_timeout: JOB_TIMEOUT,
        };
        // Without a subscriber systemd sends no signals on a bus (a direct connection
        // always gets them; Subscribe is harmless there).
        m.call(MANAGER, "Subscribe", vec![])
            .context("--systemd-cgroup: Subscribe")?;
        Ok(m)
    }

    /// Shorten the job wait (tests).
    pub fn set_job_timeout(&mut self, t: Duration) {
        self.job_timeout = t;
    }

    /// Renumber the socket to at least `min`, clear of fds meant for a container.
    pub fn move_fd_above(&mut self, min: i32) -> Result<()> {
        self.conn.move_fd_above(min)
    }

    fn call(&mut self, interface: &str, member: &str, body: Vec<Value>) -> Result<Vec<Value>> {
        self.call_on(PATH, interface, member, body)
    }

    fn call_on(
        &mut self,
        path: &str,
        interface: &str,
        member: &str,
        body: Vec<Value>,
    ) -> Result<Vec<Value>> {
        let dest = (self.conn.peer() == Peer::Bus).then_some(DEST);
        let t0 = Instant::now();
        let reply = self
            .conn
            .call_message(Message::method_call(dest, path, interface, member, body));
        crate::logging::debug(&format!(
            "systemd: {member} took {} ms{}",
            t0.elapsed().as_millis(),
            if reply.is_ok() { "" } else { " (failed)" }
        ));
        let reply = reply?;
        if self.systemd_name.is_none() {
            self.systemd_name = reply.sender.clone();
        }
        Ok(reply.body)
    }

    /// systemd's version number ("252.22-1~deb12u1" is 252); 0 if unreadable, which
    /// leaves out every property that needs a minimum version.
    pub fn version(&mut self) -> u32 {
        if let Some(v) = self.version {
            return v;
        }
        let v = self
            .property(PATH, MANAGER, "Version")
            .ok()
            .and_then(|v| v.as_str().map(parse_version))
            .unwrap_or(0);
        self.version = Some(v);
        v
    }

    /// A property of the object at `path`.
    pub fn property(&mut self, path: &str, interface: &str, name: &str) -> Result<Value> {
        let body = self.call_on(
            path,
            PROPERTIES,
            "Get",
            vec![Value::str(interface), Value::str(name)],
        )?;
        body.first()
            .map(|v| v.unwrap_variant().clone())
            .with_context(|| format!("systemd: {interface}.{name}: empty reply"))
    }

    /// The cgroup of the manager itself ("/user.slice/user-1000.slice/user@1000.service"
    /// for a user instance).
    pub fn own_control_group(&mut self) -> Result<String> {
        let v = self.property(PATH, MANAGER, "ControlGroup")?;
        v.as_str()
            .map(str::to_string)
            .context("systemd: Manager.ControlGroup is not a string")
    }

    /// The cgroup systemd gave a loaded unit ("/system.slice/hull-c1.scope").
    pub fn control_group(&mut self, unit: &str) -> Result<String> {
        let body = self.call(MANAGER, "GetUnit", vec![Value::str(unit)])?;
        let path = body
            .first()
            .and_then(Value::as_str)
            .context("systemd: GetUnit: no object path")?
            .to_string();
        let iface = if unit.ends_with(".slice") {
            "org.freedesktop.systemd1.Slice"
        } else {
            "org.freedesktop.systemd1.Scope"
        };
        let v = self.property(&path, iface, "ControlGroup")?;
        v.as_str()
            .map(str::to_string)
            .context("systemd: ControlGroup is not a string")
    }

    /// The unit's InvocationID as hex, None when no unit of that name is loaded.
    pub fn invocation_id(&mut self, unit: &str) -> Result<Option<String>> {
        let body = match self.call(MANAGER, "GetUnit", vec![Value::str(unit)]) {
            Err(e) if error_name(&e).is_some_and(|n| NO_UNIT.contains(&n)) => return Ok(None),
            r => r?,
        };
        let path = body
            .first()
            .and_then(Value::as_str)
            .context("systemd: GetUnit: no object path")?
            .to_string();
        let v = self.property(&path, "org.freedesktop.systemd1.Unit", "InvocationID")?;
        let hex: String = v
            .items()
            .unwrap_or_default()
            .iter()
            .filter_map(|b| match b {
                Value::Byte(b) => Some(format!("{b:02x}")),
                _ => None,
            })
            .collect();
        Ok((!hex.is_empty()).then_some(hex))
    }

    /// StartTransientUnit(unit, "replace", props) and wait for its job. A unit of that name
    /// left over in the failed state is reset and the start retried once (runc's rule).
    pub fn start_transient(&mut self, unit: &str, props: Props) -> Result<()> {
        let body = |props: &Props| {
            vec![
                Value::str(unit),
                Value::str("replace"),
                Value::properties(props.clone()),
                Value::array("(sa(sv))", vec![]),
            ]
        };
        let job = match self.call(MANAGER, "StartTransientUnit", body(&props)) {
            Err(e) if error_name(&e) == Some("org.freedesktop.systemd1.UnitExists") => {
                let _ = self.reset_failed(unit);
                self.call(MANAGER, "StartTransientUnit", body(&props))
                    .with_context(|| format!("systemd: a unit named {unit:?} already exists"))?
            }
            r => r?,
        };
        let job = job_path(&job)?;
        match self.wait_job(&job) {
            Ok(r) if r == "done" => Ok(()),
            Ok(r) => {
                let _ = self.reset_failed(unit);
                bail!("systemd: starting {unit}: the job ended with result {r:?}")
            }
            Err(e) => {
                let _ = self.reset_failed(unit);
                Err(e.context(format!("systemd: starting {unit}")))
            }
        }
    }

    /// StopUnit(unit, "replace") and wait for its job, then reset it if it failed. A unit
    /// that no longer exists (a scope goes away with its last process) is fine.
    pub fn stop(&mut self, unit: &str) -> Result<()> {
        match self.call(
            MANAGER,
            "StopUnit",
            vec![Value::str(unit), Value::str("replace")],
        ) {
            Ok(job) => {
                let job = job_path(&job)?;
                let r = self
                    .wait_job(&job)
                    .with_context(|| format!("systemd: stopping {unit}"))?;
                if r != "done" {
                    crate::logging::debug(&format!("systemd: stopping {unit}: job result {r:?}"));
                }
            }
            Err(e) if error_name(&e).is_some_and(|n| NO_UNIT.contains(&n)) => {}
            Err(e) => return Err(e.context(format!("systemd: stopping {unit}"))),
        }
        self.reset_failed(unit)
    }

    /// ResetFailedUnit(unit); no such unit is fine.
    pub fn reset_failed(&mut self, unit: &str) -> Result<()> {
        match self.call(MANAGER, "ResetFailedUnit", vec![Value::str(unit)]) {
            Err(e) if error_name(&e).is_some_and(|n| NO_UNIT.contains(&n)) => Ok(()),
            r => r.map(|_| ()),
        }
    }

    /// SetUnitProperties(unit, runtime=true, props).
    pub fn set_properties(&mut self, unit: &str, props: Props) -> Result<()> {
        if props.is_empty() {
            return Ok(());
        }
        self.call(
            MANAGER,
            "SetUnitProperties",
            vec![
                Value::str(unit),
                Value::Bool(true),
                Value::properties(props),
            ],
        )
        .with_context(|| format!("systemd: setting properties of {unit}"))?;
        Ok(())
    }

    /// The result ("done", "failed", "canceled", "timeout", ...) of job `job`, from its
    /// JobRemoved signal (uoss: id, job, unit, result).
    fn wait_job(&mut self, job: &str) -> Result<String> {
        let deadline = Instant::now() + self.job_timeout;
        let from = self.systemd_name.clone();
        let t0 = Instant::now();
        let sig = self.conn.wait_signal(deadline, |m| {
            m.is_signal(MANAGER, "JobRemoved")
                && (from.is_none() || m.sender == from)
                && m.body.get(1).and_then(Value::as_str) == Some(job)
        })?;
        crate::logging::debug(&format!(
            "systemd: job {job} ended after {} ms",
            t0.elapsed().as_millis()
        ));
        let Some(sig) = sig else {
            bail!(
                "timed out after {} s waiting for systemd's job {job}",
                self.job_timeout.as_secs()
            );
        };
        Ok(sig
            .body
            .get(3)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    }
}

fn job_path(body: &[Value]) -> Result<String> {
    body.first()
        .and_then(Value::as_str)
        .map(str::to_string)
        .context("systemd: the reply carries no job path")
}

/// runc's reading of systemd's Version: strip a leading `"`/`v`, take the leading digits.
pub fn parse_version(s: &str) -> u32 {
    let s = s.trim_start_matches(['"', 'v']);
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::parse_version;

    #[test]
    fn versions_parse_like_runc() {
        assert_eq!(parse_version("252.22-1~deb12u1"), 252);
        assert_eq!(parse_version("\"219\""), 219);
        assert_eq!(parse_version("v245.4-1.fc32"), 245);
        assert_eq!(parse_version("241-1"), 241);
        assert_eq!(parse_version("NaN"), 0);
        assert_eq!(parse_version(""), 0);
    }
}
