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

pub fn run(g: &Global, a: EventsArgs) -> anyhow::Result<i32> {
    if a.stats {
        let ev = crate::container::stats_event(&g.rt, &a.id)?;
        super::print(&format!("{ev}\n"));
        return Ok(0);
    }
    let interval = crate::container::parse_interval(&a.interval)?;
    crate::container::events(&g.rt, &a.id, interval, &mut |line| {
        super::print(&format!("{line}\n"))
    })?;
    Ok(0)
}
