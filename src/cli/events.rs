//! `hull events`: resource statistics and OOM notifications.

use clap::Args;

use super::Global;

#[derive(Args, Debug, Clone)]
pub struct EventsArgs {
    /// Stats collection interval (e.g. 5s)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Display the container's stats once, then exit
    #[arg(long)]
    pub stats: bool,
    /// Container id
    pub id: String,
}

pub fn run(_g: &Global, _a: EventsArgs) -> anyhow::Result<i32> {
    Err(super::not_implemented("events"))
}
