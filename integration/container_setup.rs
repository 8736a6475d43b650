//! What a real container sees from the inside: namespaces (new, shared, joined by path),
//! names, mounts and their flags, masked and read-only paths, the process's identity,
//! limits and capabilities, sysctls, devices, passed fds, symlinked mount targets and the
//! hooks. Each container prints what it sees; the tests compare exact values.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::*;

/// Exit status and output of `hull run` (the container's stdio is hull's).
struct Ran {
    code: Option<i32>,
    out: String,
    err: String,
}

fn run(h: &Hull, b: &Bundle) -> Ran {
    let id = unique_id("see");
    let o = h.run(&["run", "--bundle", b.path_str(), &id]);
    Ran {
        code: o.status.code(),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Run and require exit 0; returns the container's stdout.
fn run_ok(h: &Hull, b: &Bundle) -> String {
    let r = run(h, b);
    assert_eq!(r.code, Some(0), "stdout={} stderr={}", r.out, r.err);
    r.out
}

/// `key=value` lines printed by a probe.
fn kv(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Add busybox applets the common bundle does not link.
fn applets(b: &Bundle, names: &[&str]) {
    for a in names {
        let _ = std::os::unix::fs::symlink("busybox", b.rootfs().join("bin").join(a));
    }
}

fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

const NS_PROBE: &str = "echo self=$$; for n in pid net ipc uts mnt cgroup time user; do \
                        echo $n=$(readlink /proc/self/ns/$n); done";

fn set_namespaces(b: &Bundle, nss: serde_json::Value) {
    b.edit(|c| c["linux"]["namespaces"] = nss);
}

#[test]
fn requested_namespaces_are_new_and_the_others_are_the_hosts() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", NS_PROBE]);
    set_namespaces(
        &b,
        json!([{"type": "pid"}, {"type": "network"}, {"type": "uts"}, {"type": "mount"},
               {"type": "cgroup"}, {"type": "time"}]),
    );
    let v = kv(&run_ok(&h, &b));
    assert_eq!(v["self"], "1", "the user process is pid 1");
    for n in ["pid", "net", "uts", "mnt", "cgroup", "time"] {
        assert!(v[n].starts_with(&format!("{n}:[")), "{n}: {:?}", v[n]);
        assert_ne!(v[n], host_ns(n), "{n} must be a new namespace");
    }
    for n in ["ipc", "user"] {
        assert_eq!(
            v[n],
            host_ns(n),
            "{n} was not requested: must be the host's"
        );
    }

    // The complement: only pid, ipc and mount are new.
    let b = h.bundle(&["sh", "-c", NS_PROBE]);
    set_namespaces(
        &b,
        json!([{"type": "pid"}, {"type": "ipc"}, {"type": "mount"}]),
    );
    b.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
    });
    let v = kv(&run_ok(&h, &b));
    for n in ["pid", "ipc", "mnt"] {
        assert_ne!(v[n], host_ns(n), "{n} must be a new namespace");
    }
    for n in ["net", "uts", "cgroup", "time", "user"] {
        assert_eq!(
            v[n],
            host_ns(n),
            "{n} was not requested: must be the host's"
        );
    }
}

#[test]
fn namespaces_given_by_path_are_joined() {
    let h = Hull::new();
    let s = Sleeper::new(&["--net", "--ipc", "--uts"]);
    let b = h.bundle(&["sh", "-c", NS_PROBE]);
    set_namespaces(
        &b,
        json!([{"type": "pid"}, {"type": "mount"},
               {"type": "network", "path": s.ns("net")},
               {"type": "ipc", "path": s.ns("ipc")},
               {"type": "uts", "path": s.ns("uts")}]),
    );
    b.edit(|c| c["hostname"] = json!("joined-uts"));
    let v = kv(&run_ok(&h, &b));
    for n in ["net", "ipc", "uts"] {
        let want = std::fs::read_link(s.ns(n)).unwrap();
        assert_eq!(v[n], want.to_str().unwrap(), "{n} joined by path");
        assert_ne!(v[n], host_ns(n));
    }
    assert_eq!(v["self"], "1");
}

#[test]
fn a_namespace_path_of_the_wrong_type_fails_create_and_leaves_nothing() {
    let h = Hull::new();
    let s = Sleeper::new(&["--ipc"]);
    let b = h.bundle(&["true"]);
    set_namespaces(
        &b,
        json!([{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
               {"type": "network", "path": s.ns("ipc")}]),
    );
    let err = assert_create_fails_cleanly(&h, &b, &["linux.namespaces[3].path", "network"]);
    assert!(err.contains("is not a network namespace"), "{err}");
}

#[test]
fn hostname_and_domainname_are_set() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "echo h=$(hostname); echo d=$(cat /proc/sys/kernel/domainname)",
    ]);
    b.edit(|c| {
        c["hostname"] = json!("box-one");
        c["domainname"] = json!("example.test");
    });
    let v = kv(&run_ok(&h, &b));
    assert_eq!(v["h"], "box-one");
    assert_eq!(v["d"], "example.test");
}

/// The mountinfo line (mount point field 5) for `point` in `mi`: (per-mount opts, super opts).
fn mount_line(mi: &str, point: &str) -> Option<(String, String, String)> {
    mi.lines().rev().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let f: Vec<&str> = pre.split_whitespace().collect();
        let p: Vec<&str> = post.split_whitespace().collect();
        (f.get(4) == Some(&point)).then(|| (f[5].to_string(), p[0].to_string(), p[2].to_string()))
    })
}

