//! The runtime spec's rules on a deserialized config: what config.md and config-linux.md
//! make mandatory, plus the checks that turn a later kernel EINVAL into a clear line. Each
//! error is the text after `<config path>: `, starting with the JSON field it is about.

use std::path::{Component, Path, PathBuf};

use oci_spec::runtime::{Hook, Spec};

use super::names::HOOK_NAMES;
use super::read::io_text;

mod linux;
mod mounts;
mod process;

/// The `process` rules alone.
pub fn check_process(p: &oci_spec::runtime::Process) -> Result<(), String> {
    process::check(p)
}

/// Validate `spec`; returns the canonical rootfs path.
pub fn spec(spec: &Spec, bundle: &Path) -> Result<PathBuf, String> {
    oci_version(spec.version())?;
    let rootfs = root(spec, bundle)?;
    if let Some(p) = spec.process() {
        process::check(p)?;
    }
    mounts::check(spec.mounts().as_deref().unwrap_or(&[]))?;
    hooks(spec)?;
    if let Some(l) = spec.linux() {
        linux::check(l)?;
    }
    Ok(rootfs)
}

/// SemVer `1.MINOR.PATCH[-pre][+build]`.
fn oci_version(v: &str) -> Result<(), String> {
    let core = v.split('+').next().unwrap_or("");
    let core = core.split('-').next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if parts.len() != 3 || !parts.iter().all(numeric) {
        return Err(format!(
            "ociVersion {v:?} is not a SemVer version like \"{}\"",
            crate::OCI_VERSION
        ));
    }
    if parts[0] != "1" {
        return Err(format!(
            "ociVersion {v:?} is not supported (hull implements runtime-spec 1.x, up to {})",
            crate::OCI_VERSION
        ));
    }
    Ok(())
}

/// `root.path`, relative to the bundle, must name a directory.
fn root(spec: &Spec, bundle: &Path) -> Result<PathBuf, String> {
    let Some(root) = spec.root() else {
        return Err("root is required".into());
    };
    let path = root.path();
    if path.as_os_str().is_empty() {
        return Err("root.path is required".into());
    }
    let joined = bundle.join(path);
    let shown = format!("root.path {path:?} ({})", joined.display());
    let canonical = std::fs::canonicalize(&joined).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("{shown} does not exist"),
        _ => format!("{shown} cannot be resolved: {}", io_text(&e)),
    })?;
    if !canonical.is_dir() {
        return Err(format!("{shown} is not a directory"));
    }
    Ok(canonical)
}

fn hooks(spec: &Spec) -> Result<(), String> {
    let Some(h) = spec.hooks() else {
        return Ok(());
    };
    #[allow(deprecated)]
    let lists: [&Option<Vec<Hook>>; 6] = [
        h.prestart(),
        h.create_runtime(),
        h.create_container(),
        h.start_container(),
        h.poststart(),
        h.poststop(),
    ];
    for (name, list) in HOOK_NAMES.iter().zip(lists) {
        for (i, hook) in list.as_deref().unwrap_or(&[]).iter().enumerate() {
            let field = format!("hooks.{name}[{i}]");
            absolute(&format!("{field}.path"), hook.path())?;
            if let Some(t) = hook.timeout() {
                if t <= 0 {
                    return Err(format!(
                        "{field}.timeout must be greater than zero (got {t})"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `field` names a path that must be absolute.
fn absolute(field: &str, path: &Path) -> Result<(), String> {
    if path.is_absolute() {
        Ok(())
    } else {
        Err(format!("{field} {path:?} must be an absolute path"))
    }
}

/// Whether `path`, read lexically from `/`, climbs above `/` through `..`.
fn escapes_root(path: &Path) -> bool {
    let mut depth: usize = 0;
    for c in path.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::ParentDir if depth == 0 => return true,
            Component::ParentDir => depth -= 1,
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_version_accepts_1x_with_prerelease_and_build() {
        for v in ["1.0.0", "1.2.1", "1.0.2-dev", "1.1.0-rc.1", "1.3.0+meta"] {
            assert_eq!(oci_version(v), Ok(()), "{v}");
        }
    }

    #[test]
    fn oci_version_rejects_other_majors_and_non_semver() {
        assert!(oci_version("2.0.0").unwrap_err().contains("not supported"));
        for v in ["", "1", "1.0", "v1.0.0", "1.x.0", "1.0.0.0"] {
            assert!(oci_version(v).unwrap_err().contains("not a SemVer"), "{v}");
        }
    }

    #[test]
    fn dotdot_escapes_only_when_it_climbs_above_root() {
        assert!(escapes_root(Path::new("/../etc")));
        assert!(escapes_root(Path::new("/a/../../etc")));
        assert!(!escapes_root(Path::new("/proc/../etc")));
        assert!(!escapes_root(Path::new("/a/./b")));
    }
}
