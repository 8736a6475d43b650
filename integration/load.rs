//! Load: many containers driven concurrently through the real binary, with kills and
//! deletes from other callers interleaved (seeded, so a failure replays). Afterwards the
//! host must hold nothing of them: no cgroup, mount, process, fifo or state entry; and
//! every command must have succeeded or failed with exit 1 and one clear line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Barrier, Mutex};

use crate::common::*;
use crate::host_state;

const CALLERS: usize = 8;
const CONTAINERS: usize = 200;

/// One busybox rootfs shared by many bundles that hold only a config.json.
struct Fleet {
    h: Hull,
    /// Owns the shared rootfs.
    base: Bundle,
    bundles: TempDir,
    /// Cgroup parent of every container (`/PARENT/ID`), removed on drop.
    cg_parent: String,
}

impl Fleet {
    fn new() -> Fleet {
        let h = Hull::new();
        let base = h.bundle(&["sleep", "30"]);
        let cg = host_state::cgroups_path(&base.config_path()).unwrap();
        let cg_parent = cg.trim_start_matches('/').split('/').next().unwrap().into();
        Fleet {
            h,
            base,
            bundles: TempDir::new("fleet"),
            cg_parent,
        }
    }

    /// A bundle for `id`: config.json only, rootfs shared, cgroup `/PARENT/ID`.
    fn bundle(&self, id: &str) -> PathBuf {
        let dir = self.bundles.path().join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let mut c: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.base.config_path()).unwrap()).unwrap();
        c["root"]["path"] = serde_json::json!(self.base.rootfs());
        c["linux"]["cgroupsPath"] = serde_json::json!(format!("/{}/{id}", self.cg_parent));
        std::fs::write(dir.join("config.json"), serde_json::to_vec(&c).unwrap()).unwrap();
        dir
    }
}

/// What one hull command did.
#[derive(Debug)]
struct Outcome {
    args: Vec<String>,
    code: Option<i32>,
    stderr: String,
}

impl Outcome {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }
    /// Succeeded, or failed with exit 1 and exactly one non-empty line.
    fn is_clean(&self) -> bool {
        match self.code {
            Some(0) => true,
            Some(1) => {
                let lines: Vec<&str> = self.stderr.lines().collect();
                lines.len() == 1 && !lines[0].trim().is_empty()
            }
            _ => false,
        }
    }
}