/// Masked paths as runc masks them: a path listed twice is covered once, and masked
/// directories share one read-only tmpfs (one device for all); their contents on the
/// host stay as they were.
#[test]
fn a_masked_path_listed_twice_is_masked_once_and_masked_dirs_share_one_tmpfs() {
    let h = Hull::new();
    let script = "cat /proc/self/mountinfo; echo ---; \
        echo devs=$(stat -c %d /m1 /m2 /m3); echo m1=$(ls -A /m1); echo mf=$(cat /mf); \
        touch /m2/x 2>/dev/null && echo m2w=ok || echo m2w=denied";
    let b = h.bundle(&["sh", "-c", script]);
    for d in ["m1", "m2", "m3"] {
        std::fs::create_dir_all(b.rootfs().join(d)).unwrap();
        std::fs::write(b.rootfs().join(d).join("inside"), "x").unwrap();
    }
    std::fs::write(b.rootfs().join("mf"), "secret").unwrap();
    b.edit(|c| {
        let mp = c["linux"]["maskedPaths"].as_array_mut().unwrap();
        for p in ["/m1", "/m2", "/m1/", "/m3", "/mf", "//mf"] {
            mp.push(json!(p));
        }
    });
    let out = run_ok(&h, &b);
    let (mi, rest) = out.split_once("---\n").unwrap();
    let v = kv(rest);
    for point in ["/m1", "/mf"] {
        let n = mi
            .lines()
            .filter(|l| l.split_whitespace().nth(4) == Some(point))
            .count();
        assert_eq!(n, 1, "{point} masked {n} times: {mi}");
    }
    let devs: Vec<&str> = v["devs"].split_whitespace().collect();
    assert_eq!(devs.len(), 3, "{out}");
    assert!(devs.iter().all(|d| *d == devs[0]), "one tmpfs: {devs:?}");
    assert_eq!(v["m1"], "");
    assert_eq!(v["mf"], "");
    assert_eq!(v["m2w"], "denied");
    assert!(b.rootfs().join("m1/inside").exists());
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("mf")).unwrap(),
        "secret"
    );
}

/// A read-only /dev or tmpfs becomes read-only only once the rootfs is complete (as runc's
/// finalizeRootfs): the device nodes, /dev/pts and a mount below a read-only tmpfs are
/// made in it first, and afterwards neither takes a write.
#[test]
fn read_only_dev_and_tmpfs_are_made_read_only_after_what_goes_inside() {
    let h = Hull::new();
    let script = "cat /proc/self/mountinfo; echo ---; \
        echo > /dev/null && echo null=ok; \
        touch /dev/x 2>/dev/null && echo devw=ok || echo devw=denied; \
        touch /ro/x 2>/dev/null && echo tmpw=ok || echo tmpw=denied; \
        touch /ro/sub/x && echo subw=ok";
    let b = h.bundle(&["sh", "-c", script]);
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        for e in m.iter_mut() {
            if e["destination"] == "/dev" {
                e["options"].as_array_mut().unwrap().push(json!("ro"));
            }
        }
        m.push(
            json!({"destination": "/ro", "type": "tmpfs", "source": "tmpfs",
                      "options": ["ro", "nosuid"]}),
        );
        m.push(
            json!({"destination": "/ro/sub", "type": "tmpfs", "source": "tmpfs",
                      "options": ["nosuid"]}),
        );
    });
    let out = run_ok(&h, &b);
    let (mi, rest) = out.split_once("---\n").unwrap();
    let v = kv(rest);
    for point in ["/dev", "/ro"] {
        let (opts, _, _) = mount_line(mi, point).unwrap_or_else(|| panic!("{point}: {mi}"));
        assert!(opts.starts_with("ro,"), "{point} must be ro: {opts}");
    }
    let (opts, _, _) = mount_line(mi, "/ro/sub").expect("/ro/sub mounted");
    assert!(
        opts.starts_with("rw,"),
        "/ro/sub keeps its own flags: {opts}"
    );
    assert!(mount_line(mi, "/dev/pts").is_some(), "{mi}");
    assert_eq!(v["null"], "ok");
    assert_eq!(v["devw"], "denied");
    assert_eq!(v["tmpw"], "denied");
    assert_eq!(v["subw"], "ok");
}

