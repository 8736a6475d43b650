//! Unit tests: spec -> rules translation, compile errors, and the emitted BPF run through
//! an interpreter on chosen `seccomp_data` (no filter is loaded here).

use super::bpf::{self, *};
use super::*;
use oci_spec::runtime::LinuxSeccomp;

fn spec(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).unwrap()
}

fn err(v: serde_json::Value) -> String {
    match compile(&spec(v)) {
        Ok(p) => panic!("compiled to {} instructions, expected an error", p.len()),
        Err(e) => format!("{e:#}"),
    }
}

const X64: u32 = AUDIT_ARCH_X86_64;
const EPERM: u32 = RET_ERRNO | libc::EPERM as u32;

fn run(p: &Program, arch: u32, nr: u32, args: [u64; 6]) -> u32 {
    bpf::run(&p.insns, nr, arch, args)
}
fn nr(abi: Abi, name: &str) -> u32 {
    abi.numbers()[name]
}

#[test]
fn denied_syscall_returns_configured_errno_and_others_the_default() {
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]
    })))
    .unwrap();
    let getpid = nr(Abi::X86_64, "getpid");
    assert_eq!(run(&p, X64, getpid, [0; 6]), RET_ERRNO | 13);
    assert_eq!(run(&p, X64, nr(Abi::X86_64, "read"), [0; 6]), RET_ALLOW);
    // Native only: i386 and x32 are killed.
    assert_eq!(run(&p, AUDIT_ARCH_I386, 20, [0; 6]), RET_KILL_PROCESS);
    assert_eq!(
        run(&p, X64, X32_SYSCALL_BIT | getpid, [0; 6]),
        RET_KILL_PROCESS
    );
}

#[test]
fn errno_defaults_to_eperm_and_default_errno_ret_applies_to_the_default() {
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}
        ]
    })))
    .unwrap();
    assert_eq!(run(&p, X64, 39, [0; 6]), RET_ALLOW);
    assert_eq!(run(&p, X64, 110, [0; 6]), EPERM);
    assert_eq!(run(&p, X64, 0, [0; 6]), RET_ERRNO | 38);
}

#[test]
fn every_action_maps_to_its_kernel_return_value() {
    let cases = [
        ("SCMP_ACT_KILL", RET_KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", RET_KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", RET_KILL_PROCESS),
        ("SCMP_ACT_TRAP", RET_TRAP),
        ("SCMP_ACT_TRACE", RET_TRACE | 1),
        ("SCMP_ACT_LOG", RET_LOG),
        ("SCMP_ACT_NOTIFY", RET_USER_NOTIF),
    ];
    for (name, want) in cases {
        let p = compile(&spec(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["getpid"], "action": name}]
        })))
        .unwrap();
        assert_eq!(run(&p, X64, 39, [0; 6]), want, "{name}");
        assert_eq!(p.has_listener(), name == "SCMP_ACT_NOTIFY");
    }
}

/// Every operator at boundary values, in the high and the low word.
#[test]
fn argument_operators_compare_all_64_bits() {
    let v: u64 = 0x1_0000_0005;
    let probes = [0, 4, 5, 6, 0x5, v - 1, v, v + 1, 0x2_0000_0000, u64::MAX];
    type Holds = fn(u64) -> bool;
    let ops: [(&str, Holds); 6] = [
        ("SCMP_CMP_EQ", |a| a == 0x1_0000_0005),
        ("SCMP_CMP_NE", |a| a != 0x1_0000_0005),
        ("SCMP_CMP_LT", |a| a < 0x1_0000_0005),
        ("SCMP_CMP_LE", |a| a <= 0x1_0000_0005),
        ("SCMP_CMP_GT", |a| a > 0x1_0000_0005),
        ("SCMP_CMP_GE", |a| a >= 0x1_0000_0005),
    ];
    for (op, holds) in ops {
        let p = compile(&spec(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 2, "value": v, "op": op}]}]
        })))
        .unwrap();
        for a in probes {
            let want = if holds(a) { EPERM } else { RET_ALLOW };
            assert_eq!(run(&p, X64, 135, [0, 0, a, 0, 0, 0]), want, "{op} {a:#x}");
        }
    }
}

#[test]
fn masked_eq_masks_with_value_and_compares_with_value_two() {
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 0x7E02_0000_u64 | (1 << 40), "valueTwo": 0,
                                "op": "SCMP_CMP_MASKED_EQ"}]}]
    })))
    .unwrap();
    let clone = nr(Abi::X86_64, "clone");
    assert_eq!(run(&p, X64, clone, [0x11, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&p, X64, clone, [0x1000_0000, 0, 0, 0, 0, 0]), EPERM); // CLONE_NEWUSER
    assert_eq!(run(&p, X64, clone, [1 << 40, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(run(&p, X64, clone, [1 << 41, 0, 0, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn args_of_one_rule_are_anded_and_rules_of_one_syscall_are_ored() {
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 2, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 10, "op": "SCMP_CMP_EQ"}]}
        ]
    })))
    .unwrap();
    let socket = nr(Abi::X86_64, "socket");
    let call = |a0, a1| run(&p, X64, socket, [a0, a1, 0, 0, 0, 0]);
    assert_eq!(call(1, 2), RET_ALLOW);
    assert_eq!(call(1, 3), EPERM);
    assert_eq!(call(2, 2), EPERM);
    assert_eq!(call(10, 99), RET_ALLOW);
}

