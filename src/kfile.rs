//! Reading small kernel-generated files (procfs, cgroupfs) whole. They report a size of 0,
//! so `std::fs::read_to_string` stats them and then grows its buffer from 32 bytes, one
//! read(2) per doubling: 9 syscalls for a /proc/PID/stat line, 11 for a mountinfo. Here:
//! open, a read into 4 KiB (doubled while it fills), the read that returns 0, close.

use std::io::{self, Read};
use std::path::Path;

/// The whole content of `path` as text.
pub fn read(path: impl AsRef<Path>) -> io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_a_file_larger_than_the_first_buffer_whole() {
        let text = super::read("/proc/self/mountinfo").unwrap();
        assert_eq!(
            text,
            std::fs::read_to_string("/proc/self/mountinfo").unwrap()
        );
        let big = std::env::temp_dir().join(format!("kfile-test-{}", std::process::id()));
        let content: String = (0..3000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&big, &content).unwrap();
        let got = super::read(&big);
        std::fs::remove_file(&big).unwrap();
        assert_eq!(got.unwrap(), content);
        assert!(super::read("/proc/self/no-such-file").is_err());
    }
}
