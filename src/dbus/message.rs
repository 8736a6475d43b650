//! D-Bus messages: the fixed header (byte order, type, flags, version, body length, serial),
//! the header fields `a(yv)` (path, interface, member, error name, reply serial,
//! destination, sender, signature), padding to 8, then the body.

use super::decode::{self, Decoder};
use super::encode::{self, Encoder};
use super::value::Value;
use anyhow::{bail, Context, Result};

/// The largest message the specification allows (128 MiB).
pub const MAX_MESSAGE: usize = 128 << 20;
/// Bytes before the header fields' elements: 12 fixed + the fields array's length.
pub const FIXED_LEN: usize = 16;

/// Flag: the caller wants no reply.
pub const NO_REPLY_EXPECTED: u8 = 0x1;

/// The four message types; any other is to be ignored (the specification says so).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    MethodCall,
    MethodReturn,
    Error,
    Signal,
    Unknown(u8),
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::MethodCall => 1,
            Kind::MethodReturn => 2,
            Kind::Error => 3,
            Kind::Signal => 4,
            Kind::Unknown(c) => c,
        }
    }

    fn from_code(c: u8) -> Kind {
        match c {
            1 => Kind::MethodCall,
            2 => Kind::MethodReturn,
            3 => Kind::Error,
            4 => Kind::Signal,
            c => Kind::Unknown(c),
        }
    }
}

/// Header field codes.
mod field {
    pub const PATH: u8 = 1;
    pub const INTERFACE: u8 = 2;
    pub const MEMBER: u8 = 3;
    pub const ERROR_NAME: u8 = 4;
    pub const REPLY_SERIAL: u8 = 5;
    pub const DESTINATION: u8 = 6;
    pub const SENDER: u8 = 7;
    pub const SIGNATURE: u8 = 8;
    pub const UNIX_FDS: u8 = 9;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: Kind,
    pub flags: u8,
    /// Set by the connection when sending (never 0 on the wire).
    pub serial: u32,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub destination: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

impl Message {
    fn empty(kind: Kind) -> Message {
        Message {
            kind,
            flags: 0,
            serial: 0,
            path: None,
            interface: None,
            member: None,
            error_name: None,
            reply_serial: None,
            destination: None,
            sender: None,
            body: Vec::new(),
        }
    }

    /// A method call; `destination` is None on a peer-to-peer connection.
    pub fn method_call(
        destination: Option<&str>,
        path: &str,
        interface: &str,
        member: &str,
        body: Vec<Value>,
    ) -> Message {
        Message {
            destination: destination.map(str::to_string),
            path: Some(path.to_string()),
            interface: Some(interface.to_string()),
            member: Some(member.to_string()),
            body,
            ..Message::empty(Kind::MethodCall)
        }
    }

    /// A signal (hull only emits these in tests).
    pub fn signal(path: &str, interface: &str, member: &str, body: Vec<Value>) -> Message {
        Message {
            path: Some(path.to_string()),
            interface: Some(interface.to_string()),
            member: Some(member.to_string()),
            body,
            ..Message::empty(Kind::Signal)
        }
    }

    /// The reply to `call`.
    pub fn method_return(call: &Message, body: Vec<Value>) -> Message {
        Message {
            reply_serial: Some(call.serial),
            destination: call.sender.clone(),
            body,
            ..Message::empty(Kind::MethodReturn)
        }
    }

    /// An error reply to `call`.
    pub fn error(call: &Message, name: &str, text: &str) -> Message {
        Message {
            reply_serial: Some(call.serial),
            destination: call.sender.clone(),
            error_name: Some(name.to_string()),
            body: vec![Value::str(text)],
            ..Message::empty(Kind::Error)
        }
    }

    /// The body's signature.
    pub fn signature(&self) -> String {
        self.body.iter().map(Value::signature).collect()
    }

    /// Whether this is the signal `interface.member`.
    pub fn is_signal(&self, interface: &str, member: &str) -> bool {
        self.kind == Kind::Signal
            && self.interface.as_deref() == Some(interface)
            && self.member.as_deref() == Some(member)
    }

