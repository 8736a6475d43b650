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

/// The home directory of `uid` in the container's `/etc/passwd` (read from inside the
/// container), "/" when there is no entry or no readable file, as runc defaults it.
pub fn home_of(uid: u32) -> String {
    passwd_text()
        .and_then(|t| home_in(&t, uid))
        .unwrap_or_else(|| "/".to_string())
}

/// The container's /etc/passwd: a regular file (O_NONBLOCK: a FIFO planted there must not
/// hang the process set-up), at most 4 MiB.
fn passwd_text() -> Option<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/etc/passwd")
        .ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    f.take(4 << 20).read_to_string(&mut text).ok()?;
    Some(text)
}

/// `name:password:uid:gid:gecos:home:shell` lines: the home of the first line for `uid`.
fn home_in(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_comes_from_the_first_entry_of_the_uid() {
        let p = "root:x:0:0:root:/root:/bin/sh\n# comment\nbad line\n\
                 u:x:1000:1000::/home/u:/bin/sh\nv:x:1000:1::/other:/bin/sh\n";
        assert_eq!(home_in(p, 0).as_deref(), Some("/root"));
        assert_eq!(home_in(p, 1000).as_deref(), Some("/home/u"));
        assert_eq!(home_in(p, 5), None);
    }
}
