//! RFC 3339 UTC timestamps with nanoseconds (`2026-11-22T08:00:00.000000000Z`) formatted
//! into a fixed buffer, so stamping a log line never allocates.

/// Length of a formatted timestamp.
pub const LEN: usize = 30;

/// Format `secs`/`nanos` since the epoch into `out`.
pub fn format(secs: i64, nanos: u32, out: &mut [u8; LEN]) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut put = |at: usize, v: u64, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, y.clamp(0, 9999) as u64, 4);
    put(5, m as u64, 2);
    put(8, d as u64, 2);
    put(11, (rem / 3600) as u64, 2);
    put(14, (rem / 60 % 60) as u64, 2);
    put(17, (rem % 60) as u64, 2);
    put(20, nanos.min(999_999_999) as u64, 9);
    out[4] = b'-';
    out[7] = b'-';
    out[10] = b'T';
    out[13] = b':';
    out[16] = b':';
    out[19] = b'.';
    out[29] = b'Z';
}

/// The current time, formatted.
pub fn now(out: &mut [u8; LEN]) {
    let (s, n) = realtime();
    format(s, n, out);
}

/// Wall-clock time as (seconds, nanoseconds) since the epoch, without allocating.
pub fn realtime() -> (i64, u32) {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() as i64, d.subsec_nanos())
}

/// `secs`/`nanos` as RFC 3339 UTC: with nanoseconds (runc's `created`), or to the second.
pub fn rfc3339(secs: i64, nanos: u32, with_nanos: bool) -> String {
    let mut b = [0u8; LEN];
    format(secs, nanos, &mut b);
    let text = std::str::from_utf8(&b).expect("ASCII digits and separators");
    if with_nanos {
        text.to_string()
    } else {
        format!("{}Z", &text[..19])
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(s: i64, n: u32) -> String {
        let mut b = [0u8; LEN];
        format(s, n, &mut b);
        String::from_utf8(b.to_vec()).unwrap()
    }

    #[test]
    fn formats_epoch_leap_day_and_nanoseconds() {
        assert_eq!(fmt(0, 0), "1970-01-01T00:00:00.000000000Z");
        // 2024-02-29T12:34:56Z
        assert_eq!(fmt(1_709_210_096, 7), "2024-02-29T12:34:56.000000007Z");
        // 2026-11-22T08:00:00Z
        assert_eq!(
            fmt(1_795_334_400, 123_456_789),
            "2026-11-22T08:00:00.123456789Z"
        );
        assert_eq!(rfc3339(1_709_210_096, 7, false), "2024-02-29T12:34:56Z");
        assert_eq!(
            rfc3339(1_709_210_096, 7, true),
            "2024-02-29T12:34:56.000000007Z"
        );
    }
}
