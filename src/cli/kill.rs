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
    /// Signal name (TERM, SIGTERM) or number (default TERM); 0 checks that it runs
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(g: &Global, a: KillArgs) -> anyhow::Result<i32> {
    // Signal 0 (as with kill(1)) delivers nothing: it asks whether the container runs.
    let sig = match a.signal.as_str() {
        "0" => 0,
        s => crate::signal::parse(s)?,
    };
    crate::container::kill(&g.rt, &a.id, sig, a.all)?;
    Ok(0)
}