#[test]
fn mounts_have_their_flags_and_read_only_places_reject_writes() {
    let h = Hull::new();
    let host = TempDir::new("bindsrc");
    std::fs::write(host.path().join("hello"), "from-host\n").unwrap();
    let script = "cat /proc/self/mountinfo; echo ---; \
        echo bind=$(cat /data/hello); \
        touch /data/new 2>/dev/null && echo bindw=ok || echo bindw=denied; \
        touch /scratch/f && echo tmpw=ok || echo tmpw=denied; \
        cp /bin/busybox /scratch/bb 2>/dev/null; /scratch/bb true 2>/dev/null && echo tmpx=ran || echo tmpx=refused; \
        touch /rootfile 2>/dev/null && echo rootw=ok || echo rootw=denied; \
        echo x > /proc/sys/kernel/hostname 2>/dev/null && echo procsysw=ok || echo procsysw=denied; \
        touch /rodir/x 2>/dev/null && echo rodirw=ok || echo rodirw=denied; \
        echo keys=$(wc -c < /proc/keys); echo timers=$(wc -c < /proc/timer_list); \
        echo secret=$(wc -c < /etc/secret); echo secretdir=$(ls -A /secretdir | wc -l); \
        echo firmware=$(ls -A /sys/firmware | wc -l); \
        echo > /etc/secret 2>/dev/null && echo secretw=ok || echo secretw=denied";
    let b = h.bundle(&["sh", "-c", script]);
    applets(&b, &["cp"]);
    std::fs::create_dir_all(b.rootfs().join("rodir")).unwrap();
    std::fs::create_dir_all(b.rootfs().join("secretdir")).unwrap();
    std::fs::write(b.rootfs().join("secretdir/inside"), "x").unwrap();
    std::fs::write(b.rootfs().join("etc/secret"), "s3cret\n").unwrap();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(
            json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                      "options": ["nosuid", "nodev", "noexec", "size=1024k", "mode=755"]}),
        );
        m.push(json!({"destination": "/data", "type": "bind",
                      "source": host.path(), "options": ["rbind", "ro"]}));
        let mp = c["linux"]["maskedPaths"].as_array_mut().unwrap();
        mp.push(json!("/etc/secret"));
        mp.push(json!("/secretdir"));
        c["linux"]["readonlyPaths"]
            .as_array_mut()
            .unwrap()
            .push(json!("/rodir"));
    });
    let out = run_ok(&h, &b);
    let (mi, rest) = out.split_once("---\n").unwrap();
    let v = kv(rest);

    let (opts, fs, sup) = mount_line(mi, "/scratch").expect("/scratch mounted");
    assert_eq!(fs, "tmpfs");
    for o in ["rw", "nosuid", "nodev", "noexec"] {
        assert!(opts.split(',').any(|x| x == o), "/scratch {o}: {opts}");
    }
    assert!(sup.split(',').any(|x| x == "size=1024k"), "{sup}");
    assert!(sup.split(',').any(|x| x == "mode=755"), "{sup}");
    let (opts, _, _) = mount_line(mi, "/data").expect("/data mounted");
    assert!(opts.starts_with("ro,"), "/data must be ro: {opts}");
    let (opts, _, _) = mount_line(mi, "/").expect("/ mounted");
    assert!(opts.starts_with("ro,"), "root.readonly: {opts}");
    assert!(
        mount_line(mi, "/proc/keys").is_some_and(|(_, fs, _)| fs == "tmpfs"),
        "/proc/keys masked with hull's /dev/null: {mi}"
    );

    assert_eq!(v["bind"], "from-host");
    assert_eq!(v["bindw"], "denied");
    assert_eq!(v["tmpw"], "ok");
    assert_eq!(v["tmpx"], "refused", "noexec tmpfs");
    assert_eq!(v["rootw"], "denied", "root.readonly");
    assert_eq!(v["procsysw"], "denied", "/proc/sys is a readonlyPath");
    assert_eq!(v["rodirw"], "denied", "custom readonlyPath");
    // This kernel has no /proc/kcore; /proc/keys and /proc/timer_list are non-empty.
    assert_eq!(v["timers"], "0");
    assert_eq!(v["keys"], "0");
    assert_eq!(v["secret"], "0", "masked file reads as /dev/null");
    assert_eq!(v["secretdir"], "0", "masked dir is empty");
    assert_eq!(v["firmware"], "0");
    assert!(!host.path().join("new").exists());
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("etc/secret")).unwrap(),
        "s3cret\n",
        "writing to a masked file must not reach the real one"
    );
}

const ID_PROBE: &str =
    "grep -E '^(Uid|Gid|Groups|NoNewPrivs|Cap(Inh|Prm|Eff|Bnd|Amb)):' /proc/1/status \
     | sed 's/:[[:space:]]*/=/; s/[[:space:]][[:space:]]*/ /g; s/ $//'; \
     echo umask=$(umask); echo cwd=$(pwd); \
     echo nofile=$(grep 'open files' /proc/1/limits | sed 's/  */ /g'); \
     echo oom=$(cat /proc/1/oom_score_adj); \
     echo env=$(tr '\\0' ';' < /proc/1/environ)";

#[test]
fn the_process_gets_exactly_its_user_groups_limits_env_and_capabilities() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", ID_PROBE]);
    applets(&b, &["sed", "tr"]);
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        let p = &mut c["process"];
        p["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 23});
        p["cwd"] = json!("/home/new/dir");

        p["env"] = json!(["PATH=/bin", "FOO=bar baz", "EMPTY="]);
        p["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}]);
        p["oomScoreAdj"] = json!(500);
        p["noNewPrivileges"] = json!(true);
        p["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"],
        });
    });
    let v = kv(&run_ok(&h, &b));
    assert_eq!(v["Uid"], "1000 1000 1000 1000");
    assert_eq!(v["Gid"], "1001 1001 1001 1001");
    assert_eq!(v["Groups"], "10 20");
    assert_eq!(v["umask"], "0027");
    assert_eq!(v["cwd"], "/home/new/dir");
    assert_eq!(v["nofile"], "Max open files 100 200 files");
    assert_eq!(v["oom"], "500");
    assert_eq!(v["NoNewPrivs"], "1");
    // HOME is added as runc adds it: uid 1000 has no /etc/passwd entry, so "/".
    assert_eq!(v["env"], "PATH=/bin;FOO=bar baz;EMPTY=;HOME=/;");
    // A non-root user keeps across execve only what is ambient (bit 10).
    assert_eq!(v["CapBnd"], "0000000000000421");
    assert_eq!(v["CapInh"], "0000000000000400");
    assert_eq!(v["CapPrm"], "0000000000000400");
    assert_eq!(v["CapEff"], "0000000000000400");
    assert_eq!(v["CapAmb"], "0000000000000400");
    assert!(b.rootfs().join("home/new/dir").is_dir());
}

/// runc creates a missing cwd while preparing the rootfs, before the root becomes
/// read-only; hull creates it after, which fails with EROFS (src/process/init.rs).
#[test]
fn the_missing_cwd_is_created_even_with_a_read_only_root() {
    let h = Hull::new();
    let b = h.bundle(&["pwd"]);
    b.edit(|c| c["process"]["cwd"] = json!("/home/new"));
    assert_eq!(run_ok(&h, &b), "/home/new\n");
}

