//! The unit a container gets under `--systemd-cgroup`, from `linux.cgroupsPath` by runc's
//! rules: "slice:prefix:name" gives the scope `prefix-name.scope` in `slice` (or, when the
//! name ends in ".slice", that slice unit itself); an empty cgroupsPath gives
//! `runc-<id>.scope` in system.slice (user.slice when rootless), runc's defaults, so tools
//! that know runc's unit names find hull's. An empty slice part means the default slice.
//!
//! Stricter than runc where runc would only fail later inside systemd: the name part must
//! not be empty, and the unit name must use systemd's characters (`A-Za-z0-9:_.\@-`, at
//! most 255 bytes), so the error names `linux.cgroupsPath` instead of a D-Bus call.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// runc's unit prefix for an empty cgroupsPath.
pub const DEFAULT_PREFIX: &str = "runc";
/// The parent slice for an empty slice part: rootful, rootless.
pub const SYSTEM_SLICE: &str = "system.slice";
pub const USER_SLICE: &str = "user.slice";
/// systemd's longest unit name.
const UNIT_NAME_MAX: usize = 255;

/// The transient unit hull asked systemd for; recorded in state.json so `delete` stops it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// "hull-c1.scope", or "x-y.slice" for a slice unit.
    pub name: String,
    /// The parent slice ("system.slice"): the scope's Slice=, a slice unit's Wants=.
    pub slice: String,
    /// Whether the unit belongs to the user's own systemd instance (rootless).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub user: bool,
    /// systemd's InvocationID of the unit hull started (hex), so `delete` can tell it from
    /// a later unit that took the same name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invocation: Option<String>,
}

impl Unit {
    /// The unit for `cgroups_path` (None or "" for runc's default) and container `id`.
    pub fn parse(cgroups_path: Option<&str>, id: &str, rootless: bool) -> Result<Unit> {
        let default_slice = if rootless { USER_SLICE } else { SYSTEM_SLICE };
        let raw = cgroups_path.unwrap_or_default();
        let (slice, prefix, name) = if raw.is_empty() {
            (default_slice, DEFAULT_PREFIX, id)
        } else {
            match raw.split(':').collect::<Vec<_>>()[..] {
                [s, p, n] => (if s.is_empty() { default_slice } else { s }, p, n),
                _ => bail!(
                    "linux.cgroupsPath {raw:?}: with --systemd-cgroup, expected \
                     \"slice:prefix:name\" (e.g. \"system.slice:hull:{id}\")"
                ),
            }
        };
        if let Err(why) = expand_slice(slice) {
            bail!("linux.cgroupsPath {raw:?}: slice {slice:?}: {why}");
        }
        if name.is_empty() {
            bail!("linux.cgroupsPath {raw:?}: the name part (after the second ':') is empty");
        }
        let unit = if name.ends_with(".slice") {
            if let Err(why) = expand_slice(name) {
                bail!("linux.cgroupsPath {raw:?}: slice unit {name:?}: {why}");
            }
            name.to_string()
        } else {
            format!("{prefix}-{name}.scope")
        };
        check_unit_name(&unit).map_err(|why| {
            anyhow::anyhow!("linux.cgroupsPath {raw:?}: unit name {unit:?}: {why}")
        })?;
        Ok(Unit {
            name: unit,
            slice: slice.to_string(),
            user: rootless,
            invocation: None,
        })
    }

    /// Whether the unit is a slice (it holds the container's processes directly) rather
    /// than a scope.
    pub fn is_slice(&self) -> bool {
        self.name.ends_with(".slice")
    }

    /// The unit's cgroup below its manager's root: a scope sits in its expanded slice
    /// ("/system.slice/hull-c1.scope"); a slice unit where its own name puts it
    /// ("a-b.slice" is "/a.slice/a-b.slice"), as systemd places slices by name.
    pub fn cgroup_path(&self) -> String {
        let expanded = |s: &str| expand_slice(s).unwrap_or_else(|_| format!("/{s}"));
        if self.is_slice() {
            return expanded(&self.name);
        }
        let parent = expanded(&self.slice);
        format!("{}/{}", parent.trim_end_matches('/'), self.name)
    }
}

