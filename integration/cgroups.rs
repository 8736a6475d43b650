//! The cgroups module against this host's real hierarchies (run as root): placement of a real
//! child process, limits written and read back, freeze/thaw, kill_all, the cgroup2 core
//! files on the unified hierarchy, refusals, and destroy. Every cgroup lives under a parent
//! named for this test run (`/hull-test-<pid>-<n>`), which the guard removes on drop after
//! thawing and killing the processes it spawned; nothing else is touched.

use hull::cgroups::layout::{Layout, Mode};
use hull::cgroups::{freezer, Cgroup, Dir};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static N: AtomicU32 = AtomicU32::new(0);

/// A test's own cgroup parent on every hierarchy, plus the processes it spawned.
struct TestParent {
    name: String,
    layout: Layout,
    children: Vec<Child>,
}

impl TestParent {
    fn new() -> TestParent {
        let name = format!(
            "hull-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        TestParent {
            name,
            layout: Layout::detect().unwrap(),
            children: Vec::new(),
        }
    }

    /// The absolute cgroupsPath of a container under this parent.
    fn path(&self, leaf: &str) -> String {
        format!("/{}/{leaf}", self.name)
    }

    /// Run `/bin/sh -c script`. The script must not fork before it has been added to a
    /// cgroup (the fork would land outside it): use `spawn_tree` for a tree.
    fn spawn(&mut self, script: &str) -> i32 {
        self.spawn_cmd(Command::new("/bin/sh").args(["-c", script]))
    }

    fn spawn_cmd(&mut self, cmd: &mut Command) -> i32 {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        self.children.push(child);
        pid
    }

    /// A `sleep 100` with no shell in between.
    fn spawn_sleep(&mut self) -> i32 {
        self.spawn_cmd(Command::new("/bin/sleep").arg("100"))
    }

    /// Wait (at most 5 s, so a regression fails instead of hanging) for the first child.
    fn wait_first(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(st) = self.children[0].try_wait().unwrap() {
                return st;
            }
            assert!(Instant::now() < deadline, "the first child did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Our parent directory on each hierarchy (only ever `mount/hull-test-...`).
    fn roots(&self) -> Vec<PathBuf> {
        self.layout
            .v1
            .iter()
            .chain(self.layout.v2.iter())
            .map(|h| h.mount.join(&self.name))
            .collect()
    }
}

/// Every directory under `top`, deepest first.
fn subtree_deepest_first(top: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![top.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                    stack.push(e.path());
                }
            }
            out.push(d);
        }
    }
    out.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    out
}

