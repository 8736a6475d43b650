//! D-Bus values: one enum covering the whole type system, each value knowing its own type
//! signature, so a message's body signature is computed rather than written by hand.

/// A D-Bus value. Arrays carry their element signature so an empty array still has a type.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Double(f64),
    Str(String),
    ObjectPath(String),
    Signature(String),
    /// An index into the message's out-of-band fds (hull never sends any).
    UnixFd(u32),
    /// Items all of type `elem`, a single complete type signature.
    Array {
        elem: String,
        items: Vec<Value>,
    },
    Struct(Vec<Value>),
    /// Only valid as an array element: `a{kv}`.
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    pub fn path(s: &str) -> Value {
        Value::ObjectPath(s.to_string())
    }

    pub fn variant(v: Value) -> Value {
        Value::Variant(Box::new(v))
    }

    /// An array of `elem`-typed items.
    pub fn array(elem: &str, items: Vec<Value>) -> Value {
        Value::Array {
            elem: elem.to_string(),
            items,
        }
    }

    /// `a(sv)`: name/variant pairs, the shape of systemd's unit property lists.
    pub fn properties(props: Vec<(String, Value)>) -> Value {
        Value::array(
            "(sv)",
            props
                .into_iter()
                .map(|(k, v)| Value::Struct(vec![Value::Str(k), Value::variant(v)]))
                .collect(),
        )
    }

    /// This value's type signature, e.g. "a(sv)".
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I16(_) => "n".into(),
            Value::U16(_) => "q".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::Str(_) => "s".into(),
            Value::ObjectPath(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::UnixFd(_) => "h".into(),
            Value::Array { elem, .. } => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    /// The text of a string, object path or signature.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::U32(v) => Some(*v),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::U64(v) => Some(*v),
            _ => None,
        }
    }

    /// The items of an array.
    pub fn items(&self) -> Option<&[Value]> {
        match self {
            Value::Array { items, .. } => Some(items),
            _ => None,
        }
    }

    /// The value inside a variant (the value itself if it is not one).
    pub fn unwrap_variant(&self) -> &Value {
        match self {
            Value::Variant(v) => v.unwrap_variant(),
            v => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_of_nested_values() {
        let props = Value::properties(vec![("PIDs".into(), Value::array("u", vec![]))]);
        assert_eq!(props.signature(), "a(sv)");
        let aux = Value::array("(sa(sv))", vec![]);
        assert_eq!(aux.signature(), "a(sa(sv))");
        let dict = Value::array(
            "{sv}",
            vec![Value::DictEntry(
                Box::new(Value::str("k")),
                Box::new(Value::variant(Value::U64(1))),
            )],
        );
        assert_eq!(dict.signature(), "a{sv}");
        assert_eq!(dict.items().unwrap()[0].signature(), "{sv}");
    }

    #[test]
    fn accessors_see_through_variants() {
        let v = Value::variant(Value::variant(Value::str("252")));
        assert_eq!(v.unwrap_variant().as_str(), Some("252"));
        assert_eq!(Value::U32(7).as_u32(), Some(7));
        assert_eq!(Value::U64(7).as_u32(), None);
    }
}