    /// "interface.member" or the error name, for messages.
    pub fn describe(&self) -> String {
        match (&self.interface, &self.member, &self.error_name) {
            (_, _, Some(e)) => e.clone(),
            (Some(i), Some(m), _) => format!("{i}.{m}"),
            (None, Some(m), _) => m.clone(),
            _ => format!("{:?}", self.kind),
        }
    }

    /// The wire bytes (little-endian).
    pub fn encode(&self) -> Result<Vec<u8>> {
        if self.serial == 0 {
            bail!("D-Bus message: serial 0 is not allowed");
        }
        let body = encode::body(&self.body)?;
        let sig = self.signature();
        let mut fields = Vec::new();
        let mut add = |code: u8, v: Value| {
            fields.push(Value::Struct(vec![Value::Byte(code), Value::variant(v)]))
        };
        if let Some(p) = &self.path {
            add(field::PATH, Value::path(p));
        }
        if let Some(i) = &self.interface {
            add(field::INTERFACE, Value::str(i));
        }
        if let Some(m) = &self.member {
            add(field::MEMBER, Value::str(m));
        }
        if let Some(e) = &self.error_name {
            add(field::ERROR_NAME, Value::str(e));
        }
        if let Some(r) = self.reply_serial {
            add(field::REPLY_SERIAL, Value::U32(r));
        }
        if let Some(d) = &self.destination {
            add(field::DESTINATION, Value::str(d));
        }
        if let Some(s) = &self.sender {
            add(field::SENDER, Value::str(s));
        }
        if !sig.is_empty() {
            add(field::SIGNATURE, Value::Signature(sig));
        }
        let mut e = Encoder::new();
        e.raw(&[b'l', self.kind.code(), self.flags, 1]);
        e.raw(&u32::try_from(body.len())?.to_le_bytes());
        e.raw(&self.serial.to_le_bytes());
        e.value(&Value::array("(yv)", fields))?;
        e.pad(8);
        e.raw(&body);
        if e.len() > MAX_MESSAGE {
            bail!("D-Bus message of {} bytes: larger than 128 MiB", e.len());
        }
        Ok(e.into_bytes())
    }

    /// The whole message's length, from its first 16 bytes.
    pub fn frame_len(head: &[u8; FIXED_LEN]) -> Result<usize> {
        let big = byte_order(head[0])?;
        if head[3] != 1 {
            bail!("D-Bus message: protocol version {} (want 1)", head[3]);
        }
        let word = |at: usize| {
            let mut w = [head[at], head[at + 1], head[at + 2], head[at + 3]];
            if big {
                w.reverse();
            }
            u32::from_le_bytes(w) as usize
        };
        let (body, fields) = (word(4), word(12));
        let total = (FIXED_LEN + fields).div_ceil(8) * 8 + body;
        if total > MAX_MESSAGE {
            bail!("D-Bus message of {total} bytes: larger than 128 MiB");
        }
        Ok(total)
    }