impl Drop for TestParent {
    fn drop(&mut self) {
        let roots = self.roots();
        // Thaw first: a frozen task cannot die.
        for r in &roots {
            for d in subtree_deepest_first(r) {
                let _ = std::fs::write(d.join("freezer.state"), "THAWED");
                let _ = std::fs::write(d.join("cgroup.freeze"), "0");
            }
        }
        // Every process still inside our own test cgroups is one this test put there.
        for r in &roots {
            for d in subtree_deepest_first(r) {
                let procs = std::fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                }
            }
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for r in &roots {
            for d in subtree_deepest_first(r) {
                let deadline = Instant::now() + Duration::from_secs(2);
                while std::fs::remove_dir(&d).is_err() && d.exists() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
}

fn res(json: &str) -> LinuxResources {
    serde_json::from_str(json).unwrap()
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("read {}/{file}: {e}", dir.display()))
        .trim()
        .to_string()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The cgroup path a process has on the v1 hierarchy `controllers`, or on cgroup2 (None).
fn proc_cgroup(pid: i32, controllers: Option<&[String]>) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines().find_map(|l| {
        let mut p = l.splitn(3, ':');
        let (id, c, path) = (p.next()?, p.next()?, p.next()?);
        let hit = match controllers {
            None => id == "0" && c.is_empty(),
            Some(want) => {
                let mut got: Vec<&str> = c.split(',').collect();
                let mut want: Vec<&str> = want.iter().map(String::as_str).collect();
                got.sort();
                want.sort();
                got == want
            }
        };
        hit.then(|| path.to_string())
    })
}

/// A busy loop: its CPU time tells running from frozen.
const SPIN: &str = "while :; do :; done";

/// utime + stime of `pid`, in clock ticks (/proc/PID/stat fields 14 and 15).
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after_comm.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn progresses(pid: i32) -> bool {
    let a = cpu_ticks(pid);
    std::thread::sleep(Duration::from_millis(300));
    cpu_ticks(pid) > a
}

#[test]
fn cgroup_places_a_real_process_on_every_v1_controller_and_the_unified_hierarchy() {
    let mut t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("place")), "place", false, false).unwrap();
    assert_eq!(cg.mode, Mode::Hybrid);
    cg.create().unwrap();
    let pid = t.spawn_sleep();
    cg.add(pid).unwrap();
    let want = t.path("place");
    for h in &t.layout.v1 {
        assert_eq!(
            proc_cgroup(pid, Some(&h.controllers)).as_deref(),
            Some(want.as_str()),
            "{:?}",
            h.controllers
        );
    }
    assert_eq!(proc_cgroup(pid, None).as_deref(), Some(want.as_str()));
    assert_eq!(cg.pids().unwrap(), vec![pid]);
    // The new cpuset cgroup and its new parent got cpus/mems, or the pid could not join.
    let cpuset = cg.v1_dir("cpuset").unwrap().unwrap();
    for d in [cpuset.as_path(), cpuset.parent().unwrap()] {
        assert!(!read(d, "cpuset.cpus").is_empty());
        assert!(!read(d, "cpuset.mems").is_empty());
    }
}

