//! `hull create`: set a container up and leave its init blocked until `start`.

use std::path::PathBuf;

use clap::Args;

use super::Global;

// The flags `create` and `run` share, as in runc. (A plain comment: a doc comment would
// become the `about` of both subcommands, which build their flags only when invoked.)
#[derive(Args, Debug, Clone)]
pub struct BundleArgs {
    /// Path to the root of the bundle directory (default: current directory)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// AF_UNIX socket that receives the pty master (process.terminal)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the init's process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (MS_MOVE + chroot instead)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors (3..3+N, after $LISTEN_FDS) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// AF_UNIX socket that receives a pidfd of the container's init (SCM_RIGHTS)
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
}

impl BundleArgs {
    /// The library's create options for container `id`.
    pub fn options(&self, id: &str, detach: bool) -> crate::container::CreateOptions {
        crate::container::CreateOptions {
            id: id.to_string(),
            bundle: self.bundle.clone(),
            console_socket: self.console_socket.clone(),
            pid_file: self.pid_file.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            detach,
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    #[command(flatten)]
    pub common: BundleArgs,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: CreateArgs) -> anyhow::Result<i32> {
    let pidfd = a
        .common
        .pidfd_socket
        .as_deref()
        .map(super::pidfd::PidfdSocket::connect)
        .transpose()?;
    let created = crate::container::create(&g.rt, &a.common.options(&a.id, true))?;
    if let Some(s) = pidfd {
        s.send_init(g, &a.id, created.pid)?;
    }
    Ok(0)
}
