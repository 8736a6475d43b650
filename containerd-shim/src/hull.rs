//! Running hull, one process per operation, with runc's command line as
//! containerd-shim-runc-v2 uses it (`--root R --log B/log.json --log-format json create
//! --bundle B --pid-file F ...`). The shim is multi-threaded (ttrpc), and hull's create must
//! fork the container from a single-threaded process: exec'ing hull gives it one.
//!
//! `create` and `exec` run hull from a read-only view of its binary (a detached read-only
//! bind mount, made per command so that an upgraded hull is the one that runs): hull's
//! CVE-2019-5736 defence, which would otherwise re-execute hull from such a view before it
//! makes anything, then finds it done (one execve of hull fewer, ~1.5 ms of each create).

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::options::RuntimeOptions;

/// Where hull runs from and keeps its state for one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hull {
    pub binary: PathBuf,
    /// hull's `--root`: the option's Root (or /run/containerd/hull) joined with the
    /// containerd namespace, as runc's shim does, so namespaces never share ids.
    pub root: PathBuf,
    pub systemd_cgroup: bool,
}

/// The stdio a container process gets from `create`/`exec`.
pub struct ProcStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// The hull binary: the option's BinaryName (a path, or a name looked up on PATH), else
/// `hull` next to this shim, else `hull` on PATH.
pub fn find_binary(name: &str, own_exe: Option<&Path>, path_var: Option<&str>) -> Option<PathBuf> {
    let on_path = |n: &str| {
        path_var?
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| Path::new(d).join(n))
            .find(|p| is_executable(p))
    };
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    if !name.is_empty() {
        return on_path(name);
    }
    own_exe
        .and_then(Path::parent)
        .map(|d| d.join("hull"))
        .filter(|p| is_executable(p))
        .or_else(|| on_path("hull"))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Hull {
    pub fn new(opts: &RuntimeOptions, namespace: &str) -> Result<Hull, String> {
        let exe = std::env::current_exe().ok();
        let path = std::env::var("PATH").ok();
        let binary =
            find_binary(&opts.binary_name, exe.as_deref(), path.as_deref()).ok_or_else(|| {
                match opts.binary_name.as_str() {
                    "" => "no hull binary next to the shim or on PATH".to_string(),
                    n => format!("runtime option BinaryName {n:?}: not found on PATH"),
                }
            })?;
        let root = match opts.root.as_str() {
            "" => Path::new("/run/containerd/hull"),
            r => Path::new(r),
        };
        Ok(Hull {
            binary,
            root: root.join(namespace),
            systemd_cgroup: opts.systemd_cgroup,
        })
    }

    fn cmd(&self, log: Option<&Path>) -> Command {
        self.cmd_from(None, log)
    }

    /// hull's command line, run from `view` (a sealed view of hull's binary) if there is one.
    fn cmd_from(&self, view: Option<&OwnedFd>, log: Option<&Path>) -> Command {
        let mut c = match view {
            Some(fd) => {
                // execve of /proc/self/fd/N opens the file before close-on-exec closes N.
                let mut c = Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()));
                c.arg0(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        c.arg("--root").arg(&self.root);
        if let Some(l) = log {
            c.arg("--log").arg(l).args(["--log-format", "json"]);
        }
        if self.systemd_cgroup {
            c.arg("--systemd-cgroup");
        }
        c
    }

    /// `hull create`; on failure the error is hull's last logged error.
    pub fn create(
        &self,
        id: &str,
        bundle: &Path,
        pid_file: &Path,
        console: Option<&Path>,
        stdio: ProcStdio,
    ) -> Result<(), String> {
        let log = bundle.join("log.json");
        let view = hull_common::sealed_view::open(&self.binary)
            .ok()
            .map(|(fd, _)| fd);
        let mut c = self.cmd_from(view.as_ref(), Some(&log));
        c.args(["create", "--bundle"]).arg(bundle);
        c.arg("--pid-file").arg(pid_file);
        if let Some(s) = console {
            c.arg("--console-socket").arg(s);
        }
        c.arg(id);
        self.run_with_stdio(c, stdio, &log, "create")
    }

    /// `hull exec --detach` of the process in `process_file`.
    pub fn exec(
        &self,
        id: &str,
        bundle: &Path,
        process_file: &Path,
        pid_file: &Path,
        console: Option<&Path>,
        stdio: ProcStdio,
    ) -> Result<(), String> {
        let log = bundle.join("log.json");
        let view = hull_common::sealed_view::open(&self.binary)
            .ok()
            .map(|(fd, _)| fd);
        let mut c = self.cmd_from(view.as_ref(), Some(&log));
        c.args(["exec", "--detach", "--process"]).arg(process_file);
        c.arg("--pid-file").arg(pid_file);
        if let Some(s) = console {
            c.arg("--console-socket").arg(s);
        }
        c.arg(id);
        self.run_with_stdio(c, stdio, &log, "exec")
    }

    /// `hull restore --detach` of the checkpoint in `image` into the container `id`, with
    /// the new stdio the restored init's stdio is mapped onto.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        &self,
        id: &str,
        bundle: &Path,
        image: &Path,
        work: Option<&Path>,
        pid_file: &Path,
        console: Option<&Path>,
        stdio: ProcStdio,
    ) -> Result<(), String> {
        let log = bundle.join("log.json");
        let mut c = self.cmd(Some(&log));
        c.args(["restore", "--detach", "--no-subreaper", "--bundle"])
            .arg(bundle);
        c.arg("--image-path").arg(image);
        if let Some(w) = work {
            c.arg("--work-path").arg(w);
        }
        c.arg("--pid-file").arg(pid_file);
        if let Some(s) = console {
            c.arg("--console-socket").arg(s);
        }
        c.arg(id);
        self.run_with_stdio(c, stdio, &log, "restore")
    }

    /// `hull checkpoint FLAGS... ID` (the flags from `checkpoint::Dump::args`).
    pub fn checkpoint(&self, id: &str, flags: &[String]) -> Result<(), String> {
        let mut a = vec!["checkpoint"];
        a.extend(flags.iter().map(String::as_str));
        a.push(id);
        self.output(&a, None).map(drop)
    }

    fn run_with_stdio(
        &self,
        mut c: Command,
        stdio: ProcStdio,
        log: &Path,
        what: &str,
    ) -> Result<(), String> {
        let before = std::fs::metadata(log).map_or(0, |m| m.len());
        let status = c
            .stdin(Stdio::from(stdio.stdin))
            .stdout(Stdio::from(stdio.stdout))
            .stderr(Stdio::from(stdio.stderr))
            .status()
            .map_err(|e| format!("running {}: {e}", self.binary.display()))?;
        if status.success() {
            return Ok(());
        }
        let text = read_from(log, before);
        Err(format!(
            "OCI runtime {what} failed: {}",
            last_error(&text).unwrap_or_else(|| format!("hull exited with {status}"))
        ))
    }

    /// A command whose output is wanted (stdout) and whose stderr is its error.
    fn output(&self, args: &[&str], input: Option<&[u8]>) -> Result<Vec<u8>, String> {
        let mut c = self.cmd(None);
        c.args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .map_err(|e| format!("running {}: {e}", self.binary.display()))?;
        if let (Some(data), Some(mut w)) = (input, child.stdin.take()) {
            let _ = w.write_all(data);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| format!("waiting for hull {}: {e}", args[0]))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(format!("hull {}: {}", args[0], err.trim_end()));
        }
        Ok(out.stdout)
    }

    pub fn start(&self, id: &str) -> Result<(), String> {
        self.output(&["start", id], None).map(drop)
    }

    pub fn kill(&self, id: &str, signal: u32, all: bool) -> Result<(), String> {
        let sig = signal.to_string();
        let mut a = vec!["kill"];
        if all {
            a.push("--all");
        }
        a.extend([id, sig.as_str()]);
        self.output(&a, None).map(drop)
    }

    pub fn delete(&self, id: &str, force: bool) -> Result<(), String> {
        let a: &[&str] = if force {
            &["delete", "--force", id]
        } else {
            &["delete", id]
        };
        self.output(a, None).map(drop)
    }

    pub fn pause(&self, id: &str) -> Result<(), String> {
        self.output(&["pause", id], None).map(drop)
    }

    pub fn resume(&self, id: &str) -> Result<(), String> {
        self.output(&["resume", id], None).map(drop)
    }

    /// `hull update --resources -` with LinuxResources JSON on stdin.
    pub fn update(&self, id: &str, resources: &[u8]) -> Result<(), String> {
        self.output(&["update", "--resources", "-", id], Some(resources))
            .map(drop)
    }

    /// The container's host pids (`ps --format json`).
    pub fn ps(&self, id: &str) -> Result<Vec<u32>, String> {
        let out = self.output(&["ps", "--format", "json", id], None)?;
        serde_json::from_slice(&out).map_err(|e| format!("hull ps output: {e}"))
    }

    /// One `events --stats` record's `data`.
    pub fn stats(&self, id: &str) -> Result<serde_json::Value, String> {
        let out = self.output(&["events", "--stats", id], None)?;
        let v: serde_json::Value =
            serde_json::from_slice(&out).map_err(|e| format!("hull events output: {e}"))?;
        Ok(v["data"].clone())
    }

    /// hull's record of the container (`ROOT/ID/state.json`), for its cgroup.
    pub fn state_file(&self, id: &str) -> PathBuf {
        self.root.join(id).join("state.json")
    }
}

