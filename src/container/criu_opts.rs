//! The criu flags `checkpoint` and `restore` share (runc's names), and the one place that
//! turns them into criu's options: log level and file, criu's root, cgroup handling, notify
//! scripts, the per-flag switches, and the container's criu config file.

use std::path::Path;

use anyhow::Result;
use oci_spec::runtime::Spec;

use crate::criu::{self, rpc};

/// What both commands tell criu alike.
#[derive(Debug, Clone, Default)]
pub struct CriuFlags {
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub lazy_pages: bool,
    /// `--manage-cgroups-mode`: soft, full, strict or ignore (none: criu's default).
    pub manage_cgroups_mode: Option<String>,
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
}

impl CriuFlags {
    /// Refuse a bad `--manage-cgroups-mode` or `--empty-ns` before anything is made.
    pub fn check(&self) -> Result<()> {
        criu::cgroup_mode(self.manage_cgroups_mode.as_deref())?;
        criu::empty_ns_mask(&self.empty_ns)?;
        Ok(())
    }

    /// criu's options for a dump or restore of the container whose rootfs criu sees at
    /// `root`, logging to `log_file` in its work directory.
    pub fn criu_opts(&self, log_file: &str, root: &Path, spec: &Spec) -> Result<rpc::Criu_opts> {
        let mut opts = rpc::Criu_opts::new();
        opts.set_log_level(4);
        opts.set_log_file(log_file.into());
        opts.set_root(root.to_string_lossy().into_owned());
        opts.set_manage_cgroups(true);
        opts.set_manage_cgroups_mode(criu::cgroup_mode(self.manage_cgroups_mode.as_deref())?);
        opts.set_notify_scripts(true);
        opts.set_shell_job(self.shell_job);
        opts.set_ext_unix_sk(self.ext_unix_sk);
        opts.set_tcp_established(self.tcp_established);
        opts.set_file_locks(self.file_locks);
        opts.set_empty_ns(criu::empty_ns_mask(&self.empty_ns)?);
        opts.set_orphan_pts_master(true);
        opts.set_auto_dedup(self.auto_dedup);
        opts.set_lazy_pages(self.lazy_pages);
        set_config_file(&mut opts, spec);
        Ok(opts)
    }
}

/// The `org.criu.config` annotation names criu's config file for this container ("" for
/// none); without it, runc's default `/etc/criu/runc.conf` (criu ignores a missing file).
fn set_config_file(opts: &mut rpc::Criu_opts, spec: &Spec) {
    let ann = spec.annotations().as_ref();
    match ann.and_then(|a| a.get("org.criu.config")) {
        Some(f) if f.is_empty() => {}
        Some(f) => opts.set_config_file(f.clone()),
        None => opts.set_config_file("/etc/criu/runc.conf".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(annotation: Option<&str>) -> Spec {
        let mut s = Spec::default();
        if let Some(a) = annotation {
            s.set_annotations(Some(
                [("org.criu.config".to_string(), a.to_string())].into(),
            ));
        }
        s
    }

    #[test]
    fn the_flags_reach_criu() {
        let f = CriuFlags {
            tcp_established: true,
            ext_unix_sk: true,
            shell_job: true,
            file_locks: true,
            lazy_pages: true,
            manage_cgroups_mode: Some("ignore".into()),
            empty_ns: vec!["network".into()],
            auto_dedup: true,
        };
        let o = f
            .criu_opts("dump.log", Path::new("/r"), &spec(None))
            .unwrap();
        assert_eq!(o.log_level(), 4);
        assert_eq!(o.log_file(), "dump.log");
        assert_eq!(o.root(), "/r");
        assert!(o.manage_cgroups() && o.notify_scripts() && o.orphan_pts_master());
        assert_eq!(o.manage_cgroups_mode(), rpc::Criu_cg_mode::IGNORE);
        assert!(o.shell_job() && o.ext_unix_sk() && o.tcp_established());
        assert!(o.file_locks() && o.auto_dedup() && o.lazy_pages());
        assert_eq!(o.empty_ns(), libc::CLONE_NEWNET as u32);
        assert_eq!(o.config_file(), "/etc/criu/runc.conf");
    }

    #[test]
    fn defaults_leave_criu_its_own() {
        let o = CriuFlags::default()
            .criu_opts("restore.log", Path::new("/r"), &spec(Some("")))
            .unwrap();
        assert_eq!(o.manage_cgroups_mode(), rpc::Criu_cg_mode::DEFAULT);
        assert!(!o.shell_job() && !o.file_locks() && !o.lazy_pages());
        assert!(!o.has_config_file());
        let o = CriuFlags::default()
            .criu_opts("restore.log", Path::new("/r"), &spec(Some("/etc/my.conf")))
            .unwrap();
        assert_eq!(o.config_file(), "/etc/my.conf");
    }

    #[test]
    fn bad_modes_and_namespaces_are_refused() {
        let f = CriuFlags {
            manage_cgroups_mode: Some("loose".into()),
            ..Default::default()
        };
        let e = f.check().unwrap_err().to_string();
        assert!(e.contains("--manage-cgroups-mode \"loose\""), "{e}");
        let f = CriuFlags {
            empty_ns: vec!["pid".into()],
            ..Default::default()
        };
        let e = f.check().unwrap_err().to_string();
        assert!(e.contains("--empty-ns \"pid\""), "{e}");
    }
}
