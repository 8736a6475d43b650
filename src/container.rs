//! Lifecycle operations over state, process, cgroups and hooks: create, start, run, kill,
//! delete, state and list.

use std::path::PathBuf;

use anyhow::Result;

use crate::cli::Global;

/// What `create` and `run` need from the command line.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub console_socket: Option<PathBuf>,
    pub pid_file: Option<PathBuf>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub detach: bool,
}

pub fn create(_g: &Global, _o: &CreateOptions) -> Result<()> {
    Err(crate::cli::not_implemented("create"))
}
pub fn run(_g: &Global, _o: &CreateOptions, _keep: bool, _no_subreaper: bool) -> Result<i32> {
    Err(crate::cli::not_implemented("run"))
}
pub fn start(_g: &Global, _id: &str) -> Result<()> {
    Err(crate::cli::not_implemented("start"))
}
pub fn kill(_g: &Global, _id: &str, _sig: i32, _all: bool) -> Result<()> {
    Err(crate::cli::not_implemented("kill"))
}
pub fn delete(_g: &Global, _id: &str, _force: bool) -> Result<()> {
    Err(crate::cli::not_implemented("delete"))
}
pub fn state(_g: &Global, _id: &str) -> Result<serde_json::Value> {
    Err(crate::cli::not_implemented("state"))
}
pub fn list(_g: &Global) -> Result<Vec<ListEntry>> {
    Err(crate::cli::not_implemented("list"))
}
/// One row of `list`: runc's JSON field names.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ListEntry {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
    pub annotations: std::collections::BTreeMap<String, String>,
}
pub fn list_table(_s: &[ListEntry]) -> String {
    String::new()
}
