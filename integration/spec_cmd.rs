//! `hull spec` writes what `runc spec` writes (only `ociVersion` may differ), refuses to
//! overwrite, and its output loads with `hull::spec::load`; `hull features` prints a document
//! that parses as the runtime spec's `Features`.

use std::path::Path;
use std::process::Command;

use crate::common::{hull_bin, TempDir};

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `prog spec [extra...]` run inside a fresh directory; returns the written config.json.
fn spec_in_empty_dir(prog: &Path, extra: &[&str]) -> serde_json::Value {
    let dir = TempDir::new("speccmd");
    let out = Command::new(prog)
        .arg("spec")
        .args(extra)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} spec {extra:?}: {}",
        prog.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v = read_json(&dir.path().join("config.json"));
    v.as_object_mut().unwrap().remove("ociVersion");
    v
}

fn runc() -> &'static Path {
    Path::new("/usr/sbin/runc")
}

#[test]
fn hull_spec_matches_runc_spec_field_for_field() {
    assert!(runc().exists(), "runc is needed to compare against");
    for extra in [&[][..], &["--rootless"]] {
        let ours = spec_in_empty_dir(&hull_bin(), extra);
        let theirs = spec_in_empty_dir(runc(), extra);
        assert_eq!(ours, theirs, "hull spec {extra:?} differs from runc spec");
    }
}

#[test]
fn hull_spec_writes_hull_oci_version() {
    let dir = TempDir::new("speccmd");
    let out = Command::new(hull_bin())
        .args(["spec", "--bundle"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = read_json(&dir.path().join("config.json"));
    assert_eq!(v["ociVersion"], hull::OCI_VERSION);
}

#[test]
fn hull_spec_refuses_to_overwrite_config_json() {
    let dir = TempDir::new("speccmd");
    let config = dir.path().join("config.json");
    std::fs::write(&config, "keep me").unwrap();
    let out = Command::new(hull_bin())
        .args(["spec", "-b"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("File config.json exists. Remove it first"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "keep me");
}

#[test]
fn hull_spec_into_a_missing_bundle_fails_naming_it() {
    let dir = TempDir::new("speccmd");
    let missing = dir.path().join("nope");
    let out = Command::new(hull_bin())
        .args(["spec", "--bundle"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "bundle {}: No such file or directory",
            missing.display()
        )),
        "{err}"
    );
}

#[test]
fn hull_spec_output_loads_as_a_plan() {
    for rootless in [false, true] {
        let dir = TempDir::new("speccmd");
        std::fs::create_dir(dir.path().join("rootfs")).unwrap();
        let mut cmd = Command::new(hull_bin());
        cmd.args(["spec", "--bundle"]).arg(dir.path());
        if rootless {
            cmd.arg("--rootless");
        }
        assert!(cmd.status().unwrap().success());
        let plan =
            hull::spec::load(dir.path()).unwrap_or_else(|e| panic!("rootless={rootless}: {e:#}"));
        assert_eq!(
            plan.rootfs,
            std::fs::canonicalize(dir.path().join("rootfs")).unwrap()
        );
        assert_eq!(
            plan.spec
                .process()
                .as_ref()
                .unwrap()
                .args()
                .as_ref()
                .unwrap()[0],
            "sh"
        );
    }
}

#[test]
fn hull_features_prints_a_runtime_spec_features_document() {
    let out = Command::new(hull_bin()).arg("features").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f: oci_spec::runtime::Features = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(f.oci_version_min(), "1.0.0");
    assert_eq!(f.oci_version_max(), hull::OCI_VERSION);
    let linux = f.linux().as_ref().unwrap();
    assert_eq!(linux.namespaces().as_ref().unwrap().len(), 8);
}
