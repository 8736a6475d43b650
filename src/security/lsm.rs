//! Linux security module labels: `process.apparmorProfile`, `process.selinuxLabel` and
//! `linux.mountLabel`. Applied when that LSM is enabled; asking for one the host does not
//! have is a clear error up front (a label silently dropped is a weaker container than the
//! caller asked for).

use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Process, Spec};

/// AppArmor is enabled: securityfs shows it and the module says so.
pub fn apparmor_enabled() -> bool {
    Path::new("/sys/kernel/security/apparmor").is_dir()
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.trim() == "Y")
}

/// SELinux is enabled: selinuxfs is mounted.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Refuse labels for an LSM this host does not run (called before anything is created).
pub fn check(spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process().as_ref() {
        check_process(p)?;
    }
    if let Some(l) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref())
    {
        if !l.is_empty() && !selinux_enabled() {
            bail!("linux.mountLabel {l:?}: SELinux is not enabled on this host");
        }
    }
    Ok(())
}

/// Refuse a process's labels for an LSM this host does not run (the init's, or exec's).
pub fn check_process(process: &Process) -> Result<()> {
    if let Some(p) = process.apparmor_profile().as_deref() {
        if !p.is_empty() && !apparmor_enabled() {
            bail!("process.apparmorProfile {p:?}: AppArmor is not enabled on this host");
        }
    }
    if let Some(l) = process.selinux_label().as_deref() {
        if !l.is_empty() && !selinux_enabled() {
            bail!("process.selinuxLabel {l:?}: SELinux is not enabled on this host");
        }
    }
    Ok(())
}

/// Just before execve: set the exec labels the user process gets.
pub fn apply_exec(process: &Process) -> Result<()> {
    if let Some(p) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        write_attr("attr/apparmor/exec", &format!("exec {p}"))
            .or_else(|_| write_attr("attr/exec", &format!("exec {p}")))
            .with_context(|| format!("process.apparmorProfile {p:?}"))?;
    }
    if let Some(l) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        write_attr("attr/exec", l).with_context(|| format!("process.selinuxLabel {l:?}"))?;
    }
    Ok(())
}

/// Write `/proc/thread-self/<attr>` through hull's procfs handle (crate::procfs).
fn write_attr(attr: &str, value: &str) -> Result<()> {
    let path = format!("/proc/thread-self/{attr}");
    let f = crate::procfs::get()?
        .open_thread_self(attr, libc::O_WRONLY)
        .with_context(|| format!("open {path}"))?;
    crate::procfs::write(f, value).with_context(|| format!("write {path}"))
}
