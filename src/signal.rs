//! Signal names and numbers as `kill` accepts them: `KILL`, `SIGKILL`, `9`, `SIGRTMIN+3`.

use anyhow::{bail, Result};
use nix::sys::signal::Signal;

/// Parse a signal given by name (with or without `SIG`, any case) or number.
pub fn parse(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=libc::SIGRTMAX()).contains(&n) {
            return Ok(n);
        }
        bail!(
            "invalid signal {s:?}: number out of range 1..{}",
            libc::SIGRTMAX()
        );
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(s, libc::SIGRTMIN(), rest, 1);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(s, libc::SIGRTMAX(), rest, -1);
    }
    let full = format!("SIG{name}");
    match full.parse::<Signal>() {
        Ok(sig) => Ok(sig as i32),
        Err(_) => bail!("invalid signal {s:?}: not a known signal name or number"),
    }
}

fn rt(orig: &str, base: i32, rest: &str, dir: i32) -> Result<i32> {
    let off = match rest {
        "" => 0,
        r => {
            let (sign, num) = r.split_at(1);
            let n: i32 = num
                .parse()
                .map_err(|_| anyhow::anyhow!("invalid signal {orig:?}"))?;
            match (sign, dir) {
                ("+", 1) => n,
                ("-", -1) => -n,
                _ => bail!("invalid signal {orig:?}"),
            }
        }
    };
    let n = base + off;
    if !(libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n) {
        bail!("invalid signal {orig:?}: out of the realtime range");
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGKILL").unwrap(), 9);
        assert_eq!(parse("sigterm").unwrap(), 15);
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("SIGRTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert_eq!(parse("RTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "0", "65", "NOPE", "SIGRTMIN+99", "RTMIN-1", "-9"] {
            assert!(parse(s).is_err(), "{s:?}");
        }
    }
}
