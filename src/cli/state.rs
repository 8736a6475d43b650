//! `hull state ID`: print the container's state JSON.

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// Container id
    pub id: String,
}

pub fn run(g: &Global, a: StateArgs) -> anyhow::Result<i32> {
    let st = crate::container::state(&g.rt, &a.id)?;
    super::print(&format!("{}\n", serde_json::to_string_pretty(&st)?));
    Ok(0)
}
