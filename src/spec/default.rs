//! `hull spec`: runc's default config.json, rootful and rootless.

use std::path::Path;

use anyhow::Result;

/// Write config.json into `bundle` (default: cwd); refuses to overwrite an existing one.
pub fn write(bundle: Option<&Path>, rootless: bool) -> Result<()> {
    let _ = (bundle, rootless);
    Err(crate::cli::not_implemented("spec"))
}