#[test]
fn root_with_runcs_default_capabilities_and_new_privileges_allowed() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", ID_PROBE]);
    applets(&b, &["sed", "tr"]);
    b.edit(|c| c["process"]["noNewPrivileges"] = json!(false));
    let v = kv(&run_ok(&h, &b));
    assert_eq!(v["Uid"], "0 0 0 0");
    assert_eq!(v["Groups"], "");
    assert_eq!(v["NoNewPrivs"], "0");
    // CAP_AUDIT_WRITE (29), CAP_KILL (5), CAP_NET_BIND_SERVICE (10); ambient needs
    // inheritable, which runc's default config does not give, so it stays empty.
    for k in ["CapBnd", "CapPrm", "CapEff"] {
        assert_eq!(v[k], "0000000020000420", "{k}");
    }
    assert_eq!(v["CapInh"], "0000000000000000");
    assert_eq!(v["CapAmb"], "0000000000000000");
    assert_eq!(v["nofile"], "Max open files 1024 1024 files");
    assert_eq!(v["oom"], "0");
    assert_eq!(v["umask"], "0022");
}

#[test]
fn a_capability_this_host_cannot_give_fails_create_naming_it() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| {
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_RESOURCE"));
        }
    });
    assert_create_fails_cleanly(&h, &b, &["CAP_SYS_RESOURCE"]);
}

fn host_sysctl(k: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{k}")).unwrap()
}

#[test]
fn namespaced_sysctls_apply_inside_only_and_others_are_refused() {
    let h = Hull::new();
    let fwd = host_sysctl("net/ipv4/ip_forward");
    let shm = host_sysctl("kernel/shmmax");
    let b = h.bundle(&[
        "sh",
        "-c",
        "echo fwd=$(cat /proc/sys/net/ipv4/ip_forward); echo shm=$(cat /proc/sys/kernel/shmmax)",
    ]);
    b.edit(|c| {
        c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"})
    });
    let v = kv(&run_ok(&h, &b));
    assert_eq!(v["fwd"], "1");
    assert_eq!(v["shm"], "123456789");
    assert_eq!(host_sysctl("net/ipv4/ip_forward"), fwd, "host untouched");
    assert_eq!(host_sysctl("kernel/shmmax"), shm, "host untouched");

    let b = h.bundle(&["true"]);
    b.edit(|c| c["linux"]["sysctl"] = json!({"vm.swappiness": "10"}));
    let err = assert_create_fails_cleanly(&h, &b, &["vm.swappiness", "not namespaced"]);
    assert!(err.contains("linux.sysctl"), "{err}");
}

#[test]
fn configured_devices_exist_with_their_numbers_mode_and_owner() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "for d in fuse mydev null; do echo $d=$(stat -c '%F %t:%T %a %u:%g' /dev/$d); done",
    ]);
    b.edit(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438,
             "uid": 0, "gid": 0},
            {"path": "/dev/mydev", "type": "c", "major": 1, "minor": 7, "fileMode": 416,
             "uid": 1000, "gid": 5},
        ])
    });
    let v = kv(&run_ok(&h, &b));
    assert_eq!(v["fuse"], "character special file a:e5 666 0:0");
    assert_eq!(v["mydev"], "character special file 1:7 640 1000:5");
    assert_eq!(v["null"], "character special file 1:3 666 0:0");
}

/// `ls` runs first and writes straight to stdout: inside or after a `$(...)` busybox sh
/// briefly holds a pipe fd of its own.
const FD_PROBE: &str = "ls /proc/1/fd; echo a=$(cat <&3); echo b=$(cat <&4); \
                        echo lf=$LISTEN_FDS; echo lp=$LISTEN_PID";

