//! criu's RPC, as runc speaks it: `criu swrk FD` with one end of a SOCK_SEQPACKET
//! socketpair, one request, criu's notifications answered as they come, then its answer.
//!
//! The messages are rust-criu's (checkpoint-restore's generated protobuf types). The
//! exchange is hull's own, not rust-criu's `Criu` type: a restore must put criu into the
//! container's cgroup and tell it the cgroup roots between spawning it and sending the
//! request (runc's `criuApplyCgroups`), must learn the restored init's pid from the
//! `post-restore` notification, hand the `orphan-pts-master` fd to the console socket and
//! run hooks at `setup-namespaces`, all with the container's context at hand (rust-criu
//! takes a plain `fn` callback), and criu must get hull's stdio so that the container's
//! pipes can be inherited; `Criu` offers none of these. Errors carry criu's own first
//! error line from its log, which the RPC answer does not.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{anyhow, bail, Context, Result};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{socketpair, AddressFamily, MsgFlags, SockFlag, SockType};
use protobuf::Message;

pub use rust_criu::rust_criu_protobuf::rpc;

/// The longest answer criu sends (runc reads into 40 KiB too).
const MAX_MESSAGE: usize = 10 * 4096;

/// How one `criu swrk` runs.
pub struct Swrk<'a> {
    /// `--criu`: a path, or a name looked up in PATH.
    pub criu: &'a Path,
    /// Where criu writes its log (the work dir's or image dir's LOG_FILE), for errors.
    pub log: Option<PathBuf>,
    /// criu gets hull's stdin, stdout and stderr (restore: the restored container's pipes
    /// are inherited from them); otherwise /dev/null.
    pub inherit_stdio: bool,
    /// Fds whose numbers the request names (images dir, work dir, namespaces): criu
    /// inherits them.
    pub fds: Vec<BorrowedFd<'a>>,
}

/// What criu tells hull while it works (see `Swrk::call`).
pub enum Event<'a> {
    /// criu runs as this pid; the request may still be changed before it is sent.
    Spawned(i32, &'a mut rpc::Criu_req),
    /// A notification (`post-dump`, `setup-namespaces`, `post-restore`, ...), with the
    /// fds that came with it (`orphan-pts-master` sends the pty master).
    Notify(&'a rpc::Criu_notify, Vec<OwnedFd>),
}

impl Swrk<'_> {
    /// Send `req` and return criu's final answer; `on` sees every `Event`. An error from
    /// `on` aborts the exchange (criu is told the notification failed and stops). criu has
    /// exited when this returns.
    pub fn call(
        &self,
        mut req: rpc::Criu_req,
        mut on: impl FnMut(Event<'_>) -> Result<()>,
    ) -> Result<rpc::Criu_resp> {
        let kind = req.type_();
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("criu: socketpair")?;
        let mut child = self.spawn(&theirs)?;
        drop(theirs);
        let pid = child.id() as i32;
        let answer =
            on(Event::Spawned(pid, &mut req)).and_then(|_| exchange(&ours, &req, kind, &mut on));
        // criu stops once its socket closes; the answer (or the error) is complete by now.
        drop(ours);
        let status = child.wait().context("criu: wait");
        let resp = answer.map_err(|e| self.with_log_line(e))?;
        let status = status?;
        // After a pre-dump criu waits for the next request; closing the socket ends it.
        if !status.success() && kind != rpc::Criu_req_type::PRE_DUMP {
            return Err(self.with_log_line(anyhow!("criu exited with {status}")));
        }
        Ok(resp)
    }

    /// Start `criu swrk` with `sock` (and `self.fds`) inherited: close-on-exec is cleared
    /// on them for the spawn only (hull is single-threaded, so no other child can catch
    /// them meanwhile).
    fn spawn(&self, sock: &OwnedFd) -> Result<Child> {
        let mut inherited: Vec<BorrowedFd<'_>> = vec![sock.as_fd()];
        inherited.extend(self.fds.iter().map(|f| f.as_fd()));
        for fd in &inherited {
            fcntl(fd, FcntlArg::F_SETFD(FdFlag::empty())).context("criu: passing an fd")?;
        }
        let mut cmd = Command::new(self.criu);
        cmd.arg("swrk").arg(sock.as_raw_fd().to_string());
        if !self.inherit_stdio {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
        }
        let spawned = cmd.spawn();
        for fd in &inherited {
            let _ = fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
        }
        spawned.map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow!(
                    "criu not found ({:?}): install criu, or name it with --criu PATH",
                    self.criu
                )
            } else {
                anyhow!("running {}: {e}", self.criu.display())
            }
        })
    }

    /// `e` with criu's first error line from its log, which says what went wrong.
    fn with_log_line(&self, e: anyhow::Error) -> anyhow::Error {
        match self.log.as_deref().and_then(first_error_line) {
            // criu's answer often carries the same line already.
            Some(line) if !format!("{e:#}").contains(&line) => anyhow!("{e:#}: {line}"),
            _ => e,
        }
    }
}

