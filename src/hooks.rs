//! OCI hooks: run one with the container state JSON on stdin, its `args` and `env`, and a
//! `timeout` after which it is killed and the operation fails.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Hook, Hooks};

/// The lifecycle points at which hooks run, with their config field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub fn field(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// The configured hooks of this kind.
    pub fn of(self, h: &Hooks) -> Vec<Hook> {
        #[allow(deprecated)]
        let v = match self {
            Kind::Prestart => h.prestart(),
            Kind::CreateRuntime => h.create_runtime(),
            Kind::CreateContainer => h.create_container(),
            Kind::StartContainer => h.start_container(),
            Kind::Poststart => h.poststart(),
            Kind::Poststop => h.poststop(),
        };
        v.clone().unwrap_or_default()
    }
}

/// Whether the init stops after its mounts for the parent (`MountsReady`, `Continue`): only
/// when there are prestart or createRuntime hooks for the parent to run then, or
/// createContainer hooks, which run after that point. Both sides decide from the same spec;
/// without such hooks the round trip would only cost two context switches.
pub fn mounts_ready_stop(hooks: Option<&Hooks>) -> bool {
    hooks.is_some_and(|h| {
        [Kind::Prestart, Kind::CreateRuntime, Kind::CreateContainer]
            .iter()
            .any(|k| !k.of(h).is_empty())
    })
}

/// What a hook without its own `env` inherits, and where it runs.
#[derive(Default, Clone, Copy)]
pub struct Inherit<'a> {
    /// `None`: the runtime's own environment (runc's exec.Cmd with a nil Env).
    pub env: Option<&'a [String]>,
    /// `None`: the runtime's working directory.
    pub cwd: Option<&'a std::path::Path>,
}

/// Run every hook of `kind` in order, in hull's own environment; the first failure stops
/// and is returned.
pub fn run_all(hooks: Option<&Hooks>, kind: Kind, state_json: &str) -> Result<()> {
    run_all_in(hooks, kind, state_json, Inherit::default())
}

/// `run_all` for the hooks the container init runs (createContainer, startContainer): as
/// in runc, whose init runs them, they inherit the container process's environment.
pub fn run_all_in(hooks: Option<&Hooks>, kind: Kind, state_json: &str, cx: Inherit) -> Result<()> {
    let Some(h) = hooks else { return Ok(()) };
    for (i, hook) in kind.of(h).iter().enumerate() {
        run_one(hook, state_json, cx).with_context(|| failed(kind, i, hook))?;
    }
    Ok(())
}

/// Run every hook of `kind`, logging failures as warnings (poststart, poststop).
pub fn run_all_warn(hooks: Option<&Hooks>, kind: Kind, state_json: &str) {
    let Some(h) = hooks else { return };
    for (i, hook) in kind.of(h).iter().enumerate() {
        if let Err(e) = run_one(hook, state_json, Inherit::default()) {
            crate::logging::warn(&format!("{}: {e:#}", failed(kind, i, hook)));
        }
    }
}

/// What failed, in runc's words first ("error running prestart hook #1:" as runc >= 1.2
/// says it, which callers match; "error running hook" as runc 1.1 said it), then where it
/// is in config.json and what it runs.
fn failed(kind: Kind, i: usize, hook: &Hook) -> String {
    let f = kind.field();
    format!(
        "error running {f} hook #{i}: hooks.{f}[{i}]: error running hook {}",
        hook.path().display()
    )
}

/// Run one hook and wait for it, killing it at its timeout. Its `env`, when given (even
/// empty), is its whole environment; without one it inherits `cx.env`.
pub fn run_one(hook: &Hook, state_json: &str, cx: Inherit) -> Result<()> {
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((argv0, rest)) = args.split_first() {
            cmd.arg0(argv0).args(rest);
        }
    }
    if let Some(env) = hook.env().as_deref().or(cx.env) {
        cmd.env_clear();
        for kv in env {
            if let Some((k, v)) = kv.split_once('=') {
                cmd.env(k, v);
            }
        }
    }
    if let Some(dir) = cx.cwd {
        cmd.current_dir(dir);
    }
    // stderr goes to an unlinked temp file, not a pipe: a hook that writes a lot must not
    // block on a pipe nobody drains. stdout is discarded, as nothing reads it.
    let mut errfile = tempfile_anon().context("temp file for the hook's stderr")?;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(errfile.try_clone().context("hook stderr")?);
    let mut child = cmd.spawn().context("cannot run hook")?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine: ignore EPIPE.
        let _ = stdin.write_all(state_json.as_bytes());
    }
    let deadline = hook
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(t.max(1) as u64));
    let status = wait_with_deadline(&mut child, deadline)?;
    let mut err = String::new();
    use std::io::Seek;
    let _ = errfile.seek(std::io::SeekFrom::Start(0));
    let _ = (&mut errfile).take(64 * 1024).read_to_string(&mut err);
    let Some(status) = status else {
        bail!(
            "timed out after {} s and was killed",
            hook.timeout().unwrap_or_default()
        );
    };
    if !status.success() {
        let err = err.trim();
        bail!(
            "{}{}{}",
            how_it_ended(status),
            if err.is_empty() { "" } else { ": " },
            err.lines().last().unwrap_or("")
        );
    }
    Ok(())
}

