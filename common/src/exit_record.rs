//! `ROOT/ID/shim/exit.json`: how a container init ended, as hull-shim records it and
//! `hull wait` / `hull state` read it:
//! `{"exit_code":N,"signal":S|null,"exited_at":"RFC3339","oom_killed":bool}`.
//! `exit_code` is the init's exit status, or 128+S when signal S killed it (as `hull run`).

use std::path::Path;

/// The file's name in the shim's directory.
pub const FILE: &str = "exit.json";

/// One exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitRecord {
    pub exit_code: i32,
    pub signal: Option<i32>,
    pub exited_at: String,
    pub oom_killed: bool,
}

impl ExitRecord {
    /// The record's JSON text (one line).
    pub fn render(&self) -> String {
        let sig = self.signal.map_or("null".to_string(), |s| s.to_string());
        format!(
            "{{\"exit_code\":{},\"signal\":{sig},\"exited_at\":\"{}\",\"oom_killed\":{}}}\n",
            self.exit_code, self.exited_at, self.oom_killed
        )
    }

    /// Parse a record; `None` if it is not one.
    pub fn parse(text: &str) -> Option<ExitRecord> {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        Some(ExitRecord {
            exit_code: i32::try_from(v["exit_code"].as_i64()?).ok()?,
            signal: v["signal"].as_i64().and_then(|s| i32::try_from(s).ok()),
            exited_at: v["exited_at"].as_str().unwrap_or_default().to_string(),
            oom_killed: v["oom_killed"].as_bool().unwrap_or(false),
        })
    }

    /// Write `dir/exit.json` atomically (temporary file, then rename), so a reader never
    /// sees half a record. A directory already removed (`hull delete` raced the shim) is
    /// not an error: nobody is left to read the record.
    pub fn write(&self, dir: &Path) {
        let tmp = dir.join("exit.json.tmp");
        if std::fs::write(&tmp, self.render()).is_ok() {
            let _ = std::fs::rename(&tmp, dir.join(FILE));
        }
    }

    /// Read `dir/exit.json`: `Ok(None)` while it does not exist.
    pub fn read(dir: &Path) -> std::io::Result<Option<ExitRecord>> {
        match std::fs::read_to_string(dir.join(FILE)) {
            Ok(t) => ExitRecord::parse(&t).map(Some).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "not an exit record")
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_render_and_parse_back() {
        for r in [
            ExitRecord {
                exit_code: 42,
                signal: None,
                exited_at: "2026-11-22T08:00:00.000000000Z".into(),
                oom_killed: false,
            },
            ExitRecord {
                exit_code: 137,
                signal: Some(9),
                exited_at: "x".into(),
                oom_killed: true,
            },
        ] {
            let text = r.render();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["exit_code"].as_i64(), Some(r.exit_code as i64));
            assert_eq!(ExitRecord::parse(&text), Some(r));
        }
        assert_eq!(ExitRecord::parse("{}"), None);
    }
}
