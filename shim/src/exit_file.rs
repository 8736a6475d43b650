//! ROOT/ID/shim/exit.json: how the container init ended, written atomically (temporary
//! file, then rename) so `hull wait` never reads half a record:
//! `{"exit_code":N,"signal":S|null,"exited_at":"RFC3339","oom_killed":bool}`.
//! `exit_code` is the init's exit status, or 128+S when signal S killed it (as `hull run`).

use std::path::Path;

use crate::clock;

/// The record's JSON text.
pub fn render(code: i32, signal: Option<i32>, at: &str, oom: bool) -> String {
    let sig = signal.map_or("null".to_string(), |s| s.to_string());
    format!(
        "{{\"exit_code\":{code},\"signal\":{sig},\"exited_at\":\"{at}\",\"oom_killed\":{oom}}}\n"
    )
}

/// Write `dir/exit.json`. A directory already removed (`hull delete` raced the shim) is
/// not an error: nobody is left to read the record.
pub fn write(dir: &Path, code: i32, signal: Option<i32>, oom: bool) {
    let mut ts = [0u8; clock::LEN];
    clock::now(&mut ts);
    let text = render(code, signal, std::str::from_utf8(&ts).unwrap_or(""), oom);
    let tmp = dir.join("exit.json.tmp");
    if std::fs::write(&tmp, text).is_ok() {
        let _ = std::fs::rename(&tmp, dir.join("exit.json"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_exit_and_signal_records_as_json() {
        let v: serde_json::Value =
            serde_json::from_str(&render(42, None, "2026-11-22T08:00:00.000000000Z", false))
                .unwrap();
        assert_eq!(v["exit_code"], 42);
        assert!(v["signal"].is_null());
        assert_eq!(v["exited_at"], "2026-11-22T08:00:00.000000000Z");
        assert_eq!(v["oom_killed"], false);
        let v: serde_json::Value = serde_json::from_str(&render(137, Some(9), "x", true)).unwrap();
        assert_eq!(
            (v["exit_code"].as_i64(), v["signal"].as_i64()),
            (Some(137), Some(9))
        );
        assert_eq!(v["oom_killed"], true);
    }
}