    /// Parse one whole message.
    pub fn decode(buf: &[u8]) -> Result<Message> {
        let head: &[u8; FIXED_LEN] = buf
            .get(..FIXED_LEN)
            .and_then(|h| h.try_into().ok())
            .context("D-Bus message: shorter than its fixed header")?;
        if Message::frame_len(head)? != buf.len() {
            bail!("D-Bus message: length does not match its header");
        }
        let big = byte_order(buf[0])?;
        let mut d = Decoder::new(buf, big);
        d.set_pos(4);
        let body_len = d.u32()? as usize;
        let mut m = Message::empty(Kind::from_code(buf[1]));
        m.flags = buf[2];
        m.serial = d.u32()?;
        if m.serial == 0 {
            bail!("D-Bus message: serial 0");
        }
        let fields = d.value("a(yv)")?;
        d.align(8)?;
        let mut sig = String::new();
        for f in fields.items().unwrap_or_default() {
            let Value::Struct(kv) = f else { continue };
            let (Some(Value::Byte(code)), Some(v)) = (kv.first(), kv.get(1)) else {
                continue;
            };
            let v = v.unwrap_variant();
            let text = || {
                v.as_str().map(str::to_string).with_context(|| {
                    format!(
                        "D-Bus message: header field {code} of type {}",
                        v.signature()
                    )
                })
            };
            match *code {
                field::PATH => m.path = Some(text()?),
                field::INTERFACE => m.interface = Some(text()?),
                field::MEMBER => m.member = Some(text()?),
                field::ERROR_NAME => m.error_name = Some(text()?),
                field::REPLY_SERIAL => {
                    m.reply_serial = Some(
                        v.as_u32()
                            .context("D-Bus message: reply serial not a u32")?,
                    )
                }
                field::DESTINATION => m.destination = Some(text()?),
                field::SENDER => m.sender = Some(text()?),
                field::SIGNATURE => sig = text()?,
                field::UNIX_FDS => {}
                // Unknown fields must be ignored.
                _ => {}
            }
        }
        let start = d.pos();
        if start + body_len != buf.len() {
            bail!("D-Bus message: body length does not match");
        }
        m.body = decode::body(&buf[start..], &sig, big)?;
        m.check_required()?;
        Ok(m)
    }

