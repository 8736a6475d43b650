//! `hull features`: the runtime-spec features document for what this build supports.

use super::Global;

pub fn run(_g: &Global) -> anyhow::Result<i32> {
    println!(
        "{}",
        serde_json::to_string_pretty(&crate::spec::features::features())?
    );
    Ok(0)
}
