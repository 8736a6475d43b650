//! `hull run`: create + start; attached it waits and exits with the container's status.

use std::path::PathBuf;

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Path to the root of the bundle directory (default: current directory)
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// AF_UNIX socket that receives the pty master (process.terminal)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
    /// With --detach: run the container under hull-shim, which keeps its output in
    /// ROOT/ID/shim/ctr.log and its exit status for `hull wait` / `hull attach`
    #[arg(long, requires = "detach")]
    pub shim: bool,
    /// File to write the init's process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not become a subreaper for reparented processes
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Do not use pivot_root (MS_MOVE + chroot instead)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: RunArgs) -> anyhow::Result<i32> {
    if a.shim {
        let pid = crate::container::run_with_shim(g, &a.id, &a.bundle)?;
        if let Some(p) = &a.pid_file {
            crate::container::write_pid_file(p, pid)?;
        }
        return Ok(0);
    }
    let opts = crate::container::CreateOptions {
        id: a.id,
        bundle: a.bundle,
        console_socket: a.console_socket,
        pid_file: a.pid_file,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        detach: a.detach,
    };
    crate::container::run(g, &opts, a.keep, a.no_subreaper)
}
