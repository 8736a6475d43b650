//! Unmarshalling D-Bus wire data into values, driven by a signature, in either byte order
//! (the message's first byte says which). Every length is checked against the buffer and
//! the specification's limits before use, so a hostile or broken peer gets an error, never
//! a panic or a huge allocation.

use super::encode::MAX_ARRAY;
use super::signature;
use super::value::Value;
use anyhow::{bail, Context, Result};

/// How deep variants may nest inside each other (the specification's total nesting limit).
const MAX_VARIANT_DEPTH: u32 = 64;

pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    big_endian: bool,
}

impl<'a> Decoder<'a> {
    /// A decoder over a whole message (or a body, which starts 8-aligned), at offset 0.
    pub fn new(buf: &'a [u8], big_endian: bool) -> Decoder<'a> {
        Decoder {
            buf,
            pos: 0,
            big_endian,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    pub fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    /// Skip the padding up to the next multiple of `align`.
    pub fn align(&mut self, align: usize) -> Result<()> {
        let to = self.pos.div_ceil(align) * align;
        if to > self.buf.len() {
            bail!("D-Bus message: truncated (padding runs past the end)");
        }
        self.pos = to;
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .context("D-Bus message: truncated")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.align(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        if self.big_endian {
            a.reverse();
        }
        Ok(a)
    }

    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.fixed()?))
    }

    fn text(&mut self, len: usize) -> Result<String> {
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            bail!("D-Bus message: a string is not NUL-terminated");
        }
        String::from_utf8(bytes.to_vec()).context("D-Bus message: a string is not UTF-8")
    }

    fn signature_text(&mut self) -> Result<String> {
        let len = self.take(1)?[0] as usize;
        let s = self.text(len)?;
        signature::split(&s)?;
        Ok(s)
    }

    /// One value of the single complete type `sig`.
    pub fn value(&mut self, sig: &str) -> Result<Value> {
        self.value_at(sig, 0)
    }

    fn value_at(&mut self, sig: &str, variants: u32) -> Result<Value> {
        let code = sig.as_bytes()[0];
        Ok(match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                n => bail!("D-Bus message: boolean with value {n}"),
            },
            b'n' => Value::I16(i16::from_le_bytes(self.fixed()?)),
            b'q' => Value::U16(u16::from_le_bytes(self.fixed()?)),
            b'i' => Value::I32(i32::from_le_bytes(self.fixed()?)),
            b'u' => Value::U32(self.u32()?),
            b'h' => Value::UnixFd(self.u32()?),
            b'x' => Value::I64(i64::from_le_bytes(self.fixed()?)),
            b't' => Value::U64(u64::from_le_bytes(self.fixed()?)),
            b'd' => Value::Double(f64::from_le_bytes(self.fixed()?)),
            b's' => {
                let len = self.u32()? as usize;
                Value::Str(self.text(len)?)
            }
            b'o' => {
                let len = self.u32()? as usize;
                let p = self.text(len)?;
                super::encode::check_object_path(&p)?;
                Value::ObjectPath(p)
            }
            b'g' => Value::Signature(self.signature_text()?),
            b'v' => {
                if variants >= MAX_VARIANT_DEPTH {
                    bail!("D-Bus message: variants nested deeper than {MAX_VARIANT_DEPTH}");
                }
                let inner = self.signature_text()?;
                let t = signature::single(&inner)?;
                Value::Variant(Box::new(self.value_at(t, variants + 1)?))
            }
            b'a' => self.array(&sig[1..], variants)?,
            b'(' => {
                self.align(8)?;
                let mut fields = Vec::new();
                for t in signature::split(&sig[1..sig.len() - 1])? {
                    fields.push(self.value_at(t, variants)?);
                }
                Value::Struct(fields)
            }
            b'{' => {
                self.align(8)?;
                let kv = signature::split(&sig[1..sig.len() - 1])?;
                let k = self.value_at(kv[0], variants)?;
                let v = self.value_at(kv[1], variants)?;
                Value::DictEntry(Box::new(k), Box::new(v))
            }
            c => bail!("D-Bus message: unknown type code {:?}", c as char),
        })
    }

    fn array(&mut self, elem: &str, variants: u32) -> Result<Value> {
        let len = self.u32()? as usize;
        if len > MAX_ARRAY {
            bail!("D-Bus message: array of {len} bytes, larger than 64 MiB");
        }
        self.align(signature::alignment(elem.as_bytes()[0]))?;
        let end = self
            .pos
            .checked_add(len)
            .filter(|e| *e <= self.buf.len())
            .context("D-Bus message: an array runs past the end")?;
        let mut items = Vec::new();
        while self.pos < end {
            items.push(self.value_at(elem, variants)?);
        }
        if self.pos != end {
            bail!("D-Bus message: an array's elements overrun its length");
        }
        Ok(Value::Array {
            elem: elem.to_string(),
            items,
        })
    }
}

