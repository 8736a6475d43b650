//! Crash consistency at random instants (issue 25): `create`, `run -d`, `delete --force` and
//! `exec` are SIGKILLed 0–12 ms after they start, wherever they happen to be, unlike
//! faults.rs's named points. After each kill, `list` (which sweeps the hidden directories a
//! killed reserve or remove leaves) and `delete --force` of every id must leave the host
//! exactly as before: no entry of any kind in the state root, no cgroup directory, no
//! mount, no process.
//!
//! The delays come from a xorshift seeded from the clock; a failure prints the seed, and
//! `HULL_RANDOM_KILL_SEED=N` replays it.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::*;
use crate::host_state;

/// The longest wait between spawning hull and killing it: longer than a whole create or
/// delete here, so kills land at every stage, including after hull finished.
const MAX_DELAY_US: u64 = 12_000;

/// Prefix of every name the store uses while reserving or removing (see `hull::state`).
const HIDDEN: &str = ".hull~";

/// The rounds' random delays, from a seed printed on failure.
struct Rng(XorShift);

impl Rng {
    fn seeded() -> Rng {
        let seed = match std::env::var("HULL_RANDOM_KILL_SEED") {
            Ok(s) => s.parse().expect("HULL_RANDOM_KILL_SEED: a u64"),
            Err(_) => {
                let nanos = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64;
                nanos ^ u64::from(std::process::id()) << 32
            }
        };
        // Zero is xorshift's one fixed point.
        Rng(XorShift(seed.max(1)))
    }
    fn delay(&mut self) -> Duration {
        Duration::from_micros(self.0.next() % (MAX_DELAY_US + 1))
    }
}

/// The hull command a round kills.
#[derive(Clone, Copy, Debug)]
enum Victim {
    Create,
    RunDetached,
    /// `delete --force` of a created container.
    Delete,
    /// `exec` into a running container.
    Exec,
}

/// What the rounds saw, printed at the end (`--nocapture`) and on failure.
#[derive(Debug, Default)]
struct Tally {
    rounds: u32,
    /// Rounds whose hull the SIGKILL ended; the others had finished (exit 0) first.
    killed: u32,
    /// Hidden entries in the root after a kill, which the next `list` swept.
    swept: u32,
}

/// One round: set up what `victim` needs, start it, SIGKILL it after a random delay, then
/// clean up through hull and check the host. `Err` names what survived.
fn round(h: &Hull, b: &Bundle, victim: Victim, rng: &mut Rng, t: &mut Tally) -> Result<(), String> {
    let id = unique_id("rk");
    // The id in every container process's argv, so a survivor is found by name.
    b.edit(|c| c["process"]["args"] = serde_json::json!(["sh", "-c", "sleep 30; exit 0", id]));
    if matches!(victim, Victim::Delete | Victim::Exec) {
        let (code, err) = h.create(b, &id, &[]);
        if code != Some(0) {
            return Err(format!("setup create failed: {err}"));
        }
    }
    if matches!(victim, Victim::Exec) {
        h.ok(&["start", &id]);
        h.wait_status(&id, "running");
    }
    let marker = format!("{id}-exec");
    let args: Vec<&str> = match victim {
        Victim::Create => vec!["create", "--bundle", b.path_str(), &id],
        Victim::RunDetached => vec!["run", "-d", "--bundle", b.path_str(), &id],
        Victim::Delete => vec!["delete", "--force", &id],
        Victim::Exec => vec!["exec", &id, "sh", "-c", "sleep 30; exit 0", &marker],
    };
    let delay = rng.delay();
    let st = kill_after(h, &args, delay);
    t.rounds += 1;
    match (st.signal(), st.code()) {
        (Some(libc::SIGKILL), _) => t.killed += 1,
        (_, Some(0)) => {}
        _ => {
            return Err(format!(
                "hull {args:?} neither killed nor successful: {st:?}"
            ))
        }
    }
    let ctx = |what: String| format!("{victim:?} with SIGKILL after {delay:?}: {what}");

    let hidden = |h: &Hull| -> Vec<String> {
        host_state::entries(h.root.path())
            .into_iter()
            .filter(|n| n.starts_with(HIDDEN))
            .collect()
    };
    t.swept += hidden(h).len() as u32;
    let listed = list_ids(h).map_err(&ctx)?;
    let left = hidden(h);
    if !left.is_empty() {
        return Err(ctx(format!("list did not sweep {left:?}")));
    }
    if h.dirs().contains(&id) && !listed.contains(&id) {
        return Err(ctx(format!(
            "{id} is in the root but list shows {listed:?}"
        )));
    }
    let mut ids = listed;
    if !ids.contains(&id) {
        ids.push(id.clone());
    }
    for i in &ids {
        let o = h.run(&["delete", "--force", i]);
        let err = String::from_utf8_lossy(&o.stderr);
        // A create killed before it reserved the id left nothing to delete.
        let absent = *i == id && err.contains("does not exist");
        if !o.status.success() && !absent {
            return Err(ctx(format!("delete --force {i} failed: {err}")));
        }
    }
    host_is_clean(h, b, &id).map_err(ctx)
}

