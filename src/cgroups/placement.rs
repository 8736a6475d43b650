//! Putting a new container init into its cgroup: the one step of the create path where the
//! cgroupfs and systemd drivers differ, behind one type the spawn code drives.
//!
//! cgroupfs: the cgroup2 directory exists and is limited before clone (its eBPF device filter
//! is attached right after, while the init sets up its rootfs), and the init is born in it
//! (CLONE_INTO_CGROUP). The v1 directories are made and limited by the parent right after
//! the clone, while the init creates its network, ipc, uts and mount namespaces (~0.6 ms of
//! kernel work each side, overlapped instead of one after the other); their `tasks` files
//! go to the init with Go and it writes itself into them (`join`) before it does anything
//! else, so the parent migrates nothing and the init is never in a v1 cgroup whose limits
//! are half written. (Rootless keeps everything before the clone: see `v1_after_clone`.)
//!
//! systemd: systemd makes the unit's cgroup when it starts the unit with the init's pid,
//! so the init is cloned into hull's own cgroup and, before it runs any of its own code,
//! the unit is started (its limits as properties), systemd's cgroup for it is checked
//! against the recorded one, the hierarchies systemd does not manage are joined (v1
//! cpuset, freezer, ...; all of them for a slice unit, which cannot take pids) and every
//! limit is written with the cgroupfs writers, as runc's systemd managers do.
//! The connection to systemd is opened in `Cgroup::prepare`, before clone, so an
//! unreachable systemd fails the create before anything runs.

use super::join::Join;
use super::systemd::{self, properties::Props, Session};
use super::{Cgroup, Driver, Mode};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use std::collections::HashMap;

/// A prepared cgroup waiting for its init.
pub struct Placement {
    cgroup: Cgroup,
    how: How,
}

enum How {
    Fs(Fs),
    Systemd(Box<SystemdStart>),
}

/// What cgroupfs still has to do once the init exists, with `res`: with `v1_later`, make the
/// v1 directories and write the limits (`before_go`); then attach the eBPF device filter
/// (`after_go`, which takes `res`).
#[derive(Default)]
struct Fs {
    res: Option<Box<LinuxResources>>,
    v1_later: bool,
}

/// What starting the unit needs once the pid exists.
struct SystemdStart {
    session: Session,
    id: String,
    res: LinuxResources,
    extra: Props,
    /// Whether systemd started the unit for this container (until then the name may be
    /// another container's unit, which a failed create must leave alone).
    started: bool,
}

impl Cgroup {
    /// Get ready for an init that does not exist yet: cgroupfs writes the limits now
    /// (after `create`), or with `v1_later` (after `create_v2`; see `v1_after_clone`) leaves
    /// the v1 directories and limits to `before_go`; systemd connects to the manager and
    /// checks the `org.systemd.property.*` annotations, leaving the rest to `place`.
    pub fn prepare(
        &self,
        id: &str,
        res: &LinuxResources,
        annotations: &HashMap<String, String>,
        v1_later: bool,
    ) -> Result<Placement> {
        let how = match &self.driver {
            // No directories: a rootless container running without a cgroup.
            Driver::Cgroupfs if self.dirs.is_empty() => How::Fs(Fs::default()),
            Driver::Cgroupfs => {
                // Everything but the eBPF device filter, which `after_go` attaches. On a v1 or
                // hybrid host every limit is a v1 file (the hybrid cgroup2 has no controllers).
                let later = v1_later && self.mode != Mode::Unified;
                if !later {
                    self.apply_limits(res)?;
                }
                How::Fs(Fs {
                    res: Some(Box::new(res.clone())),
                    v1_later: later,
                })
            }
            Driver::Systemd(unit) => {
                let extra = systemd::annotation_properties(annotations)?;
                let session = Session::open(unit, self.mode == Mode::Unified)?;
                How::Systemd(Box::new(SystemdStart {
                    session,
                    id: id.to_string(),
                    res: res.clone(),
                    extra,
                    started: false,
                }))
            }
        };
        Ok(Placement {
            cgroup: self.clone(),
            how,
        })
    }
}

impl Placement {
    /// What the init needs to place itself (see `join`): with cgroupfs the cgroup2
    /// directory to clone it into and the v1 `tasks` files, as fds numbered `floor` or
    /// above; nothing under systemd, which moves the init itself.
    pub fn join(&self, floor: i32) -> Result<Join> {
        match &self.how {
            How::Fs(fs) => Join::open(&self.cgroup, floor, fs.v1_later),
            How::Systemd(_) => Ok(Join::default()),
        }
    }

