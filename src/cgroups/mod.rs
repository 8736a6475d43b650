//! Cgroups: detect the host layout (v1, v2, hybrid) from mountinfo, place a container in its
//! own cgroup on every hierarchy, write `linux.resources`, and freeze, signal and remove it.
//!
//! hull refuses to use a hierarchy root or its caller's own cgroup as a container cgroup, and
//! never writes outside the container's own subtree.
//!
//! Where limits go: on a pure v2 host every limit is written to the cgroup2 directory. On a
//! legacy or hybrid host each limit goes to the v1 hierarchy of its controller; the hybrid
//! host's cgroup2 hierarchy (usually `/sys/fs/cgroup/unified`, carrying no or few
//! controllers) is joined so the container's processes are grouped there too (runc does the
//! same), and is used for a limit only when its controller is not mounted on v1 but is
//! enabled for the container's cgroup2 directory (hugetlb, rdma), and for the `unified` map.
//! Freezing uses the v1 freezer when mounted, else `cgroup.freeze`; `kill_all(SIGKILL)` uses
//! `cgroup.kill` whenever the cgroup2 directory has one, hybrid hosts included (then thaws a
//! v1-frozen cgroup, whose tasks could not die otherwise).
//!
//! Callers create, then `prepare` (which writes the limits) and place the init through the
//! `Placement` it returns (realtime cpu limits must precede the tasks), and destroy on any
//! later failure. destroy removes the container's directory and everything below it, never
//! the parents `create` made (runc leaves those too).
//!
//! The driver (`Driver`) is chosen once, when the cgroup is planned, and recorded with it.
//! With `--systemd-cgroup` (see `systemd`) the container's cgroup is a transient systemd
//! unit: planned from the unit's path, made by systemd when the unit starts with the
//! init's pid (`Placement::place`), then limited with the same writers; `destroy` stops the
//! unit first.

pub mod bpf_devices;
pub(crate) mod convert;
pub(crate) mod devices;
pub mod freezer;
mod fsio;
pub(crate) mod hybrid;
pub(crate) mod join;
pub mod layout;
mod path;
mod placement;
pub(crate) mod stats;
mod sub;
pub mod systemd;
mod tree;
mod v1;
pub(crate) mod v2;

pub use layout::Mode;
pub use placement::Placement;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

/// A container's cgroups: one directory per mounted hierarchy. Serializable so `delete`,
/// `kill --all` and `pause` find exactly what `create` made.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Cgroup {
    /// The host's layout when the container was planned.
    pub mode: Mode,
    /// The container's directory on each hierarchy (v1 ones first, then cgroup2).
    pub dirs: Vec<Dir>,
    /// Who manages it; recorded as the systemd unit (key `systemd`, absent for cgroupfs).
    #[serde(
        rename = "systemd",
        default,
        skip_serializing_if = "Driver::is_cgroupfs",
        with = "driver_record"
    )]
    pub driver: Driver,
}

/// Who makes, limits and removes a container's cgroup: chosen once, by `Cgroup::plan`, from
/// `--systemd-cgroup`, and recorded with the cgroup so every later command (update, delete,
/// kill, pause) acts through the same one.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Driver {
    /// hull makes the directories, writes the limits and removes them.
    #[default]
    Cgroupfs,
    /// A transient systemd unit holds the container: systemd makes and removes its cgroup
    /// and keeps the limits as unit properties; hull's writers fill in what systemd does not
    /// manage.
    Systemd(systemd::Unit),
}

impl Driver {
    pub fn is_cgroupfs(&self) -> bool {
        matches!(self, Driver::Cgroupfs)
    }

    /// The unit, under systemd.
    pub fn unit(&self) -> Option<&systemd::Unit> {
        match self {
            Driver::Cgroupfs => None,
            Driver::Systemd(u) => Some(u),
        }
    }
}

