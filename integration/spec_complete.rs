//! The newer parts of the runtime-spec on real containers: NUMA memory policy, time
//! namespace offsets, network devices moved in, namespace combinations (a user namespace
//! joined by path with new ones, `"path": ""`), exec CPU affinity and hugetlb limits on
//! the hybrid host's cgroup2 tree. Each container prints what it sees from inside; each
//! bad input fails with one line naming the field and leaves the host as it was.

use serde_json::json;

use crate::common::*;
use crate::reliability::rejects;

/// `hull run` of `b`; returns the container's stdout, requiring exit 0.
fn run_ok(h: &Hull, b: &Bundle) -> String {
    let id = unique_id("sc");
    let o = h.run(&["run", "--bundle", b.path_str(), &id]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "stdout={} stderr={}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The value of `key:` in /proc/self/status as printed by the container.
fn status_field(out: &str, key: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {out}"))
        .trim()
        .to_string()
}

/// A container started detached (`sleep`), deleted on drop by its `Hull`.
fn start_sleeper(h: &Hull, b: &Bundle) -> String {
    let id = unique_id("sc");
    let (code, err) = h.create(b, &id, &[]);
    assert_eq!(code, Some(0), "create: {err}");
    h.ok(&["start", &id]);
    id
}

fn exec_out(h: &Hull, id: &str, args: &[&str]) -> String {
    let mut a = vec!["exec", id];
    a.extend_from_slice(args);
    h.ok(&a)
}

// ---- linux.memoryPolicy ----

/// The policy field of the first mapping line of the probe's own numa_maps.
fn numa_policy(out: &str) -> String {
    let line = out
        .lines()
        .find(|l| l.contains(" heap") || l.contains("stack"))
        .unwrap_or_else(|| panic!("no numa_maps line in {out}"));
    line.split_whitespace().nth(1).unwrap().to_string()
}

fn mempolicy_run(mp: serde_json::Value) -> String {
    let h = Hull::new();
    let b = h.bundle(&["cat", "/proc/self/numa_maps"]);
    b.edit(|c| c["linux"]["memoryPolicy"] = mp);
    numa_policy(&run_ok(&h, &b))
}

#[test]
fn memory_policy_modes_are_what_the_process_runs_with() {
    for (mp, want) in [
        (json!({"mode": "MPOL_BIND", "nodes": "0"}), "bind:0"),
        (
            json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}),
            "interleave:0",
        ),
        (
            json!({"mode": "MPOL_WEIGHTED_INTERLEAVE", "nodes": "0"}),
            "weighted interleave:0",
        ),
        (json!({"mode": "MPOL_PREFERRED", "nodes": "0"}), "prefer:0"),
        (
            json!({"mode": "MPOL_PREFERRED_MANY", "nodes": "0"}),
            "prefer (many):0",
        ),
        (json!({"mode": "MPOL_LOCAL"}), "local"),
        (json!({"mode": "MPOL_DEFAULT"}), "default"),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}),
            "bind=static:0",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]}),
            "bind=relative:0",
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}),
            "bind=balancing:0",
        ),
    ] {
        let got = mempolicy_run(mp.clone());
        // numa_maps writes "weighted interleave" and "prefer (many)" with a space: the
        // probe's split keeps the first word.
        let want = want.split_whitespace().next().unwrap();
        assert_eq!(got, want, "{mp}");
    }
}

#[test]
fn memory_policy_applies_to_exec_d_processes_too() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    b.edit(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"}));
    let id = start_sleeper(&h, &b);
    let out = exec_out(&h, &id, &["cat", "/proc/self/numa_maps"]);
    assert_eq!(numa_policy(&out), "interleave:0");
}

