//! Where a container's cgroup goes on each hierarchy, by runc's cgroupsPath rules:
//! - absolute `linux.cgroupsPath` ("/a/b"): that path below every hierarchy's root;
//! - relative ("a/b"): below the runtime's own cgroup on each hierarchy (/proc/self/cgroup)
//!   on v1 and hybrid hosts; on a pure cgroup v2 host below the *parent* of its own cgroup,
//!   as runc's fs2 manager does: the runtime's own cgroup holds processes, so by cgroup v2's
//!   no-internal-processes rule it could not pass memory or io down to a child;
//! - empty or absent: the container id, relative, exactly as runc 1.1 does (checked on the
//!   hybrid host: `runc run` without cgroupsPath lands in `<own cgroup>/<id>` on every
//!   hierarchy, the unified one included; on the pure v2 systemd VM in `<parent of own>/<id>`).
//!   Callers such as containerd and podman always pass a path.
//!
//! A path that resolves to a hierarchy root, or to the runtime's own cgroup or one of its
//! ancestors, is refused: freezing, killing or removing it would hit processes that are not
//! the container's. `..` components are refused outright.

use super::layout::{Hierarchy, Layout, ProcCgroups};
use anyhow::{bail, Context, Result};

/// The cleaned components of a cgroupsPath and whether it was absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupsPath {
    pub absolute: bool,
    pub parts: Vec<String>,
}

impl CgroupsPath {
    /// Validate `raw` (None or "" means "derive from the id").
    pub fn parse(raw: Option<&str>, id: &str) -> Result<CgroupsPath> {
        let (what, text) = match raw {
            Some(r) if !r.is_empty() => ("linux.cgroupsPath", r),
            _ => ("the container id used as the default cgroupsPath", id),
        };
        let mut parts = Vec::new();
        for c in text.split('/') {
            match c {
                "" | "." => {}
                ".." => bail!("{what} {text:?}: must not contain \"..\" components"),
                c if c.contains('\0') || c.contains('\n') => {
                    bail!("{what} {text:?}: contains a NUL or newline")
                }
                c => parts.push(c.to_string()),
            }
        }
        Ok(CgroupsPath {
            absolute: text.starts_with('/') && raw.is_some_and(|r| !r.is_empty()),
            parts,
        })
    }

    /// The cgroup path ("/x/y", relative to the mount) of the container on hierarchy `h`,
    /// given the caller's own cgroup there. Refuses roots and the caller's own subtree.
    /// `from_parent`: a relative path starts at the parent of the own cgroup (pure v2).
    pub fn resolve_in(
        &self,
        h: &Hierarchy,
        own: Option<&str>,
        raw: &str,
        from_parent: bool,
    ) -> Result<String> {
        let name = hierarchy_name(h);
        let own = own.unwrap_or("/");
        let parent = match own.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &own[..i],
        };
        let base = match (self.absolute, from_parent) {
            (true, _) => "/",
            (false, true) => parent,
            (false, false) => own,
        };
        let mut path = base.trim_end_matches('/').to_string();
        for p in &self.parts {
            path.push('/');
            path.push_str(p);
        }
        if path.is_empty() {
            path.push('/');
        }
        if path == "/" {
            bail!(
                "linux.cgroupsPath {raw:?}: resolves to the root of the {name} hierarchy ({}); \
                 give the container a cgroup of its own",
                h.mount.display()
            );
        }
        if path == own || own.starts_with(&format!("{path}/")) {
            bail!(
                "linux.cgroupsPath {raw:?}: resolves to {path} on the {name} hierarchy, which \
                 holds hull's own cgroup ({own}); give the container a cgroup of its own"
            );
        }
        Ok(path)
    }
}

/// "memory", "cpu,cpuacct", "name=systemd", or "cgroup2" for the unified hierarchy.
pub fn hierarchy_name(h: &Hierarchy) -> String {
    if h.v2 {
        "cgroup2".to_string()
    } else {
        h.controllers.join(",")
    }
}

/// Resolve the container's cgroup path on every hierarchy of `layout`, in its order (v1
/// first, then cgroup2): (hierarchy, cgroup path relative to the mount).
pub fn resolve<'a>(
    layout: &'a Layout,
    own: &ProcCgroups,
    raw: Option<&str>,
    id: &str,
) -> Result<Vec<(&'a Hierarchy, String)>> {
    let cp = CgroupsPath::parse(raw, id)?;
    let shown = raw.filter(|r| !r.is_empty()).unwrap_or(id);
    resolve_parsed(layout, own, &cp, shown, id)
}

/// Like `resolve` for a path hull worked out itself, absolute on every hierarchy (the
/// systemd driver's unit cgroup, "/system.slice/hull-c1.scope"); `shown` is the
/// cgroupsPath the errors name.
pub fn resolve_absolute<'a>(
    layout: &'a Layout,
    own: &ProcCgroups,
    path: &str,
    shown: &str,
    id: &str,
) -> Result<Vec<(&'a Hierarchy, String)>> {
    let cp = CgroupsPath {
        absolute: true,
        parts: path
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .map(str::to_string)
            .collect(),
    };
    if cp.parts.iter().any(|p| p == "..") {
        bail!("linux.cgroupsPath {shown:?}: must not contain \"..\" components");
    }
    resolve_parsed(layout, own, &cp, shown, id)
}