/// The fd numbers `ls /proc/1/fd` printed (the lines that are only digits), in order.
fn fds_of(out: &str) -> String {
    let mut v: Vec<u32> = out.lines().filter_map(|l| l.parse().ok()).collect();
    v.sort();
    v.iter()
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `hull run` through `sh -c` so the shell opens fds 3 and 4 for it.
fn run_with_fds(
    h: &Hull,
    b: &Bundle,
    prefix: &str,
    hull_args: &str,
    f3: &Path,
    f4: &Path,
) -> String {
    let id = unique_id("fds");
    let line = format!(
        "{prefix} exec {} --root {} run {hull_args} --bundle {} {id} 3<{} 4<{}",
        hull_bin().display(),
        h.root.path().display(),
        b.path_str(),
        f3.display(),
        f4.display()
    );
    let o = Command::new("sh")
        .arg("-c")
        .arg(line)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn preserved_and_socket_activation_fds_reach_the_process() {
    let h = Hull::new();
    let dir = TempDir::new("fds");
    let (f3, f4) = (dir.path().join("three"), dir.path().join("four"));
    std::fs::write(&f3, "three\n").unwrap();
    std::fs::write(&f4, "four\n").unwrap();
    // The user process is sh (pid 1) and must hold 0-4 and nothing else.
    let b = h.bundle(&["sh", "-c", FD_PROBE]);
    let out = run_with_fds(&h, &b, "", "--preserve-fds 2", &f3, &f4);
    let v = kv(&out);
    assert_eq!(v["a"], "three");
    assert_eq!(v["b"], "four");
    assert_eq!(
        fds_of(&out),
        "0 1 2 3 4",
        "no other fd may reach the process"
    );
    assert_eq!(v["lf"], "");

    // Socket activation: LISTEN_FDS=1 for hull's own pid, plus one preserved fd.
    let b = h.bundle(&["sh", "-c", FD_PROBE]);
    let out = run_with_fds(
        &h,
        &b,
        "export LISTEN_FDS=1 LISTEN_PID=$$;",
        "--preserve-fds 1",
        &f3,
        &f4,
    );
    let v = kv(&out);
    assert_eq!(v["a"], "three");
    assert_eq!(v["b"], "four");
    assert_eq!(fds_of(&out), "0 1 2 3 4");
    assert_eq!(v["lf"], "1");
    assert_eq!(v["lp"], "1");

    // Without either, fds 3 and 4 do not reach the process.
    let b = h.bundle(&["sh", "-c", "ls /proc/1/fd; true"]);
    assert_eq!(fds_of(&run_with_fds(&h, &b, "", "", &f3, &f4)), "0 1 2");
}

#[test]
fn a_symlink_out_of_the_rootfs_as_mount_destination_touches_nothing_outside() {
    let h = Hull::new();
    let outside = TempDir::new("outside");
    let before = host_mounts();
    let b = h.bundle(&["sh", "-c", "ls -A /evil/sub 2>&1; echo ok"]);
    std::os::unix::fs::symlink(outside.path().join("x"), b.rootfs().join("evil")).unwrap();
    b.edit(|c| {
        c["root"]["readonly"] = json!(false);
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs"}));
    });
    let r = run(&h, &b);
    // Either refused or contained in the rootfs; never outside.
    assert!(
        r.code == Some(0) || r.code == Some(1),
        "{:?}: {} {}",
        r.code,
        r.out,
        r.err
    );
    let left: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
    assert!(left.is_empty(), "created outside the rootfs: {left:?}");
    assert_eq!(host_mounts(), before, "host mount table changed");
    if r.code == Some(0) {
        assert!(
            b.rootfs()
                .join(outside.path().strip_prefix("/").unwrap())
                .join("x/sub")
                .is_dir(),
            "the mount point must have been made inside the rootfs"
        );
    }
}

/// A host hook script: `NAME LOG` as args, state JSON on stdin. It appends one JSON-ish
/// line: name, the mount namespace it runs in and the state it got.
const HOOK: &str =
    "#!/bin/sh\nstate=$(cat)\necho \"$1 $(readlink /proc/self/ns/mnt) $state\" >> \"$2\"\n";

fn hook(script: &str, name: &str, log: &str) -> serde_json::Value {
    json!({"path": "/bin/sh", "args": ["sh", script, name, log]})
}

struct HookLine {
    name: String,
    mnt: String,
    state: serde_json::Value,
}

fn hook_lines(log: &Path) -> Vec<HookLine> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            HookLine {
                name: it.next().unwrap().into(),
                mnt: it.next().unwrap().into(),
                state: serde_json::from_str(it.next().unwrap_or("null")).unwrap_or_default(),
            }
        })
        .collect()
}

#[test]
fn hooks_run_in_spec_order_in_their_namespaces_with_the_state() {
    let h = Hull::new();
    let logdir = TempDir::new("hooklog");
    let log = logdir.path().join("log");
    let host_script = logdir.path().join("hook.sh");
    std::fs::write(&host_script, HOOK).unwrap();
    let b = h.bundle(&["sh", "-c", "readlink /proc/self/ns/mnt"]);
    // startContainer runs in the container: its script and log path are container paths.
    std::fs::write(b.rootfs().join("hook.sh"), HOOK).unwrap();
    let hs = host_script.to_str().unwrap();
    let lg = log.to_str().unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": "/hooklog", "type": "bind", "source": logdir.path(),
                   "options": ["rbind", "rw"]}),
        );
        c["hooks"] = json!({
            "prestart": [hook(hs, "prestart", lg)],
            "createRuntime": [hook(hs, "createRuntime", lg)],
            "createContainer": [hook(hs, "createContainer", lg)],
            "startContainer": [hook("/hook.sh", "startContainer", "/hooklog/log")],
            "poststart": [hook(hs, "poststart", lg)],
            "poststop": [hook(hs, "poststop", lg)],
        });
    });
    let id = unique_id("hooks");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    let ctr_mnt = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    let ctr_mnt = ctr_mnt.to_str().unwrap();
    let names: Vec<String> = hook_lines(&log).into_iter().map(|l| l.name).collect();
    assert_eq!(names, ["prestart", "createRuntime", "createContainer"]);
    h.ok(&["start", &id]);
    h.wait_status(&id, "stopped");
    h.ok(&["delete", &id]);
    let out = std::fs::read_to_string(b.path().join("stdout")).unwrap();
    assert_eq!(
        out.trim(),
        ctr_mnt,
        "the user process runs in the container mnt ns"
    );

    let lines = hook_lines(&log);
    let names: Vec<&str> = lines.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ]
    );
    let runtime = host_ns("mnt");
    for l in &lines {
        let want = match l.name.as_str() {
            "createContainer" | "startContainer" => ctr_mnt,
            _ => runtime.as_str(),
        };
        assert_eq!(l.mnt, want, "{} mount namespace", l.name);
        assert_eq!(l.state["id"], id.as_str(), "{} state", l.name);
        assert_eq!(
            l.state["ociVersion"].as_str().map(|s| s.starts_with("1.")),
            Some(true)
        );
        let status = match l.name.as_str() {
            "prestart" | "createRuntime" | "createContainer" => "creating",
            "startContainer" => "created",
            "poststart" => "running",
            _ => "stopped",
        };
        assert_eq!(l.state["status"], status, "{} status", l.name);
        if l.name != "poststop" {
            assert_eq!(l.state["pid"], pid, "{} pid", l.name);
        }
        assert_eq!(
            l.state["bundle"],
            b.path().canonicalize().unwrap().to_str().unwrap(),
            "{} bundle",
            l.name
        );
    }
}