#[test]
fn listed_compat_abis_use_their_own_numbers() {
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
                     {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 0xffff_ffff_u64, "op": "SCMP_CMP_EQ"}]}]
    })))
    .unwrap();
    assert_eq!(run(&p, AUDIT_ARCH_I386, 20, [0; 6]), EPERM); // i386 getpid
    assert_eq!(run(&p, AUDIT_ARCH_I386, 39, [0; 6]), RET_ALLOW); // i386 umask
    assert_eq!(run(&p, X64, X32_SYSCALL_BIT | 39, [0; 6]), EPERM);
    assert_eq!(run(&p, X64, X32_SYSCALL_BIT | 40, [0; 6]), RET_ALLOW);
    // i386 has 32-bit arguments: the low word decides.
    assert_eq!(
        run(&p, AUDIT_ARCH_I386, 136, [0xffff_ffff, 0, 0, 0, 0, 0]),
        EPERM
    );
    assert_eq!(run(&p, AUDIT_ARCH_I386, 136, [8, 0, 0, 0, 0, 0]), RET_ALLOW);
    // An audit arch an x86_64 kernel never reports for these ABIs is killed.
    assert_eq!(run(&p, 0xc000_00b7, 39, [0; 6]), RET_KILL_PROCESS);
}

#[test]
fn syscalls_newer_than_the_profile_get_enosys_unless_the_default_allows() {
    let s = |default: &str| {
        compile(&spec(serde_json::json!({
            "defaultAction": default,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["getpid", "openat"], "action": "SCMP_ACT_TRAP"}]
        })))
        .unwrap()
    };
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let p = s("SCMP_ACT_ERRNO");
    assert_eq!(run(&p, X64, 257, [0; 6]), RET_TRAP); // openat, the newest named
    assert_eq!(run(&p, X64, 200, [0; 6]), EPERM);
    assert_eq!(run(&p, X64, 258, [0; 6]), enosys);
    assert_eq!(run(&p, X64, 0x3fff_ffff, [0; 6]), enosys);
    assert_eq!(run(&p, X64, X32_SYSCALL_BIT | 258, [0; 6]), enosys);
    let p = s("SCMP_ACT_ALLOW");
    assert_eq!(run(&p, X64, 258, [0; 6]), RET_ALLOW);
    let p = s("SCMP_ACT_LOG");
    assert_eq!(run(&p, X64, 258, [0; 6]), RET_LOG);
    let p = s("SCMP_ACT_TRACE");
    assert_eq!(run(&p, X64, 258, [0; 6]), RET_TRACE | 1);
    // A name in a rule dropped for matching the default still bounds the stub (as runc).
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["openat"], "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap();
    assert_eq!(run(&p, X64, 257, [0; 6]), EPERM);
    assert_eq!(run(&p, X64, 258, [0; 6]), enosys);
    // A default that already answers ENOSYS needs no stub.
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}]
    })))
    .unwrap();
    assert_eq!(p.len(), 9 + 4 + 1 + 1); // header+dispatch, x86_64 section, x32, i386
    assert_eq!(run(&p, X64, 300, [0; 6]), enosys);
}

#[test]
fn names_unknown_on_an_abi_are_skipped() {
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86"],
        "syscalls": [{"names": ["arm_fadvise64_64", "no_such_call", "uretprobe", "getpid"],
                      "action": "SCMP_ACT_ERRNO"}]
    })))
    .unwrap();
    assert_eq!(run(&p, X64, 39, [0; 6]), EPERM);
    assert_eq!(run(&p, X64, 335, [0; 6]), EPERM); // uretprobe: x86_64 only
    assert_eq!(run(&p, AUDIT_ARCH_I386, 20, [0; 6]), EPERM);
}

#[test]
fn flags_map_to_seccomp_filter_flags() {
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
    })))
    .unwrap();
    // TSYNC is accepted and has no effect (one thread loads the filter), as in runc.
    assert_eq!(p.flags, 2 | 4);
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    })))
    .unwrap();
    assert_eq!(p.flags, 8 | 32);
}

#[test]
fn no_flags_at_all_means_spec_allow_and_an_empty_list_means_none() {
    let p = compile(&spec(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW"}),
    ))
    .unwrap();
    assert_eq!(p.flags, 4);
    let p = compile(&spec(
        serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": []}),
    ))
    .unwrap();
    assert_eq!(p.flags, 0);
}