    /// After the clone, before Go: with v1 left for later, make and limit the v1 directories
    /// and open their `tasks` files for the init (sent with Go, in `Join` order); otherwise
    /// nothing to send.
    pub fn before_go(&mut self) -> Result<Vec<std::os::fd::OwnedFd>> {
        let How::Fs(fs) = &mut self.how else {
            return Ok(Vec::new());
        };
        let Some(res) = fs.res.as_deref().filter(|_| fs.v1_later) else {
            return Ok(Vec::new());
        };
        fs.v1_later = false;
        super::tree::create(&self.cgroup, Some(false))?;
        crate::fault::point("after-cgroup-v1-create");
        self.cgroup.apply_limits(res)?;
        Join::open_v1(&self.cgroup)
    }

    /// Keep this placement's own fds (the D-Bus socket) numbered at least `min`, clear of
    /// the fds handed to the container.
    pub fn move_fds_above(&mut self, min: i32) -> Result<()> {
        match &mut self.how {
            How::Fs(_) => Ok(()),
            How::Systemd(s) => s.session.move_fd_above(min),
        }
    }

    /// Put the cloned init `pid` into the cgroup, in the parent, before the init goes on:
    /// with cgroupfs only where it cannot join itself (`join`: the cgroup2 directory when
    /// the clone could not start it there); under systemd, start the unit.
    pub fn place(&mut self, pid: i32, join: &Join, born_in_v2: bool) -> Result<()> {
        let cg = &mut self.cgroup;
        match &mut self.how {
            How::Fs(_) => join.finish(cg, pid, born_in_v2),
            How::Systemd(s) => place_in_unit(cg, s, pid),
        }
    }

    /// After the init was told to go, while it sets up its rootfs: attach the cgroup2
    /// eBPF device filter (cgroupfs; loading it through the verifier is ~6% of a `run`'s
    /// CPU). The filter is in place before anything but hull's own setup code runs in the
    /// container: a hook's turn comes only after the parent answers `MountsReady`, which it
    /// reads after this, and the user process only after `start`, which follows the create.
    pub fn after_go(&mut self) -> Result<()> {
        match &mut self.how {
            How::Fs(fs) => match fs.res.take() {
                Some(res) => self.cgroup.apply_device_filter(&res),
                None => Ok(()),
            },
            How::Systemd(_) => Ok(()),
        }
    }

    /// Whether the cgroup is this container's to remove if the create fails: always with
    /// cgroupfs; under systemd once systemd has started the unit for it.
    pub fn owns_cgroup(&self) -> bool {
        match &self.how {
            How::Fs(_) => true,
            How::Systemd(s) => s.started,
        }
    }

    /// The cgroup as placed (under systemd, with the unit's InvocationID), for state.json.
    pub fn cgroup(&self) -> &Cgroup {
        &self.cgroup
    }
}

fn place_in_unit(cg: &mut Cgroup, s: &mut SystemdStart, pid: i32) -> Result<()> {
    let mut unit = cg
        .driver
        .unit()
        .cloned()
        .context("cgroup: no systemd unit recorded")?;
    let pid_prop = (!unit.is_slice()).then_some(pid);
    let extra = std::mem::take(&mut s.extra);
    let adjusted = s.session.start(&unit, &s.id, pid_prop, &s.res, extra)?;
    s.started = true;
    let asking = || format!("--systemd-cgroup: asking systemd about {}", unit.name);
    unit.invocation = s.session.invocation_id(&unit).with_context(asking)?;
    let got = s.session.control_group(&unit).with_context(asking)?;
    if let Some(d) = cg.dirs.first() {
        if got.trim_end_matches('/') != d.path {
            bail!(
                "--systemd-cgroup: systemd put {} in cgroup {got}, but hull expected {} \
                 (is systemd's cgroup root not the host's?)",
                unit.name,
                d.path
            );
        }
    }
    let slice_unit = unit.is_slice();
    cg.driver = Driver::Systemd(unit);
    // Directories systemd does not make (v1 cpuset, freezer, ...), then the pid wherever
    // systemd did not put it.
    super::tree::create(cg, None)?;
    if slice_unit {
        cg.add(pid)?;
    } else {
        cg.add_v1(pid)?;
    }
    cg.apply(&adjusted)
}
