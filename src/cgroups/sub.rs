//! `exec --cgroup [<controller>[,<controller>]:]<path>`: an existing sub-cgroup of the
//! container for an exec'd process, as runc 1.1 takes it. A bare path applies to every
//! hierarchy; a controller prefix (v1 only) to the hierarchies carrying those controllers.
//! Later options override earlier ones. The path is always below the container's cgroup.

use super::{Cgroup, Mode};
use anyhow::{bail, Result};

impl Cgroup {
    /// The container's cgroup with each hierarchy moved to the sub-cgroup the `--cgroup`
    /// options name. Every named directory must already exist.
    pub fn sub(&self, specs: &[String]) -> Result<Cgroup> {
        let mut out = self.clone();
        for spec in specs {
            let (ctrls, path) = match spec.split_once(':') {
                Some((c, p)) => (Some(c), p),
                None => (None, spec.as_str()),
            };
            let mut parts = Vec::new();
            for c in path.split('/') {
                match c {
                    "" | "." => {}
                    ".." => bail!(
                        "exec --cgroup {spec:?}: bad sub cgroup path: {path} is not a sub \
                         cgroup path (\"..\" would leave the container's cgroup)"
                    ),
                    c => parts.push(c),
                }
            }
            if let (Some(_), Mode::Unified) = (ctrls, self.mode) {
                bail!("exec --cgroup {spec:?}: a controller prefix is only valid on cgroup v1");
            }
            let wanted: Vec<&str> = ctrls.map(|c| c.split(',').collect()).unwrap_or_default();
            let mut matched = false;
            for (orig, dir) in self.dirs.iter().zip(out.dirs.iter_mut()) {
                let hit = match ctrls {
                    None => true,
                    Some(_) => {
                        !orig.v2
                            && wanted
                                .iter()
                                .any(|w| orig.controllers.iter().any(|c| c == w))
                    }
                };
                if !hit {
                    continue;
                }
                matched = true;
                let mut p = orig.path.trim_end_matches('/').to_string();
                for part in &parts {
                    p.push('/');
                    p.push_str(part);
                }
                dir.path = p;
                let full = dir.dir()?;
                if !full.is_dir() {
                    bail!(
                        "exec --cgroup {spec:?}: adding pid to {}/cgroup.procs: no such file \
                         or directory (the sub-cgroup must be created first)",
                        full.display()
                    );
                }
            }
            if !matched {
                bail!(
                    "exec --cgroup {spec:?}: unknown controller {:?}: no mounted cgroup v1 \
                     hierarchy carries it",
                    ctrls.unwrap_or_default()
                );
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::layout::{Layout, ProcCgroups};
    use super::*;

    fn cg(root: &std::path::Path) -> Cgroup {
        let mi = format!(
            "1 1 0:1 / {r}/memory rw - cgroup cgroup rw,memory\n\
             2 1 0:2 / {r}/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
             3 1 0:3 / {r}/unified rw - cgroup2 cgroup2 rw\n",
            r = root.display()
        );
        let layout = Layout::parse(&mi).unwrap();
        let own = ProcCgroups::parse("");
        Cgroup::plan_in(&layout, &own, Some("/c"), "c").unwrap()
    }

    #[test]
    fn sub_cgroup_moves_the_named_hierarchies_and_needs_existing_dirs() {
        let root = std::env::temp_dir().join(format!("hull-sub-{}", std::process::id()));
        for d in [
            "memory/c/a",
            "cpu,cpuacct/c/b",
            "unified/c/a",
            "cpu,cpuacct/c/a",
        ] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let c = cg(&root);
        let s = c.sub(&["a".into(), "cpu:b".into()]).unwrap();
        let paths: Vec<&str> = s.dirs.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, vec!["/c/a", "/c/b", "/c/a"]);
        assert!(c.sub(&["missing".into()]).is_err());
        assert!(c.sub(&["../x".into()]).is_err());
        assert!(c.sub(&["net_cls:a".into()]).is_err());
        let _ = std::fs::remove_dir_all(&root);
    }
}