/// Send the request, answer notifications, return criu's answer to the request.
fn exchange(
    sock: &OwnedFd,
    req: &rpc::Criu_req,
    kind: rpc::Criu_req_type,
    on: &mut impl FnMut(Event<'_>) -> Result<()>,
) -> Result<rpc::Criu_resp> {
    send(sock, req)?;
    loop {
        let (data, fds) = crate::sys::scm::recv_fds_upto(sock.as_raw_fd(), MAX_MESSAGE)
            .context("criu: reading its answer")?;
        if data.is_empty() {
            bail!("criu stopped without answering");
        }
        let resp = rpc::Criu_resp::parse_from_bytes(&data).context("criu: a malformed answer")?;
        let t = resp.type_();
        if !resp.success() {
            let msg = resp.cr_errmsg();
            if msg.is_empty() {
                bail!("criu failed ({t:?}, errno {})", resp.cr_errno());
            }
            bail!("criu failed ({t:?}): {msg}");
        }
        if t == rpc::Criu_req_type::NOTIFY {
            let handled = on(Event::Notify(&resp.notify, fds));
            let mut ack = rpc::Criu_req::new();
            ack.set_type(rpc::Criu_req_type::NOTIFY);
            ack.set_notify_success(handled.is_ok());
            let sent = send(sock, &ack);
            handled?;
            sent?;
            continue;
        }
        if t != kind {
            bail!("criu answered {t:?} to a {kind:?} request");
        }
        return Ok(resp);
    }
}

fn send(sock: &OwnedFd, req: &rpc::Criu_req) -> Result<()> {
    let bytes = req.write_to_bytes().context("criu: encoding the request")?;
    nix::sys::socket::send(sock.as_raw_fd(), &bytes, MsgFlags::MSG_NOSIGNAL)
        .context("criu: sending the request")?;
    Ok(())
}

/// The first line of a criu log that reports an error, without its timestamp:
/// `Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds`.
pub fn first_error_line(log: &Path) -> Option<String> {
    let text = std::fs::read(log).ok()?;
    let text = String::from_utf8_lossy(&text);
    let line = text.lines().find(|l| l.contains("Error"))?;
    // "(00.017608) Error (...)", or in a restore "(00.752401)      1: Error (...)".
    let line = match line.find("Error (") {
        Some(i) => &line[i..],
        None => line,
    };
    Some(line.trim().to_string())
}

/// criu's `--manage-cgroups-mode`, from runc's words.
pub fn cgroup_mode(s: Option<&str>) -> Result<rpc::Criu_cg_mode> {
    Ok(match s.unwrap_or("") {
        "" => rpc::Criu_cg_mode::DEFAULT,
        "soft" => rpc::Criu_cg_mode::SOFT,
        "full" => rpc::Criu_cg_mode::FULL,
        "strict" => rpc::Criu_cg_mode::STRICT,
        "ignore" => rpc::Criu_cg_mode::IGNORE,
        other => bail!("--manage-cgroups-mode {other:?}: use soft, full, strict or ignore"),
    })
}

/// The `--empty-ns` mask: runc always restores the network namespace empty (it manages
/// no network devices) and accepts only `network` besides.
pub fn empty_ns_mask(names: &[String]) -> Result<u32> {
    let mut mask = libc::CLONE_NEWNET as u32;
    for n in names {
        match n.as_str() {
            "network" => mask |= libc::CLONE_NEWNET as u32,
            other => bail!("--empty-ns {other:?}: only \"network\" is supported"),
        }
    }
    Ok(mask)
}

/// criu's key for a namespace hull joined by path: `extRootNetNS`, `extRootPidNS`.
pub fn ns_key(kind: &str) -> String {
    let mut c = kind.chars();
    let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or_default();
    format!("extRoot{first}{}NS", c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_line_of_a_criu_log_is_found_without_its_timestamp() {
        let dir = std::env::temp_dir().join(format!("hull-criu-log-{}", std::process::id()));
        std::fs::write(
            &dir,
            "(00.000021) Version: 3.17.1 (gitid 0)\n\
             (00.017608)      1: Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n\
             (00.017609) Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n",
        )
        .unwrap();
        let line = first_error_line(&dir);
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(
            line.as_deref(),
            Some("Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds")
        );
        assert_eq!(first_error_line(Path::new("/nonexistent/dump.log")), None);
    }

    #[test]
    fn runc_cgroup_modes_and_namespace_keys_map_to_criu_s() {
        assert_eq!(cgroup_mode(None).unwrap(), rpc::Criu_cg_mode::DEFAULT);
        assert_eq!(cgroup_mode(Some("soft")).unwrap(), rpc::Criu_cg_mode::SOFT);
        assert_eq!(
            cgroup_mode(Some("ignore")).unwrap(),
            rpc::Criu_cg_mode::IGNORE
        );
        let e = cgroup_mode(Some("hard")).unwrap_err().to_string();
        assert!(e.contains("--manage-cgroups-mode \"hard\""), "{e}");
        assert_eq!(ns_key("net"), "extRootNetNS");
        assert_eq!(ns_key("pid"), "extRootPidNS");
        assert_eq!(empty_ns_mask(&[]).unwrap(), libc::CLONE_NEWNET as u32);
        assert!(empty_ns_mask(&["ipc".into()]).is_err());
    }
}
