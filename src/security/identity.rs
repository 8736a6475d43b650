//! The user process's identity: supplementary groups, gid, uid and umask.

use anyhow::{Context, Result};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::User;

/// Switch to `process.user`. With `setgroups_allowed` false (a user namespace whose
/// setgroups is denied) supplementary groups are left alone.
pub fn switch(user: &User, setgroups_allowed: bool) -> Result<()> {
    if setgroups_allowed {
        let groups: Vec<Gid> = user
            .additional_gids()
            .iter()
            .flatten()
            .map(|g| Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups).with_context(|| {
            format!(
                "process.user.additionalGids {:?}: setgroups",
                user.additional_gids()
            )
        })?;
    }
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid)
        .with_context(|| format!("process.user.gid {}: setresgid", user.gid()))?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid)
        .with_context(|| format!("process.user.uid {}: setresuid", user.uid()))?;
    Ok(())
}

/// `process.user.umask`, runc's default 0022 when absent.
pub fn set_umask(user: &User) {
    let mask = user.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
}
