//! `hull create`: set a container up and leave its init blocked until `start`.

use std::path::PathBuf;

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
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
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: CreateArgs) -> anyhow::Result<i32> {
    crate::container::create(g, &a.into())?;
    Ok(0)
}

impl From<CreateArgs> for crate::container::CreateOptions {
    fn from(a: CreateArgs) -> Self {
        crate::container::CreateOptions {
            id: a.id,
            bundle: a.bundle,
            console_socket: a.console_socket,
            pid_file: a.pid_file,
            no_pivot: a.no_pivot,
            no_new_keyring: a.no_new_keyring,
            preserve_fds: a.preserve_fds,
            detach: true,
        }
    }
}
