//! Rules for `process`: what execve, chdir and setrlimit will need, checked up front.

use std::collections::HashSet;

use oci_spec::runtime::Process;

use super::absolute;

pub fn check(p: &Process) -> Result<(), String> {
    args(p)?;
    env(p)?;
    absolute("process.cwd", p.cwd())?;
    rlimits(p)?;
    if let Some(adj) = p.oom_score_adj() {
        if !(-1000..=1000).contains(&adj) {
            return Err(format!(
                "process.oomScoreAdj {adj} is outside the kernel's range -1000..1000"
            ));
        }
    }
    Ok(())
}

fn args(p: &Process) -> Result<(), String> {
    let Some(args) = p.args() else {
        return Err("process.args is required".into());
    };
    if args.is_empty() {
        return Err("process.args must not be empty".into());
    }
    if args[0].is_empty() {
        return Err("process.args[0] must name the program to run".into());
    }
    for (i, a) in args.iter().enumerate() {
        if a.contains('\0') {
            return Err(format!("process.args[{i}] {a:?} contains a NUL byte"));
        }
    }
    Ok(())
}

/// Each entry is `KEY=VALUE` with a non-empty key, as execve's environment needs.
fn env(p: &Process) -> Result<(), String> {
    for (i, e) in p.env().as_deref().unwrap_or(&[]).iter().enumerate() {
        let field = format!("process.env[{i}]");
        match e.split_once('=') {
            None => return Err(format!("{field} {e:?} must have the form KEY=VALUE")),
            Some(("", _)) => return Err(format!("{field} {e:?} has an empty variable name")),
            Some(_) if e.contains('\0') => {
                return Err(format!("{field} {e:?} contains a NUL byte"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Soft <= hard, and each type at most once (config.md requires an error for duplicates).
fn rlimits(p: &Process) -> Result<(), String> {
    let mut seen = HashSet::new();
    for (i, r) in p.rlimits().as_deref().unwrap_or(&[]).iter().enumerate() {
        let typ = r.typ().to_string();
        if r.soft() > r.hard() {
            return Err(format!(
                "process.rlimits[{i}] ({typ}) soft limit {} is greater than its hard limit {}",
                r.soft(),
                r.hard()
            ));
        }
        if !seen.insert(typ.clone()) {
            return Err(format!(
                "process.rlimits[{i}].type {typ} is listed more than once"
            ));
        }
    }
    Ok(())
}
