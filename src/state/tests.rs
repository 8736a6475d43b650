//! Unit tests of the store on a private temp root: layout, modes, errors, round-trips.

use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::*;

/// A private root under the temp dir, removed on drop even when the test fails.
struct TempRoot(PathBuf);

impl TempRoot {
    fn new(tag: &str) -> TempRoot {
        let p = std::env::temp_dir().join(format!(
            "hull-state-unit-{tag}-{}-{}",
            std::process::id(),
            names::temp_name("t").replace(['.', '~'], "")
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempRoot(p)
    }
    /// A store root inside the temp dir that does not exist yet.
    fn store(&self) -> Store {
        Store::open(&self.0.join("root")).unwrap()
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn record(id: &str) -> Record {
    Record {
        oci_version: "1.2.1".into(),
        id: id.into(),
        pid: 4242,
        init_start_time: 123456,
        bundle: "/b".into(),
        rootfs: "/b/rootfs".into(),
        created: "2026-01-01T00:00:00.000000001Z".into(),
        owner: String::new(),
        annotations: [("k".to_string(), "v".to_string())].into(),
        cgroup: Some(crate::cgroups::Cgroup {
            dirs: vec![crate::cgroups::Dir {
                mount: "/sys/fs/cgroup/memory".into(),
                controllers: vec!["memory".into()],
                v2: false,
                path: "/hull/c1".into(),
            }],
            ..Default::default()
        }),
        hooks: None,
        created_done: true,
        host_mounts: false,
        no_new_keyring: false,
    }
}

fn store_err(e: &anyhow::Error) -> StoreError {
    e.downcast_ref::<StoreError>()
        .unwrap_or_else(|| panic!("not a StoreError: {e:#}"))
        .clone()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

#[test]
fn open_creates_nothing_and_missing_root_is_empty() {
    let t = TempRoot::new("open");
    let s = t.store();
    assert!(!s.root().exists());
    assert_eq!(s.ids().unwrap(), Vec::<String>::new());
    let e = s.read("c1").unwrap_err();
    assert_eq!(e.to_string(), r#"container "c1" does not exist"#);
    assert_eq!(
        store_err(&s.lock("c1").unwrap_err()),
        StoreError::NotFound("c1".into())
    );
    assert!(!s.root().exists());
}

#[test]
fn reserve_creates_private_root_and_dir_holding_the_lock() {
    let t = TempRoot::new("reserve");
    let s = Store::open(&t.0.join("a/b/root")).unwrap();
    let e = s.reserve("c1").unwrap();
    assert_eq!(e.id(), "c1");
    assert_eq!(e.dir(), s.root().join("c1"));
    assert_eq!(e.exec_fifo(), s.root().join("c1/exec.fifo"));
    assert_eq!(mode(s.root()), 0o700);
    assert_eq!(mode(e.dir()), 0o700);
    assert!(
        !e.dir().join("lock").exists(),
        "no lock file: the directory is the lock"
    );
    // The lock fd is close-on-exec.
    let flags = nix::fcntl::fcntl(e.lock_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
    let fd = e.lock_fd().as_raw_fd();
    assert_ne!(flags & libc::FD_CLOEXEC, 0, "lock fd {fd} lacks FD_CLOEXEC");
    // And it really holds the flock on ROOT/c1.
    let ino = std::fs::metadata(e.dir()).unwrap().ino();
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    let mine = format!("FLOCK  ADVISORY  WRITE {} ", std::process::id());
    assert!(
        locks
            .lines()
            .any(|l| l.contains(&mine) && l.contains(&format!(":{ino} "))),
        "no flock on inode {ino} in /proc/locks:\n{locks}"
    );
    // Nothing saved yet: read says "being created", read_opt says None.
    assert_eq!(
        store_err(&s.read("c1").unwrap_err()),
        StoreError::NotSaved("c1".into())
    );
    assert_eq!(s.read_opt("c1").unwrap(), None);
    assert_eq!(e.load().unwrap(), None);
    // No temp directory is left next to it.
    let names: Vec<_> = std::fs::read_dir(s.root())
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["c1".to_string()]);
}

#[test]
fn reserve_of_existing_id_fails_and_leaves_first_untouched() {
    let t = TempRoot::new("dup");
    let s = t.store();
    let first = s.reserve("c1").unwrap();
    first.save(&record("c1")).unwrap();
    let e = s.reserve("c1").unwrap_err();
    assert_eq!(e.to_string(), r#"container "c1" already exists"#);
    assert_eq!(store_err(&e), StoreError::AlreadyExists("c1".into()));
    drop(first);
    let e = s.reserve("c1").unwrap_err();
    assert_eq!(store_err(&e), StoreError::AlreadyExists("c1".into()));
    assert_eq!(s.read("c1").unwrap(), record("c1"));
    assert_eq!(s.ids().unwrap(), vec!["c1".to_string()]);
}

/// `reserve_saved`: the id appears with its record (no window without state.json), in mode
/// 0600, with no temp file left; a second reservation fails and changes nothing.
#[test]
fn reserve_saved_publishes_the_record_with_the_id() {
    let t = TempRoot::new("rsaved");
    let s = t.store();
    let e = s.reserve_saved("c1", &record("c1")).unwrap();
    assert_eq!(s.read("c1").unwrap(), record("c1"));
    let mode = std::fs::metadata(e.dir().join("state.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let mut names: Vec<String> = std::fs::read_dir(e.dir())
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["state.json"]);
    let mut other = record("c1");
    other.pid = 7;
    let err = s.reserve_saved("c1", &other).unwrap_err();
    assert_eq!(store_err(&err), StoreError::AlreadyExists("c1".into()));
    assert_eq!(s.read("c1").unwrap(), record("c1"));
    // Nothing hidden left by the losing reservation.
    let root: Vec<_> = std::fs::read_dir(s.root()).unwrap().collect();
    assert_eq!(root.len(), 1);
}

#[test]
fn save_load_round_trip_with_private_mode() {
    let t = TempRoot::new("save");
    let s = t.store();
    let e = s.reserve("c1").unwrap();
    let mut r = record("c1");
    e.save(&r).unwrap();
    assert_eq!(e.load().unwrap(), Some(r.clone()));
    assert_eq!(s.read("c1").unwrap(), r);
    assert_eq!(mode(&e.dir().join("state.json")), 0o600);
    r.pid = 7;
    r.created_done = false;
    e.save(&r).unwrap();
    assert_eq!(s.read_opt("c1").unwrap(), Some(r));
    assert!(!e.dir().join(".state.json~tmp").exists());
}

#[test]
fn read_of_corrupt_state_names_the_file() {
    let t = TempRoot::new("corrupt");
    let s = t.store();
    let e = s.reserve("c1").unwrap();
    std::fs::write(e.dir().join("state.json"), b"{not json").unwrap();
    let msg = format!("{:#}", s.read("c1").unwrap_err());
    assert!(
        msg.contains("state.json is not a valid hull state file"),
        "{msg}"
    );
    assert!(format!("{:#}", e.load().unwrap_err()).contains("state.json"));
}

#[test]
fn read_refuses_a_record_for_another_id() {
    let t = TempRoot::new("otherid");
    let s = t.store();
    let e = s.reserve("c1").unwrap();
    e.save(&record("c2")).unwrap();
    let msg = format!("{:#}", s.read("c1").unwrap_err());
    assert!(msg.contains(r#"records container "c2", not "c1""#), "{msg}");
}

#[test]
fn ids_are_sorted_and_skip_temp_dirs_files_and_invalid_names() {
    let t = TempRoot::new("ids");
    let s = t.store();
    let _b = s.reserve("b").unwrap();
    let _a = s.reserve("a").unwrap();
    let _dot = s.reserve(".dotted").unwrap();
    std::fs::create_dir(s.root().join(names::temp_name(names::NEW))).unwrap();
    std::fs::create_dir(s.root().join(".hull~del~stale")).unwrap();
    std::fs::create_dir(s.root().join("bad name")).unwrap();
    std::fs::write(s.root().join("plainfile"), b"").unwrap();
    assert_eq!(s.ids().unwrap(), vec![".dotted", "a", "b"]);
}

#[test]
fn store_refuses_ids_that_escape_the_root() {
    let t = TempRoot::new("escape");
    let s = t.store();
    for bad in ["", ".", "..", "../x", "a/b"] {
        assert!(s.reserve(bad).is_err(), "reserve {bad:?}");
        assert!(s.lock(bad).is_err(), "lock {bad:?}");
        assert!(s.read(bad).is_err(), "read {bad:?}");
    }
    assert!(!t.0.join("x").exists());
}

#[test]
fn remove_makes_the_id_disappear_without_debris() {
    let t = TempRoot::new("remove");
    let s = t.store();
    let e = s.reserve("c1").unwrap();
    e.save(&record("c1")).unwrap();
    std::fs::write(e.exec_fifo(), b"").unwrap();
    e.remove().unwrap();
    assert_eq!(std::fs::read_dir(s.root()).unwrap().count(), 0);
    assert_eq!(
        store_err(&s.read("c1").unwrap_err()),
        StoreError::NotFound("c1".into())
    );
    assert_eq!(
        store_err(&s.lock("c1").unwrap_err()),
        StoreError::NotFound("c1".into())
    );
    // The id can be reserved again.
    s.reserve("c1").unwrap().remove().unwrap();
}

#[test]
fn lock_of_existing_container_gives_its_entry() {
    let t = TempRoot::new("lock");
    let s = t.store();
    drop(s.reserve("c1").unwrap());
    let e = s.lock("c1").unwrap();
    assert_eq!(e.id(), "c1");
    assert_eq!(e.load().unwrap(), None);
    e.save(&record("c1")).unwrap();
    drop(e);
    assert_eq!(s.lock("c1").unwrap().load().unwrap(), Some(record("c1")));
}

/// Names in the store root, sorted.
fn root_names(s: &Store) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(s.root())
        .unwrap()
        .map(|d| d.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

/// A hidden directory of `kind` with a state.json in it, as a hull killed while reserving
/// (`new`) or removing (`del`) leaves one.
fn stale_temp_dir(s: &Store, kind: &str) -> PathBuf {
    std::fs::create_dir_all(s.root()).unwrap();
    let dir = s.root().join(names::temp_name(kind));
    std::fs::create_dir(&dir).unwrap();
    statefile::write_new(&dir, &record("c1")).unwrap();
    dir
}

/// The flock another live hull would hold on `dir`.
fn flock(dir: &Path) -> nix::fcntl::Flock<std::fs::File> {
    let f = std::fs::File::open(dir).unwrap();
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusiveNonblock).unwrap()
}

#[test]
fn ids_sweeps_an_unlocked_reservation_left_by_a_killed_create() {
    let t = TempRoot::new("sweepnew");
    let s = t.store();
    let _c = s.reserve("c1").unwrap();
    let stale = stale_temp_dir(&s, names::NEW);
    assert_eq!(s.ids().unwrap(), vec!["c1"]);
    assert!(!stale.exists(), "{} survived the sweep", stale.display());
    assert_eq!(root_names(&s), vec!["c1"]);
}

#[test]
fn ids_sweeps_an_unlocked_removal_left_by_a_killed_delete() {
    let t = TempRoot::new("sweepdel");
    let s = t.store();
    let stale = stale_temp_dir(&s, names::DEL);
    std::fs::write(stale.join("exec.fifo"), b"").unwrap();
    assert_eq!(s.ids().unwrap(), Vec::<String>::new());
    assert_eq!(root_names(&s), Vec::<String>::new());
}

/// A create or delete still running holds the lock of its hidden directory: kept.
#[test]
fn ids_keeps_a_hidden_directory_whose_lock_is_held() {
    let t = TempRoot::new("sweepheld");
    let s = t.store();
    let new = stale_temp_dir(&s, names::NEW);
    let del = stale_temp_dir(&s, names::DEL);
    let held_new = flock(&new);
    let held_del = flock(&del);
    assert_eq!(s.ids().unwrap(), Vec::<String>::new());
    assert!(new.join("state.json").exists());
    assert!(del.join("state.json").exists());
    // Once its holder is gone, the next scan removes it.
    drop(held_new);
    drop(held_del);
    s.ids().unwrap();
    assert_eq!(root_names(&s), Vec::<String>::new());
}

/// Only the store's own temp names are swept: other hidden or odd entries are someone
/// else's, locked or not.
#[test]
fn ids_leaves_names_the_store_did_not_make_alone() {
    let t = TempRoot::new("sweepforeign");
    let s = t.store();
    std::fs::create_dir_all(s.root()).unwrap();
    for d in [".foo", ".hull~tmp~1", ".hull~newer~1", "bad name"] {
        std::fs::create_dir(s.root().join(d)).unwrap();
        std::fs::write(s.root().join(d).join("state.json"), b"{}").unwrap();
    }
    std::fs::write(s.root().join(".hull~new~file"), b"").unwrap();
    let before = root_names(&s);
    // `.foo` is even a valid id: listed, as before the sweep existed.
    assert_eq!(s.ids().unwrap(), vec![".foo"]);
    assert_eq!(root_names(&s), before);
}

/// The race the sweep must not lose: a reserve's fresh temp directory exists but is not
/// locked yet. Here a sweeper takes it in that window twice: first it still holds the
/// lock when the creator tries (EWOULDBLOCK), then it has already removed the directory
/// (ENOENT). The creator retries with fresh names and gets a locked one of its own.
#[test]
fn reserve_retries_when_a_sweep_takes_its_fresh_temp_dir() {
    let t = TempRoot::new("sweeprace");
    let s = t.store();
    std::fs::create_dir_all(s.root()).unwrap();
    let mut seen = Vec::new();
    let mut sweeper_holds = None;
    let (tmp, held) = s
        .make_temp_dir_with(|tmp| {
            seen.push(tmp.to_path_buf());
            match seen.len() {
                1 => sweeper_holds = Some(lock::try_lock(tmp).unwrap().expect("unlocked")),
                2 => s.sweep(tmp.file_name().unwrap().to_str().unwrap()),
                _ => {}
            }
        })
        .unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(tmp, seen[2]);
    assert!(!seen[1].exists(), "the second was swept");
    // The first is the sweeper's: it removes it under its lock, as `sweep` does.
    assert!(seen[0].exists());
    std::fs::remove_dir_all(&seen[0]).unwrap();
    drop(sweeper_holds);
    // The creator's own directory is locked (a sweep now keeps it) and usable.
    s.ids().unwrap();
    assert!(tmp.is_dir());
    assert!(lock::try_lock(&tmp).unwrap().is_none(), "not locked");
    drop(held);
    s.ids().unwrap();
    assert_eq!(root_names(&s), Vec::<String>::new());
}

/// A sweep that wins every time makes reserve fail with a clear error, leaving nothing.
#[test]
fn reserve_gives_up_after_a_bounded_number_of_lost_temp_dirs() {
    let t = TempRoot::new("sweepalways");
    let s = t.store();
    std::fs::create_dir_all(s.root()).unwrap();
    let mut tries = 0;
    let err = s
        .make_temp_dir_with(|tmp| {
            tries += 1;
            s.sweep(tmp.file_name().unwrap().to_str().unwrap());
        })
        .unwrap_err();
    assert_eq!(tries, TEMP_DIR_ATTEMPTS);
    let msg = format!("{err:#}");
    assert!(
        msg.contains("cannot reserve a temporary directory in"),
        "{msg}"
    );
    assert_eq!(root_names(&s), Vec::<String>::new());
}

/// The real race, in threads (separate open file descriptions, so their flocks conflict
/// as separate processes' do): reservations while another thread lists in a loop. Every
/// reserve succeeds, every listed id is a real one, and nothing hidden is left.
#[test]
fn reserve_and_remove_succeed_while_list_sweeps_concurrently() {
    let t = TempRoot::new("sweepthreads");
    let s = t.store();
    std::fs::create_dir_all(s.root()).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|sc| {
        let sweeper = sc.spawn(|| {
            let mut scans = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for id in s.ids().unwrap() {
                    assert!(id.starts_with('c'), "{id}");
                }
                scans += 1;
            }
            scans
        });
        for i in 0..300 {
            let id = format!("c{i}");
            let e = s.reserve_saved(&id, &record(&id)).unwrap();
            assert_eq!(s.read(&id).unwrap(), record(&id));
            e.remove().unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(sweeper.join().unwrap() > 0);
    });
    assert_eq!(s.ids().unwrap(), Vec::<String>::new());
    assert_eq!(root_names(&s), Vec::<String>::new());
}
