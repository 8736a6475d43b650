//! Type signatures: split one into its single complete types, checking the specification's
//! rules on the way (known type codes, at most 255 bytes, arrays and structs nested at most
//! 32 deep each, non-empty structs, dict entries only as array elements with a basic key),
//! and the alignment each type code needs on the wire.

use anyhow::{bail, Result};

/// A signature's maximum length in bytes.
pub const MAX_LEN: usize = 255;
const MAX_DEPTH: u32 = 32;
/// Type codes of the basic types (the only ones allowed as dict keys).
const BASIC: &[u8] = b"ybnqiuxtdsogh";

/// The single complete types of `sig`, in order: "sa(sv)" gives ["s", "a(sv)"].
pub fn split(sig: &str) -> Result<Vec<&str>> {
    if sig.len() > MAX_LEN {
        bail!(
            "D-Bus signature of {} bytes: longer than {MAX_LEN}",
            sig.len()
        );
    }
    let b = sig.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let n = complete_len(b, i, 0, 0)
            .map_err(|e| anyhow::anyhow!("D-Bus signature {sig:?}: {e}"))?;
        out.push(&sig[i..i + n]);
        i += n;
    }
    Ok(out)
}

/// `sig` as exactly one complete type.
pub fn single(sig: &str) -> Result<&str> {
    match split(sig)?.as_slice() {
        [one] => Ok(one),
        _ => bail!("D-Bus signature {sig:?}: not a single complete type"),
    }
}

/// The length of the single complete type starting at `b[i]`.
fn complete_len(b: &[u8], i: usize, arrays: u32, structs: u32) -> Result<usize, String> {
    let Some(&c) = b.get(i) else {
        return Err("ends inside a container type".into());
    };
    match c {
        c if BASIC.contains(&c) || c == b'v' => Ok(1),
        b'a' => {
            if arrays >= MAX_DEPTH {
                return Err(format!("arrays nested deeper than {MAX_DEPTH}"));
            }
            if b.get(i + 1) != Some(&b'{') {
                return Ok(1 + complete_len(b, i + 1, arrays + 1, structs)?);
            }
            if structs >= MAX_DEPTH {
                return Err(format!("structs nested deeper than {MAX_DEPTH}"));
            }
            match b.get(i + 2) {
                Some(k) if BASIC.contains(k) => {}
                _ => return Err("a dict entry's key must be a basic type".into()),
            }
            let v = complete_len(b, i + 3, arrays + 1, structs + 1)?;
            if b.get(i + 3 + v) != Some(&b'}') {
                return Err("a dict entry must hold exactly a key and a value".into());
            }
            Ok(4 + v)
        }
        b'(' => {
            if structs >= MAX_DEPTH {
                return Err(format!("structs nested deeper than {MAX_DEPTH}"));
            }
            let mut j = i + 1;
            if b.get(j) == Some(&b')') {
                return Err("empty struct".into());
            }
            while b.get(j) != Some(&b')') {
                j += complete_len(b, j, arrays, structs + 1)?;
            }
            Ok(j + 1 - i)
        }
        b'{' => Err("dict entry outside an array".into()),
        c => Err(format!("unknown type code {:?}", c as char)),
    }
}

/// The alignment on the wire of a value whose type code is `code`.
pub fn alignment(code: u8) -> usize {
    match code {
        b'n' | b'q' => 2,
        b'b' | b'i' | b'u' | b's' | b'o' | b'a' | b'h' => 4,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        // y, g, v
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_split_into_complete_types() {
        assert_eq!(
            split("ssa(sv)a(sa(sv))").unwrap(),
            ["s", "s", "a(sv)", "a(sa(sv))"]
        );
        assert_eq!(split("a{sv}aay").unwrap(), ["a{sv}", "aay"]);
        assert_eq!(split("").unwrap(), Vec::<&str>::new());
        assert_eq!(single("(uoss)").unwrap(), "(uoss)");
    }

    #[test]
    fn invalid_signatures_are_refused() {
        for bad in ["a", "(", "()", "(s", "{sv}", "a{vs}", "a{sss}", "z", "a{s}"] {
            assert!(split(bad).is_err(), "{bad:?} accepted");
        }
        assert!(single("ss").is_err());
        let deep_arrays = "a".repeat(33) + "y";
        assert!(split(&deep_arrays).is_err());
        assert!(split(&("a".repeat(32) + "y")).is_ok());
        let deep_structs = "(".repeat(33) + "y" + &")".repeat(33);
        assert!(split(&deep_structs).is_err());
        assert!(split(&"y".repeat(256)).is_err());
    }

    #[test]
    fn alignments_follow_the_specification() {
        let want = [
            (b'y', 1),
            (b'b', 4),
            (b'n', 2),
            (b'q', 2),
            (b'i', 4),
            (b'u', 4),
            (b'x', 8),
            (b't', 8),
            (b'd', 8),
            (b's', 4),
            (b'o', 4),
            (b'g', 1),
            (b'a', 4),
            (b'(', 8),
            (b'{', 8),
            (b'v', 1),
            (b'h', 4),
        ];
        for (c, a) in want {
            assert_eq!(alignment(c), a, "{}", c as char);
        }
    }
}
