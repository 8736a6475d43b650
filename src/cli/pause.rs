//! `hull pause` / `hull resume`: freeze or thaw every process of the container.

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct PauseArgs {
    /// Container id
    pub id: String,
}

pub fn run(_g: &Global, _a: PauseArgs, pause: bool) -> anyhow::Result<i32> {
    Err(super::not_implemented(if pause {
        "pause"
    } else {
        "resume"
    }))
}
