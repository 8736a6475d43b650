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
        cgroup: serde_json::json!({"memory": "/hull/c1"}),
        hooks: None,
        created_done: true,
        host_mounts: false,
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
    std::fs::create_dir(s.root().join(names::temp_name("new"))).unwrap();
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