/// Start `hull ARGS` and SIGKILL it `delay` later; its exit status.
fn kill_after(h: &Hull, args: &[&str], delay: Duration) -> ExitStatus {
    let mut child = h
        .cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    // A hull that exited already is a zombie until waited for: the kill cannot miss it or
    // hit another process, and does nothing to it.
    child.kill().unwrap();
    child.wait().unwrap()
}

/// Ids in `list --format json` (`null` when there are none); no hidden name may appear.
fn list_ids(h: &Hull) -> Result<Vec<String>, String> {
    let o = h.run(&["list", "--format", "json"]);
    let out = String::from_utf8_lossy(&o.stdout);
    if !o.status.success() {
        return Err(format!(
            "list failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| format!("list output {out:?}: {e}"))?;
    let ids: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["id"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    if ids.iter().any(|i| i.starts_with(HIDDEN)) {
        return Err(format!("list shows a hidden name: {ids:?}"));
    }
    Ok(ids)
}

/// Nothing of container `id` left: state root empty (hidden names and fifos included),
/// no cgroup directory, no process naming it, the host's mounts unchanged.
fn host_is_clean(h: &Hull, b: &Bundle, id: &str) -> Result<(), String> {
    let entries = host_state::entries(h.root.path());
    if !entries.is_empty() {
        return Err(format!("state root holds {entries:?}"));
    }
    let cg = host_state::cgroups_path(&b.config_path()).unwrap();
    let dirs = host_state::cgroup_dirs_at(&cg);
    if !dirs.is_empty() {
        return Err(format!("cgroup dirs left: {dirs:?}"));
    }
    let procs = host_state::wait_no_processes(&[id]);
    if !procs.is_empty() {
        return Err(format!("processes left: {procs:?}"));
    }
    Ok(())
}

#[test]
fn commands_killed_at_random_instants_leave_nothing_after_list_and_delete_force() {
    const PHASES: &[(Victim, u32)] = &[
        (Victim::Create, 40),
        (Victim::RunDetached, 15),
        (Victim::Delete, 15),
        (Victim::Exec, 10),
    ];
    let mut rng = Rng::seeded();
    let seed = rng.0 .0;
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    let own = [h.root.path(), b.path()];
    let mounts_before = host_state::mounts(&own);
    let start = Instant::now();
    let mut tallies = Vec::new();
    for &(victim, rounds) in PHASES {
        let mut t = Tally::default();
        for n in 0..rounds {
            let mut res = round(&h, &b, victim, &mut rng, &mut t);
            if res.is_ok() && host_state::mounts(&own) != mounts_before {
                res = Err(format!("{victim:?}: host mounts changed"));
            }
            if let Err(e) = res {
                panic!("seed {seed} (HULL_RANDOM_KILL_SEED), {victim:?} round {n}: {e}\n{t:?}");
            }
        }
        tallies.push((victim, t));
    }
    eprintln!("seed {seed}, {:?}: {tallies:?}", start.elapsed());
    // Kills that always came too late would test nothing. An exec runs for 30 s, so every
    // one must have been killed; and at least one create, run or delete before it ended.
    let (_, exec) = tallies
        .iter()
        .find(|(v, _)| matches!(v, Victim::Exec))
        .unwrap();
    assert_eq!(exec.killed, exec.rounds, "seed {seed}: {tallies:?}");
    let early: u32 = tallies.iter().map(|(_, t)| t.killed).sum::<u32>() - exec.killed;
    assert!(
        early > 0,
        "seed {seed}: no create/run/delete was killed: {tallies:?}"
    );
}