/// Run hull with stdio on files (a created init inherits them: a pipe would stay open).
fn hull(root: &Path, scratch: &Path, args: &[&str]) -> Outcome {
    let err = scratch.join("stderr");
    let st = std::process::Command::new(hull_bin())
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap();
    Outcome {
        args: args.iter().map(|s| s.to_string()).collect(),
        code: st.code(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

#[test]
fn load_200_containers_by_8_callers_leave_nothing_behind() {
    let fleet = Fleet::new();
    let root = fleet.h.root.path().to_path_buf();
    let prefix = format!("ld{}x", std::process::id());
    let ids: Vec<String> = (0..CONTAINERS).map(|i| format!("{prefix}{i}")).collect();
    let bundles: Vec<PathBuf> = ids.iter().map(|id| fleet.bundle(id)).collect();
    let own = [root.as_path(), fleet.bundles.path(), fleet.base.path()];
    let mounts_before = host_state::mounts(&own);
    let started = std::time::Instant::now();

    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    let mut threads = Vec::new();
    for t in 0..CALLERS {
        let (root, ids, bundles, outcomes) =
            (root.clone(), ids.clone(), bundles.clone(), outcomes.clone());
        threads.push(std::thread::spawn(move || {
            let scratch = TempDir::new("caller");
            let mut rng = XorShift(0x5eed_0000 + t as u64 * 7919 + 1);
            let mut log = Vec::new();
            let mut run = |args: &[&str]| {
                let o = hull(&root, scratch.path(), args);
                let ok = o.ok();
                log.push(o);
                ok
            };
            for i in (t..CONTAINERS).step_by(CALLERS) {
                let id = ids[i].as_str();
                let b = bundles[i].to_str().unwrap();
                if !run(&["create", "--bundle", b, id]) {
                    continue;
                }
                // Interleave a kill or delete of someone else's container.
                if rng.below(3) == 0 {
                    let other = ids[rng.below(CONTAINERS)].as_str();
                    if rng.below(2) == 0 {
                        run(&["kill", other, "KILL"]);
                    } else {
                        run(&["delete", "--force", other]);
                    }
                }
                match rng.below(5) {
                    0 => {
                        run(&["delete", id]);
                    }
                    1 => {
                        run(&["start", id]);
                        run(&["kill", id, "KILL"]);
                        if !run(&["delete", id]) {
                            run(&["delete", "--force", id]);
                        }
                    }
                    2 => {
                        run(&["start", id]);
                        run(&["state", id]);
                        run(&["delete", "--force", id]);
                    }
                    3 => {
                        run(&["kill", id, "TERM"]);
                        run(&["delete", "--force", id]);
                    }
                    _ => {
                        // Left running: the sweep below deletes it.
                        run(&["start", id]);
                    }
                }
            }
            outcomes.lock().unwrap().extend(log);
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    // Sweep: whatever is left is force-deleted; list must work throughout.
    let scratch = TempDir::new("sweep");
    let mut sweep = Vec::new();
    sweep.push(hull(&root, scratch.path(), &["list"]));
    for id in host_state::entries(&root) {
        sweep.push(hull(&root, scratch.path(), &["delete", "--force", &id]));
    }
    let elapsed = started.elapsed();

    let outcomes = outcomes.lock().unwrap();
    let unclear: Vec<&Outcome> = outcomes
        .iter()
        .chain(sweep.iter())
        .filter(|o| !o.is_clean())
        .collect();
    assert!(unclear.is_empty(), "unclear outcomes: {unclear:#?}");
    let creates_ok = outcomes
        .iter()
        .filter(|o| o.args[0] == "create" && o.ok())
        .count();
    assert_eq!(creates_ok, CONTAINERS, "every create should succeed");
    assert!(
        sweep.iter().all(|o| o.ok()),
        "sweep deletes failed: {sweep:#?}"
    );

    let left = host_state::wait_no_processes(&[&prefix]);
    assert!(left.is_empty(), "processes left: {left:?}");
    let cg = host_state::cgroup_dirs_at(&fleet.cg_parent);
    let leaked: Vec<_> = cg
        .iter()
        .filter(|p| p.file_name().is_some_and(|n| n != fleet.cg_parent.as_str()))
        .collect();
    assert!(leaked.is_empty(), "cgroups left: {leaked:?}");
    assert_eq!(
        host_state::entries(&root),
        Vec::<String>::new(),
        "state left"
    );
    assert_eq!(
        host_state::mounts(&own),
        mounts_before,
        "host mounts changed"
    );
    let mut kinds: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.ok())
        .map(|o| {
            let mut e = o.stderr.trim().to_string();
            for a in o.args.iter().filter(|a| a.starts_with(&prefix)) {
                e = e.replace(a.as_str(), "ID");
            }
            format!("{}: {e}", o.args[0])
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    eprintln!(
        "load: {} commands ({} failed cleanly) in {:.1?}; errors seen:\n  {}",
        outcomes.len() + sweep.len(),
        outcomes.iter().filter(|o| !o.ok()).count(),
        elapsed,
        kinds.join("\n  ")
    );
}

#[test]
fn concurrent_creates_of_one_id_exactly_one_wins_every_time() {
    let fleet = Fleet::new();
    let root = fleet.h.root.path().to_path_buf();
    let scratch = [TempDir::new("racea"), TempDir::new("raceb")];
    for round in 0..50 {
        let id = format!("race{}x{round}", std::process::id());
        let bundle = fleet.bundle(&id);
        let barrier = Arc::new(Barrier::new(2));
        let results: Vec<Outcome> = std::thread::scope(|s| {
            let hs: Vec<_> = scratch
                .iter()
                .map(|sc| {
                    let (barrier, root, bundle, id) = (barrier.clone(), &root, &bundle, &id);
                    s.spawn(move || {
                        barrier.wait();
                        hull(
                            root,
                            sc.path(),
                            &["create", "--bundle", bundle.to_str().unwrap(), id],
                        )
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let wins = results.iter().filter(|o| o.ok()).count();
        assert_eq!(wins, 1, "round {round}: {results:#?}");
        let loser = results.iter().find(|o| !o.ok()).unwrap();
        assert!(loser.is_clean(), "round {round}: {loser:#?}");
        assert!(
            loser.stderr.contains("already exists"),
            "round {round}: {loser:#?}"
        );
        // The loser touched nothing of the winner's.
        let st = hull(&root, scratch[0].path(), &["state", &id]);
        assert!(st.ok(), "{st:#?}");
        assert!(fleet.h.status(&id) == "created");
        let del = hull(&root, scratch[0].path(), &["delete", "--force", &id]);
        assert!(del.ok(), "{del:#?}");
    }
    assert_eq!(host_state::entries(&root), Vec::<String>::new());
    let cg = host_state::cgroup_dirs_at(&fleet.cg_parent);
    assert!(cg.len() <= cgroup_mounts().len(), "cgroups left: {cg:?}");
}