/// The record keeps the driver as the optional systemd unit (the format state.json always had).
mod driver_record {
    use super::{systemd::Unit, Driver};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(d: &Driver, s: S) -> Result<S::Ok, S::Error> {
        d.unit().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Driver, D::Error> {
        Ok(match Option::<Unit>::deserialize(d)? {
            Some(u) => Driver::Systemd(u),
            None => Driver::Cgroupfs,
        })
    }
}

/// The container's cgroup on one hierarchy.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Dir {
    /// The hierarchy's mount point, e.g. /sys/fs/cgroup/memory.
    pub mount: PathBuf,
    /// v1: the controllers of the hierarchy (e.g. ["cpu","cpuacct"], ["name=systemd"]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controllers: Vec<String>,
    /// Whether this is the cgroup2 hierarchy.
    #[serde(default)]
    pub v2: bool,
    /// The cgroup path relative to the mount, e.g. "/hull/ctr1".
    pub path: String,
}

impl Dir {
    /// The directory, after checking again that it lies strictly below the mount (state.json
    /// could have been edited): every mutating operation goes through here.
    pub fn dir(&self) -> Result<PathBuf> {
        let rel = Path::new(self.path.trim_start_matches('/'));
        let mut depth = 0;
        for c in rel.components() {
            match c {
                Component::Normal(_) => depth += 1,
                Component::CurDir => {}
                _ => bail!(
                    "cgroup path {:?} on {}: not a plain path below the hierarchy",
                    self.path,
                    self.mount.display()
                ),
            }
        }
        if depth == 0 || !self.path.starts_with('/') || !self.mount.is_absolute() {
            bail!(
                "cgroup path {:?} on {}: refusing to act on a hierarchy root",
                self.path,
                self.mount.display()
            );
        }
        Ok(self.mount.join(rel))
    }

    /// "memory", "cpu,cpuacct" or "cgroup2", for messages.
    pub fn name(&self) -> String {
        if self.v2 {
            "cgroup2".to_string()
        } else {
            self.controllers.join(",")
        }
    }
}

/// The limits `r` asks for besides device rules, by their config.json names: what a rootless
/// container without a cgroup cannot have (device rules are still enforced by the user
/// namespace: it cannot mknod).
pub fn requested_limits(r: &LinuxResources) -> Vec<&'static str> {
    [
        ("memory", r.memory().is_some()),
        ("cpu", r.cpu().is_some()),
        ("pids", r.pids().is_some()),
        ("blockIO", r.block_io().is_some()),
        (
            "hugepageLimits",
            r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()),
        ),
        ("network", r.network().is_some()),
        ("rdma", r.rdma().as_ref().is_some_and(|m| !m.is_empty())),
        (
            "unified",
            r.unified().as_ref().is_some_and(|m| !m.is_empty()),
        ),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

impl Cgroup {
    /// Resolve where the container's cgroups go (runc's cgroupsPath rules) and choose the
    /// driver: systemd with `systemd`, else cgroupfs. Touches nothing.
    pub fn plan(
        cgroups_path: Option<&str>,
        id: &str,
        systemd: bool,
        rootless: bool,
    ) -> Result<Cgroup> {
        if systemd {
            return Cgroup::plan_systemd(cgroups_path, id, rootless);
        }
        let layout = layout::Layout::detect()?;
        let own = layout::ProcCgroups::of_self()?;
        Cgroup::plan_in(&layout, &own, cgroups_path, id)
    }