#[test]
fn cgroup_v1_limits_are_written_and_read_back() {
    let t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("limits")), "limits", false, false).unwrap();
    cg.create().unwrap();
    let r = res(r#"{
        "memory": {"limit": 67108864, "reservation": 33554432, "swap": 134217728,
                   "swappiness": 10, "kernel": 67108864, "disableOOMKiller": true},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 20},
        "devices": [{"allow": false, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                    {"allow": true, "type": "c", "major": 136, "access": "rw"}]
    }"#);
    cg.apply(&r).unwrap();
    let mem = cg.v1_dir("memory").unwrap().unwrap();
    assert_eq!(read(&mem, "memory.limit_in_bytes"), "67108864");
    assert_eq!(read(&mem, "memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(read(&mem, "memory.memsw.limit_in_bytes"), "134217728");
    assert_eq!(read(&mem, "memory.swappiness"), "10");
    assert!(read(&mem, "memory.oom_control").contains("oom_kill_disable 1"));
    let cpu = cg.v1_dir("cpu").unwrap().unwrap();
    assert_eq!(read(&cpu, "cpu.shares"), "512");
    assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "50000");
    assert_eq!(read(&cpu, "cpu.cfs_period_us"), "100000");
    let cpuset = cg.v1_dir("cpuset").unwrap().unwrap();
    assert_eq!(read(&cpuset, "cpuset.cpus"), "0");
    assert_eq!(read(&cpuset, "cpuset.mems"), "0");
    let pids = cg.v1_dir("pids").unwrap().unwrap();
    assert_eq!(read(&pids, "pids.max"), "20");
    let dev = cg.v1_dir("devices").unwrap().unwrap();
    assert_eq!(read(&dev, "devices.list"), "c 1:3 rwm\nc 136:* rw");

    // Lowering memory below the current memsw works (memory first), and raising both
    // above it too (memsw first).
    cg.apply(&res(
        r#"{"memory": {"limit": 268435456, "swap": 536870912}}"#,
    ))
    .unwrap();
    assert_eq!(read(&mem, "memory.limit_in_bytes"), "268435456");
    assert_eq!(read(&mem, "memory.memsw.limit_in_bytes"), "536870912");

    // blkio weight: written where the kernel has a weight file, a clear error where not.
    let blkio = cg.v1_dir("blkio").unwrap().unwrap();
    let weighted = res(r#"{"blockIO": {"weight": 300}}"#);
    if blkio.join("blkio.weight").exists() || blkio.join("blkio.bfq.weight").exists() {
        cg.apply(&weighted).unwrap();
    } else {
        let e = cg.apply(&weighted).unwrap_err().to_string();
        assert!(e.contains("linux.resources.blockIO.weight"), "{e}");
    }
}

#[test]
fn cgroup_errors_name_the_setting_or_file() {
    let t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("errs")), "errs", false, false).unwrap();
    cg.create().unwrap();
    let e = cg
        .apply(&res(r#"{"cpu": {"shares": 1}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("linux.resources.cpu.shares 1"), "{e}");
    let e = cg
        .apply(&res(r#"{"network": {"classID": 1048577}}"#))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("network.classID") && e.contains("net_cls"),
        "{e}"
    );
    let e = cg
        .apply(&res(r#"{"unified": {"memory.high": "1000000"}}"#))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("linux.resources.unified[\"memory.high\"]"),
        "{e}"
    );
    let e = cg
        .apply(&res(r#"{"memory": {"swappiness": 101}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.contains("swappiness 101"), "{e}");
    let e = cg
        .apply(&res(r#"{"cpu": {"cpus": "999"}}"#))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("cgroup cpuset.cpus: write 999:"), "{e}");
    // hugetlb is on neither v1 nor enabled below the unified root on this host.
    let e = cg
        .apply(&res(
            r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]}"#,
        ))
        .unwrap_err()
        .to_string();
    assert!(e.contains("hugetlb"), "{e}");
}

#[test]
fn cgroup_freeze_stops_the_process_and_thaw_resumes_it() {
    let mut t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("freeze")), "freeze", false, false).unwrap();
    cg.create().unwrap();
    let pid = t.spawn(SPIN);
    cg.add(pid).unwrap();
    wait_until("the counter runs", || progresses(pid));
    cg.freeze().unwrap();
    let fz = cg.v1_dir("freezer").unwrap().unwrap();
    assert_eq!(read(&fz, "freezer.state"), "FROZEN");
    assert!(cg.is_frozen().unwrap());
    assert!(!progresses(pid), "a frozen process kept counting");
    cg.thaw().unwrap();
    assert_eq!(read(&fz, "freezer.state"), "THAWED");
    assert!(!cg.is_frozen().unwrap());
    assert!(progresses(pid), "a thawed process did not resume");
}

/// Spawn `sh` with two `sleep` children inside `cg` and wait until all three are in it.
fn spawn_tree(t: &mut TestParent, cg: &Cgroup) -> i32 {
    // The shell waits for the go-file so its children fork only once it is in the cgroup.
    let go = std::env::temp_dir().join(format!("{}-go", t.name));
    let script = format!(
        "while [ ! -e {g} ]; do sleep 0.01; done; sleep 100 & sleep 100 & wait",
        g = go.display()
    );
    let pid = t.spawn(&script);
    cg.add(pid).unwrap();
    std::fs::write(&go, "").unwrap();
    wait_until("three processes are in the cgroup", || {
        cg.pids().unwrap().len() == 3
    });
    let _ = std::fs::remove_file(&go);
    pid
}

#[test]
fn cgroup_kill_all_sigkill_kills_the_whole_tree() {
    let mut t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("kill9")), "kill9", false, false).unwrap();
    cg.create().unwrap();
    spawn_tree(&mut t, &cg);
    cg.kill_all(libc::SIGKILL).unwrap();
    let st = t.wait_first();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGKILL));
    wait_until("the cgroup is empty", || cg.pids().unwrap().is_empty());
    cg.destroy().unwrap();
}

