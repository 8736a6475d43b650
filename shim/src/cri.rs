//! The container log in the CRI format kubelet and crictl read:
//! `2026-11-22T08:00:00.000000000Z stdout F message`, one record per line, `P` for a piece
//! of a line longer than the stream buffer. Records are staged in a fixed buffer and written
//! once per read; the file is rotated to `FILE.1` when it would grow past its cap.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use hull_common::clock;

/// Largest record payload: a longer line is split into `P` records of this size.
pub const LINE_MAX: usize = 8192;
const STAGE: usize = 2 * LINE_MAX;
const HEADER_MAX: usize = clock::LEN + " stdout F ".len();

/// Whether a record ends a line (`F`) or is a piece of a longer one (`P`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Tag {
    Full,
    Partial,
}

pub struct Log {
    file: File,
    path: PathBuf,
    rotated: PathBuf,
    max: u64,
    size: u64,
    stage: [u8; STAGE],
    staged: usize,
}

impl Log {
    /// Open (append to) the log at `path`, capped at `max` bytes (0: no cap).
    pub fn open(path: PathBuf, max: u64) -> io::Result<Log> {
        let file = open_append(&path)?;
        let size = file.metadata()?.len();
        let mut rotated = path.clone().into_os_string();
        rotated.push(".1");
        Ok(Log {
            file,
            path,
            rotated: rotated.into(),
            max,
            size,
            stage: [0; STAGE],
            staged: 0,
        })
    }

    /// Stage one record; `ts` is the time the bytes were read.
    pub fn record(&mut self, ts: &[u8; clock::LEN], stream: &str, tag: Tag, msg: &[u8]) {
        let msg = &msg[..msg.len().min(LINE_MAX)];
        if self.staged + HEADER_MAX + msg.len() + 1 > STAGE {
            self.flush();
        }
        let t = match tag {
            Tag::Full => b'F',
            Tag::Partial => b'P',
        };
        for part in [
            &ts[..],
            b" ",
            stream.as_bytes(),
            b" ",
            &[t],
            b" ",
            msg,
            b"\n",
        ] {
            self.stage[self.staged..self.staged + part.len()].copy_from_slice(part);
            self.staged += part.len();
        }
    }

    /// Write the staged records, rotating first if they would cross the cap. A write error
    /// (disk full) loses these records but never stops the monitor.
    pub fn flush(&mut self) {
        if self.staged == 0 {
            return;
        }
        if self.max > 0 && self.size > 0 && self.size + self.staged as u64 > self.max {
            self.rotate();
        }
        if self.file.write_all(&self.stage[..self.staged]).is_ok() {
            self.size += self.staged as u64;
        }
        self.staged = 0;
    }

    fn rotate(&mut self) {
        if std::fs::rename(&self.path, &self.rotated).is_err() {
            return;
        }
        if let Ok(f) = open_append(&self.path) {
            self.file = f;
            self.size = 0;
        }
    }
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// Splits one output stream into lines in a fixed buffer.
pub struct Lines {
    pub name: &'static str,
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Lines {
    pub fn new(name: &'static str) -> Lines {
        Lines {
            name,
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    /// The free tail to read new bytes into.
    pub fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// `n` bytes were read into `spare()`: log every complete line, and the whole buffer as
    /// a `P` record if it filled up without a newline.
    pub fn commit(&mut self, n: usize, ts: &[u8; clock::LEN], log: &mut Log) {
        self.len += n;
        let mut start = 0;
        while let Some(nl) = self.buf[start..self.len].iter().position(|&b| b == b'\n') {
            log.record(ts, self.name, Tag::Full, &self.buf[start..start + nl]);
            start += nl + 1;
        }
        if start == 0 && self.len == LINE_MAX {
            log.record(ts, self.name, Tag::Partial, &self.buf[..self.len]);
            start = self.len;
        }
        self.buf.copy_within(start..self.len, 0);
        self.len -= start;
    }

    /// End of stream: a last line without a newline is still a whole record.
    pub fn finish(&mut self, ts: &[u8; clock::LEN], log: &mut Log) {
        if self.len > 0 {
            log.record(ts, self.name, Tag::Full, &self.buf[..self.len]);
            self.len = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    fn tmp(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("hull-shim-cri-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    const TS: &[u8; clock::LEN] = b"2026-11-22T08:00:00.000000000Z";

    /// Feed `data` in small reads, as a pipe might deliver it.
    fn feed(lines: &mut Lines, log: &mut Log, mut data: &[u8]) {
        while !data.is_empty() {
            let spare = lines.spare();
            let n = data.len().min(5).min(spare.len());
            spare[..n].copy_from_slice(&data[..n]);
            lines.commit(n, TS, log);
            data = &data[n..];
        }
    }

    #[test]
    fn lines_split_across_reads_become_full_records_in_order() {
        let d = tmp("order");
        let mut log = Log::open(d.0.join("ctr.log"), 0).unwrap();
        let mut out = Lines::new("stdout");
        feed(&mut out, &mut log, b"one\ntwo\nthree-without-newline");
        out.finish(TS, &mut log);
        log.flush();
        let got = std::fs::read_to_string(d.0.join("ctr.log")).unwrap();
        assert_eq!(
            got,
            "2026-11-22T08:00:00.000000000Z stdout F one\n\
             2026-11-22T08:00:00.000000000Z stdout F two\n\
             2026-11-22T08:00:00.000000000Z stdout F three-without-newline\n"
        );
    }

    #[test]
    fn a_line_longer_than_the_buffer_is_split_into_partial_records() {
        let d = tmp("long");
        let mut log = Log::open(d.0.join("ctr.log"), 0).unwrap();
        let mut err = Lines::new("stderr");
        let mut data = vec![b'x'; LINE_MAX + 10];
        data.push(b'\n');
        feed(&mut err, &mut log, &data);
        log.flush();
        let got = std::fs::read_to_string(d.0.join("ctr.log")).unwrap();
        let recs: Vec<&str> = got.lines().collect();
        assert_eq!(recs.len(), 2);
        assert!(recs[0].starts_with("2026-11-22T08:00:00.000000000Z stderr P xxx"));
        assert_eq!(recs[0].len(), HEADER_MAX + LINE_MAX);
        assert_eq!(
            recs[1],
            format!(
                "{} stderr F {}",
                "2026-11-22T08:00:00.000000000Z",
                "x".repeat(10)
            )
        );
    }

    #[test]
    fn the_log_rotates_to_dot_one_when_it_would_pass_the_cap() {
        let d = tmp("rotate");
        let path = d.0.join("ctr.log");
        let mut log = Log::open(path.clone(), 100).unwrap();
        let mut out = Lines::new("stdout");
        feed(&mut out, &mut log, b"first line\n");
        log.flush();
        feed(&mut out, &mut log, b"second line\n");
        log.flush();
        feed(&mut out, &mut log, b"third line\n");
        log.flush();
        let cur = std::fs::read_to_string(&path).unwrap();
        let old = std::fs::read_to_string(d.0.join("ctr.log.1")).unwrap();
        assert!(old.ends_with("stdout F second line\n"), "{old}");
        assert!(
            cur.ends_with("stdout F third line\n") && cur.lines().count() == 1,
            "{cur}"
        );
        assert!(std::fs::metadata(&path).unwrap().len() <= 100);
    }
}
