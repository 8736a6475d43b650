//! `org.systemd.property.NAME` annotations: extra unit properties for the container's unit,
//! as runc takes them. NAME is at least three ASCII letters; the value is GVariant text
//! (<https://docs.gtk.org/glib/gvariant-text-format.html>). hull reads the forms such
//! annotations use: `true`/`false`; integers (untyped is int32), `uint64 5` and the other
//! type keywords, or `@t 5`; doubles; single- or double-quoted strings; `objectpath '/x'`;
//! and `[...]` arrays of one of those (`@as []` when empty). Anything else is refused with
//! the annotation named. As in runc, `xxxSec` properties are taken in seconds and sent as
//! `xxxUSec` (TimeoutStopSec=5 becomes TimeoutStopUSec=5000000).

use super::properties::Props;
use crate::dbus::Value;
use anyhow::{bail, Result};
use std::collections::HashMap;

const PREFIX: &str = "org.systemd.property.";

pub fn properties(annotations: &HashMap<String, String>) -> Result<Props> {
    let mut keys: Vec<&String> = annotations
        .keys()
        .filter(|k| k.starts_with(PREFIX))
        .collect();
    keys.sort();
    let mut out = Props::new();
    for k in keys {
        let name = &k[PREFIX.len()..];
        let text = &annotations[k];
        if name.len() < 3 || !name.bytes().all(|b| b.is_ascii_alphabetic()) {
            bail!("annotations[{k:?}]: the property name must be at least 3 ASCII letters");
        }
        let value =
            parse(text).map_err(|why| anyhow::anyhow!("annotations[{k:?}] = {text:?}: {why}"))?;
        let (name, value) = match name.strip_suffix("Sec") {
            Some(base) if base.ends_with(|c: char| c.is_ascii_lowercase()) => {
                let usec = seconds_to_usec(&value).ok_or_else(|| {
                    anyhow::anyhow!(
                        "annotations[{k:?}] = {text:?}: a ...Sec property takes a number"
                    )
                })?;
                (format!("{base}USec"), Value::U64(usec))
            }
            _ => (name.to_string(), value),
        };
        out.push((name, value));
    }
    Ok(out)
}

fn seconds_to_usec(v: &Value) -> Option<u64> {
    const M: u64 = 1_000_000;
    Some(match *v {
        Value::Byte(n) => u64::from(n) * M,
        Value::I16(n) => (n as u64).wrapping_mul(M),
        Value::U16(n) => u64::from(n) * M,
        Value::I32(n) => (n as u64).wrapping_mul(M),
        Value::U32(n) => u64::from(n) * M,
        Value::I64(n) => (n as u64).wrapping_mul(M),
        Value::U64(n) => n.wrapping_mul(M),
        Value::Double(d) => (d * M as f64) as u64,
        _ => return None,
    })
}

/// One GVariant text value (the subset above).
fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.trim(),
        pos: 0,
    };
    let v = p.value(None)?;
    p.skip_ws();
    if p.pos != p.s.len() {
        return Err(format!("unexpected {:?}", &p.s[p.pos..]));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s[self.pos..].starts_with(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    /// A word of letters, digits and `@+-._` (type keyword, number, boolean).
    fn word(&mut self) -> &str {
        let start = self.pos;
        while self
            .rest()
            .starts_with(|c: char| c.is_ascii_alphanumeric() || "@+-._".contains(c))
        {
            self.pos += 1;
        }
        &self.s[start..self.pos]
    }

    /// A value, of type `want` (a GVariant type code) when the context fixes one.
    fn value(&mut self, want: Option<&str>) -> Result<Value, String> {
        self.skip_ws();
        let rest = self.rest();
        if rest.starts_with('\'') || rest.starts_with('"') {
            let s = self.quoted()?;
            return match want.unwrap_or("s") {
                "s" => Ok(Value::Str(s)),
                "o" => Ok(Value::ObjectPath(s)),
                "g" => Ok(Value::Signature(s)),
                t => Err(format!("a string where a {t} is expected")),
            };
        }
        if rest.starts_with('[') {
            return self.array(want.and_then(|w| w.strip_prefix('a')));
        }
        let save = self.pos;
        let w = self.word().to_string();
        let keyword = match w.as_str() {
            "byte" => Some("y"),
            "int16" => Some("n"),
            "uint16" => Some("q"),
            "int32" => Some("i"),
            "uint32" => Some("u"),
            "int64" => Some("x"),
            "uint64" => Some("t"),
            "double" => Some("d"),
            "string" => Some("s"),
            "objectpath" => Some("o"),
            "signature" => Some("g"),
            t if t.starts_with('@') && t.len() > 1 => Some(&t[1..]),
            _ => None,
        };
        if let Some(t) = keyword {
            let t = t.to_string();
            return self.value(Some(&t));
        }
        self.pos = save;
        let w = self.word().to_string();
        match w.as_str() {
            "true" => return typed_bool(true, want),
            "false" => return typed_bool(false, want),
            "" => return Err(format!("unexpected {:?}", self.rest())),
            _ => {}
        }
        number(
            &w,
            want.unwrap_or(if w.contains(['.', 'e', 'E']) {
                "d"
            } else {
                "i"
            }),
        )
    }

    fn array(&mut self, elem: Option<&str>) -> Result<Value, String> {
        self.pos += 1; // [
        let mut items = Vec::new();
        loop {
            self.skip_ws();
            if self.rest().starts_with(']') {
                self.pos += 1;
                break;
            }
            if !items.is_empty() {
                if !self.rest().starts_with(',') {
                    return Err("expected ',' or ']' in an array".into());
                }
                self.pos += 1;
            }
            let t = elem
                .map(str::to_string)
                .or_else(|| items.first().map(Value::signature));
            items.push(self.value(t.as_deref())?);
        }
        let elem = match (elem, items.first()) {
            (Some(e), _) => e.to_string(),
            (None, Some(v)) => v.signature(),
            (None, None) => return Err("an empty array needs a type (like \"@as []\")".into()),
        };
        if items.iter().any(|v| v.signature() != elem) {
            return Err("array elements of different types".into());
        }
        Ok(Value::array(&elem, items))
    }

    fn quoted(&mut self) -> Result<String, String> {
        let quote = self.rest().chars().next().unwrap_or('\'');
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.s[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => out.push('\n'),
                    Some((_, 't')) => out.push('\t'),
                    Some((_, c)) => out.push(c),
                    None => break,
                },
                c => out.push(c),
            }
        }
        Err("unterminated string".into())
    }
}

