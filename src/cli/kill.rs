//! `hull kill ID [SIGNAL]`: signal the init, or with --all every process of the container.

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct KillArgs {
    /// Send the signal to all processes inside the container
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id
    pub id: String,
    /// Signal name (TERM, SIGTERM) or number (default TERM)
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(g: &Global, a: KillArgs) -> anyhow::Result<i32> {
    let sig = crate::signal::parse(&a.signal)?;
    crate::container::kill(&g.rt, &a.id, sig, a.all)?;
    Ok(0)
}