#[test]
fn a_hook_past_its_timeout_fails_create_and_leaves_nothing() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| {
        c["hooks"] = json!({"createRuntime": [
            {"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]})
    });
    let t = std::time::Instant::now();
    assert_create_fails_cleanly(&h, &b, &["hooks.createRuntime[0]", "timed out"]);
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn a_failing_prestart_hook_fails_create_and_cleans_up() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| {
        c["hooks"] = json!({"prestart": [
            {"path": "/bin/sh", "args": ["sh", "-c", "echo boom >&2; exit 3"]}]})
    });
    assert_create_fails_cleanly(&h, &b, &["hooks.prestart[0]", "boom"]);
}

#[test]
fn failing_poststart_and_poststop_hooks_only_warn() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| {
        c["hooks"] = json!({
            "poststart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo ps-fail >&2; exit 1"]}],
            "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "echo pt-fail >&2; exit 1"]}],
        })
    });
    let id = unique_id("warn");
    assert_eq!(h.create(&b, &id, &[]).0, Some(0));
    let o = h.run(&["start", &id]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ps-fail"));
    h.wait_status(&id, "stopped");
    let o = h.run(&["delete", &id]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pt-fail"));
    assert!(h.dirs().is_empty());
}

/// `run` is runc's, not the spec's: there a failing poststart hook kills the container
/// and fails, attached or detached, and nothing is left.
#[test]
fn a_failing_poststart_hook_fails_run_and_leaves_nothing() {
    let h = Hull::new();
    for detach in [false, true] {
        let b = h.bundle(&["sleep", "30"]);
        b.edit(|c| {
            c["hooks"] = json!({
                "poststart": [{"path": "/bin/true"}, {"path": "/bin/false"}],
            })
        });
        let id = unique_id("psrun");
        let mut args = vec!["run", "--bundle", b.path_str()];
        if detach {
            args.push("-d");
        }
        args.push(&id);
        let t = std::time::Instant::now();
        let o = h.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "detach {detach}: {err}");
        assert!(
            err.starts_with(
                "hull run failed: error running poststart hook #1: hooks.poststart[1]: error \
                 running hook /bin/false: exit status 1"
            ),
            "{err}"
        );
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "the container was not killed"
        );
        assert!(h.dirs().is_empty(), "state left: {:?}", h.dirs());
        assert_no_container_cgroup(&b);
    }
}

#[test]
fn tmpcopyup_starts_a_tmpfs_with_the_directory_it_covers() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", "cat /etc/passwd; ls -l /etc/sub/link; stat -c '%a %u' /etc/sub/file; touch /etc/new && echo writable"]);
    let etc = b.rootfs().join("etc");
    std::fs::create_dir_all(etc.join("sub")).unwrap();
    std::fs::write(etc.join("sub/file"), "x").unwrap();
    std::fs::set_permissions(
        etc.join("sub/file"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    std::os::unix::fs::chown(etc.join("sub/file"), Some(1234), Some(1234)).unwrap();
    std::os::unix::fs::symlink("../passwd", etc.join("sub/link")).unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/etc", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "tmpcopyup"]
        }))
    });
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("copyup")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.starts_with("root:x:0:0:root:/root:/bin/sh\n"), "{out}");
    assert!(out.contains("/etc/sub/link -> ../passwd"), "{out}");
    assert!(out.contains("640 1234\n"), "{out}");
    assert!(
        out.ends_with("writable\n"),
        "the copy is a writable tmpfs over a read-only root: {out}"
    );
    assert!(
        !b.rootfs().join("etc/new").exists(),
        "writes must stay in the tmpfs"
    );
}

#[test]
fn io_priority_scheduler_affinity_and_personality_are_applied() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    b.edit(|c| {
        c["process"]["ioPriority"] =
            serde_json::json!({"class": "IOPRIO_CLASS_IDLE", "priority": 0});
        c["process"]["scheduler"] = serde_json::json!({"policy": "SCHED_BATCH", "nice": 5});
        c["process"]["execCPUAffinity"] = serde_json::json!({"final": "0"});
        c["linux"]["personality"] = serde_json::json!({"domain": "LINUX32"});
    });
    let id = unique_id("sched");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "{err}");
    h.ok(&["start", &id]);
    let v: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    let pid = v["pid"].as_i64().unwrap().to_string();
    let personality = std::fs::read_to_string(format!("/proc/{pid}/personality")).unwrap();
    assert_eq!(personality.trim(), "00000008", "LINUX32");
    let io = std::process::Command::new("ionice")
        .args(["-p", &pid])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&io.stdout).trim(), "idle");
    let chrt = std::process::Command::new("chrt")
        .args(["-p", &pid])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&chrt.stdout).contains("SCHED_BATCH"),
        "{chrt:?}"
    );
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status.lines().any(|l| l == "Cpus_allowed_list:\t0"),
        "{status}"
    );
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let nice = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .nth(16)
        .unwrap();
    assert_eq!(nice, "5");
    h.ok(&["delete", "--force", &id]);

    let b = h.bundle(&["true"]);
    b.edit(|c| c["process"]["execCPUAffinity"] = serde_json::json!({"final": "3-1"}));
    let (code, err) = h.create(&b, &unique_id("badaff"), &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("process.execCPUAffinity.final"), "{err}");
    assert!(h.dirs().is_empty());
}

