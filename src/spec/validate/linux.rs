//! Rules for `linux`: namespaces, id mappings, sysctl names, device nodes, masked and
//! read-only paths, rootfs propagation.

use std::collections::HashSet;

use oci_spec::runtime::{Linux, LinuxIdMapping, LinuxNamespaceType};

use super::super::names::PROPAGATIONS;
use super::absolute;

pub fn check(l: &Linux) -> Result<(), String> {
    namespaces(l)?;
    id_mappings(l)?;
    sysctl(l)?;
    devices(l)?;
    for (field, list) in [
        ("linux.maskedPaths", l.masked_paths()),
        ("linux.readonlyPaths", l.readonly_paths()),
    ] {
        for (i, p) in list.as_deref().unwrap_or(&[]).iter().enumerate() {
            absolute(&format!("{field}[{i}]"), p.as_ref())?;
        }
    }
    if let Some(p) = l.rootfs_propagation() {
        if !PROPAGATIONS.contains(&p.as_str()) {
            return Err(format!(
                "linux.rootfsPropagation {p:?} is not a propagation type (expected one of: {})",
                PROPAGATIONS.join(", ")
            ));
        }
    }
    Ok(())
}

fn namespaces(l: &Linux) -> Result<(), String> {
    let mut seen = HashSet::new();
    for (i, ns) in l.namespaces().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(format!(
                "linux.namespaces[{i}].type {:?} is listed more than once",
                crate::namespaces::name(ns.typ())
            ));
        }
        if let Some(p) = ns.path() {
            absolute(&format!("linux.namespaces[{i}].path"), p)?;
        }
    }
    Ok(())
}

/// Mappings are needed exactly when hull creates a user namespace (one with no `path`).
fn id_mappings(l: &Linux) -> Result<(), String> {
    let user = l
        .namespaces()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|ns| ns.typ() == LinuxNamespaceType::User);
    let creates_user_ns = user.is_some_and(|ns| ns.path().is_none());
    for (field, maps) in [
        ("linux.uidMappings", l.uid_mappings()),
        ("linux.gidMappings", l.gid_mappings()),
    ] {
        let maps: &[LinuxIdMapping] = maps.as_deref().unwrap_or(&[]);
        if creates_user_ns && maps.is_empty() {
            return Err(format!(
                "{field} is required when a user namespace is created"
            ));
        }
        if user.is_none() && !maps.is_empty() {
            return Err(format!(
                "{field} is set but linux.namespaces has no user namespace"
            ));
        }
        for (i, m) in maps.iter().enumerate() {
            if m.size() == 0 {
                return Err(format!("{field}[{i}].size must be greater than zero"));
            }
        }
    }
    Ok(())
}

/// Keys are dot- or slash-separated names under /proc/sys, without empty or `..` parts.
fn sysctl(l: &Linux) -> Result<(), String> {
    let Some(map) = l.sysctl() else {
        return Ok(());
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        let bad = key
            .split(['.', '/'])
            .any(|part| part.is_empty() || part == ".." || part.contains(['\0', ' ', '\n']));
        if bad {
            return Err(format!(
                "linux.sysctl key {key:?} is not a sysctl name (dot- or slash-separated, no empty or \"..\" parts)"
            ));
        }
    }
    Ok(())
}

/// Largest device major and minor numbers the kernel can encode (MINORBITS = 20).
const MAX_MAJOR: i64 = (1 << 12) - 1;
const MAX_MINOR: i64 = (1 << 20) - 1;

fn devices(l: &Linux) -> Result<(), String> {
    for (i, d) in l.devices().as_deref().unwrap_or(&[]).iter().enumerate() {
        let field = format!("linux.devices[{i}]");
        if d.path().as_os_str().is_empty() {
            return Err(format!("{field}.path is required"));
        }
        absolute(&format!("{field}.path"), d.path())?;
        // The kernel's dev_t holds a 12-bit major and a 20-bit minor: a larger number
        // cannot name a device (mknod truncates, devices.allow refuses it).
        for (key, n, max) in [
            ("major", d.major(), MAX_MAJOR),
            ("minor", d.minor(), MAX_MINOR),
        ] {
            if n < 0 {
                return Err(format!("{field}.{key} must not be negative (got {n})"));
            }
            if n > max {
                return Err(format!("{field}.{key} {n} is out of range (at most {max})"));
            }
        }
    }
    Ok(())
}
