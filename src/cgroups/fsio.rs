//! Reading and writing cgroup control files, with errors that name the file and the value
//! (`cgroup memory.limit_in_bytes: write 1024: Device or resource busy (in /sys/...)`).

use anyhow::{anyhow, Result};
use std::io::Write;
use std::path::Path;

/// The errno of an I/O error as the kernel's short description.
pub fn describe(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => nix::errno::Errno::from_raw(n).desc().to_string(),
        None => e.to_string(),
    }
}

/// Whether an error says the cgroup is gone: its directory removed (ENOENT) or being
/// destroyed (ENODEV from its control files).
pub fn is_gone(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENODEV)
}

/// Write `value` to `dir/file` in one write (cgroup files take one value per write).
pub fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    write_raw(dir, file, value).map_err(|e| {
        anyhow!(
            "cgroup {file}: write {value}: {} (in {})",
            describe(&e),
            dir.display()
        )
    })
}

/// Like `write`, but hands back the raw error so callers can react to one errno.
pub fn write_raw(dir: &Path, file: &str, value: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.join(file))?;
    f.write_all(value.as_bytes())
}

/// A control file kept open for several values, one write each: the kernel takes each
/// write(2) as one value whatever the offset (v1 `devices.allow` gets one rule per write),
/// so a list costs one open instead of one per value. Errors read as `write`'s.
pub struct Writer<'a> {
    dir: &'a Path,
    file: &'static str,
    f: std::fs::File,
}

impl<'a> Writer<'a> {
    pub fn open(dir: &'a Path, file: &'static str) -> Result<Writer<'a>> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(file))
            .map_err(|e| {
                anyhow!(
                    "cgroup {file}: open: {} (in {})",
                    describe(&e),
                    dir.display()
                )
            })?;
        Ok(Writer { dir, file, f })
    }

    pub fn write(&mut self, value: &str) -> Result<()> {
        // One write(2): a short write would split a value in two.
        match self.f.write(value.as_bytes()) {
            Ok(n) if n == value.len() => Ok(()),
            Ok(n) => Err(anyhow!(
                "cgroup {}: write {value}: only {n} bytes taken (in {})",
                self.file,
                self.dir.display()
            )),
            Err(e) => Err(anyhow!(
                "cgroup {}: write {value}: {} (in {})",
                self.file,
                describe(&e),
                self.dir.display()
            )),
        }
    }
}

/// The trimmed content of `dir/file`.
pub fn read(dir: &Path, file: &str) -> Result<String> {
    crate::kfile::read(dir.join(file))
        .map(|s| s.trim().to_string())
        .map_err(|e| {
            anyhow!(
                "cgroup {file}: read: {} (in {})",
                describe(&e),
                dir.display()
            )
        })
}

/// Whether `dir/file` exists.
pub fn has(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

/// The pids listed in `dir/cgroup.procs` (missing dir: none).
pub fn procs(dir: &Path) -> Result<Vec<i32>> {
    match crate::kfile::read(dir.join("cgroup.procs")) {
        Ok(s) => Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect()),
        Err(e) if is_gone(&e) => Ok(Vec::new()),
        Err(e) => Err(anyhow!(
            "cgroup cgroup.procs: read: {} (in {})",
            describe(&e),
            dir.display()
        )),
    }
}

/// `dir` and every cgroup directory below it, parents before children. A missing `dir`
/// gives an empty list.
pub fn subtree(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            // Removed while we walked: nothing below it any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(anyhow!("cgroup: list {}: {}", d.display(), describe(&e))),
        };
        for ent in entries.flatten() {
            if ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(ent.path());
            }
        }
        out.push(d);
    }
    out.sort_by_key(|p| p.components().count());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_and_dying_cgroups_count_as_gone() {
        assert!(is_gone(&std::io::Error::from_raw_os_error(libc::ENOENT)));
        assert!(is_gone(&std::io::Error::from_raw_os_error(libc::ENODEV)));
        assert!(!is_gone(&std::io::Error::from_raw_os_error(libc::EBUSY)));
        let d = std::env::temp_dir().join(format!("hull-fsio-gone-{}", std::process::id()));
        assert_eq!(procs(&d).unwrap(), Vec::<i32>::new());
    }

    #[test]
    fn write_error_names_file_value_and_reason() {
        let d = std::env::temp_dir().join(format!("hull-fsio-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let e = write(&d, "memory.limit_in_bytes", "1024")
            .unwrap_err()
            .to_string();
        let _ = std::fs::remove_dir_all(&d);
        assert!(
            e.starts_with("cgroup memory.limit_in_bytes: write 1024: No such file or directory"),
            "{e}"
        );
    }
}