    /// The header fields each type must carry.
    fn check_required(&self) -> Result<()> {
        let ok = match self.kind {
            Kind::MethodCall => self.path.is_some() && self.member.is_some(),
            Kind::Signal => {
                self.path.is_some() && self.interface.is_some() && self.member.is_some()
            }
            Kind::MethodReturn => self.reply_serial.is_some(),
            Kind::Error => self.reply_serial.is_some() && self.error_name.is_some(),
            Kind::Unknown(_) => true,
        };
        if !ok {
            bail!(
                "D-Bus message: a {:?} lacks a required header field",
                self.kind
            );
        }
        Ok(())
    }
}

/// 'l' little-endian, 'B' big-endian.
fn byte_order(b: u8) -> Result<bool> {
    match b {
        b'l' => Ok(false),
        b'B' => Ok(true),
        b => bail!("D-Bus message: byte order mark {b:#x} (want 'l' or 'B')"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// org.freedesktop.DBus.Hello, serial 1, derived byte by byte from the specification.
    fn hello_golden() -> Vec<u8> {
        let mut w: Vec<u8> = vec![b'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0];
        w.extend_from_slice(&[0; 4]); // fields array length, patched below
                                      // 16: (PATH, o "/org/freedesktop/DBus")
        w.extend_from_slice(&[1, 1, b'o', 0]);
        w.extend_from_slice(&21u32.to_le_bytes());
        w.extend_from_slice(b"/org/freedesktop/DBus\0"); // ends at 46
        w.extend_from_slice(&[0, 0]); // pad to 48
                                      // 48: (INTERFACE, s "org.freedesktop.DBus")
        w.extend_from_slice(&[2, 1, b's', 0]);
        w.extend_from_slice(&20u32.to_le_bytes());
        w.extend_from_slice(b"org.freedesktop.DBus\0"); // ends at 77
        w.extend_from_slice(&[0, 0, 0]); // pad to 80
                                         // 80: (MEMBER, s "Hello")
        w.extend_from_slice(&[3, 1, b's', 0]);
        w.extend_from_slice(&5u32.to_le_bytes());
        w.extend_from_slice(b"Hello\0"); // ends at 94
        w.extend_from_slice(&[0, 0]); // pad to 96
                                      // 96: (DESTINATION, s "org.freedesktop.DBus")
        w.extend_from_slice(&[6, 1, b's', 0]);
        w.extend_from_slice(&20u32.to_le_bytes());
        w.extend_from_slice(b"org.freedesktop.DBus\0"); // ends at 125
        let fields_len = (125 - 16) as u32;
        w[12..16].copy_from_slice(&fields_len.to_le_bytes());
        w.extend_from_slice(&[0, 0, 0]); // header padded to 128, empty body
        w
    }

    fn hello() -> Message {
        let mut m = Message::method_call(
            Some("org.freedesktop.DBus"),
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "Hello",
            vec![],
        );
        m.serial = 1;
        m
    }

    #[test]
    fn hello_call_matches_the_specifications_bytes() {
        let got = hello().encode().unwrap();
        assert_eq!(got, hello_golden());
        assert_eq!(got.len(), 128);
        let head: [u8; 16] = got[..16].try_into().unwrap();
        assert_eq!(Message::frame_len(&head).unwrap(), 128);
        assert_eq!(Message::decode(&got).unwrap(), hello());
    }

    #[test]
    fn a_body_gets_a_signature_field_and_starts_8_aligned() {
        let mut m = Message::method_call(
            None,
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "StopUnit",
            vec![Value::str("hull-c.scope"), Value::str("replace")],
        );
        m.serial = 7;
        let b = m.encode().unwrap();
        // The signature field: code 8, variant of type "g", value "ss".
        let at = b
            .windows(7)
            .position(|w| w == [8, 1, b'g', 0, 2, b's', b's']);
        assert!(at.is_some(), "{b:?}");
        let body_len = u32::from_le_bytes(b[4..8].try_into().unwrap()) as usize;
        assert_eq!(body_len, 4 + 13 + 3 + 4 + 8);
        let body_start = b.len() - body_len;
        assert_eq!(body_start % 8, 0);
        assert_eq!(&b[body_start..body_start + 4], &12u32.to_le_bytes());
        assert_eq!(Message::decode(&b).unwrap(), m);
    }

    #[test]
    fn error_and_signal_round_trip() {
        let mut e = Message {
            error_name: Some("org.freedesktop.DBus.Error.UnknownMethod".into()),
            reply_serial: Some(3),
            sender: Some("org.freedesktop.DBus".into()),
            destination: Some(":1.7".into()),
            body: vec![Value::str("no such method")],
            ..Message::empty(Kind::Error)
        };
        e.serial = 9;
        assert_eq!(Message::decode(&e.encode().unwrap()).unwrap(), e);
        let mut s = Message::signal(
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "JobRemoved",
            vec![
                Value::U32(42),
                Value::path("/org/freedesktop/systemd1/job/42"),
                Value::str("hull-c.scope"),
                Value::str("done"),
            ],
        );
        s.serial = 10;
        let back = Message::decode(&s.encode().unwrap()).unwrap();
        assert!(back.is_signal("org.freedesktop.systemd1.Manager", "JobRemoved"));
        assert_eq!(back, s);
    }

    #[test]
    fn big_endian_message_is_read() {
        // A method return, serial 2, reply to 1, body "u" 5, written big-endian by hand.
        let mut w: Vec<u8> = vec![b'B', 2, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2];
        w.extend_from_slice(&[0, 0, 0, 0]);
        w.extend_from_slice(&[5, 1, b'u', 0, 0, 0, 0, 1]); // REPLY_SERIAL 1
        w.extend_from_slice(&[8, 1, b'g', 0, 1, b'u', 0]); // SIGNATURE "u", ends at 31
        w[12..16].copy_from_slice(&(31u32 - 16).to_be_bytes());
        w.push(0); // pad to 32
        w.extend_from_slice(&[0, 0, 0, 5]);
        let m = Message::decode(&w).unwrap();
        assert_eq!(m.kind, Kind::MethodReturn);
        assert_eq!(m.reply_serial, Some(1));
        assert_eq!(m.body, [Value::U32(5)]);
    }

    #[test]
    fn malformed_headers_are_refused() {
        let mut b = hello_golden();
        b[0] = b'x';
        assert!(Message::decode(&b).is_err());
        let mut b = hello_golden();
        b[3] = 2;
        assert!(Message::decode(&b).is_err());
        let mut b = hello_golden();
        b.pop();
        assert!(Message::decode(&b).is_err());
        let mut head = [0u8; 16];
        head[..4].copy_from_slice(&[b'l', 1, 0, 1]);
        head[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Message::frame_len(&head).is_err());
        // A method return without a reply serial.
        let mut r = Message::empty(Kind::MethodReturn);
        r.serial = 1;
        assert!(Message::decode(&r.encode().unwrap()).is_err());
    }
}
