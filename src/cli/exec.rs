//! `hull exec`: run a new process inside a running container.

use std::path::PathBuf;

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct ExecArgs {
    /// Path to an AF_UNIX socket that receives the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Current working directory in the container
    #[arg(long)]
    pub cwd: Option<String>,
    /// Set environment variables (KEY=VALUE)
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// UID (format: <uid>[:<gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Path to the process.json
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Set the asm process label for the process (SELinux)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Set the AppArmor profile for the process
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability to the bounding set for the process
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Pass N additional file descriptors to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run the process in an (existing) sub-cgroup: [<controller>:]<cgroup>
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// AF_UNIX socket that receives a pidfd of the exec'd process (with --detach)
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Container id
    pub id: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(g: &Global, a: ExecArgs) -> anyhow::Result<i32> {
    // As runc: the process's own exit status, or 255 when hull itself failed (no such
    // container, executable or pid-file directory), so callers can tell the two apart.
    match exec_and_send_pidfd(g, a) {
        Ok(code) => Ok(code),
        Err(e) => {
            crate::logging::error(&format!("{e:#}"));
            Ok(RUNTIME_FAILED)
        }
    }
}

fn exec_and_send_pidfd(g: &Global, a: ExecArgs) -> anyhow::Result<i32> {
    use crate::container::{exec, ExecOptions};
    use crate::process::exec_process::Overrides;
    let sock = match a.pidfd_socket.as_deref() {
        None => None,
        Some(_) if !a.detach => {
            anyhow::bail!("--pidfd-socket: supported with exec --detach only")
        }
        Some(p) => Some(super::pidfd::PidfdSocket::connect(p)?),
    };
    // The pid of the exec'd process comes back through the pid file: a private one when
    // the caller gave none.
    let scratch = match (&sock, &a.pid_file) {
        (Some(_), None) => Some(ScratchDir::new()?),
        _ => None,
    };
    let pid_file = a
        .pid_file
        .clone()
        .or_else(|| scratch.as_ref().map(|d| d.0.join("pid")));
    let id = a.id.clone();
    let o = ExecOptions {
        id: a.id,
        process_file: a.process,
        overrides: Overrides {
            args: a.command,
            cwd: a.cwd,
            env: a.env,
            user: a.user,
            additional_gids: a.additional_gids,
            caps: a.cap,
            no_new_privs: a.no_new_privs,
            apparmor: a.apparmor,
            process_label: a.process_label,
        },
        detach: a.detach,
        pid_file: pid_file.clone(),
        preserve_fds: a.preserve_fds,
        cgroup: a.cgroup,
        ignore_paused: a.ignore_paused,
        tty: a.tty,
        console_socket: a.console_socket,
    };
    let code = exec(&g.rt, &o)?;
    if let (Some(sock), Some(f)) = (sock, pid_file) {
        let text = std::fs::read_to_string(&f)?;
        let pid: i32 = text.trim().parse()?;
        sock.send_exec(pid, crate::container::state(&g.rt, &id)?.pid)?;
    }
    Ok(code)
}

/// A private directory (0700) for the pid file `--pidfd-socket` needs; removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> anyhow::Result<ScratchDir> {
        use std::os::unix::fs::DirBuilderExt;
        let d = std::env::temp_dir().join(format!("hull-exec-{}", std::process::id()));
        std::fs::DirBuilder::new().mode(0o700).create(&d)?;
        Ok(ScratchDir(d))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Exit status of `exec` when the runtime failed, not the process.
pub const RUNTIME_FAILED: i32 = 255;