#[test]
fn bad_input_memory_policy() {
    let cases: &[(serde_json::Value, &[&str])] = &[
        (
            json!({"mode": "MPOL_BIND", "nodes": "0,7"}),
            &["linux.memoryPolicy.nodes", "node 7 does not exist"],
        ),
        (
            json!({"mode": "MPOL_BIND"}),
            &[
                "linux.memoryPolicy.nodes",
                "MPOL_BIND needs at least one node",
            ],
        ),
        (
            json!({"mode": "MPOL_SOMETIMES", "nodes": "0"}),
            &["linux.memoryPolicy.mode", "MPOL_SOMETIMES"],
        ),
        (
            json!({"mode": "MPOL_LOCAL", "flags": ["MPOL_F_NUMA_BALANCING"]}),
            &["linux.memoryPolicy", "MPOL_LOCAL", "MPOL_F_NUMA_BALANCING"],
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0-x"}),
            &[
                "invalid memory policy node",
                "linux.memoryPolicy.nodes",
                "not a node number",
            ],
        ),
        // runc's words, which callers (runc's own suite) look for, before hull's.
        (
            json!({}),
            &[
                "invalid memory policy mode",
                "linux.memoryPolicy.mode is required",
            ],
        ),
        (
            json!({"mode": "INTERLEAVE", "nodes": "0"}),
            &["invalid memory policy mode", "INTERLEAVE"],
        ),
        (
            json!({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES", "badflag"]}),
            &[
                "invalid memory policy flag",
                "linux.memoryPolicy.flags[1]",
                "badflag",
            ],
        ),
        (
            json!({"mode": "MPOL_DEFAULT", "nodes": "0-7"}),
            &[
                "linux.memoryPolicy.nodes",
                "mode requires 0 nodes but got 8",
            ],
        ),
        (
            json!({"mode": "MPOL_BIND", "nodes": "0-9876543210"}),
            &[
                "invalid memory policy node",
                "beyond the largest node number",
            ],
        ),
    ];
    for (mp, fields) in cases {
        let h = Hull::new();
        let b = h.bundle(&["true"]);
        b.edit(|c| c["linux"]["memoryPolicy"] = mp.clone());
        rejects(&h, &b, &unique_id("mp"), fields);
    }
}

#[test]
fn default_memory_policy_without_nodes_is_accepted() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| c["linux"]["memoryPolicy"] = json!({"mode": "MPOL_DEFAULT"}));
    run_ok(&h, &b);
}

// ---- namespaces ----

#[test]
fn an_empty_namespace_path_creates_a_new_namespace() {
    let h = Hull::new();
    let b = h.bundle(&["readlink", "/proc/self/ns/uts"]);
    b.edit(|c| {
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            ns["path"] = json!("");
        }
    });
    let out = run_ok(&h, &b);
    let host = std::fs::read_link("/proc/self/ns/uts").unwrap();
    assert!(out.starts_with("uts:["), "{out}");
    assert_ne!(out.trim(), host.to_string_lossy());
}

// ---- process.execCPUAffinity ----

#[test]
fn exec_cpu_affinity_final_is_what_the_init_and_exec_d_processes_run_on() {
    let h = Hull::new();
    let b = h.bundle(&[
        "sh",
        "-c",
        "grep Cpus_allowed_list /proc/self/status; sleep 30",
    ]);
    b.edit(|c| c["process"]["execCPUAffinity"] = json!({"initial": "0", "final": "1"}));
    let id = start_sleeper(&h, &b);
    let out = exec_out(&h, &id, &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&out, "Cpus_allowed_list"), "1");
    // The init, seen from the host.
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    let init = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(status_field(&init, "Cpus_allowed_list"), "1");
}

#[test]
fn exec_cpu_affinity_initial_alone_leaves_the_final_choice_to_the_kernel() {
    let h = Hull::new();
    let b = h.bundle(&["cat", "/proc/self/status"]);
    b.edit(|c| c["process"]["execCPUAffinity"] = json!({"initial": "1"}));
    // Joining the container's cpuset may widen it again; either way it runs, on cpus
    // the container's cpuset allows.
    let out = run_ok(&h, &b);
    let got = status_field(&out, "Cpus_allowed_list");
    assert!(got == "1" || got == "0-1", "{got}");
}

