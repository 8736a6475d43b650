//! Log lines in runc's formats: logrus-style text or `{"level","msg","time"}` JSON.
//!
//! Every error reaches stderr as one line. With `--log FILE` it is also appended to FILE in
//! the chosen format; containerd reads the last JSON lines of that file to report failures.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

struct Sink {
    file: Option<File>,
    format: Format,
    debug: bool,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Set up logging from the global flags. A log file that cannot be opened is an error.
pub fn init(log: Option<&Path>, format: Format, debug: bool) -> anyhow::Result<()> {
    let file = match log {
        Some(p) if p != Path::new("/dev/stderr") => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| anyhow::anyhow!("--log {}: {e}", p.display()))?,
        ),
        _ => None,
    };
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some(Sink {
        file,
        format,
        debug,
    });
    Ok(())
}

/// Format a time as RFC 3339 UTC with second precision (`2006-01-02T15:04:05Z`).
pub fn rfc3339(t: SystemTime) -> String {
    rfc3339_nanos(t, false)
}

/// RFC 3339 UTC, optionally with nanoseconds (runc's state `created` carries them).
pub fn rfc3339_nanos(t: SystemTime, nanos: bool) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    hull_common::clock::rfc3339(d.as_secs() as i64, d.subsec_nanos(), nanos)
}

fn line(format: Format, level: Level, msg: &str) -> String {
    let time = rfc3339(SystemTime::now());
    match format {
        Format::Json => {
            let v = serde_json::json!({"level": level.as_str(), "msg": msg, "time": time});
            format!("{v}\n")
        }
        Format::Text => format!(
            "time=\"{time}\" level={} msg={}\n",
            level.as_str(),
            serde_json::Value::String(msg.to_string())
        ),
    }
}

/// Write one log record. Errors and warnings always reach stderr as `hull: MSG` (and
/// `hull: warning: MSG`). With `--debug`, debug and info records go, as runc's do, to the
/// `--log` file when one was given, else to stderr as logrus text lines
/// (`time="..." level=debug msg="..."`). Every record at or above the threshold also goes
/// to the `--log` file.
pub fn log(level: Level, msg: &str) {
    write(level, msg, true)
}

fn write(level: Level, msg: &str, prefixed: bool) {
    let msg = msg.replace('\n', " ");
    let mut guard = SINK.lock().unwrap_or_else(|e| e.into_inner());
    let (format, debug, has_file) = guard.as_ref().map_or((Format::Text, false, false), |s| {
        (s.format, s.debug, s.file.is_some())
    });
    let wanted = level >= Level::Warning || debug;
    if !wanted {
        return;
    }
    if let Some(Sink { file: Some(f), .. }) = guard.as_mut() {
        let _ = f.write_all(line(format, level, &msg).as_bytes());
    }
    let _ = match level {
        Level::Error if !prefixed => writeln!(std::io::stderr(), "{msg}"),
        Level::Error => writeln!(std::io::stderr(), "hull: {msg}"),
        Level::Warning => writeln!(std::io::stderr(), "hull: warning: {msg}"),
        _ if has_file => Ok(()),
        _ => std::io::stderr().write_all(line(Format::Text, level, &msg).as_bytes()),
    };
}

pub fn error(msg: &str) {
    log(Level::Error, msg)
}
/// An error whose message starts with the program's name, as runc's `runc run failed:
/// ...`: on stderr without the `hull: ` prefix.
pub fn error_named(msg: &str) {
    write(Level::Error, msg, false)
}
pub fn warn(msg: &str) {
    log(Level::Warning, msg)
}
pub fn debug(msg: &str) {
    log(Level::Debug, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(t), "2000-02-29T00:00:00Z");
        let t = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 5);
        assert_eq!(rfc3339_nanos(t, true), "2023-11-14T22:13:20.000000005Z");
    }

    #[test]
    fn json_line_has_the_three_fields_containerd_reads() {
        let l = line(Format::Json, Level::Error, "bad \"thing\"");
        let v: serde_json::Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "bad \"thing\"");
        assert!(v["time"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn text_line_quotes_the_message() {
        let l = line(Format::Text, Level::Warning, "a \"b\"");
        assert!(l.contains("level=warning msg=\"a \\\"b\\\"\""), "{l}");
    }
}