/// Decode a body of signature `sig` (several complete types) from `buf`.
pub fn body(buf: &[u8], sig: &str, big_endian: bool) -> Result<Vec<Value>> {
    let mut d = Decoder::new(buf, big_endian);
    let mut out = Vec::new();
    for t in signature::split(sig)? {
        out.push(d.value(t)?);
    }
    if d.pos() != buf.len() {
        bail!(
            "D-Bus message: {} bytes left over after a body of signature {sig:?}",
            buf.len() - d.pos()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::encode;
    use super::*;

    fn round_trip(values: Vec<Value>) {
        let sig: String = values.iter().map(Value::signature).collect();
        let bytes = encode::body(&values).unwrap();
        assert_eq!(body(&bytes, &sig, false).unwrap(), values, "{sig}");
    }

    #[test]
    fn every_type_round_trips() {
        round_trip(vec![
            Value::Byte(1),
            Value::Bool(true),
            Value::I16(-3),
            Value::U16(4),
            Value::I32(-5),
            Value::U32(6),
            Value::I64(-7),
            Value::U64(u64::MAX),
            Value::Double(1.5),
            Value::str("héllo"),
            Value::path("/org/freedesktop/systemd1/job/42"),
            Value::Signature("a(sv)".into()),
            Value::UnixFd(0),
        ]);
    }

    #[test]
    fn start_transient_unit_arguments_round_trip() {
        let props = Value::properties(vec![
            ("Description".into(), Value::str("hull container c1")),
            ("PIDs".into(), Value::array("u", vec![Value::U32(4242)])),
            ("Delegate".into(), Value::Bool(true)),
            ("MemoryMax".into(), Value::U64(1 << 30)),
            (
                "AllowedCPUs".into(),
                Value::array("y", vec![Value::Byte(3)]),
            ),
            (
                "DeviceAllow".into(),
                Value::array(
                    "(ss)",
                    vec![Value::Struct(vec![
                        Value::str("/dev/null"),
                        Value::str("rwm"),
                    ])],
                ),
            ),
        ]);
        round_trip(vec![
            Value::str("hull-c1.scope"),
            Value::str("replace"),
            props,
            Value::array("(sa(sv))", vec![]),
        ]);
    }

    #[test]
    fn dicts_and_nested_variants_round_trip() {
        let entry = |k: &str, v: Value| {
            Value::DictEntry(Box::new(Value::str(k)), Box::new(Value::variant(v)))
        };
        round_trip(vec![
            Value::Byte(0),
            Value::array(
                "{sv}",
                vec![
                    entry("a", Value::variant(Value::I64(1))),
                    entry("b", Value::array("s", vec![])),
                ],
            ),
            Value::array("ay", vec![Value::array("y", vec![Value::Byte(1)])]),
        ]);
    }

    #[test]
    fn big_endian_input_is_read() {
        // u32 0x01020304 then "a": big-endian length prefix.
        let b = [1, 2, 3, 4, 0, 0, 0, 1, b'a', 0];
        assert_eq!(
            body(&b, "us", true).unwrap(),
            [Value::U32(0x01020304), Value::str("a")]
        );
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        // Array length beyond the buffer.
        assert!(body(&[0xff, 0xff, 0, 0], "ay", false).is_err());
        // String without its NUL.
        assert!(body(&[1, 0, 0, 0, b'a', b'b'], "s", false).is_err());
        // Bool of 2.
        assert!(body(&[2, 0, 0, 0], "b", false).is_err());
        // Variant holding two types.
        assert!(body(&[2, b'y', b'y', 0, 1, 1], "v", false).is_err());
        // Trailing garbage.
        assert!(body(&[1, 0, 0, 0, 9], "u", false).is_err());
        // Truncated u64.
        assert!(body(&[1, 2, 3], "t", false).is_err());
        // Deeply nested variants: "v" inside "v" 100 times.
        let mut deep = Vec::new();
        for _ in 0..100 {
            deep.extend_from_slice(&[1, b'v', 0]);
        }
        deep.extend_from_slice(&[1, b'y', 0, 7]);
        assert!(body(&deep, "v", false).is_err());
    }
}
