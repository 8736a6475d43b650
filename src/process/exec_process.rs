//! The process `exec` runs, built as runc 1.1 builds it: a runtime-spec `process` object
//! read from `--process FILE` (fields it leaves out — capabilities, rlimits,
//! noNewPrivileges — come from the container's config), or the container's config.json
//! process overridden by exec's flags. Everything here is checked before anything forks.

use std::path::Path;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{Capability, LinuxCapabilities, Process};

/// exec's flags that shape the process (the CLI's view, owned).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub args: Vec<String>,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    /// `uid[:gid]`, numbers only (as runc).
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    /// Capability names (`CAP_X`) added to the bounding, effective, permitted and ambient
    /// sets (runc leaves inheritable alone, so the ambient entry only sticks if the config
    /// already had the capability inheritable).
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    pub process_label: Option<String>,
}

/// The process from `--process FILE`, with the container's defaults for what it omits.
pub fn from_file(path: &Path, container: &Process) -> Result<Process> {
    let field = format!("--process {}", path.display());
    let text = std::fs::read(path).with_context(|| format!("{field}: read"))?;
    let mut v: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("{field}: not valid JSON"))?;
    // runc runs a process file without `user` as uid 0, gid 0.
    if let Some(o) = v.as_object_mut() {
        o.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
    crate::spec::scheduler_flag_names(&mut v);
    let mut p: Process = serde_path_to_error::deserialize(v).map_err(|e| {
        let at = e.path().to_string();
        anyhow::anyhow!("{field}: {at}: {}", e.into_inner())
    })?;
    if p.capabilities().is_none() {
        p.set_capabilities(container.capabilities().clone());
    }
    if p.rlimits().as_ref().map_or(true, |r| r.is_empty()) {
        p.set_rlimits(container.rlimits().clone());
    }
    if p.no_new_privileges().is_none() {
        p.set_no_new_privileges(container.no_new_privileges());
    }
    // As runc's exec: the container's oom_score_adj and LSM labels unless the file sets its
    // own (moby puts the container's AppArmor profile here).
    if p.oom_score_adj().is_none() {
        p.set_oom_score_adj(container.oom_score_adj());
    }
    if p.apparmor_profile().as_deref().unwrap_or("").is_empty() {
        p.set_apparmor_profile(container.apparmor_profile().clone());
    }
    if p.selinux_label().as_deref().unwrap_or("").is_empty() {
        p.set_selinux_label(container.selinux_label().clone());
    }
    check(&p).with_context(|| field.clone())?;
    Ok(p)
}