/// systemd's slice naming as a path: "a-b-c.slice" is "/a.slice/a-b.slice/a-b-c.slice" and
/// "-.slice" is "/" (runc's ExpandSlice rules: must end in ".slice", no "/", no empty
/// dash-separated part).
pub fn expand_slice(slice: &str) -> std::result::Result<String, &'static str> {
    let Some(base) = slice.strip_suffix(".slice") else {
        return Err("not a slice name (must end in \".slice\")");
    };
    if slice.contains('/') {
        return Err("a slice name must not contain \"/\"");
    }
    if base == "-" {
        return Ok("/".to_string());
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in base.split('-') {
        if part.is_empty() {
            return Err("empty part between dashes (like \"a--b.slice\" or \"-a.slice\")");
        }
        path.push('/');
        path.push_str(&prefix);
        path.push_str(part);
        path.push_str(".slice");
        prefix.push_str(part);
        prefix.push('-');
    }
    Ok(path)
}

/// systemd's unit name alphabet and length.
fn check_unit_name(unit: &str) -> std::result::Result<(), String> {
    if unit.len() > UNIT_NAME_MAX {
        return Err(format!("longer than {UNIT_NAME_MAX} bytes"));
    }
    if let Some(c) = unit
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ":_.\\@-".contains(*c)))
    {
        return Err(format!(
            "{c:?} is not allowed in systemd unit names (use A-Z a-z 0-9 : _ . \\ @ -)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_expand_like_systemd_and_runc() {
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(
            expand_slice("machine-hull.slice").unwrap(),
            "/machine.slice/machine-hull.slice"
        );
        for bad in [
            "",
            ".slice",
            "system",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            "a/b.slice",
            "slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn slice_prefix_name_gives_a_scope_in_the_slice() {
        let u = Unit::parse(Some("system.slice:hull:c1"), "c1", false).unwrap();
        assert_eq!(u.name, "hull-c1.scope");
        assert_eq!(u.slice, "system.slice");
        assert!(!u.is_slice());
        assert_eq!(u.cgroup_path(), "/system.slice/hull-c1.scope");
        let u = Unit::parse(Some("machine-pods.slice:crio:abc"), "x", false).unwrap();
        assert_eq!(
            u.cgroup_path(),
            "/machine.slice/machine-pods.slice/crio-abc.scope"
        );
        let u = Unit::parse(Some("-.slice:p:n"), "x", false).unwrap();
        assert_eq!(u.cgroup_path(), "/p-n.scope");
    }

    #[test]
    fn empty_path_and_empty_slice_give_runcs_defaults() {
        let u = Unit::parse(None, "c9", false).unwrap();
        assert_eq!(
            (u.name.as_str(), u.slice.as_str()),
            ("runc-c9.scope", "system.slice")
        );
        assert_eq!(u, Unit::parse(Some(""), "c9", false).unwrap());
        let u = Unit::parse(None, "c9", true).unwrap();
        assert_eq!(u.slice, "user.slice");
        assert!(u.user);
        let u = Unit::parse(Some(":docker:42"), "c9", false).unwrap();
        assert_eq!(u.cgroup_path(), "/system.slice/docker-42.scope");
    }

    #[test]
    fn a_name_ending_in_slice_is_a_slice_unit_placed_by_its_own_name() {
        let u = Unit::parse(Some("system.slice:ignored:system-pod1.slice"), "c", false).unwrap();
        assert_eq!(u.name, "system-pod1.slice");
        assert!(u.is_slice());
        assert_eq!(u.cgroup_path(), "/system.slice/system-pod1.slice");
        assert!(Unit::parse(Some("system.slice:p:a--b.slice"), "c", false).is_err());
    }

    #[test]
    fn malformed_paths_are_refused_naming_the_field() {
        let e = Unit::parse(Some("foo"), "c1", false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "linux.cgroupsPath \"foo\": with --systemd-cgroup, expected \"slice:prefix:name\" \
             (e.g. \"system.slice:hull:c1\")"
        );
        assert!(Unit::parse(Some("/a/b"), "c1", false).is_err());
        assert!(Unit::parse(Some("a:b:c:d"), "c1", false).is_err());
        let e = Unit::parse(Some("system:p:n"), "c1", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("slice \"system\"") && e.contains(".slice"),
            "{e}"
        );
        let e = Unit::parse(Some("system.slice:p:"), "c1", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("name part"), "{e}");
        let e = Unit::parse(Some("system.slice:p:a/b"), "c1", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'/' is not allowed"), "{e}");
        let long = "x".repeat(300);
        assert!(Unit::parse(Some(&format!("system.slice:p:{long}")), "c1", false).is_err());
    }

    #[test]
    fn unit_round_trips_through_json_and_omits_user_when_false() {
        let u = Unit::parse(Some("system.slice:hull:c1"), "c1", false).unwrap();
        let j = serde_json::to_string(&u).unwrap();
        assert_eq!(j, r#"{"name":"hull-c1.scope","slice":"system.slice"}"#);
        assert_eq!(serde_json::from_str::<Unit>(&j).unwrap(), u);
    }
}
