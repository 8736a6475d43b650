//! Shared test harness: a private state root, busybox bundles, and cleanup guards.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Path of the `hull` binary under test.
pub fn hull_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hull"))
}

/// Debian's busybox-static; the README's test command installs it.
pub const BUSYBOX: &str = "/bin/busybox";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A unique container id for this test process.
pub fn unique_id(tag: &str) -> String {
    format!(
        "t-{tag}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

/// A scratch directory removed on drop (after unmounting anything left below it).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(unique_id(tag));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A private `--root` for hull: every container still listed there is force-deleted on
/// drop, then the cgroup parents of the bundles it handed out are removed.
pub struct Hull {
    pub root: TempDir,
    cgroup_parents: std::cell::RefCell<Vec<String>>,
    /// The binary this guard runs (`hull_bin()` unless `with_bin`).
    bin: PathBuf,
}

impl Hull {
    pub fn new() -> Hull {
        Hull::with_bin(hull_bin())
    }

    /// A guard that runs `bin` (a copy of hull, for tests that may damage it).
    pub fn with_bin(bin: PathBuf) -> Hull {
        Hull {
            root: TempDir::new("root"),
            cgroup_parents: Default::default(),
            bin,
        }
    }

    /// A busybox bundle running `args`, with its own cgroup parent
    /// (`/hull-it-PID-N/ctr` on every hierarchy) that this guard removes on drop.
    pub fn bundle(&self, args: &[&str]) -> Bundle {
        let b = Bundle::busybox(args);
        let parent = unique_id("cg");
        let path = format!("/{parent}/ctr");
        b.edit(|c| c["linux"]["cgroupsPath"] = serde_json::json!(path));
        self.cgroup_parents.borrow_mut().push(parent);
        b
    }

    /// `hull create` with the container's stdio on files in the bundle
    /// (`stdout`, `stderr`); returns hull's own exit status and stderr.
    pub fn create(&self, b: &Bundle, id: &str, extra: &[&str]) -> (Option<i32>, String) {
        let err = b.path().join("hull-stderr");
        let mut args = vec!["create", "--bundle", b.path_str()];
        args.extend_from_slice(extra);
        args.push(id);
        let st = self
            .cmd(&args)
            .stdout(std::fs::File::create(b.path().join("stdout")).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .unwrap();
        (st.code(), std::fs::read_to_string(err).unwrap_or_default())
    }

    /// The status field of `hull state ID`.
    pub fn status(&self, id: &str) -> String {
        let out = self.ok(&["state", id]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        v["status"].as_str().unwrap().to_string()
    }

    /// The pid field of `hull state ID`: the container's init, as the host numbers it.
    pub fn pid(&self, id: &str) -> i32 {
        let v: serde_json::Value = serde_json::from_str(&self.ok(&["state", id])).unwrap();
        v["pid"].as_i64().unwrap() as i32
    }

    /// Poll `state` until the container has status `want` (5 s at most).
    pub fn wait_status(&self, id: &str, want: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let s = self.status(id);
            if s == want {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{id}: status {s}, wanted {want}"
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// `hull --root ROOT ARGS...`, capturing output, stdin closed.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(self.root.path()).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// `cmd` run through `wrapper` (e.g. `taskset -c 0`), which must exec its arguments.
    pub fn cmd_via(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut c = Command::new(wrapper[0]);
        c.args(&wrapper[1..])
            .arg(&self.bin)
            .arg("--root")
            .arg(self.root.path())
            .args(args);
        c.stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("spawn hull")
    }

    /// Run and require exit 0, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "hull {args:?} failed ({:?}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Run and require exit 1; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "hull {args:?} should fail with 1: stdout={} stderr={}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    /// Ids present in the state root (directories), independent of hull's own listing.
    pub fn dirs(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.root.path())
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for Hull {
    fn drop(&mut self) {
        for id in self.dirs() {
            let _ = self
                .cmd(&["delete", "--force", &id])
                .stderr(Stdio::null())
                .status();
        }
        for parent in self.cgroup_parents.borrow().iter() {
            for h in cgroup_mounts() {
                let _ = std::fs::remove_dir(h.join(parent));
            }
        }
    }
}

/// Mount points of every cgroup hierarchy (v1 and v2), from /proc/self/mountinfo.
pub fn cgroup_mounts() -> Vec<PathBuf> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mi.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let fstype = post.split_whitespace().next()?;
            (fstype == "cgroup" || fstype == "cgroup2")
                .then(|| PathBuf::from(pre.split_whitespace().nth(4).unwrap()))
        })
        .collect()
}

/// Directories named `name` directly or deeper under any cgroup hierarchy root
/// (`find -name`), to prove nothing was left behind.
pub fn cgroup_dirs_named(name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for h in cgroup_mounts() {
        let o = Command::new("find")
            .arg(&h)
            .args(["-maxdepth", "4", "-type", "d", "-name", name])
            .output()
            .unwrap();
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            out.push(PathBuf::from(l));
        }
    }
    out
}

/// The host's mount table without per-line ids that change (for before/after comparisons).
/// Mounts that other programs on the machine make in their own /tmp directories (a test
/// run sharing the machine with, say, podman) are left out; everything else counts,
/// including anything under these tests' own `/tmp/t-*` directories.
pub fn host_mounts() -> Vec<String> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let tmp = std::env::temp_dir();
    let ours = tmp.join("t-");
    let foreign = |mount_point: &str| {
        mount_point.starts_with(&format!("{}/", tmp.display()))
            && !mount_point.starts_with(&*ours.to_string_lossy())
    };
    let mut v: Vec<String> = mi
        .lines()
        .filter(|l| l.split_whitespace().nth(4).is_some_and(|mp| !foreign(mp)))
        .map(|l| l.split_whitespace().skip(3).collect::<Vec<_>>().join(" "))
        .collect();
    v.sort();
    v
}

/// A bundle whose rootfs holds Debian's static busybox with its applet links, and a
/// config.json from `hull spec` that tests edit through `edit`.
pub struct Bundle {
    pub dir: TempDir,
}

impl Bundle {
    /// A bundle running `args` with runc's default config.
    pub fn busybox(args: &[&str]) -> Bundle {
        let dir = TempDir::new("bundle");
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        assert!(
            Path::new(BUSYBOX).exists(),
            "{BUSYBOX} missing: install busybox-static"
        );
        std::fs::copy(BUSYBOX, rootfs.join("bin/busybox")).unwrap();
        for applet in APPLETS {
            let _ = std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet));
        }
        std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
        std::fs::write(rootfs.join("etc/group"), "root:x:0:\n").unwrap();
        let b = Bundle { dir };
        std::fs::write(b.config_path(), default_config()).unwrap();
        b.edit(|c| {
            c["process"]["args"] = serde_json::json!(args);
            c["process"]["terminal"] = serde_json::json!(false);
        });
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn path_str(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    /// Edit config.json as JSON.
    pub fn edit(&self, f: impl FnOnce(&mut serde_json::Value)) {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.config_path()).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(self.config_path(), serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    }
}

/// runc's default rootful config (as `runc spec` writes it), kept here so tests do not
/// depend on `hull spec` being correct.
pub fn default_config() -> &'static str {
    include_str!("default-config.json")
}

const APPLETS: &[&str] = &[
    "sh", "cat", "echo", "ls", "sleep", "true", "false", "id", "hostname", "mount", "touch",
    "mkdir", "grep", "readlink", "ps", "kill", "env", "pwd", "stat", "head", "dd", "wc", "test",
    "umask", "ulimit", "printf", "rm", "ln", "chmod", "uname", "mknod", "nproc", "seq", "stty",
    "tty", "unshare",
];

/// xorshift64: a tiny generator whose seed is all it takes to replay a run (the seed must
/// not be 0, xorshift's one fixed point).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// A number in 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A failed create must leave no state directory and no cgroup of the bundle.
/// A running `sleep` container; the Hull guard force-deletes it.
pub fn running(h: &Hull, tag: &str) -> (Bundle, String) {
    let b = h.bundle(&["sleep", "1000"]);
    let id = unique_id(tag);
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "create: {err}");
    h.ok(&["start", &id]);
    h.wait_status(&id, "running");
    (b, id)
}

