//! The one process-setup sequence every process that enters a container runs, the container
//! init and `exec` alike, once it is inside the container's namespaces (and, for the init,
//! its root): oom_score_adj, session keyring, rlimits, scheduler/ioprio/personality/CPU
//! affinity, NUMA memory policy, a new session and the terminal, cwd (tried while still privileged, again
//! after the switch), HOME, user and groups, capabilities, no_new_privs, the LSM exec
//! label, seccomp, and the argv/envp of the execve. What differs between the two (creating
//! vs joining namespaces, the rootfs, the exec fifo and startContainer hooks) stays with
//! their callers (init.rs, exec_child.rs). Nothing here runs in hull's own process.

use std::ffi::CString;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;

use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxPersonality, Process};

use super::sync::{Channel, Msg};
use crate::namespaces::NsPlan;
use crate::security::{capabilities, identity};

/// What the sequence needs, prepared by the parent before the clone or fork.
pub struct ProcessSetup<'a> {
    /// The container id (names the session keyring).
    pub id: &'a str,
    pub process: &'a Process,
    /// The user process's environment as configured (HOME is added here when missing).
    pub env: &'a [String],
    /// The channel to the parent: the pty master and a seccomp listener go over it.
    pub sync: &'a Channel,
    /// fds 3..3+extra_fds are passed on (LISTEN_FDS + --preserve-fds).
    pub extra_fds: u32,
    /// The container's seccomp filter, compiled by the parent.
    pub seccomp: Option<&'a crate::security::seccomp::Program>,
    /// `--no-new-keyring` (for exec: as recorded at create).
    pub no_new_keyring: bool,
    /// `linux.personality` of the container.
    pub personality: Option<&'a LinuxPersonality>,
    /// The namespaces the process is in (whether setgroups is allowed).
    pub ns: &'a NsPlan,
    /// `linux.memoryPolicy` of the container.
    pub mempolicy: Option<&'a oci_spec::runtime::LinuxMemoryPolicy>,
}

/// A process set up and one `execve` away from running.
pub struct Ready {
    pub prog: PathBuf,
    prog_c: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    /// The final environment (with HOME), for startContainer hooks.
    pub env: Vec<String>,
}

impl ProcessSetup<'_> {
    /// Everything up to the execve, in a fixed order. Afterwards only the caller's own last
    /// steps (report Created, the exec fifo) run, under the seccomp filter when
    /// no_new_privs allows it to come last.
    pub fn prepare(&self) -> Result<Ready> {
        let p = self.process;
        if let Some(adj) = p.oom_score_adj() {
            write_oom_score_adj(adj)?;
        }
        if !self.no_new_keyring {
            join_new_session_keyring(self.id)?;
        }
        if let Some(r) = p.rlimits() {
            crate::security::rlimits::apply(r)?;
        }
        crate::security::sched::apply(p, self.personality)?;
        if let Some(mp) = self.mempolicy {
            crate::security::mempolicy::apply(mp)?;
        }
        nix::unistd::setsid().context("setsid")?;
        if p.terminal() == Some(true) {
            super::console::attach_terminal(self.sync, p)?;
        }
        // Read while still root, before any filter: the container's /etc/passwd.
        let env = final_env(self.env, p.user().uid());
        let nnp = p.no_new_privileges() == Some(true);
        if !nnp {
            // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it now,
            // while it is still held (everything after runs under the filter, as in runc).
            self.load_seccomp()?;
        }
        // runc's order: chdir while privileged (a cwd only root can enter), and once more
        // as the user if that was refused (a cwd only the user can enter, e.g. a volume
        // chowned to it on a root-squashing filesystem).
        let cwd = p.cwd();
        let cwd_again = !cwd.as_os_str().is_empty() && !chdir_privileged(cwd)?;
        finalize_identity(p, self.ns)?;
        if cwd_again {
            nix::unistd::chdir(cwd).with_context(|| format!("process.cwd {}", cwd.display()))?;
        }
        if nnp {
            nix::sys::prctl::set_no_new_privs().context("process.noNewPrivileges: prctl")?;
        }

        let args = p.args().clone().unwrap_or_default();
        let first = args.first().context("process.args must not be empty")?;
        let prog = crate::process::lookup::find(first, &env)?;
        let argv = cstrings(&args)?;
        let envp = cstrings(&env)?;
        let prog_c = CString::new(prog.as_os_str().as_encoded_bytes())
            .context("process.args[0]: contains a NUL byte")?;
        for fd in 3..3 + self.extra_fds as RawFd {
            crate::sys::fds::set_cloexec(fd, false)
                .with_context(|| format!("preserved fd {fd}"))?;
        }
        crate::security::lsm::apply_exec(p)?;
        // The process outlives hull once it runs: disarm the parent-death signal.
        nix::sys::prctl::set_pdeathsig(None).context("clear pdeathsig")?;
        if nnp {
            // As late as possible: only the last report and the execve run under it.
            self.load_seccomp()?;
        }
        Ok(Ready {
            prog,
            prog_c,
            argv,
            envp,
            env,
        })
    }

    /// Load the filter; a SCMP_ACT_NOTIFY listener fd goes to the parent, which hands it to
    /// `linux.seccomp.listenerPath`.
    fn load_seccomp(&self) -> Result<()> {
        let Some(prog) = self.seccomp else {
            return Ok(());
        };
        if let Some(listener) = crate::security::seccomp::load(prog)? {
            self.sync
                .send_fd(&Msg::SeccompListener, listener.as_raw_fd())?;
        }
        Ok(())
    }
}