#[test]
fn cgroup_kill_all_sigkill_kills_a_paused_container() {
    let mut t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("killpaused")), "killpaused", false, false).unwrap();
    cg.create().unwrap();
    spawn_tree(&mut t, &cg);
    cg.freeze().unwrap();
    cg.kill_all(libc::SIGKILL).unwrap();
    let st = t.wait_first();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGKILL));
    wait_until("the cgroup is empty", || cg.pids().unwrap().is_empty());
}

#[test]
fn cgroup_kill_all_sigterm_leaves_a_paused_container_paused() {
    let mut t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("termpaused")), "termpaused", false, false).unwrap();
    cg.create().unwrap();
    spawn_tree(&mut t, &cg);
    cg.freeze().unwrap();
    cg.kill_all(libc::SIGTERM).unwrap();
    assert!(cg.is_frozen().unwrap());
    assert_eq!(
        cg.pids().unwrap().len(),
        3,
        "a frozen process acted on SIGTERM"
    );
    cg.thaw().unwrap();
    let st = t.wait_first();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGTERM));
}

#[test]
fn cgroup_kill_all_sigterm_freezes_signals_every_pid_and_thaws() {
    let mut t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("kill15")), "kill15", false, false).unwrap();
    cg.create().unwrap();
    spawn_tree(&mut t, &cg);
    cg.kill_all(libc::SIGTERM).unwrap();
    assert!(!cg.is_frozen().unwrap(), "kill_all left the cgroup frozen");
    let st = t.wait_first();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGTERM));
    wait_until("the cgroup is empty", || cg.pids().unwrap().is_empty());
}

#[test]
fn cgroup2_core_files_work_on_the_unified_hierarchy() {
    let mut t = TestParent::new();
    let v2 = t.layout.v2.clone().expect("this host mounts cgroup2");
    // Only the cgroup2 directory: freeze and kill must use cgroup.freeze and cgroup.kill.
    // Hybrid mode, so create() never enables controllers in the host's root cgroup.
    let cg = Cgroup {
        mode: Mode::Hybrid,
        dirs: vec![Dir {
            mount: v2.mount.clone(),
            controllers: vec![],
            v2: true,
            path: t.path("core"),
        }],
        driver: hull::cgroups::Driver::Cgroupfs,
    };
    cg.create().unwrap();
    let dir = cg.v2_dir().unwrap().unwrap();
    let pid = t.spawn(SPIN);
    cg.add(pid).unwrap();
    assert_eq!(read(&dir, "cgroup.procs"), pid.to_string());
    assert_eq!(proc_cgroup(pid, None), Some(t.path("core")));
    wait_until("the counter runs", || progresses(pid));

    cg.freeze().unwrap();
    assert_eq!(read(&dir, "cgroup.freeze"), "1");
    assert!(freezer::v2_frozen(&dir).unwrap() && cg.is_frozen().unwrap());
    assert!(!progresses(pid), "a frozen process kept counting");
    cg.thaw().unwrap();
    assert!(!cg.is_frozen().unwrap());
    assert!(progresses(pid), "a thawed process did not resume");

    assert!(dir.join("cgroup.kill").exists());
    cg.kill_all(libc::SIGKILL).unwrap();
    let st = t.wait_first();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGKILL));
    cg.destroy().unwrap();
    assert!(!dir.exists());
}

#[test]
fn cgroup_plan_refuses_hierarchy_roots_and_its_own_cgroup() {
    let e = Cgroup::plan(Some("/"), "x", false, false).unwrap_err();
    let e = format!("{e:#}");
    assert!(
        e.contains("linux.cgroupsPath \"/\"") && e.contains("root"),
        "{e}"
    );
    // This process's memory cgroup is not the root here (see host-facts).
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    for line in own.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap();
        if path != "/" {
            let e = format!(
                "{:#}",
                Cgroup::plan(Some(path), "x", false, false).unwrap_err()
            );
            assert!(
                e.contains("linux.cgroupsPath") && e.contains("own cgroup"),
                "{e}"
            );
        }
    }
    assert!(Cgroup::plan(Some("."), "x", false, false).is_err());
    assert!(Cgroup::plan(Some("/a/../b"), "x", false, false).is_err());
}