pub fn assert_create_fails_cleanly(h: &Hull, b: &Bundle, want: &[&str]) -> String {
    let id = unique_id("bad");
    let (code, err) = h.create(b, &id, &[]);
    assert_eq!(code, Some(1), "create should fail: {err}");
    for w in want {
        assert!(err.contains(w), "error should mention {w:?}: {err}");
    }
    assert!(h.dirs().is_empty(), "state left behind: {:?}", h.dirs());
    assert_no_container_cgroup(b);
    err
}

/// No hierarchy holds the cgroup of `b`'s container (`/PARENT/ctr`, as `Hull::bundle`
/// sets it).
pub fn assert_no_container_cgroup(b: &Bundle) {
    let cg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.config_path()).unwrap()).unwrap();
    let parent = cg["linux"]["cgroupsPath"]
        .as_str()
        .unwrap()
        .split('/')
        .nth(1);
    let leftovers = cgroup_dirs_named(parent.unwrap());
    let with_ctr: Vec<_> = leftovers
        .iter()
        .filter(|p| p.join("ctr").exists())
        .collect();
    assert!(with_ctr.is_empty(), "cgroups left behind: {with_ctr:?}");
}

/// A host process in namespaces of its own (`unshare FLAGS sleep`), killed on drop.
pub struct Sleeper(pub std::process::Child);

impl Sleeper {
    pub fn new(flags: &[&str]) -> Sleeper {
        let c = Command::new("unshare")
            .args(flags)
            .args(["sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        // unshare execs sleep once the namespaces exist: wait for the exec.
        let exe = format!("/proc/{}/exe", c.id());
        for _ in 0..500 {
            if std::fs::read_link(&exe).is_ok_and(|p| p.ends_with("sleep")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        Sleeper(c)
    }
    pub fn ns(&self, kind: &str) -> String {
        format!("/proc/{}/ns/{kind}", self.0.id())
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
