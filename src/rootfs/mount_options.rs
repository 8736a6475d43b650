//! fstab-style mount options (`mounts[].options`) parsed into what the mount API needs:
//! per-mount attribute changes (top mount and recursive), propagation changes, the bind
//! flags, and the rest as filesystem parameters (the "data string").

use anyhow::{bail, Result};

use crate::sys::mount_api::{
    MOUNT_ATTR_ATIME_MASK, MOUNT_ATTR_NOATIME, MOUNT_ATTR_NODEV, MOUNT_ATTR_NODIRATIME,
    MOUNT_ATTR_NOEXEC, MOUNT_ATTR_NOSUID, MOUNT_ATTR_NOSYMFOLLOW, MOUNT_ATTR_RDONLY,
    MOUNT_ATTR_RELATIME, MOUNT_ATTR_STRICTATIME,
};

/// Attribute bits to set and to clear on a mount (`struct mount_attr` semantics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AttrChange {
    pub set: u64,
    pub clr: u64,
}

impl AttrChange {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clr == 0
    }

    fn apply(&mut self, set: u64, clr: u64) {
        self.set = (self.set & !clr) | set;
        self.clr = (self.clr & !set) | clr;
    }
}

/// One propagation change: an MS_* propagation flag, optionally for the whole tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Propagation {
    pub flag: u64,
    pub recursive: bool,
}

/// A parsed `options` list.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// `bind` or `rbind` was given.
    pub bind: bool,
    /// `rbind`: copy the whole tree under the source.
    pub recursive: bool,
    /// Changes to the top mount (`ro`, `nosuid`, `relatime`, ...).
    pub attrs: AttrChange,
    /// Changes to every mount of the tree (`rro`, `rnosuid`, ...).
    pub rec_attrs: AttrChange,
    /// Propagation changes in the order given.
    pub propagation: Vec<Propagation>,
    /// Filesystem parameters: `key=value` or a bare flag such as `newinstance`.
    pub data: Vec<(String, Option<String>)>,
    /// `tmpcopyup`: a tmpfs starts with the contents of the directory it covers.
    pub tmpcopyup: bool,
    /// `idmap` / `ridmap` (recursive): the bind carries the mount's uid/gid mappings.
    pub idmap: bool,
    pub ridmap: bool,
    /// The per-mount flags as runc records them for a bind: MS_* flags asked set, and
    /// asked cleared (`rw`, `dev`, `atime`, ...); see `bind_change`.
    pub ms_set: u64,
    pub ms_clr: u64,
}

