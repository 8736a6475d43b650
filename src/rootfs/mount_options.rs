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
    fn idmap_options_are_recorded() {
        let o = MountOptions::parse(&["rbind".to_string(), "ridmap".to_string()]).unwrap();
        assert!(o.ridmap && !o.idmap && o.recursive);
    }
}