/// The file's text from byte `from` on (what one command appended).
fn read_from(path: &Path, from: u64) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.seek(SeekFrom::Start(from));
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// The message of the last `"level":"error"` line of a JSON log.
pub fn last_error(log: &str) -> Option<String> {
    log.lines().rev().find_map(|l| {
        let v: serde_json::Value = serde_json::from_str(l).ok()?;
        (v["level"] == "error").then(|| v["msg"].as_str().map(str::to_string))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_error_line_of_the_log_is_the_reason() {
        let log = "{\"level\":\"info\",\"msg\":\"x\"}\n\
                   {\"level\":\"error\",\"msg\":\"first\",\"time\":\"t\"}\n\
                   not json\n\
                   {\"level\":\"error\",\"msg\":\"process.args[0] \\\"/no\\\": not found\"}\n\
                   {\"level\":\"warning\",\"msg\":\"w\"}\n";
        assert_eq!(
            last_error(log).as_deref(),
            Some("process.args[0] \"/no\": not found")
        );
        assert_eq!(last_error("{\"level\":\"info\",\"msg\":\"x\"}"), None);
    }

    #[test]
    fn the_binary_is_the_option_then_next_to_the_shim_then_on_path() {
        let d = std::env::temp_dir().join(format!("hull-cshim-bin-{}", std::process::id()));
        let (a, b) = (d.join("a"), d.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let exe = |p: &Path| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::write(p, "").unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        exe(&b.join("hull"));
        exe(&b.join("other"));
        let shim = a.join("containerd-shim-hull-v2");
        let path = format!("/nonexistent:{}", b.display());
        let got = (
            find_binary("/x/hull", Some(&shim), Some(&path)),
            find_binary("other", Some(&shim), Some(&path)),
            find_binary("", Some(&shim), Some(&path)),
            find_binary("missing", Some(&shim), Some(&path)),
        );
        exe(&a.join("hull"));
        let beside = find_binary("", Some(&shim), Some(&path));
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!(got.0, Some(PathBuf::from("/x/hull")));
        assert_eq!(got.1, Some(b.join("other")));
        assert_eq!(got.2, Some(b.join("hull")));
        assert_eq!(got.3, None);
        assert_eq!(beside, Some(a.join("hull")));
    }

    #[test]
    fn the_root_holds_one_directory_per_namespace() {
        let mut o = RuntimeOptions {
            binary_name: "/bin/true".into(),
            ..Default::default()
        };
        let h = Hull::new(&o, "k8s.io").unwrap();
        assert_eq!(h.root, PathBuf::from("/run/containerd/hull/k8s.io"));
        o.root = "/r".into();
        o.systemd_cgroup = true;
        let h = Hull::new(&o, "default").unwrap();
        assert_eq!(
            (h.root, h.systemd_cgroup),
            (PathBuf::from("/r/default"), true)
        );
    }
}
