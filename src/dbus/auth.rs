//! The SASL handshake that opens every D-Bus connection: a NUL byte, `AUTH EXTERNAL` with
//! the uid as hex-encoded decimal text (the server checks it against the socket's peer
//! credentials) and `BEGIN`, then the server's `OK <guid>`. hull passes no fds, so it does
//! not negotiate fd passing.
//!
//! `BEGIN` is pipelined with `AUTH`, as sd-bus's own clients do, and the first message goes
//! out only after `OK`. Sending `BEGIN` after `OK` and the first message right behind it
//! makes systemd's server (sd-bus, systemd 252 on /run/systemd/private) hang at times: when
//! both arrive in one read it switches to running with the message left in its buffer and
//! does not look at it until more data comes (seen in the systemd VM: Subscribe unanswered
//! for 25 s, pid 1 idle in epoll_wait). dbus-daemon takes either order.

use anyhow::{bail, Context, Result};
use std::io::{Read, Write};

/// The longest line a server may send during the handshake.
const MAX_LINE: usize = 512;

/// The AUTH command for `uid`: "1000" is sent as "31303030".
pub fn auth_line(uid: u32) -> String {
    let hex: String = uid
        .to_string()
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("AUTH EXTERNAL {hex}\r\n")
}

/// Run the client side over `stream`; returns the server's guid. The reply is read a byte
/// at a time up to its line end, so the stream is left exactly at the start of the message
/// stream.
pub fn handshake(stream: &mut (impl Read + Write), uid: u32) -> Result<String> {
    let mut hello = vec![0u8];
    hello.extend_from_slice(auth_line(uid).as_bytes());
    hello.extend_from_slice(b"BEGIN\r\n");
    stream
        .write_all(&hello)
        .context("D-Bus authentication: sending AUTH and BEGIN")?;
    let reply = read_line(stream)?;
    let Some(guid) = reply.strip_prefix("OK ") else {
        match reply.split_once(' ').map_or(reply.as_str(), |(w, _)| w) {
            "REJECTED" => bail!(
                "D-Bus authentication as uid {uid} was rejected (server offers: {})",
                reply.trim_start_matches("REJECTED").trim()
            ),
            _ => bail!("D-Bus authentication: unexpected reply {reply:?}"),
        }
    };
    Ok(guid.trim().to_string())
}

/// One "\r\n"-terminated line, read a byte at a time so nothing past it is taken.
fn read_line(stream: &mut impl Read) -> Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        match stream.read(&mut b) {
            Ok(0) => bail!("D-Bus authentication: the server closed the connection"),
            Ok(_) => line.push(b[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if super::conn::is_timeout(&e) => {
                bail!("D-Bus authentication: timed out waiting for the server")
            }
            Err(e) => return Err(e).context("D-Bus authentication: reading the reply"),
        }
        if line.len() > MAX_LINE {
            bail!("D-Bus authentication: reply line longer than {MAX_LINE} bytes");
        }
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).context("D-Bus authentication: reply is not text")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A scripted server: reads from `input`, records what the client wrote.
    struct Script {
        input: Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn script(reply: &str) -> Script {
        Script {
            input: Cursor::new(reply.as_bytes().to_vec()),
            written: Vec::new(),
        }
    }

    #[test]
    fn uid_is_sent_as_hex_of_its_decimal_text() {
        assert_eq!(auth_line(0), "AUTH EXTERNAL 30\r\n");
        assert_eq!(auth_line(1000), "AUTH EXTERNAL 31303030\r\n");
    }

    #[test]
    fn auth_and_begin_go_out_in_one_write_before_the_ok() {
        let mut s = script("OK 1234abcd\r\nl\x01rest");
        assert_eq!(handshake(&mut s, 0).unwrap(), "1234abcd");
        assert_eq!(s.written, b"\0AUTH EXTERNAL 30\r\nBEGIN\r\n");
        // The bytes after the OK line are left unread.
        assert_eq!(s.input.position(), "OK 1234abcd\r\n".len() as u64);
    }

    #[test]
    fn rejection_and_garbage_are_errors() {
        let e = handshake(&mut script("REJECTED ANONYMOUS\r\n"), 5).unwrap_err();
        assert!(e.to_string().contains("uid 5 was rejected"), "{e}");
        assert!(e.to_string().contains("ANONYMOUS"), "{e}");
        assert!(handshake(&mut script("ERROR\r\n"), 0).is_err());
        assert!(handshake(&mut script("OK abc"), 0).is_err());
        assert!(handshake(&mut script(&"x".repeat(600)), 0).is_err());
    }
}
