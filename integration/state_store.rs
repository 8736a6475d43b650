//! The state store (`hull::state`) under real concurrency: racing reservations, a lock-free
//! reader against a writer, lock serialization, removal under a waiting locker, and the
//! cost of `read` as the number of containers grows. Threads in one process take separate
//! open file descriptions, so their flocks conflict exactly as separate hull processes' do.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hull::state::{Record, Store, StoreError};

use crate::common::TempDir;

fn store_in(t: &TempDir) -> Store {
    Store::open(&t.path().join("root")).unwrap()
}

fn store_err(e: &anyhow::Error) -> StoreError {
    e.downcast_ref::<StoreError>()
        .unwrap_or_else(|| panic!("not a StoreError: {e:#}"))
        .clone()
}

fn record(id: &str, seq: u64, payload_kib: usize) -> Record {
    let filler = format!("{seq:016x}").repeat(64); // 1 KiB tagged with seq
    Record {
        oci_version: "1.2.1".into(),
        id: id.into(),
        pid: seq as i32,
        init_start_time: seq,
        annotations: (0..payload_kib)
            .map(|i| (format!("k{i:05}"), filler.clone()))
            .collect(),
        ..Record::default()
    }
}

/// True when a record is one whole write: every field carries the same sequence number.
fn consistent(r: &Record, payload_kib: usize) -> bool {
    let tag = format!("{:016x}", r.init_start_time).repeat(64);
    r.pid as u64 == r.init_start_time
        && r.annotations.len() == payload_kib
        && r.annotations.values().all(|v| *v == tag)
}

#[test]
fn racing_reservations_of_one_id_have_exactly_one_winner() {
    const ROUNDS: usize = 600;
    let t = TempDir::new("state-race");
    let store = store_in(&t);
    let barrier = Arc::new(Barrier::new(2));
    let racer = |store: Store, barrier: Arc<Barrier>| {
        thread::spawn(move || {
            (0..ROUNDS)
                .map(|i| {
                    barrier.wait();
                    // Keep the winner's entry (and its lock) until the round ends.
                    store.reserve(&format!("race-{i}"))
                })
                .map(|res| match res {
                    Ok(e) => Ok(e.id().to_string()),
                    Err(e) => Err(store_err(&e)),
                })
                .collect::<Vec<_>>()
        })
    };
    let a = racer(store.clone(), barrier.clone());
    let b = racer(store.clone(), barrier);
    let (a, b) = (a.join().unwrap(), b.join().unwrap());
    for (i, (ra, rb)) in a.iter().zip(&b).enumerate() {
        let id = format!("race-{i}");
        match (ra, rb) {
            (Ok(w), Err(StoreError::AlreadyExists(l)))
            | (Err(StoreError::AlreadyExists(l)), Ok(w)) => {
                assert_eq!((w, l), (&id, &id));
            }
            other => panic!("round {i}: expected one winner and one AlreadyExists, got {other:?}"),
        }
    }
    // Every round left exactly its container and no temp directory.
    assert_eq!(store.ids().unwrap().len(), ROUNDS);
    assert_eq!(std::fs::read_dir(store.root()).unwrap().count(), ROUNDS);
}

#[test]
fn lock_free_reader_never_sees_a_half_written_state() {
    const WRITES: u64 = 2000;
    const KIB: usize = 16;
    let t = TempDir::new("state-torn");
    let store = store_in(&t);
    let entry = store.reserve("c1").unwrap();
    entry.save(&record("c1", 0, KIB)).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, done) = (store.clone(), done.clone());
        thread::spawn(move || {
            let (mut reads, mut last) = (0u64, 0u64);
            while !done.load(Ordering::Acquire) {
                let r = store
                    .read("c1")
                    .unwrap_or_else(|e| panic!("read failed: {e:#}"));
                assert!(consistent(&r, KIB), "torn record seq {}", r.init_start_time);
                assert!(r.init_start_time >= last, "went back in time");
                last = r.init_start_time;
                reads += 1;
            }
            reads
        })
    };
    for seq in 1..=WRITES {
        entry.save(&record("c1", seq, KIB)).unwrap();
    }
    done.store(true, Ordering::Release);
    let reads = reader.join().unwrap();
    assert!(reads > 100, "reader only got {reads} reads in");
    assert!(consistent(&store.read("c1").unwrap(), KIB));
    assert_eq!(store.read("c1").unwrap().init_start_time, WRITES);
    eprintln!("torn-read test: {WRITES} saves of {KIB} KiB, {reads} concurrent reads");
}