/// A bind mount with uidMappings/gidMappings is idmapped (mount_setattr MOUNT_ATTR_IDMAP):
/// ids on the source filesystem (containerID) show as the mapped ids (hostID), both ways.
#[test]
fn idmapped_bind_mounts_map_source_ids_both_ways() {
    let h = Hull::new();
    let src = TempDir::new("idmap-src");
    std::fs::write(src.path().join("f"), "x").unwrap();
    std::os::unix::fs::chown(src.path().join("f"), Some(0), Some(0)).unwrap();
    std::os::unix::fs::chown(src.path(), Some(0), Some(0)).unwrap();
    let b = h.bundle(&[
        "sh",
        "-c",
        "stat -c '%u %g' /mnt/idm/f; echo y > /mnt/idm/new && echo wrote",
    ]);
    std::fs::create_dir_all(b.rootfs().join("mnt")).unwrap();
    b.edit(|c| {
        c["process"]["user"] = serde_json::json!({"uid": 1234, "gid": 1234});
        let m = serde_json::json!([{"containerID": 0, "hostID": 1234, "size": 1}]);
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/mnt/idm", "type": "bind", "source": src.path(),
            "options": ["rbind"], "uidMappings": m, "gidMappings": m
        }));
    });
    let o = h.run(&["run", "--bundle", b.path_str(), &unique_id("idmap")]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        out, "1234 1234\nwrote\n",
        "source uid 0 shows as 1234 in the container"
    );
    let md = std::fs::metadata(src.path().join("new")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (md.uid(), md.gid()),
        (0, 0),
        "a file made by uid 1234 is uid 0 on the source"
    );

    let bad = h.bundle(&["true"]);
    bad.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/mnt", "type": "bind", "source": "/tmp", "options": ["rbind", "idmap"]
        }));
    });
    let (code, err) = h.create(&bad, &unique_id("idmapbad"), &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("uidMappings"), "{err}");
    assert!(h.dirs().is_empty());
}

/// Inside: lo's flags, then a listener on 127.0.0.1 and a client that sends it a line.
const LOOPBACK_PROBE: &str = "ip link show lo | head -1; \
    nc -l -p 4321 | sed s/^/got=/ & sleep 0.3; \
    echo hello-lo | nc -w 1 127.0.0.1 4321; wait";

/// runc brings `lo` up in every network namespace it creates: without it anything inside
/// that connects to 127.0.0.1 gets ENETUNREACH. Checked with a new network namespace alone
/// and with a new user namespace too (lo then belongs to a namespace hull is root of only
/// through the mappings).
#[test]
fn a_new_network_namespace_has_its_loopback_up_and_reachable() {
    let h = Hull::new();
    for userns in [false, true] {
        let b = h.bundle(&["sh", "-c", LOOPBACK_PROBE]);
        applets(&b, &["ip", "nc", "sed"]);
        if userns {
            b.edit(|c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user"}));
                let m = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
                c["linux"]["uidMappings"] = m.clone();
                c["linux"]["gidMappings"] = m;
            });
        }
        let out = run_ok(&h, &b);
        let first = out.lines().next().unwrap_or_default();
        assert!(
            first.contains("<LOOPBACK,UP,LOWER_UP>"),
            "userns={userns}: lo is not up: {out}"
        );
        assert!(out.contains("got=hello-lo"), "userns={userns}: {out}");
    }
}

/// A user namespace given by path together with namespaces hull creates (runc's "userns
/// join other container userns"): the new ones belong to the joined user namespace, so the
/// container is root there and its new pid namespace can mount its /proc.
#[test]
fn a_user_namespace_joined_by_path_owns_the_namespaces_created_with_it() {
    let h = Hull::new();
    let s = Sleeper::new(&["--user"]);
    for f in ["uid_map", "gid_map"] {
        let path = format!("/proc/{}/{f}", s.0.id());
        std::fs::write(&path, "0 100000 65536\n").unwrap();
    }
    let b = h.bundle(&["sh", "-c", &format!("{NS_PROBE}; cat /proc/self/uid_map")]);
    set_namespaces(
        &b,
        json!([{"type": "user", "path": s.ns("user")},
               {"type": "pid"}, {"type": "mount"}, {"type": "network"},
               {"type": "ipc"}, {"type": "uts"}]),
    );
    let out = run_ok(&h, &b);
    let v = kv(&out);
    let want = std::fs::read_link(s.ns("user")).unwrap();
    assert_eq!(v["user"], want.to_str().unwrap(), "joined by path: {out}");
    assert_eq!(v["self"], "1", "a new pid namespace: {out}");
    for n in ["pid", "net", "ipc", "uts", "mnt"] {
        assert_ne!(v[n], host_ns(n), "{n} must be new");
    }
    let map: Vec<&str> = out.lines().last().unwrap().split_whitespace().collect();
    assert_eq!(
        map,
        ["0", "100000", "65536"],
        "the sleeper's mapping: {out}"
    );

    // The same through a bind mount of the namespace file (how engines keep one).
    let t = TempDir::new("userns-bind");
    let nsfile = t.path().join("userns");
    std::fs::write(&nsfile, "").unwrap();
    let bind = |args: &[&str]| Command::new("mount").args(args).status().unwrap().success();
    assert!(bind(&["--bind", &s.ns("user"), nsfile.to_str().unwrap()]));
    struct Umount(std::path::PathBuf);
    impl Drop for Umount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _u = Umount(nsfile.clone());
    b.edit(|c| c["linux"]["namespaces"][0]["path"] = json!(nsfile));
    let v = kv(&run_ok(&h, &b));
    assert_eq!(
        v["user"],
        want.to_str().unwrap(),
        "joined through the bind mount"
    );
}

