//! Checkpoint and restore through containerd (`ctr task checkpoint`, `ctr container
//! checkpoint --task`, `ctr container restore --live`), as containerd-shim-runc-v2 does them.
//! `Checkpoint` runs `hull checkpoint` into the directory containerd names, with the flags of
//! runc's `CheckpointOptions` (which containerd's client sends whatever the runtime), criu's
//! work files in `bundle/criu-work` unless the options name a work path, and `--leave-running`
//! unless they ask to exit. A `Create` whose request carries a checkpoint directory (containerd
//! unpacked the checkpoint image there) makes no container: the container's `Start` restores
//! it with `hull restore --detach` onto the task's stdio instead of starting a created one.

use std::path::{Path, PathBuf};

use containerd_shim::api::{CheckpointTaskRequest, CreateTaskRequest};
use containerd_shim::protos::protobuf::Message;
use containerd_shim::protos::shim::oci::CheckpointOptions;

use crate::process::Container;

const CHECKPOINT_OPTIONS: &str = "containerd.runc.v1.CheckpointOptions";

/// What a `Checkpoint` request asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Dump {
    pub image: String,
    /// "" = `bundle/criu-work`, removed afterwards.
    pub work: String,
    pub exit: bool,
    pub open_tcp: bool,
    pub external_unix_sockets: bool,
    pub terminal: bool,
    pub file_locks: bool,
    pub empty_namespaces: Vec<String>,
    pub cgroups_mode: String,
}

impl Dump {
    pub fn decode(req: &CheckpointTaskRequest) -> Result<Dump, String> {
        let mut d = Dump {
            image: req.path.clone(),
            ..Default::default()
        };
        if let Some((any, name)) = crate::options::named(req.options.as_ref()) {
            if name != CHECKPOINT_OPTIONS {
                return Err(format!(
                    "checkpoint options of type {name:?}: want {CHECKPOINT_OPTIONS}"
                ));
            }
            let o = CheckpointOptions::parse_from_bytes(&any.value)
                .map_err(|e| format!("decoding the checkpoint options: {e}"))?;
            if d.image.is_empty() {
                d.image = o.image_path;
            }
            d.work = o.work_path;
            d.exit = o.exit;
            d.open_tcp = o.open_tcp;
            d.external_unix_sockets = o.external_unix_sockets;
            d.terminal = o.terminal;
            d.file_locks = o.file_locks;
            d.empty_namespaces = o.empty_namespaces;
            d.cgroups_mode = o.cgroups_mode;
        }
        if d.image.is_empty() {
            return Err("checkpoint: the request names no image directory".into());
        }
        Ok(d)
    }

    /// `hull checkpoint`'s flags, criu's work files in `work`.
    pub fn flags(&self, work: &Path) -> Vec<String> {
        let mut f = vec![
            "--image-path".to_string(),
            self.image.clone(),
            "--work-path".to_string(),
            work.to_string_lossy().into_owned(),
        ];
        for (on, flag) in [
            (!self.exit, "--leave-running"),
            (self.open_tcp, "--tcp-established"),
            (self.external_unix_sockets, "--ext-unix-sk"),
            (self.terminal, "--shell-job"),
            (self.file_locks, "--file-locks"),
        ] {
            if on {
                f.push(flag.to_string());
            }
        }
        for ns in &self.empty_namespaces {
            f.extend(["--empty-ns".to_string(), ns.clone()]);
        }
        if !self.cgroups_mode.is_empty() {
            f.extend([
                "--manage-cgroups-mode".to_string(),
                self.cgroups_mode.clone(),
            ]);
        }
        f
    }
}

/// `Checkpoint` of a running or paused container. On failure criu's log is kept as
/// `bundle/criu-dump.log` (runc's shim's name) and the error says so.
pub fn checkpoint(c: &Container, id: &str, req: &CheckpointTaskRequest) -> Result<(), String> {
    let d = Dump::decode(req)?;
    let (work, temporary) = match d.work.as_str() {
        "" => (c.bundle.join("criu-work"), true),
        w => (PathBuf::from(w), false),
    };
    let r = c.hull.checkpoint(id, &d.flags(&work));
    let r = r.map_err(|e| {
        let log = c.bundle.join("criu-dump.log");
        match std::fs::copy(work.join("dump.log"), &log) {
            Ok(_) => format!("{e} (criu's log: {})", log.display()),
            Err(_) => e,
        }
    });
    if temporary {
        let _ = std::fs::remove_dir_all(&work);
    }
    r
}

