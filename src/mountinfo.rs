//! The one reader of `/proc/self/mountinfo` (rootfs setup and cgroup layout detection):
//! mount point, root within the filesystem, propagation tags, filesystem type, source and
//! super options, with the kernel's octal escapes undone. A malformed line is an error
//! naming the line: the kernel never writes one, so it means the input is not mountinfo.

use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// One line of mountinfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Path of the mount's root within its filesystem (field 4).
    pub root: PathBuf,
    /// Where it is mounted (field 5).
    pub mount_point: PathBuf,
    /// Optional fields such as `shared:1` or `master:2`.
    pub tags: Vec<String>,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`; every other byte of a
/// path is as the kernel has it, which need not be UTF-8.
fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn path(b: &[u8]) -> PathBuf {
    PathBuf::from(std::ffi::OsString::from_vec(unescape(b)))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parse mountinfo text (blank lines are ignored).
pub fn parse(text: &str) -> Result<Vec<MountInfo>> {
    parse_bytes(text.as_bytes())
}

/// Parse mountinfo as the kernel writes it: bytes. A mount point that is not UTF-8 (a
/// directory named in Latin-1, say) is a valid line, kept byte for byte in its `PathBuf`.
pub fn parse_bytes(text: &[u8]) -> Result<Vec<MountInfo>> {
    text.split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !l.iter().all(u8::is_ascii_whitespace))
        .map(|(n, l)| {
            parse_line(l).with_context(|| {
                format!(
                    "mountinfo line {}: malformed: {:?}",
                    n + 1,
                    String::from_utf8_lossy(l)
                )
            })
        })
        .collect()
}

fn parse_line(line: &[u8]) -> Option<MountInfo> {
    let fields: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
    // Optional fields (shared:N, ...) sit between field 6 and the lone "-".
    let sep = fields.iter().position(|f| *f == b"-")?;
    if sep < 6 || fields.len() < sep + 4 {
        return None;
    }
    Some(MountInfo {
        root: path(fields[3]),
        mount_point: path(fields[4]),
        tags: fields[6..sep].iter().map(|s| text(s)).collect(),
        fstype: text(fields[sep + 1]),
        source: text(&unescape(fields[sep + 2])),
        super_options: text(fields[sep + 3]),
    })
}

/// The current process's mount table.
pub fn read_self() -> Result<Vec<MountInfo>> {
    let bytes = std::fs::read("/proc/self/mountinfo").context("reading /proc/self/mountinfo")?;
    parse_bytes(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_and_escaped_mount_points() {
        let t = "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n\
                 41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
        let m = parse(t).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].mount_point, PathBuf::from("/mnt/a b"));
        assert_eq!(m[0].root, PathBuf::from("/mnt1"));
        assert_eq!(m[0].tags, vec!["master:1", "shared:2"]);
        assert_eq!(m[1].fstype, "cgroup2");
        assert!(m[1].tags.is_empty());
    }

    #[test]
    fn a_mount_point_that_is_not_utf8_is_kept_byte_for_byte() {
        use std::os::unix::ffi::OsStrExt;
        let mut t = b"36 35 98:0 / /mnt/caf\xe9\\040x rw - ext4 /dev/sda rw\n".to_vec();
        t.extend_from_slice(b"41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n");
        let m = parse_bytes(&t).unwrap();
        assert_eq!(m[0].mount_point.as_os_str().as_bytes(), b"/mnt/caf\xe9 x");
        assert_eq!(m[1].fstype, "cgroup2");
    }

    #[test]
    fn a_line_without_separator_is_an_error_naming_the_line() {
        let e = parse("1 2 3 4 5 6 7\n").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
    }
}
