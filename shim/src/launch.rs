//! Starting the container through hull itself: `hull --root ROOT create --bundle B ID` with
//! the shim's pipes as the container's stdio, then `hull --root ROOT start ID`. The shim is a
//! child subreaper, so when `hull create` exits its init is re-parented to the shim, which
//! then holds a pidfd for it.

use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::fcntl::OFlag;
use nix::unistd::pipe2;

use crate::args::Args;

/// The shim's ends of the container's stdio pipes.
pub struct Stdio3 {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// The container init as the shim holds it.
pub struct Init {
    pub pid: i32,
    pub pidfd: OwnedFd,
    /// memory.oom_control (v1) / memory.events (v2) files of the container's cgroup.
    pub oom_files: Vec<PathBuf>,
}

/// Run `hull create` on new pipes; on success the container's stdio pipes stay with the
/// shim (non-blocking) and the init is `created`.
pub fn create(a: &Args) -> Result<Stdio3, String> {
    let p = |what| pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("creating the {what} pipe: {e}"));
    let (in_r, in_w) = p("stdin")?;
    let (out_r, out_w) = p("stdout")?;
    let (err_r, err_w) = p("stderr")?;
    let status = hull(a)
        .args(["create", "--bundle"])
        .arg(&a.bundle)
        .arg(&a.id)
        .stdin(Stdio::from(in_r))
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w))
        .status()
        .map_err(|e| format!("running {}: {e}", a.hull.display()))?;
    for fd in [&in_w, &out_r, &err_r] {
        set_nonblocking(fd);
    }
    if !status.success() {
        // hull's error line went to what would have been the container's stderr.
        let mut buf = [0u8; 4096];
        let n = std::fs::File::from(err_r).read(&mut buf).unwrap_or(0);
        let msg = String::from_utf8_lossy(&buf[..n]);
        return Err(format!(
            "hull create {} failed ({status}): {}",
            a.id,
            msg.trim_end()
        ));
    }
    Ok(Stdio3 {
        stdin: in_w,
        stdout: out_r,
        stderr: err_r,
    })
}

/// Open the init named in ROOT/ID/state.json and check that it is the shim's child now.
pub fn adopt(a: &Args) -> Result<Init, String> {
    let path = a.root.join(&a.id).join("state.json");
    let raw = std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let st: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| format!("parsing {}: {e}", path.display()))?;
    let pid = st["pid"].as_i64().unwrap_or(0) as i32;
    let start = st["init_start_time"].as_u64();
    if pid <= 0 {
        return Err(format!("{}: no init pid recorded", path.display()));
    }
    let pidfd = hull_common::pidfd::open(pid)
        .map_err(|e| format!("opening the container init (pid {pid}): {e}"))?;
    let (ppid, started) = stat(pid).ok_or_else(|| format!("container init {pid} is gone"))?;
    if start.is_some_and(|s| s != started) {
        return Err(format!("pid {pid} is no longer the container init"));
    }
    if ppid != std::process::id() as i32 {
        return Err(format!(
            "container init {pid} was re-parented to {ppid}, not to the shim \
             (is the shim a child subreaper?)"
        ));
    }
    Ok(Init {
        pid,
        pidfd,
        oom_files: hull_common::oom::counter_files(&st["cgroup"]),
    })
}

/// Run `hull start`; its stderr becomes the error message.
pub fn start(a: &Args) -> Result<(), String> {
    let out = hull(a)
        .args(["start"])
        .arg(&a.id)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| format!("running {}: {e}", a.hull.display()))?;
    if !out.status.success() {
        return Err(format!(
            "hull start {} failed ({}): {}",
            a.id,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim_end()
        ));
    }
    Ok(())
}

fn hull(a: &Args) -> Command {
    let mut c = Command::new(&a.hull);
    c.arg("--root").arg(&a.root);
    c
}

fn set_nonblocking(fd: &OwnedFd) {
    use nix::fcntl::{fcntl, FcntlArg};
    if let Ok(fl) = fcntl(fd, FcntlArg::F_GETFL) {
        let _ = fcntl(
            fd,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK),
        );
    }
}

/// (parent pid, start time) from /proc/PID/stat; fields are counted after the last ')'
/// because the command name may hold spaces.
fn stat(pid: i32) -> Option<(i32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = s[s.rfind(')')? + 1..].split_ascii_whitespace();
    let ppid = f.nth(1)?.parse().ok()?;
    let start = f.nth(17)?.parse().ok()?;
    Some((ppid, start))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_reads_parent_and_start_time_of_this_process() {
        let (ppid, start) = stat(std::process::id() as i32).unwrap();
        assert_eq!(ppid, std::os::unix::process::parent_id() as i32);
        assert!(start > 0);
    }
}