    /// The `--systemd-cgroup` plan: the unit from cgroupsPath ("slice:prefix:name") and
    /// its cgroup on every hierarchy. Asks the user's systemd instance for its own cgroup
    /// when `rootless`; touches nothing.
    fn plan_systemd(cgroups_path: Option<&str>, id: &str, rootless: bool) -> Result<Cgroup> {
        if !systemd::booted() {
            bail!(
                "--systemd-cgroup: systemd is not running on this host \
                 (/run/systemd/system is absent); run without --systemd-cgroup"
            );
        }
        let layout = layout::Layout::detect()?;
        let own = layout::ProcCgroups::of_self()?;
        let unit = systemd::Unit::parse(cgroups_path, id, rootless)?;
        let base = if rootless {
            if layout.mode() != Mode::Unified {
                bail!(
                    "--systemd-cgroup: a rootless container needs a cgroup v2 host for the \
                     systemd driver (runc refuses it on cgroup v1 too); run without \
                     --systemd-cgroup"
                );
            }
            systemd::Manager::connect(true)?
                .own_control_group()
                .context("--systemd-cgroup: asking the user's systemd for its cgroup")?
        } else {
            String::new()
        };
        Cgroup::plan_unit(
            &layout,
            &own,
            unit,
            &base,
            cgroups_path.unwrap_or_default(),
            id,
        )
    }

    /// The plan for systemd `unit` whose manager sits at cgroup `base` ("" for the system
    /// instance): the same path on every hierarchy, with the usual refusals.
    pub fn plan_unit(
        layout: &layout::Layout,
        own: &layout::ProcCgroups,
        unit: systemd::Unit,
        base: &str,
        shown: &str,
        id: &str,
    ) -> Result<Cgroup> {
        let full = format!("{}{}", base.trim_end_matches('/'), unit.cgroup_path());
        let resolved = path::resolve_absolute(layout, own, &full, shown, id)?;
        Ok(Cgroup::resolved(layout, resolved, Driver::Systemd(unit)))
    }

    /// `plan` against a given layout and own-cgroup table (for tests and callers that
    /// already read them).
    pub fn plan_in(
        layout: &layout::Layout,
        own: &layout::ProcCgroups,
        cgroups_path: Option<&str>,
        id: &str,
    ) -> Result<Cgroup> {
        let resolved = path::resolve(layout, own, cgroups_path, id)?;
        Ok(Cgroup::resolved(layout, resolved, Driver::Cgroupfs))
    }

    /// The cgroup made of `path::resolve`'s (hierarchy, path) pairs.
    fn resolved(
        layout: &layout::Layout,
        resolved: Vec<(&layout::Hierarchy, String)>,
        driver: Driver,
    ) -> Cgroup {
        let dirs = resolved
            .into_iter()
            .map(|(h, p)| Dir {
                mount: h.mount.clone(),
                controllers: h.controllers.clone(),
                v2: h.v2,
                path: p,
            })
            .collect();
        Cgroup {
            mode: layout.mode(),
            dirs,
            driver,
        }
    }

    /// Create the directories on every hierarchy. Under systemd there is nothing to make
    /// yet: the unit's directories come with the unit (`Placement::place`).
    /// A directory that exists already frozen or holding processes is refused before
    /// anything is made, so the failed create leaves it as it was (`refuse_in_use`).
    pub fn create(&self) -> Result<()> {
        if !self.driver.is_cgroupfs() {
            return Ok(());
        }
        self.refuse_in_use()?;
        tree::create(self, None)
    }

    /// Refuse a cgroup that some other container or program uses already: frozen (the init
    /// would stop on entry and create wait for it forever), or holding processes (the new
    /// container would share its limits and its `delete` would kill them), as runc >= 1.2.
    fn refuse_in_use(&self) -> Result<()> {
        freezer::refuse_frozen(self)?;
        // Usually nothing exists yet: one stat per hierarchy, no reads.
        for dir in self.paths().into_iter().filter(|d| d.is_dir()) {
            let procs = fsio::procs(&dir)?;
            if let Some(pid) = procs.first() {
                anyhow::bail!(
                    "container's cgroup is not empty: {} holds {} process(es) (pid {pid} \
                     first); choose another cgroupsPath",
                    dir.display(),
                    procs.len()
                );
            }
        }
        Ok(())
    }

