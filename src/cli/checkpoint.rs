//! `hull checkpoint`: runc's flags, then the library's checkpoint (criu).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;

use super::Global;
use crate::container::CheckpointOptions;

#[derive(Args, Debug, Clone)]
pub struct CheckpointArgs {
    /// Path for saving criu image files [default: ./checkpoint]
    #[arg(long = "image-path", value_name = "PATH")]
    pub image_path: Option<PathBuf>,
    /// Path for saving work files and logs
    #[arg(long = "work-path", value_name = "PATH")]
    pub work_path: Option<PathBuf>,
    /// Path for previous criu image files in pre-dump (relative to --image-path)
    #[arg(long = "parent-path", value_name = "PATH")]
    pub parent_path: Option<PathBuf>,
    /// Leave the process running after checkpointing
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Allow open tcp connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Skip in-flight tcp connections
    #[arg(long = "tcp-skip-in-flight")]
    pub tcp_skip_in_flight: bool,
    /// Allow one to link unlinked files back when possible
    #[arg(long = "link-remap")]
    pub link_remap: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Use userfaultfd to lazily restore memory pages
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// criu writes \0 to this FD once lazy-pages is ready
    #[arg(long = "status-fd", value_name = "FD")]
    pub status_fd: Option<i32>,
    /// ADDRESS:PORT of the page server
    #[arg(long = "page-server", value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Dump the container's memory only, leave the container running after this
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// Cgroups mode: soft|full|strict|ignore (default: soft)
    #[arg(long = "manage-cgroups-mode", value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but don't restore its properties (network only)
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: CheckpointArgs) -> anyhow::Result<i32> {
    let o = CheckpointOptions {
        image_path: image_path(a.image_path)?,
        work_path: a.work_path,
        parent_path: a.parent_path,
        leave_running: a.leave_running,
        tcp_skip_in_flight: a.tcp_skip_in_flight,
        link_remap: a.link_remap,
        status_fd: a.status_fd.map(status_fd).transpose()?,
        page_server: a.page_server.as_deref().map(page_server).transpose()?,
        pre_dump: a.pre_dump,
        criu: criu_flags!(a),
    };
    crate::container::checkpoint(&g.rt, &a.id, o)?;
    Ok(0)
}

/// `--image-path`, or runc's default `./checkpoint`.
pub fn image_path(p: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match p {
        Some(p) => Ok(p),
        None => Ok(std::env::current_dir()
            .context("reading the current directory")?
            .join("checkpoint")),
    }
}

/// `--status-fd N`: an fd of the caller's, open for writing (reopened through /proc).
fn status_fd(fd: i32) -> anyhow::Result<std::os::fd::OwnedFd> {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/self/fd/{fd}"))
        .with_context(|| format!("--status-fd {fd}: not an fd open for writing"))?;
    Ok(f.into())
}

/// `--page-server ADDRESS:PORT`.
fn page_server(s: &str) -> anyhow::Result<(String, i32)> {
    let Some((addr, port)) = s.rsplit_once(':') else {
        bail!("--page-server {s:?}: use ADDRESS:PORT");
    };
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let port: u16 = port
        .parse()
        .with_context(|| format!("--page-server {s:?}: invalid port number"))?;
    if addr.is_empty() {
        bail!("--page-server {s:?}: use ADDRESS:PORT");
    }
    Ok((addr.to_string(), i32::from(port)))
}
