//! `hull delete`: remove a stopped container (or, with --force, kill and remove any).
//! `delete --force` of an id that does not exist succeeds silently, as runc's does:
//! podman and containerd call it to clean up after a failed `create`.

use clap::Args;

use super::Global;
use crate::state::StoreError;

#[derive(Args, Debug, Clone)]
pub struct DeleteArgs {
    /// Kill the container with SIGKILL if it is still running, then delete it
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: DeleteArgs) -> anyhow::Result<i32> {
    match crate::container::delete(&g.rt, &a.id, a.force) {
        Err(e) if a.force && matches!(e.downcast_ref(), Some(StoreError::NotFound(_))) => Ok(0),
        r => r.map(|()| 0),
    }
}