/// A checkpoint a `Create` asked for, restored by the container's `Start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub image: PathBuf,
}

impl Restore {
    pub fn requested(req: &CreateTaskRequest) -> Option<Restore> {
        (!req.checkpoint.is_empty()).then(|| Restore {
            image: PathBuf::from(&req.checkpoint),
        })
    }
}

/// `Start` of a container created from a checkpoint: `hull restore --detach` with the
/// task's stdio (or terminal); the restored init's pid, terminal and stdin go into its record.
pub fn restore(c: &mut Container, id: &str, r: &Restore) -> Result<(), String> {
    let (bundle, hull) = (c.bundle.clone(), c.hull.clone());
    let pid_file = bundle.join("init.pid");
    let started = crate::service::launch(id, &bundle, None, &c.init.paths, |stdio, console| {
        hull.restore(id, &bundle, &r.image, None, &pid_file, console, stdio)
    })?;
    let (pid, console, stdin) = started;
    c.init.pid = pid;
    c.init.console = console;
    c.init.stdin = stdin;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use containerd_shim::protos::protobuf::well_known_types::any::Any;

    fn request(o: Option<CheckpointOptions>, path: &str) -> CheckpointTaskRequest {
        let mut r = CheckpointTaskRequest {
            id: "c1".into(),
            path: path.into(),
            ..Default::default()
        };
        if let Some(o) = o {
            r.options = Some(Any {
                type_url: format!("type.googleapis.com/{CHECKPOINT_OPTIONS}"),
                value: o.write_to_bytes().unwrap(),
                ..Default::default()
            })
            .into();
        }
        r
    }

    #[test]
    fn without_options_the_container_keeps_running() {
        let d = Dump::decode(&request(None, "/tmp/img")).unwrap();
        assert_eq!(
            d.flags(Path::new("/b/criu-work")),
            [
                "--image-path",
                "/tmp/img",
                "--work-path",
                "/b/criu-work",
                "--leave-running"
            ]
        );
    }

    #[test]
    fn runc_checkpoint_options_map_to_hull_flags() {
        let o = CheckpointOptions {
            exit: true,
            open_tcp: true,
            external_unix_sockets: true,
            terminal: true,
            file_locks: true,
            empty_namespaces: vec!["network".into()],
            cgroups_mode: "soft".into(),
            work_path: "/w".into(),
            ..Default::default()
        };
        let d = Dump::decode(&request(Some(o), "/img")).unwrap();
        assert_eq!(d.work, "/w");
        assert_eq!(
            d.flags(Path::new("/w")),
            [
                "--image-path",
                "/img",
                "--work-path",
                "/w",
                "--tcp-established",
                "--ext-unix-sk",
                "--shell-job",
                "--file-locks",
                "--empty-ns",
                "network",
                "--manage-cgroups-mode",
                "soft"
            ]
        );
    }

    #[test]
    fn image_path_from_the_options_when_the_request_has_none() {
        let o = CheckpointOptions {
            image_path: "/from-options".into(),
            ..Default::default()
        };
        assert_eq!(
            Dump::decode(&request(Some(o), "")).unwrap().image,
            "/from-options"
        );
        let e = Dump::decode(&request(None, "")).unwrap_err();
        assert!(e.contains("no image directory"), "{e}");
    }

    #[test]
    fn other_option_types_are_refused() {
        let mut r = request(None, "/img");
        r.options = Some(Any {
            type_url: "type.googleapis.com/containerd.runc.v1.Options".into(),
            ..Default::default()
        })
        .into();
        let e = Dump::decode(&r).unwrap_err();
        assert!(e.contains("containerd.runc.v1.CheckpointOptions"), "{e}");
    }

    #[test]
    fn a_create_with_a_checkpoint_is_a_restore() {
        let mut req = CreateTaskRequest::default();
        assert_eq!(Restore::requested(&req), None);
        req.checkpoint = "/run/ctrd-checkpoint123".into();
        assert_eq!(
            Restore::requested(&req).unwrap().image,
            PathBuf::from("/run/ctrd-checkpoint123")
        );
    }
}
