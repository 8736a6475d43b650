//! `hull delete`: remove a stopped container (or, with --force, kill and remove any).

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct DeleteArgs {
    /// Kill the container with SIGKILL if it is still running, then delete it
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: DeleteArgs) -> anyhow::Result<i32> {
    crate::container::delete(g, &a.id, a.force)?;
    Ok(0)
}