    /// Whether a new container's v1 directories are made and limited after the clone, by
    /// the parent while the init creates its namespaces (see `Placement`): with cgroupfs on a
    /// v1 or hybrid host, when hull is not rootless (rootless falls back to no cgroup when it
    /// cannot make one, which must be known before the clone).
    pub fn v1_after_clone(&self, rootless: bool) -> bool {
        !rootless && self.driver.is_cgroupfs() && self.dirs.iter().any(|d| !d.v2)
    }

    /// `create` for what must exist before the clone when `v1_after_clone`: the cgroup2
    /// directory the init is born in.
    pub fn create_v2(&self) -> Result<()> {
        self.refuse_in_use()?;
        tree::create(self, Some(true))
    }

    /// Write the limits with the cgroupfs writers (both drivers).
    pub fn apply(&self, res: &LinuxResources) -> Result<()> {
        self.apply_limits(res)?;
        self.apply_device_filter(res)
    }

    /// `apply` without the cgroup2 eBPF device filter, which `create` attaches after the
    /// fork, while the init sets up its rootfs (`apply_device_filter`).
    pub fn apply_limits(&self, res: &LinuxResources) -> Result<()> {
        match self.mode {
            Mode::Unified => match self.v2_dir()? {
                Some(d) => v2::apply(&d, res),
                None => Ok(()),
            },
            Mode::Legacy | Mode::Hybrid => v1::apply(self, res),
        }
    }

    /// Only the cgroup2 eBPF device filter of `res.devices`, on a pure v2 host (there it is
    /// the enforcer). It is attached in one step with the whole rule list, so a process in the
    /// cgroup never sees a partial rule set (unlike the v1 devices.deny/allow writes, which
    /// pass through deny-all and so precede the fork). Hybrid and legacy hosts enforce the
    /// rules with the v1 devices controller (`v1::apply` fails when it is not mounted), as
    /// runc does; a second filter on the hybrid cgroup2 directory would enforce the same list
    /// again at the cost of a BPF_PROG_LOAD per container (~7% of a `run`'s CPU, measured).
    pub fn apply_device_filter(&self, res: &LinuxResources) -> Result<()> {
        let Some(rules) = res.devices().as_deref().filter(|r| !r.is_empty()) else {
            return Ok(());
        };
        match (self.mode, self.v2_dir()?) {
            (Mode::Unified, Some(d)) => bpf_devices::apply(&d, rules),
            _ => Ok(()),
        }
    }

    /// Move `pid` into the cgroup on every hierarchy.
    pub fn add(&self, pid: i32) -> Result<()> {
        tree::add(self, pid, None)
    }

    /// Move `pid` into the cgroup on the v1 hierarchies only (under systemd, into those
    /// systemd does not manage; the slow path: each migration waits for the kernel).
    pub fn add_v1(&self, pid: i32) -> Result<()> {
        tree::add(self, pid, Some(false))
    }

    /// Move `pid` into the cgroup2 directory only: for a process that joins the v1
    /// hierarchies itself (see `join`).
    pub fn add_v2(&self, pid: i32) -> Result<()> {
        tree::add(self, pid, Some(true))
    }

    /// Every pid in the container's cgroup (empty if none): the union over every hierarchy,
    /// sub-cgroups included, sorted.
    pub fn pids(&self) -> Result<Vec<i32>> {
        tree::pids(self)
    }

    /// Signal every process in the cgroup so none escapes by forking.
    pub fn kill_all(&self, sig: i32) -> Result<()> {
        freezer::kill_all(self, sig)
    }

    /// `update`: new limits on a running container. Under systemd the unit's properties
    /// are set first (so systemd keeps them), then the files are written.
    pub fn update(&self, res: &LinuxResources) -> Result<()> {
        let Driver::Systemd(unit) = &self.driver else {
            return self.apply(res);
        };
        let mut s = systemd::Session::open(unit, self.mode == Mode::Unified)?;
        let adjusted = s.set(unit, res)?;
        self.apply(&adjusted)
    }