fn resolve_parsed<'a>(
    layout: &'a Layout,
    own: &ProcCgroups,
    cp: &CgroupsPath,
    shown: &str,
    id: &str,
) -> Result<Vec<(&'a Hierarchy, String)>> {
    let from_parent = layout.mode() == super::Mode::Unified;
    let mut out = Vec::new();
    for h in layout.v1.iter().chain(layout.v2.iter()) {
        let mine = own.path_in(h);
        if !cp.absolute && mine.is_none() {
            bail!(
                "linux.cgroupsPath {shown:?} is relative, but /proc/self/cgroup lists no cgroup \
                 for the {} hierarchy; use an absolute cgroupsPath",
                hierarchy_name(h)
            );
        }
        let path = cp
            .resolve_in(h, mine.as_deref(), shown, from_parent)
            .with_context(|| format!("cgroups: placing container {id:?}"))?;
        out.push((h, path));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout::parse(
            "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
             32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n\
             41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n",
        )
        .unwrap()
    }

    fn own() -> ProcCgroups {
        ProcCgroups::parse("4:memory:/api/abc\n1:cpu:/\n0::/\n")
    }

    fn paths(raw: Option<&str>, id: &str) -> Result<Vec<String>> {
        let l = layout();
        Ok(resolve(&l, &own(), raw, id)?
            .into_iter()
            .map(|(_, p)| p)
            .collect())
    }

    #[test]
    fn absolute_path_goes_below_every_hierarchy_root() {
        assert_eq!(
            paths(Some("/x/y"), "c1").unwrap(),
            vec!["/x/y", "/x/y", "/x/y"]
        );
    }

    #[test]
    fn relative_path_goes_below_the_runtimes_own_cgroup() {
        assert_eq!(
            paths(Some("x//./y/"), "c1").unwrap(),
            vec!["/api/abc/x/y", "/x/y", "/x/y"]
        );
    }

    #[test]
    fn empty_path_defaults_to_the_id_relative_to_own_cgroup_like_runc() {
        let want = vec!["/api/abc/c1", "/c1", "/c1"];
        assert_eq!(paths(None, "c1").unwrap(), want);
        assert_eq!(paths(Some(""), "c1").unwrap(), want);
    }

    /// Pure cgroup v2: relative paths start at the parent of the own cgroup (runc's fs2:
    /// the own cgroup holds processes and could not delegate memory or io to a child).
    #[test]
    fn on_pure_v2_relative_paths_start_at_the_parent_of_the_own_cgroup() {
        let l = Layout::parse("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n")
            .unwrap();
        assert_eq!(l.mode(), super::super::Mode::Unified);
        let own = ProcCgroups::parse("0::/system.slice/hull-vm.service/runner\n");
        let p =
            |raw: Option<&str>| -> Result<String> { Ok(resolve(&l, &own, raw, "c1")?.remove(0).1) };
        assert_eq!(p(None).unwrap(), "/system.slice/hull-vm.service/c1");
        assert_eq!(p(Some("a/b")).unwrap(), "/system.slice/hull-vm.service/a/b");
        assert_eq!(p(Some("/a/b")).unwrap(), "/a/b");
        // The own cgroup itself is still refused.
        let e = format!("{:#}", p(Some("runner")).unwrap_err());
        assert!(e.contains("hull's own cgroup"), "{e}");
        // Own cgroup at the top: the parent is the root, and the root is never used.
        let own = ProcCgroups::parse("0::/init.scope\n");
        assert_eq!(resolve(&l, &own, None, "c1").unwrap().remove(0).1, "/c1");
    }

    #[test]
    fn dotdot_is_refused() {
        let e = paths(Some("/a/../b"), "c1").unwrap_err().to_string();
        assert!(e.contains("linux.cgroupsPath") && e.contains(".."), "{e}");
        assert!(paths(Some("../x"), "c1").is_err());
    }

    #[test]
    fn hierarchy_root_is_refused_naming_cgroups_path() {
        let e = format!("{:#}", paths(Some("/"), "c1").unwrap_err());
        assert!(
            e.contains("linux.cgroupsPath \"/\"") && e.contains("root"),
            "{e}"
        );
        let e = format!("{:#}", paths(Some("/./"), "c1").unwrap_err());
        assert!(e.contains("root"), "{e}");
    }

    #[test]
    fn own_cgroup_and_its_ancestors_are_refused() {
        let e = format!("{:#}", paths(Some("/api/abc"), "c1").unwrap_err());
        assert!(
            e.contains("linux.cgroupsPath") && e.contains("own cgroup"),
            "{e}"
        );
        assert!(paths(Some("/api"), "c1").is_err());
        assert!(paths(Some("."), "c1").is_err());
        // A sibling that merely shares a prefix is fine.
        assert!(paths(Some("/api/abcd"), "c1").is_ok());
    }
}
