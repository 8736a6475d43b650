//! Marshalling values into the D-Bus wire format (always little-endian). Every value is
//! aligned to its type's boundary counted from the start of the message, so an `Encoder`
//! is started at a message start (the body starts 8-aligned, so a body encoded on its own
//! gets the same bytes as in place).

use super::signature;
use super::value::Value;
use anyhow::{bail, Result};

/// The largest array the specification allows (64 MiB).
pub const MAX_ARRAY: usize = 64 << 20;

#[derive(Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Zero bytes up to the next multiple of `align`.
    pub fn pad(&mut self, align: usize) {
        while self.buf.len() % align != 0 {
            self.buf.push(0);
        }
    }

    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn u32_at(&mut self, at: usize, v: u32) {
        self.buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn fixed(&mut self, align: usize, bytes: &[u8]) {
        self.pad(align);
        self.buf.extend_from_slice(bytes);
    }

    fn string(&mut self, s: &str) -> Result<()> {
        if s.contains('\0') {
            bail!("D-Bus string {s:?}: contains a NUL byte");
        }
        let len = u32::try_from(s.len())?;
        self.fixed(4, &len.to_le_bytes());
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    fn signature(&mut self, s: &str) -> Result<()> {
        signature::split(s)?;
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        Ok(())
    }

    /// Append `v`, aligned.
    pub fn value(&mut self, v: &Value) -> Result<()> {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.fixed(4, &u32::from(*b).to_le_bytes()),
            Value::I16(n) => self.fixed(2, &n.to_le_bytes()),
            Value::U16(n) => self.fixed(2, &n.to_le_bytes()),
            Value::I32(n) => self.fixed(4, &n.to_le_bytes()),
            Value::U32(n) | Value::UnixFd(n) => self.fixed(4, &n.to_le_bytes()),
            Value::I64(n) => self.fixed(8, &n.to_le_bytes()),
            Value::U64(n) => self.fixed(8, &n.to_le_bytes()),
            Value::Double(d) => self.fixed(8, &d.to_le_bytes()),
            Value::Str(s) => self.string(s)?,
            Value::ObjectPath(p) => {
                check_object_path(p)?;
                self.string(p)?;
            }
            Value::Signature(s) => self.signature(s)?,
            Value::Array { elem, items } => self.array(elem, items)?,
            Value::Struct(fields) => {
                if fields.is_empty() {
                    bail!("D-Bus struct: must have at least one field");
                }
                self.pad(8);
                for f in fields {
                    self.value(f)?;
                }
            }
            Value::DictEntry(k, val) => {
                self.pad(8);
                self.value(k)?;
                self.value(val)?;
            }
            Value::Variant(inner) => {
                let sig = inner.signature();
                signature::single(&sig)?;
                self.signature(&sig)?;
                self.value(inner)?;
            }
        }
        Ok(())
    }

    /// Length, padding to the element alignment (even when empty), then the elements.
    fn array(&mut self, elem: &str, items: &[Value]) -> Result<()> {
        signature::single(&format!("a{elem}"))?;
        self.pad(4);
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.pad(signature::alignment(elem.as_bytes()[0]));
        let start = self.buf.len();
        for it in items {
            let got = it.signature();
            if got != elem {
                bail!("D-Bus array of {elem:?}: holds a value of type {got:?}");
            }
            self.value(it)?;
        }
        let len = self.buf.len() - start;
        if len > MAX_ARRAY {
            bail!("D-Bus array of {len} bytes: larger than the 64 MiB the protocol allows");
        }
        self.u32_at(at, len as u32);
        Ok(())
    }
}

/// "/" or "/" followed by non-empty `[A-Za-z0-9_]` elements separated by single slashes.
pub fn check_object_path(p: &str) -> Result<()> {
    let ok = p == "/"
        || (p.starts_with('/')
            && p[1..].split('/').all(|e| {
                !e.is_empty() && e.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
            }));
    if !ok {
        bail!("D-Bus object path {p:?}: not a valid object path");
    }
    Ok(())
}