/// A user namespace joined by path with a network namespace it does not own (runc's
/// "wrong userns owner"): the network namespace is entered before the user namespace,
/// while hull still has its privileges over it.
#[test]
fn a_joined_user_namespace_with_a_network_namespace_it_does_not_own() {
    let h = Hull::new();
    let user = Sleeper::new(&["--user"]);
    for f in ["uid_map", "gid_map"] {
        std::fs::write(format!("/proc/{}/{f}", user.0.id()), "0 100000 65536\n").unwrap();
    }
    // Owned by the host's user namespace.
    let net = Sleeper::new(&["--net"]);
    let b = h.bundle(&["sh", "-c", NS_PROBE]);
    set_namespaces(
        &b,
        json!([{"type": "user", "path": user.ns("user")},
               {"type": "network", "path": net.ns("net")},
               {"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"}]),
    );
    let v = kv(&run_ok(&h, &b));
    let want = |s: &Sleeper, n: &str| std::fs::read_link(s.ns(n)).unwrap();
    assert_eq!(v["user"], want(&user, "user").to_str().unwrap());
    assert_eq!(v["net"], want(&net, "net").to_str().unwrap());
    assert_eq!(v["self"], "1", "a new pid namespace");
}

/// runc's "joining existing container namespaces": a second container joins the first's
/// user, pid, network, ipc and uts namespaces by path with a mount namespace of its own.
/// The pid hull records is the host's (the init is cloned by a process outside the joined
/// pid namespace), so state, exec and delete reach the right process.
#[test]
fn a_container_joins_another_containers_user_and_pid_namespaces() {
    let h = Hull::new();
    let a = h.bundle(&["sleep", "100"]);
    let m = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    a.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        c["linux"]["uidMappings"] = m.clone();
        c["linux"]["gidMappings"] = m.clone();
    });
    let aid = unique_id("nsowner");
    assert_eq!(h.create(&a, &aid, &[]).0, Some(0));
    h.ok(&["start", &aid]);
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &aid])).unwrap();
    let apid = st["pid"].as_i64().unwrap();

    let b = h.bundle(&["sleep", "100"]);
    b.edit(|c| {
        let ns = |t: &str, f: &str| json!({"type": t, "path": format!("/proc/{apid}/ns/{f}")});
        c["linux"]["namespaces"] = json!([
            ns("user", "user"), ns("pid", "pid"), ns("network", "net"), ns("ipc", "ipc"),
            ns("uts", "uts"), {"type": "mount", "path": ""}]);
        c.as_object_mut().unwrap().remove("hostname");
    });
    let bid = unique_id("nsjoiner");
    let (code, err) = h.create(&b, &bid, &[]);
    assert_eq!(code, Some(0), "{err}");
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &bid])).unwrap();
    let bpid = st["pid"].as_i64().unwrap();
    let ns_of = |p: i64, n: &str| std::fs::read_link(format!("/proc/{p}/ns/{n}")).unwrap();
    for n in ["user", "pid", "net"] {
        assert_eq!(
            ns_of(bpid, n),
            ns_of(apid, n),
            "pid {bpid} is the joiner's init ({n})"
        );
    }
    h.ok(&["start", &bid]);
    let out = h.ok(&["exec", &bid, "cat", "/proc/self/uid_map"]);
    let map: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"], "{out}");
    h.ok(&["delete", "--force", &bid]);
    // Killed (this host's pid 1 may take a moment to reap the zombie).
    let running = || {
        std::fs::read_to_string(format!("/proc/{bpid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with(|c| c != 'Z')
        })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while running() {
        assert!(
            std::time::Instant::now() < deadline,
            "the joiner's init {bpid} survived delete"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.ok(&["delete", "--force", &aid]);
}

/// `stat -c %a DIR` and DIR's line of /proc/self/mounts, from inside.
fn tmpfs_seen(h: &Hull, b: &Bundle, dir: &str) -> (String, String) {
    b.edit(|c| {
        c["process"]["args"] = json!([
            "sh",
            "-c",
            format!("stat -c %a {dir}; grep ' {dir} ' /proc/self/mounts")
        ])
    });
    let out = run_ok(h, b);
    let mut lines = out.lines();
    let mode = lines.next().unwrap_or_default().trim().to_string();
    (mode, lines.next().unwrap_or_default().to_string())
}

fn add_tmpfs(b: &Bundle, dest: &str, options: serde_json::Value) {
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(
            json!({"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": options}),
        )
    });
}

/// `rootfs/NAME`, a new directory with `mode` (setuid, setgid and sticky bits included).
fn dir_with_mode(b: &Bundle, name: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let d = b.rootfs().join(name);
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
    d
}

#[test]
fn a_tmpfs_without_mode_keeps_the_mode_of_the_directory_it_covers() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    applets(&b, &["stat", "grep"]);
    dir_with_mode(&b, "covered", 0o710);
    dir_with_mode(&b, "special", 0o7777);
    add_tmpfs(&b, "/covered", json!(["rw", "nodev", "nosuid"]));
    add_tmpfs(&b, "/special", json!([]));
    add_tmpfs(&b, "/made/by/hull", json!([]));
    let (mode, line) = tmpfs_seen(&h, &b, "/covered");
    assert_eq!(mode, "710");
    assert!(line.contains("mode=710"), "{line}");
    let (mode, _) = tmpfs_seen(&h, &b, "/special");
    assert_eq!(mode, "7777");
    // A directory hull creates: tmpfs's own default, no mode= option.
    std::fs::remove_dir_all(b.rootfs().join("made")).ok();
    let (mode, line) = tmpfs_seen(&h, &b, "/made/by/hull");
    assert_eq!(mode, "1777");
    assert!(!line.contains("mode="), "{line}");
}

#[test]
fn an_explicit_tmpfs_mode_wins_and_the_covered_directory_is_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    applets(&b, &["stat", "grep"]);
    let covered = dir_with_mode(&b, "covered", 0o710);
    add_tmpfs(&b, "/covered", json!(["mode=1500"]));
    let (mode, line) = tmpfs_seen(&h, &b, "/covered");
    assert_eq!(mode, "1500");
    assert!(line.contains("mode=1500"), "{line}");
    let host = std::fs::metadata(&covered).unwrap().permissions().mode() & 0o7777;
    assert_eq!(host, 0o710);
}
