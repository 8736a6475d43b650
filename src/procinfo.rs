//! What hull reads about a process from /proc: its state and start time (field 22 of
//! /proc/PID/stat), so a recorded pid is never mistaken for a reused one.

/// (state letter, start time in clock ticks since boot) of `pid`, or `None` if gone.
pub fn stat(pid: i32) -> Option<(char, u64)> {
    if pid <= 0 {
        return None;
    }
    let s = crate::kfile::read(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&s)
}

/// Parse a /proc/PID/stat line. The command name (field 2) may contain spaces and
/// parentheses, so fields are counted from the last ')'.
pub fn parse_stat(s: &str) -> Option<(char, u64)> {
    let rest = &s[s.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    // `rest` starts at field 3 (state); field 22 is 19 further on.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether `pid` is alive (not a zombie) and is the process that started at `start_time`.
pub fn is_alive(pid: i32, start_time: u64) -> bool {
    matches!(stat(pid), Some((st, t)) if t == start_time && st != 'Z' && st != 'X')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_spaces_and_parens() {
        let line = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 \
                    1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        assert_eq!(parse_stat(line), Some(('S', 98765)));
    }

    #[test]
    fn own_process_is_alive_and_a_wrong_start_time_is_not() {
        let me = std::process::id() as i32;
        let (_, t) = stat(me).unwrap();
        assert!(is_alive(me, t));
        assert!(!is_alive(me, t + 1));
        assert!(stat(-1).is_none());
    }
}
