//! Names inside `ROOT`: the defence-in-depth check on ids, and the hidden temporary names
//! the store uses while reserving or removing a container. Temporary names start with `.`
//! and contain `~`, which no valid container id can (see `crate::id::validate`), so they
//! can never collide with a container or be listed as one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};

/// Refuse ids that would escape `ROOT/` or name it, even if the caller forgot to validate.
pub(crate) fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        bail!("invalid container id {id:?}: not usable as a directory name under --root");
    }
    Ok(())
}

/// Whether a directory entry of `ROOT` names a container (rather than a temp or stray file).
pub(crate) fn is_container_name(name: &str) -> bool {
    !name.contains('~') && crate::id::validate(name).is_ok()
}

/// `temp_name` kind of a directory being reserved (renamed to `ROOT/ID` once ready).
pub(crate) const NEW: &str = "new";
/// `temp_name` kind of a container directory being removed.
pub(crate) const DEL: &str = "del";

/// Whether a directory entry of `ROOT` is a temp name the store itself makes (`NEW` or
/// `DEL`): the only entries the sweep may remove. Other hidden names are not ours.
pub(crate) fn is_temp_name(name: &str) -> bool {
    [NEW, DEL].iter().any(|kind| {
        name.strip_prefix(".hull~")
            .and_then(|rest| rest.strip_prefix(kind))
            .is_some_and(|rest| rest.starts_with('~'))
    })
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh hidden name such as `.hull~new~1234-5-9f3a…`; `kind` says what it is for.
/// Unique within this process (counter) and across processes (pid, clock); callers still
/// create it exclusively and retry on `EEXIST`.
pub(crate) fn temp_name(kind: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(".hull~{kind}~{}-{n}-{nanos:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_id_refuses_path_tricks() {
        for bad in ["", ".", "..", "a/b", "/abs", "../x", "a\0b"] {
            assert!(check_id(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "...", ".hidden-but-valid", "x.y_z+w"] {
            check_id(good).unwrap();
        }
    }

    #[test]
    fn temp_names_are_never_container_names_and_are_unique() {
        let a = temp_name("new");
        let b = temp_name("new");
        assert_ne!(a, b);
        assert!(a.starts_with('.'));
        assert!(!is_container_name(&a));
        assert!(is_container_name("c1"));
        assert!(is_container_name(".dot-id"));
        assert!(!is_container_name("has space"));
    }

    #[test]
    fn only_the_stores_own_temp_names_are_temp_names() {
        assert!(is_temp_name(&temp_name(NEW)));
        assert!(is_temp_name(&temp_name(DEL)));
        for other in [
            ".foo",
            ".hull~",
            ".hull~new",
            ".hull~newer~1",
            ".hull~tmp~1",
            "c1",
        ] {
            assert!(!is_temp_name(other), "{other:?}");
        }
    }
}
