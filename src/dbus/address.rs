//! Bus addresses: `unix:path=...` and `unix:abstract=...` entries (several may be listed,
//! separated by `;`, values %-escaped), and where the system and session buses and
//! systemd's private socket live.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// systemd's own socket: the manager answers there directly, without a bus daemon (root
/// only).
pub const SYSTEMD_PRIVATE: &str = "/run/systemd/private";
/// The system bus when $DBUS_SYSTEM_BUS_ADDRESS is unset (/var/run is /run on Debian).
pub const SYSTEM_BUS_DEFAULT: &str = "/run/dbus/system_bus_socket";

/// A socket to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Path(PathBuf),
    Abstract(Vec<u8>),
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Path(p) => write!(f, "{}", p.display()),
            Address::Abstract(a) => write!(f, "@{}", String::from_utf8_lossy(a)),
        }
    }
}

/// Every usable entry of a D-Bus address string, in order. Transports other than unix
/// sockets (tcp, launchd, ...) are skipped; an address with none left is an error.
pub fn parse(text: &str) -> Result<Vec<Address>> {
    let mut out = Vec::new();
    for entry in text.split(';').filter(|e| !e.is_empty()) {
        let Some(("unix", params)) = entry.split_once(':') else {
            continue;
        };
        for kv in params.split(',') {
            let Some((k, v)) = kv.split_once('=') else {
                bail!("D-Bus address {text:?}: {kv:?} is not key=value");
            };
            let v = unescape(v).with_context(|| format!("D-Bus address {text:?}"))?;
            match k {
                "path" => out.push(Address::Path(PathBuf::from(
                    String::from_utf8(v).context("D-Bus address: path is not UTF-8")?,
                ))),
                "abstract" => out.push(Address::Abstract(v)),
                _ => {}
            }
        }
    }
    if out.is_empty() {
        bail!("D-Bus address {text:?}: no unix:path= or unix:abstract= entry");
    }
    Ok(out)
}

/// Undo %XX escaping.
fn unescape(v: &str) -> Result<Vec<u8>> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = v.get(i + 1..i + 3).context("truncated %-escape")?;
            out.push(u8::from_str_radix(hex, 16).context("bad %-escape")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// The system bus: $DBUS_SYSTEM_BUS_ADDRESS, else the well-known socket.
pub fn system_bus() -> Result<Vec<Address>> {
    match std::env::var("DBUS_SYSTEM_BUS_ADDRESS") {
        Ok(a) if !a.is_empty() => parse(&a).context("$DBUS_SYSTEM_BUS_ADDRESS"),
        _ => Ok(vec![Address::Path(SYSTEM_BUS_DEFAULT.into())]),
    }
}

/// The calling user's session bus: $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus.
pub fn session_bus() -> Result<Vec<Address>> {
    if let Ok(a) = std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        if !a.is_empty() {
            return parse(&a).context("$DBUS_SESSION_BUS_ADDRESS");
        }
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(d) => Ok(vec![Address::Path(PathBuf::from(d).join("bus"))]),
        None => {
            bail!("no session bus: neither $DBUS_SESSION_BUS_ADDRESS nor $XDG_RUNTIME_DIR is set")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_entries_are_kept_in_order_and_unescaped() {
        let a = parse("tcp:host=x,port=1;unix:path=/run/a%20b/bus,guid=00;unix:abstract=x%2fy")
            .unwrap();
        assert_eq!(
            a,
            [
                Address::Path("/run/a b/bus".into()),
                Address::Abstract(b"x/y".to_vec())
            ]
        );
        assert_eq!(a[1].to_string(), "@x/y");
    }

    #[test]
    fn addresses_without_a_unix_socket_are_refused() {
        assert!(parse("tcp:host=localhost,port=1").is_err());
        assert!(parse("").is_err());
        assert!(parse("unix:path=/a%2").is_err());
        assert!(parse("unix:path").is_err());
    }
}