    /// Under systemd: this cgroup, unless systemd now has a different unit (another
    /// InvocationID than the one hull recorded) under the unit's name, e.g. after the
    /// container's scope went away with its last process and another container took the
    /// name; then nothing of it is this container's and an empty cgroup is returned. Without
    /// a recorded InvocationID, or when systemd cannot be asked, the cgroup as recorded.
    pub fn unless_reused(self) -> Cgroup {
        let Driver::Systemd(unit) = &self.driver else {
            return self;
        };
        let Some(mine) = unit.invocation.clone() else {
            return self;
        };
        if !systemd::booted() {
            return self;
        }
        let now = systemd::Session::open(unit, self.mode == Mode::Unified)
            .and_then(|mut s| s.invocation_id(unit));
        match now {
            Ok(Some(now)) if now != mine => {
                crate::logging::debug(&format!(
                    "systemd: {} is now another unit (invocation {now}, hull's was {mine}); \
                     leaving it and its cgroup alone",
                    unit.name
                ));
                Cgroup {
                    mode: self.mode,
                    ..Cgroup::default()
                }
            }
            _ => self,
        }
    }

    /// Remove the directories, retrying while the kernel still has exiting tasks. Under
    /// systemd the unit is stopped (and reset if it failed) first, and whatever directory
    /// systemd does not manage is removed after; a stop error is reported after the
    /// removal, as runc does.
    pub fn destroy(&self) -> Result<()> {
        let stopped = match &self.driver {
            Driver::Systemd(unit) if systemd::booted() => {
                systemd::Session::open(unit, self.mode == Mode::Unified)
                    .and_then(|mut s| s.stop(unit))
            }
            Driver::Systemd(_) | Driver::Cgroupfs => Ok(()),
        };
        let removed = tree::destroy(self);
        stopped.and(removed)
    }

    /// Whether the freezer says the cgroup is frozen.
    pub fn is_frozen(&self) -> Result<bool> {
        freezer::is_frozen(self)
    }

    /// Freeze every process in the cgroup; returns once the kernel reports it frozen.
    pub fn freeze(&self) -> Result<()> {
        freezer::set(self, true)
    }

    /// Undo `freeze`.
    pub fn thaw(&self) -> Result<()> {
        freezer::set(self, false)
    }

