//! Unit tests of the device filter: the emitted instructions run on a tiny interpreter of
//! the opcodes hull emits (any other opcode fails the test), against tables of requests.

use super::*;
use crate::cgroups::devices::{container_rules, runc_default_rules};

/// Run `p` on the context (access_type, major, minor); returns r0.
fn run(p: &[Insn], access_type: u32, major: u32, minor: u32) -> u64 {
    let ctx = [access_type, major, minor];
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    for _ in 0..100_000 {
        let i = p[pc];
        let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
        let imm = i.imm as i64 as u64;
        let jump = |taken: bool| if taken { i.off as usize } else { 0 };
        pc += 1;
        match i.code {
            LDX_MEM_W => {
                assert_eq!(src, 1, "loads only from the context");
                r[dst] = u64::from(ctx[i.off as usize / 4]);
            }
            ALU64_MOV_X => r[dst] = r[src],
            ALU64_MOV_K => r[dst] = imm,
            ALU64_AND_K => r[dst] &= imm,
            ALU64_RSH_K => r[dst] >>= imm,
            ALU64_XOR_X => r[dst] ^= r[src],
            JMP_JEQ_K => pc += jump(r[dst] == imm),
            JMP_JNE_K => pc += jump(r[dst] != imm),
            JMP_EXIT => return r[0],
            c => panic!("unexpected opcode {c:#x}"),
        }
    }
    panic!("program did not exit");
}

const C: u32 = 2;
const B: u32 = 1;
const M: u32 = 1;
const R: u32 = 2;
const W: u32 = 4;

fn allows(rules: &[LinuxDeviceCgroup], typ: u32, access: u32, major: u32, minor: u32) -> bool {
    let p = compile(rules).unwrap();
    run(&p, (access << 16) | typ, major, minor) == 1
}

fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
    serde_json::from_str(json).unwrap()
}

/// [deny all, allow c 1:3 rwm, allow c 1:5 r]: the integration test's rule set.
fn sample() -> Vec<LinuxDeviceCgroup> {
    rules(
        r#"[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":5,"access":"r"}]"#,
    )
}

#[test]
fn allow_rules_grant_only_their_access_and_only_their_device() {
    let s = sample();
    assert!(allows(&s, C, R | W, 1, 3));
    assert!(allows(&s, C, M, 1, 3));
    assert!(allows(&s, C, R, 1, 5));
    assert!(!allows(&s, C, W, 1, 5));
    assert!(!allows(&s, C, R | W, 1, 5), "rw needs both bits");
    assert!(!allows(&s, C, R, 1, 7), "no rule: default deny");
    assert!(!allows(&s, B, R, 1, 3), "block 1:3 is another device");
    assert!(!allows(&s, C, R, 2, 3));
}

#[test]
fn the_last_matching_rule_wins() {
    let r = rules(
        r#"[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","access":"rwm"},
            {"allow":false,"type":"c","major":1,"minor":7,"access":"w"}]"#,
    );
    assert!(allows(&r, C, R, 1, 7));
    assert!(!allows(&r, C, W, 1, 7));
    assert!(
        !allows(&r, C, R | W, 1, 7),
        "a denied bit denies the whole request"
    );
    assert!(allows(&r, C, R | W, 1, 8));
    // Reversed: the later allow overrides the earlier deny.
    let r = rules(
        r#"[{"allow":false,"type":"c","major":1,"minor":7,"access":"w"},
            {"allow":true,"type":"c","access":"rwm"}]"#,
    );
    assert!(allows(&r, C, W, 1, 7));
}

#[test]
fn access_bits_granted_by_separate_rules_add_up() {
    let r = rules(
        r#"[{"allow":true,"type":"c","major":1,"minor":3,"access":"r"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"w"}]"#,
    );
    assert!(allows(&r, C, R | W, 1, 3));
    assert!(!allows(&r, C, M, 1, 3));
}

