//! Container ids: runc's rule, checked before anything touches the filesystem.

use anyhow::{bail, Result};

/// Longest id accepted (runc has no explicit cap; 1024 keeps paths well under PATH_MAX).
pub const MAX_ID_LEN: usize = 1024;

/// Accept ids matching `^[\w+\-.]+$` that are not `.` or `..` and at most 1024 bytes.
pub fn validate(id: &str) -> Result<()> {
    if id.is_empty() {
        bail!("invalid container id: the id must not be empty");
    }
    if id.len() > MAX_ID_LEN {
        bail!("invalid container id: longer than {MAX_ID_LEN} bytes");
    }
    if id == "." || id == ".." {
        bail!("invalid container id {id:?}: must not be . or ..");
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.')))
    {
        bail!("invalid container id {id:?}: character {c:?} is not allowed (use letters, digits, _ + - .)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::validate;

    #[test]
    fn accepts_runc_style_ids() {
        for id in ["a", "abc-123", "x.y_z+w", "...", "A1"] {
            validate(id).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
    }

    #[test]
    fn rejects_path_tricks_and_oversize() {
        let long = "a".repeat(1025);
        for id in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/abs",
            "a b",
            "a\0b",
            "ü",
            long.as_str(),
        ] {
            assert!(validate(id).is_err(), "{id:?} must be rejected");
        }
    }
}
