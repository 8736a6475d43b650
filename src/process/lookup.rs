//! Finding the user program inside the container the way execvp would.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

/// Resolve `prog` with `PATH` from the process env (execvp's default path when unset).
/// Runs inside the container, after pivot_root.
pub fn find(prog: &str, env: &[String]) -> Result<PathBuf> {
    if prog.contains('/') {
        return check(Path::new(prog), prog).map(|_| PathBuf::from(prog));
    }
    let path = env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/bin:/usr/bin:/bin");
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(prog);
        if check(&cand, prog).is_ok() {
            return Ok(cand);
        }
    }
    bail!("process.args[0] {prog:?}: executable file not found in $PATH ({path})")
}

fn check(p: &Path, prog: &str) -> Result<()> {
    let md = match std::fs::metadata(p) {
        Ok(m) => m,
        Err(e) => bail!("process.args[0] {prog:?}: {}: {e}", p.display()),
    };
    if md.is_dir() {
        bail!("process.args[0] {prog:?}: {} is a directory", p.display());
    }
    if md.permissions().mode() & 0o111 == 0 {
        bail!(
            "process.args[0] {prog:?}: {} is not executable",
            p.display()
        );
    }
    Ok(())
}