fn typed_bool(b: bool, want: Option<&str>) -> Result<Value, String> {
    match want.unwrap_or("b") {
        "b" => Ok(Value::Bool(b)),
        t => Err(format!("a boolean where a {t} is expected")),
    }
}

fn number(w: &str, t: &str) -> Result<Value, String> {
    let bad = || format!("{w:?} is not a number of type {t}");
    let int = |w: &str| -> Result<i128, String> {
        match w.strip_prefix("0x") {
            Some(h) => i128::from_str_radix(h, 16).map_err(|_| bad()),
            None => w.parse::<i128>().map_err(|_| bad()),
        }
    };
    Ok(match t {
        "y" => Value::Byte(u8::try_from(int(w)?).map_err(|_| bad())?),
        "n" => Value::I16(i16::try_from(int(w)?).map_err(|_| bad())?),
        "q" => Value::U16(u16::try_from(int(w)?).map_err(|_| bad())?),
        "i" => Value::I32(i32::try_from(int(w)?).map_err(|_| bad())?),
        "u" => Value::U32(u32::try_from(int(w)?).map_err(|_| bad())?),
        "x" => Value::I64(i64::try_from(int(w)?).map_err(|_| bad())?),
        "t" => Value::U64(u64::try_from(int(w)?).map_err(|_| bad())?),
        "d" => Value::Double(w.parse().map_err(|_| bad())?),
        t => return Err(format!("type {t:?} is not supported here")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(k: &str, v: &str) -> Result<(String, Value)> {
        let m = HashMap::from([(format!("{PREFIX}{k}"), v.to_string())]);
        Ok(properties(&m)?.remove(0))
    }

    #[test]
    fn gvariant_text_values_become_typed_properties() {
        assert_eq!(
            one("CollectMode", "'inactive-or-failed'").unwrap().1,
            Value::str("inactive-or-failed")
        );
        assert_eq!(
            one("CollectMode", "\"x\\\"y\"").unwrap().1,
            Value::str("x\"y")
        );
        assert_eq!(one("CPUWeight", "uint64 100").unwrap().1, Value::U64(100));
        assert_eq!(one("CPUWeight", "@t 100").unwrap().1, Value::U64(100));
        assert_eq!(one("Nice", "-5").unwrap().1, Value::I32(-5));
        assert_eq!(one("IgnoreSIGPIPE", "false").unwrap().1, Value::Bool(false));
        assert_eq!(
            one("Wants", "['a.service', 'b.service']").unwrap().1,
            Value::array("s", vec![Value::str("a.service"), Value::str("b.service")])
        );
        assert_eq!(one("Wants", "@as []").unwrap().1, Value::array("s", vec![]));
        assert_eq!(
            one("Foo", "[uint32 1, 2]").unwrap().1,
            Value::array("u", vec![Value::U32(1), Value::U32(2)])
        );
    }

    #[test]
    fn seconds_properties_are_sent_in_microseconds() {
        assert_eq!(
            one("TimeoutStopSec", "5").unwrap(),
            ("TimeoutStopUSec".to_string(), Value::U64(5_000_000))
        );
        assert_eq!(
            one("RuntimeMaxSec", "uint64 2").unwrap(),
            ("RuntimeMaxUSec".to_string(), Value::U64(2_000_000))
        );
        assert_eq!(one("TimeoutStopUSec", "uint64 7").unwrap().1, Value::U64(7));
        assert!(one("TimeoutStopSec", "'5s'").is_err());
    }

    #[test]
    fn bad_names_and_values_are_refused_naming_the_annotation() {
        let e = one("ab", "1").unwrap_err().to_string();
        assert!(e.contains("org.systemd.property.ab"), "{e}");
        assert!(one("Foo-Bar", "1").is_err());
        for bad in [
            "", "'open", "[1, 'a']", "[]", "uint8 3", "byte 300", "1 2", "<1>",
        ] {
            assert!(one("Foo", bad).is_err(), "{bad:?} accepted");
        }
        let none: HashMap<String, String> = HashMap::from([("other".into(), "x".into())]);
        assert!(properties(&none).unwrap().is_empty());
    }
}