    /// The container's directory on every hierarchy.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().filter_map(|d| d.dir().ok()).collect()
    }

    /// The container's directory on the v1 hierarchy carrying `controller`, if mounted.
    pub fn v1_dir(&self, controller: &str) -> Result<Option<PathBuf>> {
        match self
            .dirs
            .iter()
            .find(|d| !d.v2 && d.controllers.iter().any(|c| c == controller))
        {
            Some(d) => d.dir().map(Some),
            None => Ok(None),
        }
    }

    /// The container's cgroup2 directory, if cgroup2 is mounted.
    pub fn v2_dir(&self) -> Result<Option<PathBuf>> {
        match self.dirs.iter().find(|d| d.v2) {
            Some(d) => d.dir().map(Some),
            None => Ok(None),
        }
    }

    /// The directory of every hierarchy, checked.
    fn checked_dirs(&self) -> Result<Vec<(&Dir, PathBuf)>> {
        self.dirs
            .iter()
            .map(|d| d.dir().map(|p| (d, p)))
            .collect::<Result<Vec<_>>>()
            .context("cgroups: the recorded cgroup is unusable")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_refuses_root_and_dotdot_even_from_edited_state() {
        let mut d = Dir {
            mount: "/sys/fs/cgroup/memory".into(),
            controllers: vec!["memory".into()],
            v2: false,
            path: "/".into(),
        };
        assert!(d.dir().is_err());
        d.path = "/a/../..".into();
        assert!(d.dir().is_err());
        d.path = "".into();
        assert!(d.dir().is_err());
        d.path = "/a/b".into();
        assert_eq!(d.dir().unwrap(), PathBuf::from("/sys/fs/cgroup/memory/a/b"));
    }

    #[test]
    fn systemd_driver_without_systemd_gives_a_clear_error() {
        if systemd::booted() {
            return;
        }
        let e = Cgroup::plan(Some("system.slice:hull:c"), "c", true, false)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("--systemd-cgroup: systemd is not running"),
            "{e}"
        );
    }

    fn hybrid() -> (layout::Layout, layout::ProcCgroups) {
        let layout = layout::Layout::parse(
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             36 31 0:33 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        )
        .unwrap();
        let own = layout::ProcCgroups::parse(
            "4:memory:/system.slice/ssh.service\n3:freezer:/\n0::/system.slice/ssh.service\n",
        );
        (layout, own)
    }

    #[test]
    fn a_systemd_unit_has_the_same_path_on_every_hierarchy() {
        let (layout, own) = hybrid();
        let unit = systemd::Unit::parse(Some("system.slice:hull:c1"), "c1", false).unwrap();
        let c = Cgroup::plan_unit(
            &layout,
            &own,
            unit.clone(),
            "",
            "system.slice:hull:c1",
            "c1",
        )
        .unwrap();
        assert_eq!(c.driver, Driver::Systemd(unit));
        assert_eq!(
            c.paths(),
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/system.slice/hull-c1.scope"),
                PathBuf::from("/sys/fs/cgroup/freezer/system.slice/hull-c1.scope"),
                PathBuf::from("/sys/fs/cgroup/unified/system.slice/hull-c1.scope"),
            ]
        );
        // The record keeps the driver under the key it always had: the unit, or nothing.
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["systemd"]["name"], "hull-c1.scope");
        let back: Cgroup = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, c);
        let mut fs = json;
        fs.as_object_mut().unwrap().remove("systemd");
        let back: Cgroup = serde_json::from_value(fs).unwrap();
        assert_eq!(back.driver, Driver::Cgroupfs);
        assert!(serde_json::to_value(&back)
            .unwrap()
            .get("systemd")
            .is_none());
        // A user instance's units sit below the manager's own cgroup.
        let unit = systemd::Unit::parse(None, "c2", true).unwrap();
        let base = "/user.slice/user-1000.slice/user@1000.service";
        let c = Cgroup::plan_unit(&layout, &own, unit, base, "", "c2").unwrap();
        assert_eq!(
            c.dirs[2].path,
            "/user.slice/user-1000.slice/user@1000.service/user.slice/runc-c2.scope"
        );
    }

    #[test]
    fn a_systemd_unit_on_a_root_or_hulls_own_cgroup_is_refused() {
        let (layout, own) = hybrid();
        let root = systemd::Unit::parse(Some("system.slice:x:-.slice"), "c", false);
        // "-.slice" is the root slice: refused as the hierarchy root.
        let e = Cgroup::plan_unit(
            &layout,
            &own,
            root.unwrap(),
            "",
            "system.slice:x:-.slice",
            "c",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("root"), "{e:#}");
        // "system.slice" as a slice unit holds hull's own cgroup.
        let own_slice = systemd::Unit::parse(Some("-.slice:x:system.slice"), "c", false).unwrap();
        let e = Cgroup::plan_unit(&layout, &own, own_slice, "", "-.slice:x:system.slice", "c")
            .unwrap_err();
        assert!(format!("{e:#}").contains("own cgroup"), "{e:#}");
    }

    #[test]
    fn cgroup_round_trips_through_json() {
        let layout = layout::Layout::parse(
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        )
        .unwrap();
        let own = layout::ProcCgroups::parse("4:memory:/\n0::/\n");
        let c = Cgroup::plan_in(&layout, &own, Some("/hull/c1"), "c1").unwrap();
        assert_eq!(c.mode, Mode::Hybrid);
        let back: Cgroup = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert_eq!(
            c.paths(),
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/hull/c1"),
                PathBuf::from("/sys/fs/cgroup/unified/hull/c1")
            ]
        );
    }
}
