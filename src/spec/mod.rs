//! config.json -> a validated, immutable `Plan`: the only model of the config that the
//! rest of hull reads. Parsing and every check happen here, before anything is created.

use std::path::{Path, PathBuf};

use anyhow::Result;
use oci_spec::runtime::Spec;

pub mod default;
pub mod features;

/// A loaded and validated bundle.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Absolute path of the bundle directory.
    pub bundle: PathBuf,
    /// Absolute path of the config.json that was read.
    pub config_path: PathBuf,
    /// Absolute, symlink-resolved path of the root filesystem (a directory).
    pub rootfs: PathBuf,
    /// The validated spec.
    pub spec: Spec,
}

/// Read and validate `BUNDLE/config.json`. Every error names the file and the JSON field.
pub fn load(bundle: &Path) -> Result<Plan> {
    let _ = bundle;
    anyhow::bail!("spec::load: not implemented")
}
