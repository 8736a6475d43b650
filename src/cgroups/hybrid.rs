//! A controller that a hybrid host offers only on its cgroup2 tree (here: hugetlb, which
//! is not mounted as v1): enabled down the container's cgroup2 path when the config asks
//! for its limits. Only the directories `create` makes are changed, plus the
//! `cgroup.subtree_control` of the existing directory they are made under; if that one
//! does not offer the controller, nothing is touched and the limit fails, naming it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use oci_spec::runtime::LinuxResources;

use super::{fsio, Cgroup, Mode};

/// Before `create`: the existing directory the container's cgroup2 directory will be made
/// under, when `resources` asks for hugetlb limits that only cgroup2 can hold.
pub fn hugetlb_parent(cg: &Cgroup, resources: Option<&LinuxResources>) -> Result<Option<PathBuf>> {
    let wants = resources
        .and_then(|r| r.hugepage_limits().as_ref())
        .is_some_and(|h| !h.is_empty());
    if !wants
        || cg.mode != Mode::Hybrid
        || !cg.driver.is_cgroupfs()
        || cg.v1_dir("hugetlb")?.is_some()
    {
        return Ok(None);
    }
    let Some(dir) = cg.v2_dir()? else {
        return Ok(None);
    };
    Ok(dir
        .ancestors()
        .skip(1)
        .find(|a| a.is_dir())
        .map(Path::to_path_buf))
}

/// After `create`: enable hugetlb from `under` down to the container's parent, so the
/// container's directory has its `hugetlb.<size>.max` files.
pub fn enable_hugetlb(cg: &Cgroup, under: &Path) -> Result<()> {
    let Some(dir) = cg.v2_dir()? else {
        return Ok(());
    };
    let Ok(rel) = dir.strip_prefix(under) else {
        return Ok(());
    };
    let mut cur = under.to_path_buf();
    for c in rel.components() {
        let offered = fsio::read(&cur, "cgroup.controllers")
            .is_ok_and(|s| s.split_whitespace().any(|c| c == "hugetlb"));
        if !offered {
            return Ok(());
        }
        let enabled = fsio::read(&cur, "cgroup.subtree_control")
            .is_ok_and(|s| s.split_whitespace().any(|c| c == "hugetlb"));
        if !enabled {
            fsio::write_raw(&cur, "cgroup.subtree_control", "+hugetlb").with_context(|| {
                format!(
                    "linux.resources.hugepageLimits: enabling the hugetlb controller in {}/cgroup.subtree_control",
                    cur.display()
                )
            })?;
        }
        cur.push(c);
    }
    Ok(())
}
