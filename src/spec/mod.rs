//! config.json -> a validated, immutable `Plan`: the only model of the config that the
//! rest of hull reads. Parsing and every check happen here, before anything is created.
//!
//! Loading runs in three steps, each failing with one line `<config path>: <field> <problem>`:
//! `read` (file -> JSON value, with size, UTF-8 and syntax checks), `raw` (checks that need
//! the JSON as written, because oci-spec fills in defaults or accepts loose spellings), then
//! deserialization into `oci_spec::runtime::Spec` (type errors name the field path) and
//! `validate` (the runtime spec's rules on the typed config).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use oci_spec::runtime::Spec;

pub(crate) mod default;
mod dupkeys;
pub(crate) mod features;
pub(crate) mod names;
mod raw;
mod read;
mod validate;

#[cfg(test)]
mod fuzz_corpus;

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
    /// config.json exactly as it was read and validated: what `create` records for `exec`,
    /// so that later edits of the bundle change nothing a running container applies.
    pub config_bytes: Vec<u8>,
}

/// Name of the configuration file inside a bundle.
pub const CONFIG_FILE: &str = "config.json";

/// Read and validate `BUNDLE/config.json`. Every error names the file and the JSON field.
pub fn load(bundle: &Path) -> Result<Plan> {
    let bundle = read::bundle_dir(bundle)?;
    let config_path = bundle.join(CONFIG_FILE);
    let fail = |msg: String| anyhow!("{}: {msg}", config_path.display());

    let bytes = read::config_bytes(&config_path).map_err(fail)?;
    plan_from_bytes(bytes, bundle, config_path)
}

/// Validate config.json given as bytes against `bundle` (whose rootfs must exist): the
/// same checks and messages as `load`, without reading `BUNDLE/config.json`. The entry
/// point for the fuzz targets and for callers that already hold the config.
pub fn load_from_bytes(bytes: &[u8], bundle: &Path) -> Result<Plan> {
    let bundle = read::bundle_dir(bundle)?;
    let config_path = bundle.join(CONFIG_FILE);
    plan_from_bytes(bytes.to_vec(), bundle, config_path)
}

/// The plan of a container as `create` recorded it (`ROOT/ID/config.json`), named by
/// `recorded` in errors; the bundle must still hold its rootfs.
pub fn load_recorded(bytes: Vec<u8>, recorded: &Path, bundle: &Path) -> Result<Plan> {
    let bundle = read::bundle_dir(bundle)?;
    let mut plan = plan_from_bytes(bytes, bundle, recorded.to_path_buf())?;
    plan.config_path = plan.bundle.join(CONFIG_FILE);
    Ok(plan)
}

fn plan_from_bytes(bytes: Vec<u8>, bundle: PathBuf, config_path: PathBuf) -> Result<Plan> {
    let fail = |msg: String| anyhow!("{}: {msg}", config_path.display());
    let mut value = read::parse_bytes(&bytes).map_err(fail)?;
    raw::check(&value).map_err(fail)?;
    raw::normalize(&mut value);
    let spec = deserialize(value).map_err(fail)?;
    let rootfs = validate::spec(&spec, &bundle).map_err(fail)?;
    Ok(Plan {
        bundle,
        config_path,
        rootfs,
        spec,
        config_bytes: bytes,
    })
}

/// The rules `process` in config.json must meet (args, env, absolute cwd, rlimits), for
/// a process that comes from elsewhere (`exec --process FILE`, exec's flags).
pub fn check_process(p: &oci_spec::runtime::Process) -> Result<(), String> {
    validate::check_process(p)
}

/// JSON value -> typed spec; a type error names the JSON path of the offending field.
fn deserialize(mut value: serde_json::Value) -> Result<Spec, String> {
    pids_zero_means_one(&mut value);
    if let Some(p) = value.get_mut("process") {
        scheduler_flag_names(p);
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        describe_serde_error(&path, &inner)
    })
}

/// `linux.resources.pids.limit: 0` given explicitly means a limit of 1, as in runc >= 1.2
/// (runtime-spec 1.3 made the field optional; systemd has no TasksMax=0): the spec type
/// reads an absent limit as 0 too, which stays "no limit", so the mapping is made here,
/// where the two can still be told apart.
fn pids_zero_means_one(value: &mut serde_json::Value) {
    if let Some(limit) = value
        .pointer_mut("/linux/resources/pids/limit")
        .filter(|l| l.as_i64() == Some(0))
    {
        *limit = serde_json::json!(1);
    }
}

/// `process.scheduler.flags` by the runtime-spec's names (`SCHED_FLAG_RESET_ON_FORK`,
/// `SCHED_FLAG_DL_OVERRUN`), which runc takes, turned into the names the spec type knows
/// (`SCHED_RESET_ON_FORK`, `SCHED_FLAG_D_L_OVERRUN`); other names pass unchanged. For a
/// config.json's process and an exec `--process` file alike.
pub fn scheduler_flag_names(process: &mut serde_json::Value) {
    let Some(flags) = process
        .pointer_mut("/scheduler/flags")
        .and_then(|f| f.as_array_mut())
    else {
        return;
    };
    for f in flags {
        let renamed = match f.as_str() {
            Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
            Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
            _ => continue,
        };
        *f = serde_json::json!(renamed);
    }
}

/// `path` is serde_path_to_error's rendering ("." for the top level).
fn describe_serde_error(path: &str, inner: &str) -> String {
    let missing = inner
        .strip_prefix("missing field `")
        .and_then(|s| s.strip_suffix('`'));
    let (field, what) = match (path, missing) {
        (".", Some(field)) => (field.to_string(), format!("{field} is required")),
        (_, Some(field)) => (
            format!("{path}.{field}"),
            format!("{path}.{field} is required"),
        ),
        (".", None) => (
            String::new(),
            format!("the top level is malformed: {inner}"),
        ),
        (_, None) => (path.to_string(), format!("{path} is malformed: {inner}")),
    };
    match runc_words(&field) {
        Some(words) => format!("{words}: {what}"),
        None => what,
    }
}

/// runc's words for a malformed field, where callers (runc's own tests among them) look
/// for them; hull's naming of the field follows.
fn runc_words(field: &str) -> Option<&'static str> {
    let sub = field.strip_prefix("linux.memoryPolicy")?;
    Some(if sub.starts_with(".mode") {
        "invalid memory policy mode"
    } else if sub.starts_with(".flags") {
        "invalid memory policy flag"
    } else if sub.starts_with(".nodes") {
        "invalid memory policy node"
    } else {
        "invalid memory policy"
    })
}

#[cfg(test)]
mod tests {
    use super::describe_serde_error;

    #[test]
    fn scheduler_flags_take_the_runtime_spec_names() {
        let mut p = serde_json::json!({"scheduler": {"policy": "SCHED_OTHER",
            "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"]}});
        super::scheduler_flag_names(&mut p);
        let p: oci_spec::runtime::Scheduler =
            serde_json::from_value(p["scheduler"].clone()).unwrap();
        assert_eq!(p.flags().as_ref().unwrap().len(), 3);
    }

    #[test]
    fn missing_field_is_reported_as_required_under_its_parent() {
        assert_eq!(
            describe_serde_error("process", "missing field `cwd`"),
            "process.cwd is required"
        );
        assert_eq!(
            describe_serde_error(".", "missing field `x`"),
            "x is required"
        );
    }

    #[test]
    fn type_error_names_the_field_path() {
        assert_eq!(
            describe_serde_error(
                "process.args",
                "invalid type: string \"sh\", expected a sequence"
            ),
            "process.args is malformed: invalid type: string \"sh\", expected a sequence"
        );
    }
}
