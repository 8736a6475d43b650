//! `hull spec`: runc's default config.json, rootful and rootless.
//!
//! The documents are runc 1.1.5's `runc spec` output kept as text (same keys, order and tab
//! indentation), so `hull spec` and `runc spec` differ only in `ociVersion`. The rootless
//! one maps container root to the caller's effective uid and gid, as runc does.

use std::io::{ErrorKind, Write};
use std::path::Path;

use anyhow::{anyhow, Context, Result};

use super::CONFIG_FILE;

const ROOTFUL: &str = include_str!("default-rootful.json");
const ROOTLESS: &str = include_str!("default-rootless.json");

/// The default config.json text (runc's, with hull's `ociVersion`).
pub fn document(rootless: bool) -> String {
    let text = if rootless { ROOTLESS } else { ROOTFUL };
    text.replace("{OCI_VERSION}", crate::OCI_VERSION)
        .replace("{HOST_UID}", &nix::unistd::geteuid().to_string())
        .replace("{HOST_GID}", &nix::unistd::getegid().to_string())
}

/// Write config.json into `bundle` (default: cwd); refuses to overwrite an existing one.
pub fn write(bundle: Option<&Path>, rootless: bool) -> Result<()> {
    let dir = bundle.unwrap_or(Path::new("."));
    if let Some(b) = bundle {
        let meta = std::fs::metadata(b)
            .map_err(|e| anyhow!("bundle {}: {}", b.display(), super::read::io_text(&e)))?;
        if !meta.is_dir() {
            return Err(anyhow!("bundle {}: Not a directory", b.display()));
        }
    }
    let path = dir.join(CONFIG_FILE);
    // create_new (O_EXCL): never replace or write through an existing file or symlink.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            return Err(anyhow!("File {CONFIG_FILE} exists. Remove it first"));
        }
        Err(e) => return Err(e).with_context(|| format!("create {}", path.display())),
    };
    file.write_all(document(rootless).as_bytes())
        .with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::document;

    #[test]
    fn default_documents_are_json_with_hull_oci_version() {
        for rootless in [false, true] {
            let v: serde_json::Value = serde_json::from_str(&document(rootless)).unwrap();
            assert_eq!(v["ociVersion"], crate::OCI_VERSION);
            assert_eq!(v["process"]["args"][0], "sh");
        }
    }

    #[test]
    fn rootless_document_maps_root_to_the_effective_ids() {
        let v: serde_json::Value = serde_json::from_str(&document(true)).unwrap();
        let uid = u64::from(nix::unistd::geteuid().as_raw());
        let gid = u64::from(nix::unistd::getegid().as_raw());
        assert_eq!(v["linux"]["uidMappings"][0]["hostID"], uid);
        assert_eq!(v["linux"]["gidMappings"][0]["hostID"], gid);
    }
}