#[test]
fn cgroup_default_path_is_the_id_below_the_callers_own_cgroup() {
    let cg = Cgroup::plan(None, "ctr-default", false, false).unwrap();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mem_own = own
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.splitn(3, ':').collect();
            (f.len() == 3 && f[1] == "memory").then(|| f[2].to_string())
        })
        .unwrap();
    let mem = cg
        .dirs
        .iter()
        .find(|d| d.controllers == ["memory"])
        .unwrap();
    assert_eq!(
        mem.path,
        format!("{}/ctr-default", mem_own.trim_end_matches('/'))
    );
}

#[test]
fn cgroup_destroy_removes_every_directory_including_sub_cgroups() {
    let mut t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("gone")), "gone", false, false).unwrap();
    cg.create().unwrap();
    let mem = cg.v1_dir("memory").unwrap().unwrap();
    std::fs::create_dir(mem.join("inner")).unwrap();
    let pid = t.spawn_sleep();
    cg.add(pid).unwrap();
    cg.kill_all(libc::SIGKILL).unwrap();
    t.wait_first();
    cg.destroy().unwrap();
    for p in cg.paths() {
        assert!(!p.exists(), "{} survived destroy", p.display());
    }
    cg.destroy().unwrap(); // already gone is fine
}

#[test]
fn cgroup_stats_report_real_usage_and_limits() {
    let mut t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("stats")), "stats", false, false).unwrap();
    cg.create().unwrap();
    cg.apply(&res(
        r#"{"pids": {"limit": 20}, "memory": {"limit": 67108864}}"#,
    ))
    .unwrap();
    // Processes forked inside the cgroup: their pages and CPU time are charged to it (v1
    // memory does not move charges of a process that joins later).
    spawn_tree(&mut t, &cg);
    let s = cg.stats().unwrap();
    assert_eq!((s.pids.current, s.pids.limit), (3, 20));
    assert_eq!(s.memory.usage.limit, 67108864);
    assert!(s.memory.usage.usage > 0);
    assert!(s.cpu.usage.total > 0 && !s.cpu.usage.percpu.is_empty());
    assert!(!s.cpuset.cpus.is_empty());
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["pids"]["limit"], 20);
}

#[test]
fn cgroup_sub_places_an_exec_process_in_an_existing_sub_cgroup() {
    let mut t = TestParent::new();
    let cg = Cgroup::plan(Some(&t.path("subexec")), "subexec", false, false).unwrap();
    cg.create().unwrap();
    let e = cg.sub(&["inner".to_string()]).unwrap_err().to_string();
    assert!(
        e.contains("/inner/cgroup.procs: no such file or directory"),
        "{e}"
    );
    // The sub-cgroup as a user would make it (with cpus/mems on v1 cpuset).
    let inner = Cgroup::plan(Some(&t.path("subexec/inner")), "x", false, false).unwrap();
    inner.create().unwrap();
    let sub = cg.sub(&["inner".to_string()]).unwrap();
    assert_eq!(sub, inner);
    let pid = t.spawn_sleep();
    sub.add(pid).unwrap();
    assert_eq!(proc_cgroup(pid, None), Some(t.path("subexec/inner")));
    assert_eq!(cg.pids().unwrap(), vec![pid], "pids() includes sub-cgroups");
    cg.kill_all(libc::SIGKILL).unwrap();
    t.wait_first();
    cg.destroy().unwrap();
    assert!(cg.paths().iter().all(|p| !p.exists()));
}