/// `hull ARGS` under `taskset -c 0`: the caller's affinity, which the container must not
/// inherit. Returns stdout; fails the test unless hull exits 0.
fn on_cpu0(h: &Hull, args: &[&str]) -> String {
    let o = h.cmd_via(&["taskset", "-c", "0"], args).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What an exec'd `grep Cpus_allowed_list /proc/self/status` prints, exec run under
/// `taskset -c 0`.
fn exec_on_cpu0(h: &Hull, id: &str) -> String {
    on_cpu0(
        h,
        &["exec", id, "grep", "Cpus_allowed_list", "/proc/self/status"],
    )
}

fn online_cpus() -> String {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn the_callers_cpu_affinity_is_not_the_containers() {
    if online_cpus() == "0" {
        eprintln!("skipped: one CPU, nothing to reset to");
        return;
    }
    let h = Hull::new();
    let b = h.bundle(&["grep", "Cpus_allowed_list", "/proc/self/status"]);
    let out = on_cpu0(&h, &["run", "--bundle", b.path_str(), &unique_id("aff")]);
    assert_eq!(status_field(&out, "Cpus_allowed_list"), online_cpus());
    // An exec'd process too.
    let b = h.bundle(&["sleep", "30"]);
    let id = start_sleeper(&h, &b);
    let out = exec_on_cpu0(&h, &id);
    assert_eq!(status_field(&out, "Cpus_allowed_list"), online_cpus());
}

#[test]
fn the_cpu_affinity_is_reset_to_the_containers_cpuset() {
    if online_cpus() == "0" {
        eprintln!("skipped: one CPU, nothing to reset to");
        return;
    }
    // "1" does not overlap the caller's CPU 0; "0-1" widens it.
    for cpus in ["1", "0-1"] {
        let h = Hull::new();
        let b = h.bundle(&["sleep", "30"]);
        b.edit(|c| c["linux"]["resources"]["cpu"] = json!({"cpus": cpus, "mems": "0"}));
        let id = unique_id("aff");
        let st = h
            .cmd_via(
                &["taskset", "-c", "0"],
                &["run", "-d", "--bundle", b.path_str(), &id],
            )
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "run -d {id} under taskset failed");
        let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", &id])).unwrap();
        let init = std::fs::read_to_string(format!("/proc/{}/status", st["pid"])).unwrap();
        assert_eq!(status_field(&init, "Cpus_allowed_list"), cpus, "init");
        let out = exec_on_cpu0(&h, &id);
        assert_eq!(status_field(&out, "Cpus_allowed_list"), cpus, "exec");
    }
}

#[test]
fn exec_logs_its_initial_cpu_affinity_as_runc_does() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    let id = start_sleeper(&h, &b);
    let proc_file = b.path().join("process.json");
    std::fs::write(
        &proc_file,
        json!({"cwd": "/", "args": ["true"], "user": {"uid": 0, "gid": 0},
               "execCPUAffinity": {"initial": "0"}})
        .to_string(),
    )
    .unwrap();
    let o = h.run(&[
        "--debug",
        "exec",
        "--process",
        proc_file.to_str().unwrap(),
        &id,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("nsexec") && err.contains(": affinity: 0x1"),
        "{err}"
    );
}

#[test]
fn bad_input_exec_cpu_affinity() {
    for (aff, field) in [
        (json!({"initial": "0-x"}), "process.execCPUAffinity.initial"),
        (json!({"final": "3-1"}), "process.execCPUAffinity.final"),
    ] {
        let h = Hull::new();
        let b = h.bundle(&["true"]);
        b.edit(|c| c["process"]["execCPUAffinity"] = aff.clone());
        rejects(&h, &b, &unique_id("aff"), &[field]);
    }
}

// ---- linux.timeOffsets ----

const DAY: i64 = 86_400;

fn with_time_offsets(b: &Bundle, user: bool) {
    b.edit(|c| {
        let nss = c["linux"]["namespaces"].as_array_mut().unwrap();
        nss.push(json!({"type": "time"}));
        if user {
            nss.push(json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        }
        c["linux"]["timeOffsets"] = json!({
            "monotonic": {"secs": 7 * DAY, "nanosecs": 0},
            "boottime": {"secs": 365 * DAY, "nanosecs": 500},
        });
    });
}

/// The probe prints its time namespace's offsets, then /proc/uptime.
const TIME_PROBE: &str = "cat /proc/self/timens_offsets; cat /proc/uptime";

fn host_uptime() -> f64 {
    let s = std::fs::read_to_string("/proc/uptime").unwrap();
    s.split_whitespace().next().unwrap().parse().unwrap()
}

fn assert_shifted(out: &str) {
    let words: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(words.contains(&vec!["monotonic", "604800", "0"]), "{out}");
    assert!(
        words.contains(&vec!["boottime", "31536000", "500"]),
        "{out}"
    );
    let up: f64 = out
        .lines()
        .last()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let shift = up - host_uptime();
    assert!(
        (shift - (365 * DAY) as f64).abs() < 60.0,
        "uptime inside {up}, host {}, {out}",
        host_uptime()
    );
}

#[test]
fn time_offsets_shift_the_clocks_of_a_new_time_namespace() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", TIME_PROBE]);
    with_time_offsets(&b, false);
    assert_shifted(&run_ok(&h, &b));
}

#[test]
fn time_offsets_with_a_user_namespace() {
    let h = Hull::new();
    let b = h.bundle(&["sh", "-c", TIME_PROBE]);
    with_time_offsets(&b, true);
    assert_shifted(&run_ok(&h, &b));
}

#[test]
fn an_exec_d_process_sees_the_same_time_offsets_before_and_after_start() {
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    with_time_offsets(&b, false);
    let id = unique_id("sc");
    let (code, err) = h.create(&b, &id, &[]);
    assert_eq!(code, Some(0), "create: {err}");
    assert_shifted(&exec_out(&h, &id, &["sh", "-c", TIME_PROBE]));
    h.ok(&["start", &id]);
    assert_shifted(&exec_out(&h, &id, &["sh", "-c", TIME_PROBE]));
}

#[test]
fn bad_input_time_offsets() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 5}}));
    rejects(
        &h,
        &b,
        &unique_id("to"),
        &["linux.timeOffsets", "new time namespace"],
    );
    let b = h.bundle(&["true"]);
    with_time_offsets(&b, false);
    b.edit(|c| c["linux"]["timeOffsets"] = json!({"realtime": {"secs": 5}}));
    rejects(
        &h,
        &b,
        &unique_id("to"),
        &["linux.timeOffsets.realtime", "not a clock"],
    );
    let b = h.bundle(&["true"]);
    with_time_offsets(&b, false);
    b.edit(|c| c["linux"]["timeOffsets"] = json!({"boottime": {"secs": i64::MAX / 2}}));
    rejects(&h, &b, &unique_id("to"), &["linux.timeOffsets", "boottime"]);
}

