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
        let p = Path::new(prog);
        return match check(p) {
            Ok(()) => Ok(PathBuf::from(prog)),
            Err(why) => bail!("process.args[0] {prog:?}: {}", why.text(p)),
        };
    }
    let path = env
        .iter()
        .rev()
        .find_map(|kv| kv.strip_prefix("PATH="))
        .unwrap_or("/usr/local/bin:/usr/bin:/bin");
    // Misses are the normal case here (each PATH entry before the right one): no error
    // value is built for them.
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(prog);
        if check(&cand).is_ok() {
            return Ok(cand);
        }
    }
    bail!("process.args[0] {prog:?}: executable file not found in $PATH ({path})")
}

/// Why a path cannot be executed.
enum Unusable {
    Stat(std::io::Error),
    Dir,
    NotExecutable,
}

impl Unusable {
    fn text(&self, p: &Path) -> String {
        match self {
            Unusable::Stat(e) => format!("stat {}: {}", p.display(), errno_text(e)),
            Unusable::Dir => format!("{} is a directory: permission denied", p.display()),
            Unusable::NotExecutable => {
                format!("{} is not executable: permission denied", p.display())
            }
        }
    }
}

fn check(p: &Path) -> std::result::Result<(), Unusable> {
    let md = std::fs::metadata(p).map_err(Unusable::Stat)?;
    if md.is_dir() {
        return Err(Unusable::Dir);
    }
    if md.permissions().mode() & 0o111 == 0 {
        return Err(Unusable::NotExecutable);
    }
    Ok(())
}

/// The errno's text as Go (and so runc) prints it: "no such file or directory".
fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => crate::error_text::errno_text(n),
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
