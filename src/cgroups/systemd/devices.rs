//! The container's device rules as systemd's DevicePolicy and DeviceAllow (runc's
//! conversion). Without them systemd would apply its own default to the unit whenever it
//! re-applies the cgroup settings (on v1 it writes "a" to devices.allow), undoing hull's
//! allow-list. hull still writes its own rules afterwards (v1 files, v2 BPF program); these
//! properties only keep systemd in agreement.
//!
//! The rules are first reduced the way the v1 kernel controller keeps them: an "a" rule
//! resets to allow-all or deny-all; in deny-all mode an allow rule adds access to an
//! exact (type, major, minor) entry and a deny rule removes access from the exact same
//! entry. systemd knows only allow-lists, so:
//! - deny-all + entries: DevicePolicy=strict with one DeviceAllow per entry:
//!   "char-*"/"block-*" for *:*, "char-MAJOR" for MAJOR:* (systemd >= 240),
//!   "/dev/char/MAJOR:MINOR" for a concrete device; "*:MINOR" cannot be said and is left
//!   to hull's own rules;
//! - allow-all with no deny: DevicePolicy=auto, no DeviceAllow (systemd allows all);
//! - allow-all with denies (a block-list): on v2 also auto, since hull's BPF program
//!   enforces the denies and systemd's own program could only allow-list; on v1 strict
//!   with an empty list (runc's choice: systemd can then only be stricter than hull).

use crate::dbus::Value;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

/// systemd version that parses "/dev/char/M:m" and "char-M" without looking at /dev.
const SD_DEVICE_SYNTAX: u32 = 240;

/// One kept entry: block or char, major/minor (None = any), access bits "rwm".
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    block: bool,
    major: Option<i64>,
    minor: Option<i64>,
    access: [bool; 3],
}

/// The reduced rule set: the default, and the exceptions to it.
fn reduce(rules: &[LinuxDeviceCgroup]) -> (bool, Vec<Entry>) {
    let mut default_allow = false;
    let mut entries: Vec<Entry> = Vec::new();
    for r in rules {
        let typ = r.typ().unwrap_or(LinuxDeviceType::A);
        if typ == LinuxDeviceType::A {
            default_allow = r.allow();
            entries.clear();
            continue;
        }
        let access = crate::cgroups::devices::access(r.access().as_deref());
        let bits = ['r', 'w', 'm'].map(|c| access.contains(c));
        let key = Entry {
            block: typ == LinuxDeviceType::B,
            major: r.major().filter(|m| *m >= 0),
            minor: r.minor().filter(|m| *m >= 0),
            access: [false; 3],
        };
        let same = |e: &Entry| e.block == key.block && e.major == key.major && e.minor == key.minor;
        // An exception adds access when it differs from the default, removes it otherwise.
        let adds = r.allow() != default_allow;
        match entries.iter_mut().find(|e| same(e)) {
            Some(e) => {
                for (bit, on) in e.access.iter_mut().zip(bits) {
                    if on {
                        *bit = adds;
                    }
                }
            }
            None if adds => entries.push(Entry {
                access: bits,
                ..key
            }),
            None => {}
        }
        entries.retain(|e| e.access.iter().any(|b| *b));
    }
    (default_allow, entries)
}

/// DeviceAllow's path for an entry, if systemd can express it.
fn allow_path(e: &Entry, version: u32) -> Option<String> {
    let kind = if e.block { "block" } else { "char" };
    match (e.major, e.minor) {
        (None, None) => Some(format!("{kind}-*")),
        (None, Some(_)) => None,
        (Some(maj), None) => (version >= SD_DEVICE_SYNTAX).then(|| format!("{kind}-{maj}")),
        (Some(maj), Some(min)) => {
            let p = format!("/dev/{kind}/{maj}:{min}");
            // Older systemd stats the path and skips what does not exist anyway.
            (version >= SD_DEVICE_SYNTAX || std::path::Path::new(&p).exists()).then_some(p)
        }
    }
}

