//! The shim's command line: `hull-shim --hull PATH --root ROOT --bundle B --id ID
//! [--log FILE] [--log-max BYTES]`. Paths are made absolute here, because the monitor
//! changes its directory to `/` once detached.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Default cap of the container log before it is rotated to `.1`.
pub const DEFAULT_LOG_MAX: u64 = 10 * 1024 * 1024;

pub const USAGE: &str = "usage: hull-shim --hull PATH --root ROOT --bundle BUNDLE --id ID \
                         [--log FILE] [--log-max BYTES]";

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// The hull binary the shim runs for `create` and `start`.
    pub hull: PathBuf,
    pub root: PathBuf,
    pub bundle: PathBuf,
    pub id: String,
    /// Container log; `None` means ROOT/ID/shim/ctr.log.
    pub log: Option<PathBuf>,
    /// Rotate the log when it would grow past this many bytes (0: never).
    pub log_max: u64,
}

impl Args {
    /// ROOT/ID/shim: the shim's files (log, attach socket, exit.json, shim.pid).
    pub fn shim_dir(&self) -> PathBuf {
        self.root.join(&self.id).join("shim")
    }
    pub fn log_path(&self) -> PathBuf {
        self.log
            .clone()
            .unwrap_or_else(|| self.shim_dir().join("ctr.log"))
    }
}

/// Parse the arguments after the program name.
pub fn parse(argv: impl IntoIterator<Item = OsString>) -> Result<Args, String> {
    let (mut hull, mut root, mut bundle, mut id, mut log) = (None, None, None, None, None);
    let mut log_max = DEFAULT_LOG_MAX;
    let mut it = argv.into_iter();
    while let Some(flag) = it.next() {
        let flag = flag.to_string_lossy().into_owned();
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--hull" => hull = Some(absolute(value()?)?),
            "--root" => root = Some(absolute(value()?)?),
            "--bundle" => bundle = Some(absolute(value()?)?),
            "--log" => log = Some(absolute(value()?)?),
            "--id" => id = Some(value()?.to_string_lossy().into_owned()),
            "--log-max" => {
                let v = value()?;
                log_max = v
                    .to_str()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("--log-max {v:?}: not a number of bytes\n{USAGE}"))?
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let need =
        |v: Option<PathBuf>, name: &str| v.ok_or_else(|| format!("{name} is required\n{USAGE}"));
    let id = id.ok_or_else(|| format!("--id is required\n{USAGE}"))?;
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return Err(format!("--id {id:?}: not a valid container id"));
    }
    Ok(Args {
        hull: need(hull, "--hull")?,
        root: need(root, "--root")?,
        bundle: need(bundle, "--bundle")?,
        id,
        log,
        log_max,
    })
}

fn absolute(p: OsString) -> Result<PathBuf, String> {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        return Ok(p);
    }
    let cwd = std::env::current_dir().map_err(|e| format!("current directory: {e}"))?;
    Ok(cwd.join(Path::new(&p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_every_flag_and_defaults_the_log() {
        let a = parse(os(&[
            "--hull", "/h", "--root", "/r", "--bundle", "/b", "--id", "c1",
        ]))
        .unwrap();
        assert_eq!(a.log_max, DEFAULT_LOG_MAX);
        assert_eq!(a.log_path(), PathBuf::from("/r/c1/shim/ctr.log"));
        let a = parse(os(&[
            "--hull",
            "/h",
            "--root",
            "/r",
            "--bundle",
            "/b",
            "--id",
            "c1",
            "--log",
            "/l",
            "--log-max",
            "5",
        ]))
        .unwrap();
        assert_eq!((a.log_path(), a.log_max), (PathBuf::from("/l"), 5));
    }

    #[test]
    fn rejects_missing_flags_bad_numbers_and_bad_ids() {
        assert!(parse(os(&["--hull", "/h"]))
            .unwrap_err()
            .contains("--id is required"));
        let e = parse(os(&["--id", "a", "--log-max", "x"])).unwrap_err();
        assert!(e.contains("--log-max"), "{e}");
        let e = parse(os(&[
            "--hull", "/h", "--root", "/r", "--bundle", "/b", "--id", "../x",
        ]));
        assert!(e.unwrap_err().contains("not a valid container id"));
        assert!(parse(os(&["--what"]))
            .unwrap_err()
            .contains("unknown argument"));
    }
}
