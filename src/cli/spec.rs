//! `hull spec`: write a default config.json (runc's defaults), rootful or `--rootless`.

use std::path::PathBuf;

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct SpecArgs {
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long)]
    pub bundle: Option<PathBuf>,
    /// Generate a configuration for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(_g: &Global, a: SpecArgs) -> anyhow::Result<i32> {
    crate::spec::default::write(a.bundle.as_deref(), a.rootless)?;
    Ok(0)
}
