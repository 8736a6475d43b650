//! Capability sets from `process.capabilities`: checked against what this host can grant
//! (in the parent, before anything is created) and applied by the init.

use std::collections::HashSet;

use anyhow::{bail, Context, Result};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;

type OciCaps = Option<HashSet<oci_spec::runtime::Capability>>;

/// The five sets in the spec's order, with their field names.
fn sets(c: &LinuxCapabilities) -> [(&'static str, &OciCaps); 5] {
    [
        ("bounding", c.bounding()),
        ("effective", c.effective()),
        ("inheritable", c.inheritable()),
        ("permitted", c.permitted()),
        ("ambient", c.ambient()),
    ]
}

/// Convert a spec capability (serialized as `CAP_X`) to the caps crate's type.
fn convert(c: &oci_spec::runtime::Capability) -> Result<Capability> {
    let name = serde_json::to_value(c)?;
    let name = name.as_str().unwrap_or_default();
    name.parse::<Capability>()
        .map_err(|_| anyhow::anyhow!("{name}: unknown capability"))
}

fn convert_set(field: &str, s: &OciCaps) -> Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for c in s.iter().flatten() {
        out.insert(convert(c).with_context(|| format!("process.capabilities.{field}"))?);
    }
    Ok(out)
}

/// Fail early, naming the capability, when a set asks for one this process cannot grant
/// (absent from our own bounding set, as CAP_SYS_RESOURCE is on some hosts).
pub fn check_available(c: &LinuxCapabilities) -> Result<()> {
    let have = match own_bounding_set() {
        Some(set) => set,
        None => caps::read(None, CapSet::Bounding).context("reading hull's bounding set")?,
    };
    for (field, s) in sets(c) {
        let want = convert_set(field, s)?;
        let mut missing: Vec<String> = want.difference(&have).map(|c| c.to_string()).collect();
        missing.sort();
        if !missing.is_empty() {
            bail!(
                "process.capabilities.{field}: {} not available on this host (not in hull's \
                 bounding set), so the container cannot be given it",
                missing.join(", ")
            );
        }
    }
    Ok(())
}

/// The ambient caps `apply_rest` will skip because they are not both permitted and
/// inheritable (the kernel's rule), in runc's words. runc 1.1's own default config lists
/// ambient caps with no inheritable set at all and callers rely on it working quietly: only
/// a config that does have an inheritable set, where a skipped ambient cap is most likely a
/// mistake, gets the warnings. Said by the runtime before the clone, on its own stderr,
/// not by the container's process on the container's; once, at create (an exec applies the
/// same sets, and its output is the process's).
pub fn ambient_warnings(c: &LinuxCapabilities) -> Result<Vec<String>> {
    let permitted = convert_set("permitted", c.permitted())?;
    let inheritable = convert_set("inheritable", c.inheritable())?;
    if inheritable.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<String> = convert_set("ambient", c.ambient())?
        .into_iter()
        .filter(|cap| !(permitted.contains(cap) && inheritable.contains(cap)))
        .map(|cap| {
            format!(
                "can't raise ambient capability {cap}: it is not in both \
                 process.capabilities.permitted and inheritable"
            )
        })
        .collect();
    out.sort();
    Ok(out)
}

/// This process's bounding set from the CapBnd line of /proc/self/status: one read where
/// `caps::read` makes a PR_CAPBSET_READ per capability (41). None if it cannot be read.
fn own_bounding_set() -> Option<CapsHashSet> {
    let status = crate::kfile::read("/proc/self/status").ok()?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))?
        .trim();
    let mask = u64::from_str_radix(hex, 16).ok()?;
    Some(
        caps::all()
            .into_iter()
            .filter(|c| c.index() < 64 && mask & (1u64 << c.index()) != 0)
            .collect(),
    )
}

/// Drop every capability not in the bounding set. Needs CAP_SETPCAP: call while root.
/// Each drop is tried directly: EINVAL means this kernel does not know the capability, so
/// there is nothing to drop (no PR_CAPBSET_READ probe of all 41 first, as the caps crate's
/// `thread_all_supported` does: 41 syscalls on the init's setup path).
pub fn apply_bounding(c: &LinuxCapabilities) -> Result<()> {
    let keep = convert_set("bounding", c.bounding())?;
    for cap in caps::all().difference(&keep) {
        match crate::sys::prctl::capbset_drop(cap.index()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => {
                return Err(e).with_context(|| format!("dropping {cap} from the bounding set"))
            }
        }
    }
    Ok(())
}

/// Set permitted, inheritable, effective and ambient. Call after the uid switch (with
/// PR_SET_KEEPCAPS set across it).
pub fn apply_rest(c: &LinuxCapabilities) -> Result<()> {
    let permitted = convert_set("permitted", c.permitted())?;
    let effective = convert_set("effective", c.effective())?;
    let inheritable = convert_set("inheritable", c.inheritable())?;
    let ambient = convert_set("ambient", c.ambient())?;
    // Inheritable first, while permitted is still whole: without CAP_SETPCAP the kernel
    // only lets a capability into inheritable if it is permitted (or inheritable) now, so
    // an inheritable cap outside the new permitted set (runc's test: CAP_SYSLOG) failed
    // with EPERM when permitted had been reduced first.
    caps::set(None, CapSet::Inheritable, &inheritable)
        .context("process.capabilities.inheritable: set")?;
    // Effective must stay a subset of permitted while we change permitted.
    caps::set(
        None,
        CapSet::Effective,
        &effective.intersection(&permitted).copied().collect(),
    )
    .context("process.capabilities.effective: set")?;
    caps::set(None, CapSet::Permitted, &permitted)
        .context("process.capabilities.permitted: set")?;
    caps::set(None, CapSet::Effective, &effective)
        .context("process.capabilities.effective: set (must be a subset of permitted)")?;
    caps::clear(None, CapSet::Ambient).context("clearing the ambient set")?;
    // The kernel only lets a capability be ambient if it is permitted and inheritable: the
    // others are skipped, as runc skips them (the runtime warned, see `ambient_warnings`).
    for cap in ambient
        .intersection(&permitted)
        .filter(|c| inheritable.contains(c))
    {
        caps::raise(None, CapSet::Ambient, *cap)
            .with_context(|| format!("process.capabilities.ambient: raise {cap}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bounding_set_from_proc_is_the_one_prctl_reports() {
        let from_proc = own_bounding_set().expect("/proc/self/status has CapBnd");
        let from_prctl = caps::read(None, CapSet::Bounding).unwrap();
        assert_eq!(from_proc, from_prctl);
    }
}
