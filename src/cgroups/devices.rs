//! The device allow-list: `linux.resources.devices` written to the v1 devices controller
//! (deny everything first, then each rule in order, as runc does), and the rules runc adds
//! on top of the spec's (its default allowed devices).
//!
//! cgroup v2 has no devices files: there the same rule list is compiled into a
//! BPF_CGROUP_DEVICE program (see `bpf_devices`).

use super::fsio;
use anyhow::Result;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::path::Path;

/// One rule as the v1 controller reads it: "c 1:3 rwm", "b *:* m", or "a" for all devices.
pub fn rule_line(r: &LinuxDeviceCgroup) -> String {
    let typ = r.typ().unwrap_or(LinuxDeviceType::A);
    if typ == LinuxDeviceType::A {
        return "a".to_string();
    }
    let num = |n: Option<i64>| {
        n.filter(|n| *n >= 0)
            .map_or("*".to_string(), |n| n.to_string())
    };
    let access = access(r.access().as_deref());
    // The v1 controller knows b, c and a; an unbuffered char device ("u") is a char device.
    let typ = match typ {
        LinuxDeviceType::B => "b",
        _ => "c",
    };
    format!("{typ} {}:{} {access}", num(r.major()), num(r.minor()))
}

/// A rule's access reduced to what the controller knows, r, w and m, each once and in that
/// order ("rwa" -> "rw", "mr" -> "rm"), as runc reduces it; none given means all three.
/// The kernel refuses a rule with any other letter, which failed the whole create.
pub fn access(given: Option<&str>) -> String {
    let given = given.unwrap_or("");
    let out: String = ['r', 'w', 'm']
        .into_iter()
        .filter(|c| given.contains(*c))
        .collect();
    if out.is_empty() {
        "rwm".to_string()
    } else {
        out
    }
}

/// Replace the cgroup's allow-list with exactly `rules`.
pub fn apply_v1(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<()> {
    // Two open files, one write per rule (15 rules with runc's defaults: 30 syscalls fewer
    // than an open and close around each).
    let mut deny = fsio::Writer::open(dir, "devices.deny")?;
    let mut allow = fsio::Writer::open(dir, "devices.allow")?;
    deny.write("a")?;
    for r in rules {
        let file = if r.allow() { &mut allow } else { &mut deny };
        file.write(&rule_line(r))?;
    }
    Ok(())
}

fn rule(
    typ: LinuxDeviceType,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> LinuxDeviceCgroup {
    let mut r = LinuxDeviceCgroup::default();
    r.set_allow(true);
    r.set_typ(Some(typ));
    r.set_major(major);
    r.set_minor(minor);
    r.set_access(Some(access.to_string()));
    r
}

/// The devices runc always allows after the spec's own rules: mknod of any char or block
/// device, /dev/null, random, full, tty, zero, urandom, console, pts/*, ptmx and net/tun.
pub fn runc_default_rules() -> Vec<LinuxDeviceCgroup> {
    use LinuxDeviceType::{B, C};
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),
        rule(C, Some(1), Some(8), "rwm"),
        rule(C, Some(1), Some(7), "rwm"),
        rule(C, Some(5), Some(0), "rwm"),
        rule(C, Some(1), Some(5), "rwm"),
        rule(C, Some(1), Some(9), "rwm"),
        rule(C, Some(5), Some(1), "rwm"),
        rule(C, Some(136), None, "rwm"),
        rule(C, Some(5), Some(2), "rwm"),
        rule(C, Some(10), Some(200), "rwm"),
    ]
}

/// The full rule list runc writes for a container: the spec's rules, then its defaults.
/// A `linux.devices` node gets no rule of its own: what `linux.resources.devices` denies
/// stays denied even for a node the container has (runc >= 1.0 does the same; a node the
/// container should use needs an allow rule in the spec).
pub fn container_rules(spec: &[LinuxDeviceCgroup]) -> Vec<LinuxDeviceCgroup> {
    let mut out = spec.to_vec();
    out.extend(runc_default_rules());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_render_as_the_v1_controller_reads_them() {
        let mut deny_all = LinuxDeviceCgroup::default();
        deny_all.set_access(Some("rwm".into()));
        assert_eq!(rule_line(&deny_all), "a");
        assert_eq!(
            rule_line(&rule(LinuxDeviceType::C, Some(1), Some(3), "rw")),
            "c 1:3 rw"
        );
        assert_eq!(
            rule_line(&rule(LinuxDeviceType::B, None, None, "m")),
            "b *:* m"
        );
        assert_eq!(
            rule_line(&rule(LinuxDeviceType::C, Some(136), None, "")),
            "c 136:* rwm"
        );
        assert_eq!(
            rule_line(&rule(LinuxDeviceType::C, Some(1), Some(11), "rwa")),
            "c 1:11 rw"
        );
        assert_eq!(
            rule_line(&rule(LinuxDeviceType::C, Some(1), Some(11), "mmr")),
            "c 1:11 rm"
        );
    }

    #[test]
    fn apply_denies_everything_before_the_rules() {
        let d = std::env::temp_dir().join(format!("hull-devrules-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("devices.deny"), "").unwrap();
        std::fs::write(d.join("devices.allow"), "").unwrap();
        apply_v1(&d, &[rule(LinuxDeviceType::C, Some(1), Some(3), "rwm")]).unwrap();
        let deny = std::fs::read_to_string(d.join("devices.deny")).unwrap();
        let allow = std::fs::read_to_string(d.join("devices.allow")).unwrap();
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!((deny.as_str(), allow.as_str()), ("a", "c 1:3 rwm"));
    }
}
