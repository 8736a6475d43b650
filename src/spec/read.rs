//! Reading a bundle's config.json into a JSON value: the bundle must be a directory, the
//! file a regular file of at most `MAX_CONFIG_BYTES`, valid UTF-8 and valid JSON (within
//! serde_json's nesting limit). Nothing here panics or allocates more than the cap.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};

/// Largest config.json hull reads. Real configs are a few KiB; this bounds memory use.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// The bundle directory as a canonical absolute path.
pub fn bundle_dir(bundle: &Path) -> Result<PathBuf> {
    let fail = |what: String| anyhow!("bundle {}: {what}", bundle.display());
    let canonical = std::fs::canonicalize(bundle).map_err(|e| fail(io_text(&e)))?;
    if !canonical.is_dir() {
        return Err(fail("Not a directory".into()));
    }
    Ok(canonical)
}

/// Read `path` (a regular file within the size cap). The error is the text after
/// `<config path>: `.
pub fn config_bytes(path: &Path) -> Result<Vec<u8>, String> {
    read_capped(path)
}

/// Parse config.json's bytes (UTF-8 JSON, within serde_json's nesting limit).
pub fn parse_bytes(bytes: &[u8]) -> Result<serde_json::Value, String> {
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        format!(
            "not valid UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        )
    })?;
    let value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    super::dupkeys::check(text)?;
    Ok(value)
}

fn read_capped(path: &Path) -> Result<Vec<u8>, String> {
    // O_NONBLOCK: a FIFO planted as config.json must not hang the open.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| io_text(&e))?;
    let meta = file.metadata().map_err(|e| io_text(&e))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // The file may grow after fstat: never read more than the cap plus one byte.
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_text(&e))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

fn too_big(len: u64) -> String {
    format!(
        "too large ({len} bytes; the limit is {} MiB)",
        MAX_CONFIG_BYTES / (1024 * 1024)
    )
}

/// An io::Error as the OS words it, without Rust's " (os error N)" suffix.
pub fn io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}
