//! Fuzz target: arbitrary bytes as config.json through `hull::spec::load_from_bytes`
//! (read checks, raw checks, typed deserialization, validation). Must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

/// One bundle directory with an empty `rootfs/`, shared by every run.
fn bundle() -> &'static PathBuf {
    static B: OnceLock<PathBuf> = OnceLock::new();
    B.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hull-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("rootfs")).expect("create fuzz bundle");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = hull::spec::load_from_bytes(data, bundle());
});
