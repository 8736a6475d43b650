//! Finding the user program inside the container the way execvp would.
//! Error texts keep the lowercase errno wording runc prints ("no such file or directory",
//! "permission denied"): docker matches them to exit with 127 or 126.

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
        Err(e) => bail!(
            "process.args[0] {prog:?}: stat {}: {}",
            p.display(),
            errno_text(&e)
        ),
    };
    if md.is_dir() {
        bail!(
            "process.args[0] {prog:?}: {} is a directory: permission denied",
            p.display()
        );
    }
    if md.permissions().mode() & 0o111 == 0 {
        bail!(
            "process.args[0] {prog:?}: {} is not executable: permission denied",
            p.display()
        );
    }
    Ok(())
}

/// The errno's text as Go (and so runc) prints it: "no such file or directory".
fn errno_text(e: &std::io::Error) -> String {
    let Some(n) = e.raw_os_error() else {
        return e.to_string();
    };
    let desc = nix::errno::Errno::from_raw(n).desc();
    let mut chars = desc.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(prog: &str) -> String {
        format!("{:#}", find(prog, &[]).unwrap_err())
    }

    #[test]
    fn a_missing_program_says_no_such_file_or_directory_as_docker_expects() {
        let e = err("/no/such/binary");
        assert!(e.contains("/no/such/binary"), "{e}");
        assert!(e.contains("no such file or directory"), "{e}");
    }

    #[test]
    fn a_program_not_in_path_says_executable_file_not_found() {
        let e = err("no-such-program-anywhere");
        assert!(e.contains("executable file not found in $PATH"), "{e}");
    }

    #[test]
    fn a_non_executable_file_or_directory_says_permission_denied() {
        struct Gone(PathBuf);
        impl Drop for Gone {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = Gone(std::env::temp_dir().join(format!("hull-lookup-{}", std::process::id())));
        std::fs::create_dir_all(&dir.0).unwrap();
        let file = dir.0.join("plain");
        std::fs::write(&file, "x").unwrap();
        let file_err = err(file.to_str().unwrap());
        let dir_err = err(dir.0.to_str().unwrap());
        assert!(file_err.contains("permission denied"), "{file_err}");
        assert!(dir_err.contains("permission denied"), "{dir_err}");
    }
}
