//! `hull features`: the runtime-spec features document for what this build supports.

use super::Global;

pub fn run(_g: &Global) -> anyhow::Result<i32> {
    let doc = serde_json::to_string_pretty(&crate::spec::features::features())?;
    super::print(&format!("{doc}\n"));
    Ok(0)
}
