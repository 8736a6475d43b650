//! Every bundle in spec-fixtures/ loads (valid/) or fails with exactly its `.expected` line
//! (invalid/); plus the file-level failures that fixtures cannot hold (missing bundle, a
//! config that is a directory, a FIFO, or too large). See spec-fixtures/README.md.

use std::path::{Path, PathBuf};

use crate::common::TempDir;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("spec-fixtures")
}

/// `*.json` files in `spec-fixtures/<kind>`, sorted.
fn fixtures(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures_dir().join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    v.sort();
    v
}

/// A bundle holding `fixture` as config.json and an empty `rootfs` directory.
fn bundle_for(fixture: &Path) -> TempDir {
    let dir = TempDir::new("spec");
    std::fs::create_dir(dir.path().join("rootfs")).unwrap();
    std::fs::copy(fixture, dir.path().join("config.json")).unwrap();
    dir
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

/// The error line `hull` would print for loading `bundle`.
fn load_error(bundle: &Path) -> Option<String> {
    hull::spec::load(bundle).err().map(|e| format!("{e:#}"))
}

#[test]
fn spec_fixtures_valid_bundles_load() {
    let mut failures = Vec::new();
    let all = fixtures("valid");
    assert!(all.len() >= 6, "expected at least 6 valid fixtures");
    for f in &all {
        let b = bundle_for(f);
        match hull::spec::load(b.path()) {
            Ok(plan) => {
                let bundle = canonical(b.path());
                assert_eq!(plan.bundle, bundle);
                assert_eq!(plan.config_path, bundle.join("config.json"));
                assert!(plan.rootfs.is_absolute() && plan.rootfs.is_dir());
            }
            Err(e) => failures.push(format!("{}: unexpected error: {e:#}", f.display())),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn spec_fixtures_invalid_bundles_fail_with_the_expected_line() {
    let mut failures = Vec::new();
    let all = fixtures("invalid");
    assert!(all.len() >= 30, "expected at least 30 invalid fixtures");
    for f in &all {
        let expected_file = f.with_extension("expected");
        let Ok(expected) = std::fs::read_to_string(&expected_file) else {
            failures.push(format!(
                "{}: missing {}",
                f.display(),
                expected_file.display()
            ));
            continue;
        };
        let b = bundle_for(f);
        let bundle = canonical(b.path());
        let want = format!(
            "{}: {}",
            bundle.join("config.json").display(),
            expected
                .trim_end_matches('\n')
                .replace("{bundle}", &bundle.to_string_lossy())
        );
        match load_error(b.path()) {
            None => failures.push(format!(
                "{}: loaded, but should fail with\n  {want}",
                f.display()
            )),
            Some(got) if got != want => {
                failures.push(format!("{}:\n  want {want}\n  got  {got}", f.display()))
            }
            Some(_) => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn load_of_a_missing_bundle_names_the_bundle() {
    let err = load_error(Path::new("/nonexistent-hull-bundle")).unwrap();
    assert_eq!(
        err,
        "bundle /nonexistent-hull-bundle: No such file or directory"
    );
}

#[test]
fn load_of_a_bundle_that_is_a_file_says_not_a_directory() {
    let dir = TempDir::new("spec");
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = load_error(&file).unwrap();
    assert_eq!(err, format!("bundle {}: Not a directory", file.display()));
}

#[test]
fn load_without_config_json_names_the_missing_file() {
    let dir = TempDir::new("spec");
    let config = canonical(dir.path()).join("config.json");
    let err = load_error(dir.path()).unwrap();
    assert_eq!(
        err,
        format!("{}: No such file or directory", config.display())
    );
}

#[test]
fn load_refuses_a_config_json_that_is_a_directory_or_fifo() {
    let dir = TempDir::new("spec");
    let config = canonical(dir.path()).join("config.json");
    std::fs::create_dir(&config).unwrap();
    assert_eq!(
        load_error(dir.path()).unwrap(),
        format!("{}: not a regular file", config.display())
    );
    std::fs::remove_dir(&config).unwrap();
    nix::unistd::mkfifo(&config, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    // Must not block waiting for a writer.
    assert_eq!(
        load_error(dir.path()).unwrap(),
        format!("{}: not a regular file", config.display())
    );
}

#[test]
fn load_refuses_a_50_mib_config_without_reading_it() {
    let dir = TempDir::new("spec");
    let config = canonical(dir.path()).join("config.json");
    let f = std::fs::File::create(&config).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap(); // sparse: no disk or memory used
    assert_eq!(
        load_error(dir.path()).unwrap(),
        format!(
            "{}: too large (52428800 bytes; the limit is 16 MiB)",
            config.display()
        )
    );
}

#[test]
fn load_resolves_a_symlinked_bundle_to_canonical_paths() {
    let dir = TempDir::new("spec");
    let b = dir.path().join("b");
    std::fs::create_dir_all(b.join("rootfs")).unwrap();
    std::fs::write(b.join("config.json"), crate::common::default_config()).unwrap();
    std::os::unix::fs::symlink("b", dir.path().join("link")).unwrap();
    let plan = hull::spec::load(&dir.path().join("link")).unwrap();
    assert_eq!(plan.bundle, canonical(&b));
    assert_eq!(plan.rootfs, canonical(&b.join("rootfs")));
}
