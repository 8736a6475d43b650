//! Operations that act on a running container through its cgroups: pause, resume, ps,
//! update and events (stats and OOM notifications).

use crate::cgroups::stats::Event;
use std::collections::HashSet;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;

use super::{Container, Status};
use crate::runtime::Runtime;

/// `pause`: freeze every process; only a running (or created) container.
pub fn pause(rt: &Runtime, id: &str) -> Result<()> {
    let c = Container::lock(rt, id)?;
    match c.status {
        Status::Running | Status::Created => c.cgroup().freeze(),
        Status::Paused => bail!("container {id} is already paused"),
        _ => bail!("container not running"),
    }
}

/// `resume`: thaw a paused container.
pub fn resume(rt: &Runtime, id: &str) -> Result<()> {
    let c = Container::lock(rt, id)?;
    match c.status {
        Status::Paused => c.cgroup().thaw(),
        _ => bail!("container not paused"),
    }
}

/// Host pids of every process in the container's cgroup, sorted.
pub fn pids(rt: &Runtime, id: &str) -> Result<Vec<i32>> {
    let c = Container::read(rt, id)?;
    if c.status == Status::Stopped {
        return Ok(Vec::new());
    }
    let mut pids = c.cgroup().pids()?;
    pids.sort_unstable();
    Ok(pids)
}

/// `ps` table: run ps(1) with `args` (default `-ef`) and keep the header and the rows whose
/// PID column is one of the container's.
pub fn ps_table(rt: &Runtime, id: &str, args: &[String]) -> Result<String> {
    let pids: HashSet<i32> = pids(rt, id)?.into_iter().collect();
    let args: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("running ps(1)")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .with_context(|| format!("ps {}: no PID column in its output", args.join(" ")))?;
    let mut res = format!("{header}\n");
    for l in lines {
        let pid = l.split_whitespace().nth(col).and_then(|p| p.parse().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            res.push_str(l);
            res.push('\n');
        }
    }
    Ok(res)
}

/// `update`: apply new limits to a container that has not stopped.
pub fn update(rt: &Runtime, id: &str, res: &LinuxResources) -> Result<()> {
    let c = Container::lock(rt, id)?;
    if c.status == Status::Stopped {
        bail!("container not running");
    }
    // Device rules are not updated (as in runc): a list here would replace the container's
    // whole rule set, runc's default devices included.
    let mut res = res.clone();
    res.set_devices(None);
    c.cgroup().update(&res)
}

/// One `events --stats` record, in runc's shape.
pub fn stats_event(rt: &Runtime, id: &str) -> Result<String> {
    let c = Container::read(rt, id)?;
    if c.status == Status::Stopped {
        bail!("container not running");
    }
    let stats = c.cgroup().stats()?;
    Ok(stats_line(id, &stats))
}

fn stats_line(id: &str, s: &crate::cgroups::stats::Stats) -> String {
    Event {
        kind: "stats",
        id,
        data: Some(s),
    }
    .line()
}

/// `events`: a stats record every `interval`, and an `oom` record whenever the
/// container's OOM kill counter rises; ends when the container stops.
pub fn events(rt: &Runtime, id: &str, interval: Duration, out: &mut dyn FnMut(&str)) -> Result<()> {
    let c = Container::read(rt, id)?;
    let cg = c.cgroup();
    let mut ooms = oom_kills(&cg);
    loop {
        if super::status_of(&c.rec, c.dir()) == Status::Stopped {
            return Ok(());
        }
        let now = oom_kills(&cg);
        if now > ooms {
            out(&Event {
                kind: "oom",
                id,
                data: None,
            }
            .line());
        }
        ooms = now;
        if let Ok(s) = cg.stats() {
            out(&stats_line(id, &s));
        }
        std::thread::sleep(interval);
    }
}

/// The OOM kill counter of the container's memory cgroup (v1 memory.oom_control or v2
/// memory.events), 0 if unavailable.
pub fn oom_kills(cg: &crate::cgroups::Cgroup) -> u64 {
    use hull_common::oom;
    if let Ok(Some(d)) = cg.v1_dir("memory") {
        if let Some(n) = oom::kills(&oom::counter_file(&d, false)) {
            return n;
        }
    }
    if let Ok(Some(d)) = cg.v2_dir() {
        if let Some(n) = oom::kills(&oom::counter_file(&d, true)) {
            return n;
        }
    }
    0
}

/// Parse runc's `--interval` (`5s`, `500ms`, `1m`).
pub fn parse_interval(s: &str) -> Result<Duration> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = num
        .parse()
        .with_context(|| format!("--interval {s:?}: not a duration"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => bail!("--interval {s:?}: unknown unit {unit:?} (use ms, s, m or h)"),
    };
    if secs <= 0.0 {
        bail!("--interval {s:?}: must be positive");
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::parse_interval;
    use std::time::Duration;

    #[test]
    fn intervals_parse_like_go_durations() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_interval("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("5x").is_err());
    }
}
