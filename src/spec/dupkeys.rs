//! Refusing a config.json that names a key twice in one object. JSON leaves duplicates
//! undefined and serde_json keeps the last silently, so `{"process": {"args": ["a"],
//! "args": ["b"]}}` ran `b` while a reader of the file (or another tool, keeping the
//! first) saw `a`. The walk uses serde's visitor over the text without building values.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Fails at the first object key that appears twice, naming its path
/// (`process.args`, `mounts[2].options`). Other syntax errors are the parser's to report.
pub fn check(text: &str) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_str(text);
    match (Walk { path: "" }).deserialize(&mut de) {
        Ok(()) => Ok(()),
        Err(e) if e.is_data() => Err(e.to_string()),
        Err(_) => Ok(()),
    }
}

struct Walk<'a> {
    path: &'a str,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let path = format!("{}[{i}]", self.path);
            if seq.next_element_seed(Walk { path: &path })?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key) {
                return Err(de::Error::custom(format!(
                    "duplicate key {path}: each key may appear once in an object (which \
                     one applies would be unclear)"
                )));
            }
            map.next_value_seed(Walk { path: &path })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn a_duplicate_key_is_named_by_its_path() {
        assert!(check(r#"{"a": 1, "b": {"c": [1, {"d": 2}]}}"#).is_ok());
        let e = check(r#"{"process": {"args": ["a"], "args": ["b"]}}"#).unwrap_err();
        assert!(e.starts_with("duplicate key process.args:"), "{e}");
        let e = check(r#"{"mounts": [{}, {"type": "x", "type": "y"}]}"#).unwrap_err();
        assert!(e.starts_with("duplicate key mounts[1].type:"), "{e}");
        // The same key in different objects is fine.
        assert!(check(r#"[{"a": 1}, {"a": 2}]"#).is_ok());
    }
}
