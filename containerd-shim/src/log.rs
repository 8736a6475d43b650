//! The shim's own log lines, to the `log` FIFO containerd opens in the bundle (containerd
//! copies them into its log), in logrus's text format as Go shims write them. Writes never
//! block: while containerd is away, lines are dropped.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::OnceLock;

static SINK: OnceLock<File> = OnceLock::new();

/// Open the `log` FIFO in the current directory (the bundle), if containerd made one.
pub fn init() {
    if let Ok(f) = OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("log")
    {
        let _ = SINK.set(f);
    }
}

pub fn line(level: &str, msg: &str) -> String {
    let mut t = [0u8; hull_common::clock::LEN];
    hull_common::clock::now(&mut t);
    let msg = msg.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "time=\"{}\" level={level} msg=\"{msg}\" runtime=io.containerd.hull.v2\n",
        String::from_utf8_lossy(&t)
    )
}

fn write(level: &str, msg: &str) {
    if let Some(mut f) = SINK.get() {
        let _ = f.write_all(line(level, msg).as_bytes());
    }
}

pub fn warn(msg: &str) {
    write("warning", msg)
}

pub fn info(msg: &str) {
    write("info", msg)
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_are_logrus_text_with_quotes_escaped() {
        let l = super::line("warning", "a \"b\"");
        assert!(l.starts_with("time=\""), "{l}");
        assert!(
            l.ends_with(" level=warning msg=\"a \\\"b\\\"\" runtime=io.containerd.hull.v2\n"),
            "{l}"
        );
    }
}