impl Ready {
    /// execve the user process; returns only on failure.
    pub fn exec(&self) -> nix::errno::Errno {
        nix::unistd::execve(&self.prog_c, &self.argv, &self.envp).unwrap_err()
    }
}

/// chdir as root: `Ok(false)` when refused for permissions (try again as the user).
fn chdir_privileged(cwd: &std::path::Path) -> Result<bool> {
    match nix::unistd::chdir(cwd) {
        Ok(()) => Ok(true),
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) => Ok(false),
        Err(e) => Err(e).with_context(|| format!("process.cwd {}", cwd.display())),
    }
}

/// `env` with each name once (its last value, at its last place: `ONE=two ONE=` is
/// `ONE=`), and HOME from the container's /etc/passwd entry for `uid` when it has no HOME
/// or an empty one ("/" without an entry), as runc sets them.
fn final_env(env: &[String], uid: u32) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut env: Vec<String> = env
        .iter()
        .rev()
        .filter(|kv| seen.insert(kv.split_once('=').map_or(kv.as_str(), |(k, _)| k)))
        .cloned()
        .collect();
    env.reverse();
    let set = env
        .iter()
        .rposition(|kv| kv.starts_with("HOME="))
        .filter(|&i| env[i].len() > "HOME=".len());
    if set.is_none() {
        env.retain(|kv| !kv.starts_with("HOME="));
        env.push(format!("HOME={}", identity::home_of(uid)));
    }
    env
}

pub fn cstrings(v: &[String]) -> Result<Vec<CString>> {
    v.iter()
        .map(|s| CString::new(s.as_bytes()).with_context(|| format!("{s:?} contains a NUL byte")))
        .collect()
}

pub fn write_oom_score_adj(adj: i32) -> Result<()> {
    // Through hull's procfs handle: the container's /proc may be anything (crate::procfs).
    let f = crate::procfs::get()?
        .open_self("oom_score_adj", libc::O_WRONLY)
        .context("process.oomScoreAdj: open /proc/self/oom_score_adj")?;
    crate::procfs::write(f, &adj.to_string()).with_context(|| {
        format!("process.oomScoreAdj {adj}: write (lowering it needs CAP_SYS_RESOURCE)")
    })
}

pub fn join_new_session_keyring(id: &str) -> Result<()> {
    let name = CString::new(format!("_ses.{id}")).context("keyring name")?;
    if let Err(e) = crate::sys::process_attrs::join_session_keyring(&name) {
        // Kernels without keyrings, or a seccomp'd host that forbids keyctl: carry on as
        // runc does.
        if !matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) {
            return Err(e).context("joining a new session keyring (try --no-new-keyring)");
        }
    }
    Ok(())
}

/// Capabilities, groups, gid, uid, umask, in the order that keeps CAP_SETPCAP/SETUID
/// until they are no longer needed.
pub fn finalize_identity(process: &Process, ns: &NsPlan) -> Result<()> {
    let caps = process.capabilities().as_ref();
    if let Some(c) = caps {
        capabilities::apply_bounding(c)?;
    }
    nix::sys::prctl::set_keepcaps(true).context("prctl(PR_SET_KEEPCAPS)")?;
    identity::switch(process.user(), setgroups_allowed(ns))?;
    nix::sys::prctl::set_keepcaps(false).context("prctl(PR_SET_KEEPCAPS, 0)")?;
    identity::set_umask(process.user());
    // Without a capabilities object the sets are left as they are, as runc does.
    if let Some(c) = caps {
        capabilities::apply_rest(c)?;
    }
    Ok(())
}

pub fn setgroups_allowed(ns: &NsPlan) -> bool {
    if !ns.new_user {
        return true;
    }
    crate::kfile::read("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_is_added_when_missing_or_empty_and_kept_when_set() {
        let uid = u32::MAX - 7; // no passwd entry anywhere: "/"
        let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(final_env(&e(&["A=1"]), uid), e(&["A=1", "HOME=/"]));
        assert_eq!(final_env(&e(&["HOME=", "A=1"]), uid), e(&["A=1", "HOME=/"]));
        assert_eq!(
            final_env(&e(&["HOME=/x", "A=1"]), uid),
            e(&["HOME=/x", "A=1"])
        );
        // A name given twice is set once, to its last value.
        assert_eq!(
            final_env(&e(&["ONE=two", "ONE=", "P=1", "HOME=/x"]), uid),
            e(&["ONE=", "P=1", "HOME=/x"])
        );
        assert_eq!(
            final_env(&e(&["HOME=/x", "A=1", "HOME="]), uid),
            e(&["A=1", "HOME=/"])
        );
    }
}
