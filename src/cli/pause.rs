//! `hull pause` / `hull resume`: freeze or thaw every process of the container.

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct PauseArgs {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: PauseArgs, pause: bool) -> anyhow::Result<i32> {
    if pause {
        crate::container::pause(&g.rt, &a.id)?;
    } else {
        crate::container::resume(&g.rt, &a.id)?;
    }
    Ok(0)
}