// ---- hugetlb on the hybrid host's cgroup2 tree ----

fn unified_dir_of(h: &Hull, id: &str) -> std::path::PathBuf {
    let st: serde_json::Value = serde_json::from_str(&h.ok(&["state", id])).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let rel = cg.lines().find_map(|l| l.strip_prefix("0::")).unwrap();
    std::path::Path::new("/sys/fs/cgroup/unified").join(rel.trim_start_matches('/'))
}

#[test]
fn hugetlb_limits_go_to_the_cgroup2_tree_when_v1_has_no_hugetlb() {
    // From mountinfo: /sys/fs/cgroup is a tmpfs, a plain `hugetlb` directory proves nothing.
    let v1_hugetlb = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" - cgroup ") && l.contains("hugetlb"));
    let unified = std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers");
    if v1_hugetlb || !unified.is_ok_and(|c| c.contains("hugetlb")) {
        eprintln!("skipped: not a hybrid host with hugetlb only on cgroup2");
        return;
    }
    let h = Hull::new();
    let b = h.bundle(&["sleep", "30"]);
    b.edit(|c| {
        c["linux"]["resources"]["hugepageLimits"] =
            json!([{"pageSize": "2MB", "limit": 4194304}, {"pageSize": "1GB", "limit": 0}])
    });
    let id = start_sleeper(&h, &b);
    let dir = unified_dir_of(&h, &id);
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap()
            .trim()
            .to_string()
    };
    assert_eq!(read("hugetlb.2MB.max"), "4194304");
    assert_eq!(read("hugetlb.1GB.max"), "0");
}

#[test]
fn bad_input_hugetlb_page_size() {
    let h = Hull::new();
    let b = h.bundle(&["true"]);
    b.edit(|c| {
        c["linux"]["resources"]["hugepageLimits"] = json!([{"pageSize": "3MB", "limit": 4194304}])
    });
    rejects(
        &h,
        &b,
        &unique_id("huge"),
        &["linux.resources.hugepageLimits", "3MB"],
    );
}

// ---- linux.netDevices ----

/// A veth pair made for one test (`ip`, at test time only), with an address and up;
/// both ends deleted on drop if still on the host.
struct Veth {
    a: String,
    b: String,
}