/// What an attribute option does: (bits to set, bits to clear).
fn attr_effect(name: &str) -> Option<(u64, u64)> {
    let atime = |mode: u64| (mode, MOUNT_ATTR_ATIME_MASK);
    Some(match name {
        "ro" => (MOUNT_ATTR_RDONLY, 0),
        "rw" => (0, MOUNT_ATTR_RDONLY),
        "nosuid" => (MOUNT_ATTR_NOSUID, 0),
        "suid" => (0, MOUNT_ATTR_NOSUID),
        "nodev" => (MOUNT_ATTR_NODEV, 0),
        "dev" => (0, MOUNT_ATTR_NODEV),
        "noexec" => (MOUNT_ATTR_NOEXEC, 0),
        "exec" => (0, MOUNT_ATTR_NOEXEC),
        "relatime" | "nostrictatime" | "atime" => atime(MOUNT_ATTR_RELATIME),
        "norelatime" | "strictatime" => atime(MOUNT_ATTR_STRICTATIME),
        "noatime" => atime(MOUNT_ATTR_NOATIME),
        "nodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
        "diratime" => (0, MOUNT_ATTR_NODIRATIME),
        "nosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
        "symfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    })
}

/// A per-mount flag option as runc reads it: (cleared, MS_* flag).
fn ms_effect(name: &str) -> Option<(bool, u64)> {
    let (clear, flag) = match name {
        "ro" => (false, libc::MS_RDONLY),
        "rw" => (true, libc::MS_RDONLY),
        "nosuid" => (false, libc::MS_NOSUID),
        "suid" => (true, libc::MS_NOSUID),
        "nodev" => (false, libc::MS_NODEV),
        "dev" => (true, libc::MS_NODEV),
        "noexec" => (false, libc::MS_NOEXEC),
        "exec" => (true, libc::MS_NOEXEC),
        "noatime" => (false, libc::MS_NOATIME),
        "atime" => (true, libc::MS_NOATIME),
        "nodiratime" => (false, libc::MS_NODIRATIME),
        "diratime" => (true, libc::MS_NODIRATIME),
        "relatime" => (false, libc::MS_RELATIME),
        "norelatime" => (true, libc::MS_RELATIME),
        "strictatime" => (false, libc::MS_STRICTATIME),
        "nostrictatime" => (true, libc::MS_STRICTATIME),
        "nosymfollow" => (false, libc::MS_NOSYMFOLLOW),
        "symfollow" => (true, libc::MS_NOSYMFOLLOW),
        _ => return None,
    };
    Some((clear, flag))
}

/// MS_* atime flags (the mode and nodiratime).
pub const MS_ATIME: u64 =
    libc::MS_NOATIME | libc::MS_NODIRATIME | libc::MS_RELATIME | libc::MS_STRICTATIME;

/// Flags the kernel locks on mounts copied into a less privileged mount namespace
/// (MNT_LOCK_*): a container in a user namespace cannot clear them on its binds.
pub const MS_LOCKABLE: u64 =
    libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC | MS_ATIME;

/// What `mount(MS_BIND|MS_REMOUNT|ms)` does to a mount, as a mount_setattr change: every
/// per-mount flag becomes what `ms` says, except the atime mode and nodiratime, which
/// stay unless `ms` has an atime flag (then relatime unless noatime or strictatime).
pub fn bind_change(ms: u64) -> AttrChange {
    let plain = [
        (libc::MS_RDONLY, MOUNT_ATTR_RDONLY),
        (libc::MS_NOSUID, MOUNT_ATTR_NOSUID),
        (libc::MS_NODEV, MOUNT_ATTR_NODEV),
        (libc::MS_NOEXEC, MOUNT_ATTR_NOEXEC),
        (libc::MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW),
    ];
    let mut c = AttrChange::default();
    for (m, a) in plain {
        if ms & m != 0 {
            c.set |= a;
        } else {
            c.clr |= a;
        }
    }
    if ms & MS_ATIME != 0 {
        c.clr |= MOUNT_ATTR_ATIME_MASK | MOUNT_ATTR_NODIRATIME;
        c.set |= if ms & libc::MS_STRICTATIME != 0 {
            MOUNT_ATTR_STRICTATIME
        } else if ms & libc::MS_NOATIME != 0 {
            MOUNT_ATTR_NOATIME
        } else {
            MOUNT_ATTR_RELATIME
        };
        if ms & libc::MS_NODIRATIME != 0 {
            c.set |= MOUNT_ATTR_NODIRATIME;
        }
    }
    c
}

/// Names of the MS_* flags in `ms`, for messages.
pub fn ms_names(ms: u64) -> String {
    let names = [
        (libc::MS_RDONLY, "ro"),
        (libc::MS_NOSUID, "nosuid"),
        (libc::MS_NODEV, "nodev"),
        (libc::MS_NOEXEC, "noexec"),
        (libc::MS_NOATIME, "noatime"),
        (libc::MS_NODIRATIME, "nodiratime"),
        (libc::MS_RELATIME, "relatime"),
        (libc::MS_STRICTATIME, "strictatime"),
        (libc::MS_NOSYMFOLLOW, "nosymfollow"),
    ];
    let v: Vec<&str> = names
        .iter()
        .filter(|(f, _)| ms & *f != 0)
        .map(|(_, n)| *n)
        .collect();
    v.join(",")
}

fn propagation_effect(name: &str) -> Option<Propagation> {
    let (flag, recursive) = match name {
        "shared" => (libc::MS_SHARED, false),
        "rshared" => (libc::MS_SHARED, true),
        "slave" => (libc::MS_SLAVE, false),
        "rslave" => (libc::MS_SLAVE, true),
        "private" => (libc::MS_PRIVATE, false),
        "rprivate" => (libc::MS_PRIVATE, true),
        "unbindable" => (libc::MS_UNBINDABLE, false),
        "runbindable" => (libc::MS_UNBINDABLE, true),
        _ => return None,
    };
    Some(Propagation { flag, recursive })
}

/// Superblock flags: meaningful to a new filesystem (passed as parameters), ignored on binds.
fn is_superblock_flag(name: &str) -> bool {
    matches!(
        name,
        "sync" | "async" | "dirsync" | "mand" | "nomand" | "lazytime" | "nolazytime"
    )
}

impl MountOptions {
    /// Parse `options`; fails only on options hull cannot honour.
    pub fn parse(options: &[String]) -> Result<MountOptions> {
        let mut out = MountOptions::default();
        for opt in options {
            let opt = opt.as_str();
            if let Some((clear, f)) = ms_effect(opt) {
                if clear {
                    out.ms_set &= !f;
                    out.ms_clr |= f;
                } else {
                    out.ms_set |= f;
                    out.ms_clr &= !f;
                }
            }
            if let Some((set, clr)) = attr_effect(opt) {
                out.attrs.apply(set, clr);
            } else if opt == "rnorelatime" {
                // runc clears MOUNT_ATTR_RELATIME, which is 0: the atime mode of every
                // mount in the tree stays as it is (runc issue 5095).
            } else if let Some((set, clr)) = opt.strip_prefix('r').and_then(attr_effect) {
                out.rec_attrs.apply(set, clr);
            } else if let Some(p) = propagation_effect(opt) {
                out.propagation.push(p);
            } else {
                match opt {
                    "bind" => out.bind = true,
                    "rbind" => {
                        out.bind = true;
                        out.recursive = true;
                    }
                    "defaults" | "" => {}
                    "tmpcopyup" => out.tmpcopyup = true,
                    "idmap" => out.idmap = true,
                    "ridmap" => out.ridmap = true,
                    "remount" => bail!("option \"remount\" is not valid in config.json mounts"),
                    _ if opt.starts_with("x-") || opt.starts_with("X-") => {}
                    _ => {
                        let (k, v) = match opt.split_once('=') {
                            Some((k, v)) => (k.to_string(), Some(v.to_string())),
                            None => (opt.to_string(), None),
                        };
                        out.data.push((k, v));
                    }
                }
            }
        }
        if out.bind {
            out.data
                .retain(|(k, v)| !(v.is_none() && is_superblock_flag(k)));
        }
        Ok(out)
    }

    /// The data string as mount(8) would show it.
    #[cfg(test)]
    fn data_string(&self) -> String {
        let parts: Vec<String> = self
            .data
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect();
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> MountOptions {
        let v: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        MountOptions::parse(&v).unwrap()
    }

    #[test]
    fn flags_become_attrs_and_unknown_options_become_data() {
        let o = parse(&[
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k",
            "newinstance",
        ]);
        assert_eq!(o.attrs.set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME);
        assert_eq!(o.attrs.clr, MOUNT_ATTR_ATIME_MASK);
        assert_eq!(o.data_string(), "mode=755,size=65536k,newinstance");
        assert!(!o.bind);
    }

    #[test]
    fn later_option_wins_over_earlier_opposite() {
        let o = parse(&["ro", "rw", "noexec"]);
        assert_eq!(o.attrs.set, MOUNT_ATTR_NOEXEC);
        assert_eq!(o.attrs.clr, MOUNT_ATTR_RDONLY);
    }

    #[test]
    fn rbind_and_recursive_forms_and_propagation() {
        let o = parse(&["rbind", "rro", "rprivate", "slave"]);
        assert!(o.bind && o.recursive);
        assert_eq!(o.rec_attrs.set, MOUNT_ATTR_RDONLY);
        assert!(o.attrs.is_empty());
        assert_eq!(
            o.propagation,
            vec![
                Propagation {
                    flag: libc::MS_PRIVATE,
                    recursive: true
                },
                Propagation {
                    flag: libc::MS_SLAVE,
                    recursive: false
                },
            ]
        );
    }

    #[test]
    fn superblock_flags_are_dropped_on_binds_only() {
        assert_eq!(parse(&["bind", "sync"]).data, vec![]);
        assert_eq!(parse(&["sync"]).data, vec![("sync".to_string(), None)]);
    }

    #[test]
    fn bind_flags_are_exactly_the_asked_ones_and_atime_stays_unless_asked() {
        let o = parse(&["bind", "dev"]);
        assert_eq!(o.ms_clr, libc::MS_NODEV);
        let c = bind_change(o.ms_set);
        assert_eq!(c.set, 0);
        assert_eq!(
            c.clr,
            MOUNT_ATTR_RDONLY
                | MOUNT_ATTR_NOSUID
                | MOUNT_ATTR_NODEV
                | MOUNT_ATTR_NOEXEC
                | MOUNT_ATTR_NOSYMFOLLOW
        );
        let c = bind_change(parse(&["bind", "ro", "nodiratime"]).ms_set);
        assert_eq!(
            c.set,
            MOUNT_ATTR_RDONLY | MOUNT_ATTR_RELATIME | MOUNT_ATTR_NODIRATIME
        );
        assert_ne!(c.clr & MOUNT_ATTR_ATIME_MASK, 0);
        let c = bind_change(parse(&["noatime", "strictatime"]).ms_set);
        assert_eq!(c.set, MOUNT_ATTR_STRICTATIME);
        // A later opposite option undoes an earlier one.
        let o = parse(&["ro", "rw"]);
        assert_eq!((o.ms_set, o.ms_clr), (0, libc::MS_RDONLY));
        assert_eq!(
            ms_names(libc::MS_NOSUID | MS_ATIME),
            "nosuid,noatime,nodiratime,relatime,strictatime"
        );
    }

    #[test]
    fn idmap_options_are_recorded() {
        let o = MountOptions::parse(&["rbind".to_string(), "ridmap".to_string()]).unwrap();
        assert!(o.ridmap && !o.idmap && o.recursive);
    }
}