/// DeviceAllow (cleared first, so a set on a running unit replaces its list) and
/// DevicePolicy for `rules`.
pub fn device_properties(
    rules: &[LinuxDeviceCgroup],
    v2: bool,
    version: u32,
) -> Vec<(String, Value)> {
    let list = |items: Vec<Value>| Value::array("(ss)", items);
    let (default_allow, entries) = reduce(rules);
    let mut out = vec![("DeviceAllow".to_string(), list(vec![]))];
    if default_allow && (entries.is_empty() || v2) {
        out.push(("DevicePolicy".into(), Value::str("auto")));
        return out;
    }
    out.push(("DevicePolicy".into(), Value::str("strict")));
    if default_allow {
        return out;
    }
    let allowed: Vec<Value> = entries
        .iter()
        .filter_map(|e| {
            let perms: String = ['r', 'w', 'm']
                .iter()
                .zip(e.access)
                .filter(|(_, on)| *on)
                .map(|(c, _)| *c)
                .collect();
            allow_path(e, version).map(|p| Value::Struct(vec![Value::Str(p), Value::Str(perms)]))
        })
        .collect();
    out.push(("DeviceAllow".into(), list(allowed)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices::container_rules;

    fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    fn allow_list(p: &[(String, Value)]) -> Vec<(String, String)> {
        let last = p.iter().rev().find(|(n, _)| n == "DeviceAllow").unwrap();
        last.1
            .items()
            .unwrap()
            .iter()
            .map(|v| match v {
                Value::Struct(f) => (
                    f[0].as_str().unwrap().to_string(),
                    f[1].as_str().unwrap().to_string(),
                ),
                _ => panic!("{v:?}"),
            })
            .collect()
    }

    fn policy(p: &[(String, Value)]) -> &str {
        p.iter()
            .find(|(n, _)| n == "DevicePolicy")
            .unwrap()
            .1
            .as_str()
            .unwrap()
    }

    #[test]
    fn runcs_default_rules_become_a_strict_allow_list() {
        let spec = rules(r#"[{"allow":false,"access":"rwm"}]"#);
        let p = device_properties(&container_rules(&spec), true, 252);
        assert_eq!(p[0].0, "DeviceAllow");
        assert_eq!(
            p[0].1.items().unwrap().len(),
            0,
            "the list is cleared first"
        );
        assert_eq!(policy(&p), "strict");
        let want: Vec<(String, String)> = [
            ("char-*", "m"),
            ("block-*", "m"),
            ("/dev/char/1:3", "rwm"),
            ("/dev/char/1:8", "rwm"),
            ("/dev/char/1:7", "rwm"),
            ("/dev/char/5:0", "rwm"),
            ("/dev/char/1:5", "rwm"),
            ("/dev/char/1:9", "rwm"),
            ("/dev/char/5:1", "rwm"),
            ("char-136", "rwm"),
            ("/dev/char/5:2", "rwm"),
            ("/dev/char/10:200", "rwm"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(allow_list(&p), want);
    }

    #[test]
    fn a_deny_removes_access_from_the_same_entry_only() {
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":false,"type":"c","major":1,"minor":3,"access":"w"},
                {"allow":true,"type":"b","major":8,"minor":0,"access":"r"},
                {"allow":false,"type":"b","major":8,"minor":0,"access":"r"},
                {"allow":false,"type":"c","access":"rwm"}]"#,
        );
        let p = device_properties(&r, true, 252);
        assert_eq!(
            allow_list(&p),
            [("/dev/char/1:3".to_string(), "rm".to_string())]
        );
    }

    #[test]
    fn allow_all_gives_policy_auto_and_a_block_list_depends_on_the_version_of_cgroups() {
        let all = rules(r#"[{"allow":true,"access":"rwm"}]"#);
        let p = device_properties(&all, false, 252);
        assert_eq!(policy(&p), "auto");
        assert_eq!(p.len(), 2);
        let block_list = rules(
            r#"[{"allow":true,"access":"rwm"},
                {"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}]"#,
        );
        assert_eq!(policy(&device_properties(&block_list, true, 252)), "auto");
        let v1 = device_properties(&block_list, false, 252);
        assert_eq!(policy(&v1), "strict");
        assert!(allow_list(&v1).is_empty());
    }

    #[test]
    fn wildcard_major_and_old_systemd_entries_are_left_out() {
        let r = rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","minor":3,"access":"r"},
                {"allow":true,"type":"c","major":136,"access":"rw"}]"#,
        );
        assert_eq!(
            allow_list(&device_properties(&r, true, 252)),
            [("char-136".to_string(), "rw".to_string())]
        );
        assert!(allow_list(&device_properties(&r, true, 239)).is_empty());
    }
}
