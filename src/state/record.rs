//! `Record`: what hull writes to `ROOT/ID/state.json` about one container.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// What hull records about a container in `ROOT/ID/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Record {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    /// Host pid of the container init (0 until the init exists).
    pub pid: i32,
    /// Start time of the init (`/proc/PID/stat` field 22), so a reused pid is not mistaken
    /// for the container.
    pub init_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time with nanoseconds.
    pub created: String,
    pub owner: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The container's cgroups, as placed at create time (`None`: a rootless container
    /// running without one, or a record saved before its cgroup existed).
    #[serde(default)]
    pub cgroup: Option<crate::cgroups::Cgroup>,
    /// Hooks from config.json that run after create (poststart, poststop).
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// Set once the init has reported `created`.
    #[serde(default)]
    pub created_done: bool,
    /// The container has no mount namespace: its mounts are on the host under `rootfs` and
    /// must be detached when it is deleted.
    #[serde(default)]
    pub host_mounts: bool,
    /// Created with `--no-new-keyring`: exec'd processes keep the caller's session keyring
    /// too.
    #[serde(default)]
    pub no_new_keyring: bool,
}
