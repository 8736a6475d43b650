//! Handing a SCMP_ACT_NOTIFY listener to the seccomp agent at `linux.seccomp.listenerPath`
//! (runtime-spec config-linux.md "seccomp"): connect to the unix socket, send the
//! container process state as JSON with the listener fd as SCM_RIGHTS, close.

use anyhow::{Context, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use std::collections::HashMap;
use std::io::{IoSlice, Write};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// What the agent learns about the container, besides the fd.
pub struct ListenerState<'a> {
    pub id: &'a str,
    /// Pid of the process the filter is for, in the runtime's pid namespace.
    pub pid: i32,
    /// Pid of the container init (the same process, for the init's own filter).
    pub init_pid: i32,
    /// Creating for the init's filter (runc sends it before the container reaches
    /// created), running for an exec'd process's.
    pub status: crate::state::Status,
    pub bundle: &'a Path,
    pub annotations: &'a HashMap<String, String>,
    /// `linux.seccomp.listenerMetadata` ("" when absent).
    pub metadata: &'a str,
}

/// The runtime-spec `ContainerProcessState` JSON for `st`.
pub fn process_state_json(st: &ListenerState) -> serde_json::Value {
    serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": st.pid,
        "metadata": st.metadata,
        "state": crate::state::OciState::new(
            st.id,
            st.status,
            st.init_pid,
            st.bundle,
            st.annotations
        ),
    })
}

/// Sends `listener` and the state to the agent listening at `path`.
pub fn send_listener(path: &Path, listener: BorrowedFd, st: &ListenerState) -> Result<()> {
    let what = || format!("linux.seccomp.listenerPath {}", path.display());
    // runc's words first ("failed to connect with seccomp agent"), which callers match.
    let mut sock = UnixStream::connect(path).with_context(|| {
        format!(
            "failed to connect with seccomp agent: {}: connect (is the agent listening?)",
            what()
        )
    })?;
    let body = serde_json::to_vec(&process_state_json(st))?;
    let fds = [listener.as_raw_fd()];
    let sent = sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(&body)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .with_context(|| format!("{}: send the seccomp fd", what()))?;
    sock.write_all(&body[sent..])
        .with_context(|| format!("{}: send the state", what()))?;
    Ok(())
}

/// Whose listener it is, for `send_to_agent`.
pub struct ListenerOwner<'a> {
    pub id: &'a str,
    /// The process the filter was loaded in.
    pub pid: i32,
    /// The container init (the same process for the init's own filter).
    pub init_pid: i32,
    pub status: crate::state::Status,
    pub bundle: &'a Path,
}

/// Hand `listener` to the agent at `spec`'s `linux.seccomp.listenerPath`, with the process
/// state runc sends (the config's annotations and `listenerMetadata`).
pub fn send_to_agent(
    spec: &oci_spec::runtime::Spec,
    owner: &ListenerOwner,
    listener: BorrowedFd,
) -> Result<()> {
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .context("linux.seccomp: missing")?;
    let path = seccomp
        .listener_path()
        .as_ref()
        .context("linux.seccomp.listenerPath: required when a syscall uses SCMP_ACT_NOTIFY")?;
    let annotations = spec.annotations().clone().unwrap_or_default();
    let st = ListenerState {
        id: owner.id,
        pid: owner.pid,
        init_pid: owner.init_pid,
        status: owner.status,
        bundle: owner.bundle,
        annotations: &annotations,
        metadata: seccomp.listener_metadata().as_deref().unwrap_or(""),
    };
    send_listener(path, listener, &st)
}
