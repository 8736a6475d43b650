//! Fuzz target: arbitrary JSON as `linux.seccomp` through
//! `hull::security::seccomp::compile`. Must never panic; a compiled program must be
//! within the kernel's BPF size limit or compile must have failed.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(data) else {
        return;
    };
    if let Ok(p) = hull::security::seccomp::compile(&s) {
        assert!(p.len() <= 4096, "compiled a program the kernel would reject");
    }
});