impl Veth {
    fn new(addr: &str) -> Veth {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let base = format!("h{:05}{:02}", std::process::id() % 100_000, n % 100);
        let v = Veth {
            a: format!("{base}a"),
            b: format!("{base}b"),
        };
        ip(&["link", "add", &v.a, "type", "veth", "peer", "name", &v.b]);
        ip(&["addr", "add", addr, "dev", &v.a]);
        ip(&["link", "set", &v.a, "up"]);
        v
    }

    /// `ip -o addr show dev NAME` on the host, or None when the host has no such device.
    fn host_addrs(name: &str) -> Option<String> {
        let o = std::process::Command::new("ip")
            .args(["-o", "addr", "show", "dev", name])
            .output()
            .unwrap();
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    fn host_up(name: &str) -> bool {
        let o = std::process::Command::new("ip")
            .args(["-o", "link", "show", "dev", name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).contains(",UP")
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        for n in [&self.a, &self.b] {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", n])
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

fn ip(args: &[&str]) {
    let o = std::process::Command::new("ip")
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn netdev_bundle(h: &Hull, args: &[&str], devices: serde_json::Value) -> Bundle {
    let b = h.bundle(args);
    let _ = std::os::unix::fs::symlink("busybox", b.rootfs().join("bin/ip"));
    b.edit(|c| c["linux"]["netDevices"] = devices);
    b
}

#[test]
fn a_net_device_moves_in_renamed_with_its_address_and_up() {
    let v = Veth::new("10.197.41.1/24");
    let h = Hull::new();
    let b = netdev_bundle(
        &h,
        &["ip", "-o", "addr", "show", "dev", "eth7"],
        json!({&v.a: {"name": "eth7"}}),
    );
    let out = run_ok(&h, &b);
    assert!(out.contains("inet 10.197.41.1/24"), "{out}");
    assert!(
        Veth::host_addrs(&v.a).is_none(),
        "{} still on the host",
        v.a
    );
}

#[test]
fn a_net_device_keeps_its_name_and_a_veth_dies_with_the_container() {
    let v = Veth::new("10.197.42.1/24");
    let h = Hull::new();
    let b = netdev_bundle(&h, &["sleep", "30"], json!({&v.a: {}}));
    let id = start_sleeper(&h, &b);
    let link = exec_out(&h, &id, &["ip", "-o", "link", "show", "dev", &v.a]);
    assert!(link.contains(",UP"), "{link}");
    let addr = exec_out(&h, &id, &["ip", "-o", "addr", "show", "dev", &v.a]);
    assert!(addr.contains("inet 10.197.42.1/24"), "{addr}");
    assert!(Veth::host_addrs(&v.a).is_none());
    h.ok(&["delete", "--force", &id]);
    // The kernel destroys a veth end with its namespace, and the peer with it (async).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while Veth::host_addrs(&v.b).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "peer {} survived",
            v.b
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The network namespace of a running container, to join by path.
fn net_ns_of(h: &Hull, id: &str) -> String {
    format!("/proc/{}/ns/net", h.pid(id))
}

fn join_net(b: &Bundle, path: &str) {
    b.edit(|c| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = json!(path);
            }
        }
    });
}

/// As runc: a device may move into a network namespace the container joins by path, and
/// stays there after the container (the namespace's owner decides what becomes of it).
#[test]
fn a_net_device_moves_into_a_joined_network_namespace_and_stays_there() {
    let v = Veth::new("10.197.45.1/24");
    let h = Hull::new();
    let ob = netdev_bundle(&h, &["sleep", "30"], json!({}));
    let owner = start_sleeper(&h, &ob);
    let b = netdev_bundle(
        &h,
        &["ip", "-o", "addr", "show", "dev", &v.a],
        json!({&v.a: {}}),
    );
    join_net(&b, &net_ns_of(&h, &owner));
    let out = run_ok(&h, &b);
    assert!(out.contains("inet 10.197.45.1/24"), "{out}");
    let there = exec_out(&h, &owner, &["ip", "-o", "addr", "show", "dev", &v.a]);
    assert!(there.contains("inet 10.197.45.1/24"), "{there}");
    assert!(Veth::host_addrs(&v.a).is_none(), "{} back on the host", v.a);
    h.ok(&["delete", "--force", &owner]);
}

/// A create that fails once the devices are in (here a prestart hook) moves them back with
/// their addresses, whether the namespace is new (a veth would otherwise die with it) or
/// joined (it would otherwise keep them).
#[test]
fn a_failed_create_moves_its_net_devices_back() {
    let v = Veth::new("10.197.46.1/24");
    // The namespace's owner lives in a root of its own: `rejects` checks the other is empty.
    let ho = Hull::new();
    let ob = netdev_bundle(&ho, &["sleep", "30"], json!({}));
    let owner = start_sleeper(&ho, &ob);
    let h = Hull::new();
    for joined in [false, true] {
        let b = netdev_bundle(&h, &["true"], json!({&v.a: {"name": "eth5"}}));
        b.edit(|c| c["hooks"] = json!({"prestart": [{"path": "/bin/false"}]}));
        if joined {
            join_net(&b, &net_ns_of(&ho, &owner));
        }
        rejects(&h, &b, &unique_id("nd"), &["prestart"]);
        let a = Veth::host_addrs(&v.a)
            .unwrap_or_else(|| panic!("{} not back on the host (joined: {joined})", v.a));
        assert!(a.contains("10.197.46.1/24"), "address lost: {a}");
        assert!(Veth::host_up(&v.a), "{} left down", v.a);
    }
    ho.ok(&["delete", "--force", &owner]);
}

/// A network namespace joined by path that is hull's own cannot take devices.
#[test]
fn net_devices_into_the_runtimes_own_network_namespace_are_refused() {
    let v = Veth::new("10.197.47.1/24");
    let h = Hull::new();
    let b = netdev_bundle(&h, &["true"], json!({&v.a: {}}));
    join_net(&b, "/proc/self/ns/net");
    rejects(
        &h,
        &b,
        &unique_id("nd"),
        &["linux.netDevices", "runtime's own"],
    );
    assert!(Veth::host_addrs(&v.a).is_some());
}

#[test]
fn bad_input_net_devices() {
    let v = Veth::new("10.197.43.1/24");
    let w = Veth::new("10.197.44.1/24");
    let h = Hull::new();
    // Absent: nothing else moves either.
    let b = netdev_bundle(&h, &["true"], json!({&v.a: {}, "hullnosuch0": {}}));
    rejects(
        &h,
        &b,
        &unique_id("nd"),
        &[
            "linux.netDevices[\"hullnosuch0\"]",
            "no such network interface",
        ],
    );
    // A name clash inside: the second device (sorted) fails, the first comes back.
    let b = netdev_bundle(
        &h,
        &["true"],
        json!({&v.a: {"name": "eth3"}, &w.a: {"name": "lo"}}),
    );
    rejects(
        &h,
        &b,
        &unique_id("nd"),
        &[
            &format!("linux.netDevices[\"{}\"].name \"lo\"", w.a),
            "already exists",
        ],
    );
    // Two devices given one name.
    let b = netdev_bundle(
        &h,
        &["true"],
        json!({&v.a: {"name": "eth3"}, &w.a: {"name": "eth3"}}),
    );
    rejects(
        &h,
        &b,
        &unique_id("nd"),
        &["linux.netDevices", "\"eth3\"", "same name"],
    );
    // Not an interface name.
    let b = netdev_bundle(&h, &["true"], json!({&v.a: {"name": "a/b"}}));
    rejects(
        &h,
        &b,
        &unique_id("nd"),
        &["linux.netDevices", ".name \"a/b\""],
    );
    // Without a new network namespace.
    let b = netdev_bundle(&h, &["true"], json!({&v.a: {}}));
    b.edit(|c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "network")
    });
    rejects(
        &h,
        &b,
        &unique_id("nd"),
        &[
            "linux.netDevices",
            "network namespace of the container's own",
        ],
    );
    for (dev, addr) in [(&v.a, "10.197.43.1/24"), (&w.a, "10.197.44.1/24")] {
        let a = Veth::host_addrs(dev).unwrap_or_else(|| panic!("{dev} left the host"));
        assert!(a.contains(addr), "{dev} lost its address: {a}");
        assert!(Veth::host_up(dev), "{dev} left down");
    }
    // Already in another container's namespace.
    let b = netdev_bundle(&h, &["sleep", "30"], json!({&v.a: {}}));
    let _id = start_sleeper(&h, &b);
    let h2 = Hull::new();
    let b = netdev_bundle(&h2, &["true"], json!({&v.a: {}}));
    rejects(
        &h2,
        &b,
        &unique_id("nd"),
        &[
            &format!("linux.netDevices[\"{}\"]", v.a),
            "already moved into another namespace",
        ],
    );
}
