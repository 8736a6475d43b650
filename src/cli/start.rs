//! `hull start`: release a created container's init into its user process.

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct StartArgs {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: StartArgs) -> anyhow::Result<i32> {
    crate::container::start(&g.rt, &a.id)?;
    Ok(0)
}