#[test]
fn compile_errors_name_the_field() {
    let e = err(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
                     {"names": ["read"], "action": "SCMP_ACT_ERRNO",
                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                               {"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]
    }));
    assert!(
        e.starts_with("linux.seccomp.syscalls[1].args[1].index 6:"),
        "{e}"
    );
    let e = err(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 70000}]
    }));
    assert!(
        e.starts_with("linux.seccomp.syscalls[0].errnoRet 70000:"),
        "{e}"
    );
    let e = err(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"}));
    assert!(
        e.starts_with("linux.seccomp.defaultAction SCMP_ACT_NOTIFY:"),
        "{e}"
    );
    let e = err(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]
    }));
    assert!(
        e.starts_with("linux.seccomp.syscalls[0].names \"write\":"),
        "{e}"
    );
    let e = err(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 65536
    }));
    assert!(e.starts_with("linux.seccomp.defaultErrnoRet 65536:"), "{e}");
}

/// An unknown operator or action never reaches `compile`: the spec loader's typed parse
/// rejects it with the JSON path (hull's spec module prefixes "linux.seccomp").
#[test]
fn unknown_operator_is_rejected_by_the_typed_parse_with_its_path() {
    let v = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["b"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_FOO"}]}]
    });
    let e = serde_path_to_error::deserialize::<_, LinuxSeccomp>(v).unwrap_err();
    assert_eq!(e.path().to_string(), "syscalls[1].args[0].op");
    assert!(e.inner().to_string().contains("SCMP_CMP_FOO"));
}

#[test]
fn rules_with_the_default_action_are_dropped_and_duplicates_merge() {
    let p = profile::translate(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["a", "b"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["c"], "action": "SCMP_ACT_ERRNO"},
                     {"names": ["b"], "action": "SCMP_ACT_LOG",
                      "args": [{"index": 1, "value": 7, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]}]
    })))
    .unwrap();
    let names: Vec<_> = p
        .syscalls
        .iter()
        .map(|(n, r)| (n.as_str(), r.len()))
        .collect();
    assert_eq!(names, [("a", 1), ("b", 2)]);
    assert_eq!(
        p.syscalls[1].1[1].conds[0],
        profile::Cond {
            index: 1,
            op: oci_spec::runtime::LinuxSeccompOperator::ScmpCmpMaskedEq,
            value: 7,
            value_two: 3
        }
    );
    assert_eq!(p.abis, [Abi::X86_64]);
}

fn many_read_rules(n: u64) -> serde_json::Value {
    let rules: Vec<_> = (0..n)
        .map(|i| {
            serde_json::json!({"names": ["read"], "action": "SCMP_ACT_ALLOW",
              "args": [{"index": 0, "value": i, "op": "SCMP_CMP_EQ"}]})
        })
        .collect();
    serde_json::json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules})
}

#[test]
fn a_syscall_block_longer_than_a_conditional_jump_is_reached_through_ja() {
    let p = compile(&spec(many_read_rules(300))).unwrap();
    assert!(p.len() > 1500);
    assert_eq!(run(&p, X64, 0, [299, 0, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&p, X64, 0, [300, 0, 0, 0, 0, 0]), EPERM);
    assert_eq!(run(&p, X64, 1, [0; 6]), RET_ERRNO | libc::ENOSYS as u32); // newer than read
}

#[test]
fn a_rule_set_too_large_for_the_kernel_is_refused() {
    let e = err(many_read_rules(1000));
    assert!(e.contains("more than the kernel's limit of 4096"), "{e}");
}

#[test]
fn program_can_be_cloned_and_sent_to_another_thread() {
    fn clone_send<T: Clone + Send + 'static>() {}
    clone_send::<Program>();
}

#[test]
fn conditions_on_the_same_argument_mean_any_of_them_as_in_runc() {
    let p = compile(&spec(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 55,
             "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                      {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]},
            {"names": ["tgkill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 56,
             "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                      {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]}
        ]
    })))
    .unwrap();
    let kill = nr(Abi::X86_64, "kill");
    assert_eq!(run(&p, X64, kill, [1, 10, 0, 0, 0, 0]), RET_ERRNO | 55);
    assert_eq!(run(&p, X64, kill, [1, 12, 0, 0, 0, 0]), RET_ERRNO | 55);
    assert_eq!(run(&p, X64, kill, [1, 15, 0, 0, 0, 0]), RET_ALLOW);
    // Different arguments: still all of them (AND).
    let tgkill = nr(Abi::X86_64, "tgkill");
    assert_eq!(run(&p, X64, tgkill, [1, 0, 9, 0, 0, 0]), RET_ERRNO | 56);
    assert_eq!(run(&p, X64, tgkill, [1, 0, 15, 0, 0, 0]), RET_ALLOW);
    assert_eq!(run(&p, X64, tgkill, [2, 0, 9, 0, 0, 0]), RET_ALLOW);
}
