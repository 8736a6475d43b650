//! `hull run`: create + start; attached it waits and exits with the container's status.

use clap::Args;

use super::create::BundleArgs;
use super::Global;

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[command(flatten)]
    pub common: BundleArgs,
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
    /// Do not become a subreaper for reparented processes
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: RunArgs) -> anyhow::Result<i32> {
    if a.shim {
        let pid = crate::container::run_with_shim(&g.rt, &a.id, &a.common.bundle)?;
        if let Some(p) = &a.common.pid_file {
            crate::container::write_pid_file(p, pid)?;
        }
        return Ok(0);
    }
    let opts = a.common.options(&a.id, a.detach);
    let Some(path) = a.common.pidfd_socket.as_deref() else {
        return crate::container::run(&g.rt, &opts, a.keep, a.no_subreaper);
    };
    if !a.detach {
        anyhow::bail!("--pidfd-socket: supported with run --detach (or create + start) only");
    }
    let sock = super::pidfd::PidfdSocket::connect(path)?;
    let code = crate::container::run(&g.rt, &opts, a.keep, a.no_subreaper)?;
    let pid = crate::container::state(&g.rt, &a.id)?.pid;
    sock.send_init(g, &a.id, pid)?;
    Ok(code)
}