#[test]
fn wildcards_match_any_number_and_negative_numbers_are_wildcards() {
    let r = rules(
        r#"[{"allow":true,"type":"c","major":136,"access":"rwm"},
            {"allow":true,"type":"b","major":-1,"minor":-1,"access":"m"}]"#,
    );
    assert!(allows(&r, C, R | W, 136, 0));
    assert!(allows(&r, C, R, 136, 99));
    assert!(!allows(&r, C, R, 137, 0));
    assert!(allows(&r, B, M, 8, 0));
    assert!(!allows(&r, B, R, 8, 0));
}

#[test]
fn an_all_devices_rule_resets_the_list_and_sets_the_default() {
    // Starts from deny even with no "a" rule, as the v1 path writes devices.deny "a" first.
    assert!(!allows(&[], C, R, 1, 3));
    let r = rules(r#"[{"allow":true,"access":"rwm"}]"#);
    assert!(allows(&r, C, R | W | M, 9, 9));
    assert!(allows(&r, B, R, 8, 0));
    let r = rules(
        r#"[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
            {"allow":false,"type":"a"}]"#,
    );
    assert!(
        !allows(&r, C, R, 1, 3),
        "the deny-all after it cleared the allow"
    );
    let r = rules(
        r#"[{"allow":true,"type":"a"},
            {"allow":false,"type":"b","major":8,"access":"w"}]"#,
    );
    assert!(allows(&r, B, R, 8, 1));
    assert!(!allows(&r, B, W, 8, 1));
    assert!(allows(&r, C, W, 1, 3));
}

#[test]
fn container_rules_allow_runc_defaults_and_honour_a_spec_deny() {
    let spec = rules(
        r#"[{"allow":false,"access":"rwm"},
            {"allow":false,"type":"c","major":1,"minor":7,"access":"rwm"}]"#,
    );
    let all = container_rules(&spec);
    assert!(allows(&all, C, R | W, 1, 3), "/dev/null");
    assert!(allows(&all, C, R | W, 5, 2), "/dev/ptmx");
    assert!(allows(&all, C, R | W, 136, 4), "/dev/pts/4");
    assert!(allows(&all, C, M, 42, 42), "mknod of any char device");
    assert!(!allows(&all, C, R, 42, 42));
    assert!(!allows(&all, B, R, 8, 0));
    // runc's defaults come after the spec's rules, so its own c 1:7 allow wins there (as
    // runc does); the deny only holds for a device the defaults do not name.
    assert!(allows(&all, C, W, 1, 7));
    let spec = rules(r#"[{"allow":false,"type":"c","major":1,"minor":11,"access":"rwm"}]"#);
    assert!(!allows(&container_rules(&spec), C, W, 1, 11));
    assert_eq!(runc_default_rules().len(), 12);
}

#[test]
fn every_jump_lands_inside_the_program_and_it_ends_in_exit() {
    let p = compile(&container_rules(&sample())).unwrap();
    for (i, x) in p.iter().enumerate() {
        if x.code == JMP_JEQ_K || x.code == JMP_JNE_K {
            assert!(i + 1 + (x.off as usize) < p.len(), "insn {i} jumps out");
        }
    }
    assert_eq!(p.last().unwrap().code, JMP_EXIT);
}

#[test]
fn unknown_access_letters_are_ignored_as_runc_does() {
    let loose = compile(&rules(r#"[{"allow":true,"type":"c","access":"rxa"}]"#)).unwrap();
    let strict = compile(&rules(r#"[{"allow":true,"type":"c","access":"r"}]"#)).unwrap();
    assert_eq!(loose, strict);
}

#[test]
fn huge_numbers_are_refused_naming_the_rule() {
    let e = compile(&rules(
        r#"[{"allow":true,"type":"c","major":1},{"allow":true,"type":"c","major":8589934592}]"#,
    ))
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("linux.resources.devices[1].major"), "{e}");
}