/// A failed hook's end in the words runc (Go) uses, which callers match: "exit status 1",
/// "signal: bad system call (SIGSYS)".
fn how_it_ended(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => {
            let name = nix::sys::signal::Signal::try_from(sig)
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|_| format!("signal {sig}"));
            let core = if status.core_dumped() {
                ", core dumped"
            } else {
                ""
            };
            format!("signal: {} ({name}{core})", signal_text(sig))
        }
        _ => status.to_string(),
    }
}

/// What a signal means, as Go (and strsignal(3), in lower case) words it.
fn signal_text(sig: i32) -> String {
    const TEXT: [&str; 31] = [
        "hangup",
        "interrupt",
        "quit",
        "illegal instruction",
        "trace/breakpoint trap",
        "aborted",
        "bus error",
        "floating point exception",
        "killed",
        "user defined signal 1",
        "segmentation fault",
        "user defined signal 2",
        "broken pipe",
        "alarm clock",
        "terminated",
        "stack fault",
        "child exited",
        "continued",
        "stopped (signal)",
        "stopped",
        "stopped (tty input)",
        "stopped (tty output)",
        "urgent I/O condition",
        "CPU time limit exceeded",
        "file size limit exceeded",
        "virtual timer expired",
        "profiling timer expired",
        "window changed",
        "I/O possible",
        "power failure",
        "bad system call",
    ];
    usize::try_from(sig - 1)
        .ok()
        .and_then(|i| TEXT.get(i))
        .map_or_else(|| format!("signal {sig}"), |t| t.to_string())
}

/// An anonymous file (O_TMPFILE in /tmp, else a memfd) for capturing a hook's stderr.
fn tempfile_anon() -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC)
        .open("/tmp")
        .or_else(|_| {
            let fd = nix::sys::memfd::memfd_create(
                c"hull-hook-stderr",
                nix::sys::memfd::MFdFlags::MFD_CLOEXEC,
            )?;
            Ok(std::fs::File::from(fd))
        })
}

/// Wait for `child`; `None` if the deadline passed (the child is then killed and reaped).
fn wait_with_deadline(
    child: &mut std::process::Child,
    deadline: Option<Instant>,
) -> Result<Option<std::process::ExitStatus>> {
    let Some(deadline) = deadline else {
        return Ok(Some(child.wait().context("waiting for hook")?));
    };
    let pidfd = crate::sys::pidfd::open(child.id() as i32).context("pidfd for hook")?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut pfd = [libc::pollfd {
            fd: pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        let r = crate::sys::poll::poll(&mut pfd, ms);
        if r > 0 {
            return Ok(Some(child.wait().context("waiting for hook")?));
        }
        if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(field: &str) -> Hooks {
        serde_json::from_value(serde_json::json!({ field: [{"path": "/bin/true"}] })).unwrap()
    }

    #[test]
    fn the_init_stops_after_its_mounts_only_for_hooks_that_run_then_or_later_in_setup() {
        assert!(!mounts_ready_stop(None));
        assert!(!mounts_ready_stop(Some(&Hooks::default())));
        for f in ["prestart", "createRuntime", "createContainer"] {
            assert!(mounts_ready_stop(Some(&hooks(f))), "{f}");
        }
        for f in ["startContainer", "poststart", "poststop"] {
            assert!(!mounts_ready_stop(Some(&hooks(f))), "{f}");
        }
    }

    #[test]
    fn a_hook_end_reads_as_go_words_it() {
        use std::os::unix::process::ExitStatusExt;
        let st = std::process::ExitStatus::from_raw;
        assert_eq!(how_it_ended(st(1 << 8)), "exit status 1");
        assert_eq!(how_it_ended(st(31)), "signal: bad system call (SIGSYS)");
        assert_eq!(how_it_ended(st(9)), "signal: killed (SIGKILL)");
        assert_eq!(
            how_it_ended(st(6 | 0x80)),
            "signal: aborted (SIGABRT, core dumped)"
        );
    }
}