/// The container's process with exec's flags applied.
pub fn from_flags(container: &Process, o: &Overrides) -> Result<Process> {
    if o.args.is_empty() {
        bail!("exec: a command is required (or --process FILE)");
    }
    let mut p = container.clone();
    if let Some(l) = o.process_label.as_deref().filter(|l| !l.is_empty()) {
        p.set_selinux_label(Some(l.to_string()));
    }
    if let Some(a) = o.apparmor.as_deref().filter(|a| !a.is_empty()) {
        p.set_apparmor_profile(Some(a.to_string()));
    }
    p.set_args(Some(o.args.clone()));
    p.set_terminal(Some(false));
    p.set_console_size(None);
    if let Some(cwd) = &o.cwd {
        p.set_cwd(cwd.into());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &o.env {
        merge_env(&mut env, kv)?;
    }
    p.set_env(Some(env));
    if !o.caps.is_empty() {
        p.set_capabilities(Some(add_caps(p.capabilities().clone(), &o.caps)?));
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    let mut user = p.user().clone();
    if let Some(u) = &o.user {
        let (uid, gid) = parse_user(u)?;
        user.set_uid(uid);
        if let Some(g) = gid {
            user.set_gid(g);
        }
    }
    if !o.additional_gids.is_empty() {
        let mut gids = user.additional_gids().clone().unwrap_or_default();
        gids.extend_from_slice(&o.additional_gids);
        user.set_additional_gids(Some(gids));
    }
    p.set_user(user);
    check(&p)?;
    Ok(p)
}

/// Set `KEY=VALUE` in `env`: in place of the key's last value (the one that counts), or
/// appended.
pub fn merge_env(env: &mut Vec<String>, kv: &str) -> Result<()> {
    let Some((key, _)) = kv.split_once('=').filter(|(k, _)| !k.is_empty()) else {
        bail!("--env {kv:?}: must have the form KEY=VALUE");
    };
    let prefix = format!("{key}=");
    match env.iter_mut().rev().find(|e| e.starts_with(&prefix)) {
        Some(e) => *e = kv.to_string(),
        None => env.push(kv.to_string()),
    }
    Ok(())
}

/// `uid[:gid]` as numbers.
pub fn parse_user(u: &str) -> Result<(u32, Option<u32>)> {
    let (uid, gid) = match u.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (u, None),
    };
    let num = |s: &str, what: &str| -> Result<u32> {
        s.parse()
            .with_context(|| format!("--user {u:?}: {what} {s:?} is not a number"))
    };
    Ok((num(uid, "uid")?, gid.map(|g| num(g, "gid")).transpose()?))
}

fn add_caps(c: Option<LinuxCapabilities>, names: &[String]) -> Result<LinuxCapabilities> {
    let mut c = c.unwrap_or_else(empty_caps);
    for name in names {
        let cap: Capability = serde_json::from_value(serde_json::Value::String(name.clone()))
            .map_err(|_| anyhow::anyhow!("--cap {name:?}: unknown capability"))?;
        let add = |s: &Option<oci_spec::runtime::Capabilities>| {
            let mut s = s.clone().unwrap_or_default();
            s.insert(cap);
            Some(s)
        };
        let (b, e, p, a) = (
            add(c.bounding()),
            add(c.effective()),
            add(c.permitted()),
            add(c.ambient()),
        );
        c.set_bounding(b);
        c.set_effective(e);
        c.set_permitted(p);
        c.set_ambient(a);
    }
    Ok(c)
}

fn empty_caps() -> LinuxCapabilities {
    let mut c = LinuxCapabilities::default();
    c.set_bounding(None);
    c.set_effective(None);
    c.set_inheritable(None);
    c.set_permitted(None);
    c.set_ambient(None);
    c
}

/// The rules config.json's process must meet.
fn check(p: &Process) -> Result<()> {
    crate::spec::check_process(p).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::security::lsm::check_process(p)?;
    if let Some(c) = p.capabilities() {
        crate::security::capabilities::check_available(c)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Process {
        serde_json::from_value(serde_json::json!({
            "user": {"uid": 0, "gid": 0, "additionalGids": [5]},
            "args": ["sleep", "100"],
            "env": ["PATH=/bin", "A=1"],
            "cwd": "/",
            "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                             "permitted": ["CAP_KILL"]},
            "noNewPrivileges": false
        }))
        .unwrap()
    }

    fn flags(args: &[&str]) -> Overrides {
        Overrides {
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn env_flags_replace_the_same_key_in_place_and_append_new_ones() {
        let mut o = flags(&["true"]);
        o.env = vec!["A=2".into(), "B=3".into()];
        let p = from_flags(&base(), &o).unwrap();
        assert_eq!(p.env().clone().unwrap(), vec!["PATH=/bin", "A=2", "B=3"]);
        assert_eq!(p.args().clone().unwrap(), vec!["true"]);
    }

    #[test]
    fn user_flag_sets_uid_and_optional_gid_and_gids_are_appended() {
        let mut o = flags(&["id"]);
        o.user = Some("1000".into());
        o.additional_gids = vec![10];
        let p = from_flags(&base(), &o).unwrap();
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 0));
        assert_eq!(p.user().additional_gids().clone().unwrap(), vec![5, 10]);
        assert_eq!(parse_user("7:8").unwrap(), (7, Some(8)));
        assert!(parse_user("root").is_err());
        assert!(parse_user("1:x").is_err());
    }

    #[test]
    fn cap_flag_adds_to_bounding_effective_permitted_not_inheritable() {
        let mut o = flags(&["id"]);
        o.caps = vec!["CAP_CHOWN".into()];
        let p = from_flags(&base(), &o).unwrap();
        let c = p.capabilities().clone().unwrap();
        for s in [c.bounding(), c.effective(), c.permitted(), c.ambient()] {
            assert!(s.as_ref().unwrap().contains(&Capability::Chown));
        }
        assert!(c.inheritable().as_ref().map_or(true, |s| s.is_empty()));
        o.caps = vec!["CAP_NOPE".into()];
        assert!(from_flags(&base(), &o).is_err());
    }

    #[test]
    fn relative_cwd_no_command_and_labels_of_an_absent_lsm_are_refused() {
        let mut o = flags(&["true"]);
        o.cwd = Some("rel".into());
        let e = from_flags(&base(), &o).unwrap_err().to_string();
        assert!(e.contains("absolute"), "{e}");
        assert!(from_flags(&base(), &flags(&[])).is_err());
        let mut o = flags(&["true"]);
        o.process_label = Some("x".into());
        if !crate::security::lsm::selinux_enabled() {
            let e = from_flags(&base(), &o).unwrap_err().to_string();
            assert!(e.contains("process.selinuxLabel"), "{e}");
        }
    }

    #[test]
    fn process_file_takes_container_defaults_for_what_it_omits() {
        let dir = std::env::temp_dir().join(format!("hull-exec-proc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("p.json");
        std::fs::write(
            &f,
            r#"{"user":{"uid":1,"gid":2},"args":["id"],"cwd":"/tmp","env":["X=1"]}"#,
        )
        .unwrap();
        let p = from_file(&f, &base()).unwrap();
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!(p.capabilities(), base().capabilities());
        assert_eq!(p.no_new_privileges(), Some(false));
        std::fs::write(&f, r#"{"args":["id"],"cwd":"/","terminal":true}"#).unwrap();
        let p = from_file(&f, &base()).unwrap();
        assert_eq!(
            (p.user().uid(), p.user().gid()),
            (0, 0),
            "runc: no user is root"
        );
        assert_eq!(p.terminal(), Some(true));
        std::fs::write(&f, r#"{"user":{"uid":"x"},"args":["id"],"cwd":"/"}"#).unwrap();
        let e = from_file(&f, &base()).unwrap_err().to_string();
        assert!(e.contains("user.uid"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
