//! `hull restore`: runc's flags, then the library's restore (criu); attached, exits with
//! the restored container's status.

use std::path::PathBuf;

use clap::Args;

use super::Global;
use crate::container::RestoreOptions;

#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    /// Path to an AF_UNIX socket which will receive a file descriptor referencing the
    /// master end of the console's pseudoterminal
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Path to criu image files for restoring [default: ./checkpoint]
    #[arg(long = "image-path", value_name = "PATH")]
    pub image_path: Option<PathBuf>,
    /// Path for saving work files and logs
    #[arg(long = "work-path", value_name = "PATH")]
    pub work_path: Option<PathBuf>,
    /// Allow open tcp connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Cgroups mode: soft|full|strict|ignore (default: soft)
    #[arg(long = "manage-cgroups-mode", value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Specify the file to write the process id to
    #[arg(long = "pid-file", value_name = "PATH")]
    pub pid_file: Option<PathBuf>,
    /// Disable the use of the subreaper used to reap reparented processes
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Accepted as by runc (criu chooses how it enters the rootfs)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Create a namespace, but don't restore its properties (network only)
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Use userfaultfd to lazily restore memory pages
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: RestoreArgs) -> anyhow::Result<i32> {
    let o = RestoreOptions {
        id: a.id,
        bundle: a.bundle,
        image_path: super::checkpoint::image_path(a.image_path)?,
        work_path: a.work_path,
        console_socket: a.console_socket,
        pid_file: a.pid_file,
        detach: a.detach,
        no_subreaper: a.no_subreaper,
        criu: criu_flags!(a),
    };
    crate::container::restore(&g.rt, &o)
}