#[test]
fn lock_serializes_lockers() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 200;
    let t = TempDir::new("state-serial");
    let store = store_in(&t);
    drop(store.reserve("c1").unwrap());
    let inside = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (store, inside) = (store.clone(), inside.clone());
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let e = store.lock("c1").unwrap();
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two lock holders");
                    thread::yield_now();
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(e);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn second_locker_waits_until_the_first_drops() {
    let t = TempDir::new("state-wait");
    let store = store_in(&t);
    let held = store.reserve("c1").unwrap();
    let (tx, rx) = mpsc::channel();
    let waiter = {
        let store = store.clone();
        thread::spawn(move || {
            let e = store.lock("c1").unwrap();
            tx.send(Instant::now()).unwrap();
            e.load().unwrap()
        })
    };
    wait_for_blocked_flock(held.dir());
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "lock granted twice"
    );
    let released = Instant::now();
    held.save(&record("c1", 9, 1)).unwrap();
    drop(held);
    let acquired = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(acquired >= released);
    // The waiter sees what the first holder saved before releasing.
    assert_eq!(waiter.join().unwrap().unwrap().pid, 9);
}

#[test]
fn remove_while_another_waits_makes_the_waiter_fail_with_does_not_exist() {
    let t = TempDir::new("state-rmwait");
    let store = store_in(&t);
    let held = store.reserve("c1").unwrap();
    let waiter = {
        let store = store.clone();
        thread::spawn(move || store.lock("c1").map(|e| e.id().to_string()))
    };
    wait_for_blocked_flock(held.dir());
    held.remove().unwrap();
    let e = waiter.join().unwrap().unwrap_err();
    assert_eq!(e.to_string(), r#"container "c1" does not exist"#);
    assert_eq!(store.ids().unwrap(), Vec::<String>::new());
}

#[test]
fn waiter_across_remove_and_recreate_locks_the_new_container() {
    let t = TempDir::new("state-recreate");
    let store = store_in(&t);
    let old = store.reserve("c1").unwrap();
    let waiter = {
        let store = store.clone();
        thread::spawn(move || store.lock("c1").map(|e| e.load().unwrap()))
    };
    wait_for_blocked_flock(old.dir());
    old.remove().unwrap();
    let new = store.reserve("c1").unwrap();
    new.save(&record("c1", 2, 1)).unwrap();
    drop(new);
    // The waiter may wake between the remove and the new reserve (then the id does not
    // exist), or after it (then it holds the new container). It must never hold the
    // removed one, which has no record.
    match waiter.join().unwrap() {
        Ok(rec) => assert_eq!(rec.expect("the new container's record").pid, 2),
        Err(e) => assert_eq!(e.to_string(), r#"container "c1" does not exist"#),
    }
}

#[test]
fn read_does_not_scan_the_root() {
    let t = TempDir::new("state-scale");
    let store = store_in(&t);
    let e = store.reserve("target").unwrap();
    e.save(&record("target", 1, 1)).unwrap();
    drop(e);
    let (min1, med1) = time_reads(&store, "target");
    for i in 0..1000 {
        let e = store.reserve(&format!("other-{i:04}")).unwrap();
        e.save(&record(&format!("other-{i:04}"), 1, 1)).unwrap();
    }
    assert_eq!(store.ids().unwrap().len(), 1001);
    let (min1000, med1000) = time_reads(&store, "target");
    eprintln!(
        "read with 1 container: min {min1:?} median {med1:?}; \
         with 1001: min {min1000:?} median {med1000:?}"
    );
    // A scan of 1000 entries costs hundreds of microseconds; a direct open does not grow.
    assert!(
        min1000 < min1 * 2 + Duration::from_micros(50),
        "read slowed from {min1:?} to {min1000:?} with 1000 more containers"
    );
}

/// (fastest, median) of many `read`s of one id.
fn time_reads(store: &Store, id: &str) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..2000)
        .map(|_| {
            let t0 = Instant::now();
            store.read(id).unwrap();
            t0.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[times.len() / 2])
}

/// Wait until /proc/locks shows a blocked flock waiter on `lock` (a `->` line naming its
/// inode), so a test knows the other thread is really waiting, not just about to.
fn wait_for_blocked_flock(lock: &std::path::Path) {
    use std::os::unix::fs::MetadataExt;
    let ino = format!(":{} ", std::fs::metadata(lock).unwrap().ino());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let locks = std::fs::read_to_string("/proc/locks").unwrap();
        if locks
            .lines()
            .any(|l| l.contains("->") && l.contains("FLOCK") && l.contains(&ino))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no waiter blocked on {}",
            lock.display()
        );
        thread::sleep(Duration::from_millis(2));
    }
}