/// The wire bytes of `values` encoded one after another from an 8-aligned start.
pub fn body(values: &[Value]) -> Result<Vec<u8>> {
    let mut e = Encoder::new();
    for v in values {
        e.value(v)?;
    }
    Ok(e.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_types_are_little_endian_and_aligned() {
        let b = body(&[Value::Byte(7), Value::U32(0x01020304), Value::U16(5)]).unwrap();
        assert_eq!(b, [7, 0, 0, 0, 4, 3, 2, 1, 5, 0]);
        let b = body(&[Value::Byte(1), Value::U64(2)]).unwrap();
        assert_eq!(b, [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]);
        let b = body(&[Value::Bool(true), Value::I16(-2)]).unwrap();
        assert_eq!(b, [1, 0, 0, 0, 0xfe, 0xff]);
    }

    #[test]
    fn strings_signatures_and_paths() {
        // u32 length, bytes, NUL.
        assert_eq!(
            body(&[Value::str("ab")]).unwrap(),
            [2, 0, 0, 0, b'a', b'b', 0]
        );
        // y length, bytes, NUL; no alignment.
        assert_eq!(
            body(&[Value::Byte(9), Value::Signature("sv".into())]).unwrap(),
            [9, 2, b's', b'v', 0]
        );
        assert_eq!(body(&[Value::path("/")]).unwrap(), [1, 0, 0, 0, b'/', 0]);
        assert!(body(&[Value::path("/a//b")]).is_err());
        assert!(body(&[Value::path("/a-b")]).is_err());
        assert!(body(&[Value::path("a")]).is_err());
        assert!(body(&[Value::str("a\0b")]).is_err());
    }

    #[test]
    fn variant_is_signature_then_aligned_value() {
        // "t" variant at offset 0: 01 't' 00, pad to 8, 8 bytes.
        let b = body(&[Value::variant(Value::U64(3))]).unwrap();
        assert_eq!(b, [1, b't', 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn array_length_excludes_padding_before_the_first_element() {
        // at(t) after a byte: pad to 4, length 8, pad to 8, one u64.
        let b = body(&[Value::Byte(1), Value::array("t", vec![Value::U64(5)])]).unwrap();
        assert_eq!(
            b,
            [1, 0, 0, 0, 8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0],
            "length 8 at offset 4, element at 8"
        );
        // An empty array of structs is still padded to 8 after its length.
        let b = body(&[Value::array("(sv)", vec![])]).unwrap();
        assert_eq!(b, [0, 0, 0, 0, 0, 0, 0, 0]);
        // An array of u32: length counts 2 elements = 8 bytes.
        let b = body(&[Value::array("u", vec![Value::U32(1), Value::U32(2)])]).unwrap();
        assert_eq!(b, [8, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
    }

    #[test]
    fn unit_property_list_golden_bytes() {
        // a(sv) with one entry ("Delegate", <true>), derived from the specification:
        // 0: u32 array length; 4: pad to 8; 8: struct { s "Delegate" ; v "b" true }.
        let v = Value::properties(vec![("Delegate".into(), Value::Bool(true))]);
        let b = body(&[v]).unwrap();
        let mut want = vec![20, 0, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(&[8, 0, 0, 0]);
        want.extend_from_slice(b"Delegate\0"); // ends at 8+4+9 = 21
        want.extend_from_slice(&[1, b'b', 0]); // signature "b", ends at 24
        want.extend_from_slice(&[1, 0, 0, 0]); // bool, 4-aligned at 24, ends at 28
        assert_eq!(b, want);
        assert_eq!(want.len() - 8, 20);
    }

    #[test]
    fn mistyped_arrays_and_empty_structs_are_refused() {
        assert!(body(&[Value::array("u", vec![Value::U64(1)])]).is_err());
        assert!(body(&[Value::Struct(vec![])]).is_err());
        assert!(body(&[Value::array("", vec![])]).is_err());
    }
}
