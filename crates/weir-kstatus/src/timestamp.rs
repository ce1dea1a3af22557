//! RFC 3339 timestamps as Kubernetes writes them (`2024-05-01T12:00:00Z`), read into
//! nanoseconds since the Unix epoch.
//!
//! Only the Pod rule needs a time, and only to compare it with the clock, so a small exact
//! parser is enough and keeps the crate free of a date library.

use std::time::SystemTime;

/// Nanoseconds since 1970-01-01T00:00:00Z (negative before it).
pub(crate) type Nanos = i128;

const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// `time` as nanoseconds since the epoch.
pub(crate) fn nanos(time: SystemTime) -> Nanos {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `None` for anything else.
pub(crate) fn parse(text: &str) -> Option<Nanos> {
    let bytes = text.as_bytes();
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[10] != b'T' {
        return None;
    }
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let year = digits(bytes, 0, 4)?;
    let month = digits(bytes, 5, 2)?;
    let day = digits(bytes, 8, 2)?;
    let hour = digits(bytes, 11, 2)?;
    let minute = digits(bytes, 14, 2)?;
    let second = digits(bytes, 17, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }

    let mut rest = &bytes[19..];
    let mut fraction: i128 = 0;
    if let [b'.', tail @ ..] = rest {
        let count = tail.iter().take_while(|b| b.is_ascii_digit()).count();
        if count == 0 {
            return None;
        }
        // Digits past nanoseconds cannot change the comparison this crate makes.
        for (position, digit) in tail[..count].iter().enumerate() {
            if position < 9 {
                fraction = fraction * 10 + i128::from(digit - b'0');
            }
        }
        fraction *= 10_i128.pow(9_u32.saturating_sub(count as u32));
        rest = &tail[count..];
    }

    let offset_seconds = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let hours = digits(rest, 1, 2)?;
            let minutes = digits(rest, 4, 2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            if *sign == b'-' { -offset } else { offset }
        }
        _ => return None,
    };

    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds;
    Some(i128::from(seconds) * NANOS_PER_SECOND + fraction)
}

/// The decimal number in `bytes[start..start + len]`, all digits.
fn digits(bytes: &[u8], start: usize, len: usize) -> Option<i64> {
    let field = bytes.get(start..start + len)?;
    field.iter().try_fold(0_i64, |value, byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + i64::from(byte - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date. Counts in 400-year eras (each
/// exactly 146,097 days) starting on March 1st, so that the leap day falls at a year's end.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719,468 days separate 0000-03-01 from 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn seconds(text: &str) -> Option<i128> {
        parse(text).map(|nanos| nanos.div_euclid(NANOS_PER_SECOND))
    }

    #[test]
    fn parses_kubernetes_timestamps() {
        assert_eq!(seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(seconds("2024-05-01T12:00:00Z"), Some(1_714_564_800));
        assert_eq!(seconds("2000-02-29T23:59:59Z"), Some(951_868_799));
        assert_eq!(seconds("1969-12-31T23:59:59Z"), Some(-1));
        assert_eq!(
            parse("2024-05-01T12:00:00.25Z"),
            Some(1_714_564_800 * NANOS_PER_SECOND + 250_000_000)
        );
        assert_eq!(
            parse("2024-05-01T12:00:00.1234567891Z"),
            Some(1_714_564_800 * NANOS_PER_SECOND + 123_456_789)
        );
    }

    #[test]
    fn applies_offsets() {
        assert_eq!(seconds("2024-05-01T14:00:00+02:00"), Some(1_714_564_800));
        assert_eq!(seconds("2024-05-01T07:30:00-04:30"), Some(1_714_564_800));
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for text in [
            "",
            "2024-05-01",
            "2024-05-01 12:00:00Z",
            "2024-05-01T12:00:00",
            "2024-13-01T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00:00+2:00",
            "2024-05-01T12:00:00Zjunk",
            "２０２４-05-01T12:00:00Z",
            "+024-05-01T12:00:00Z",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn system_time_round_trips() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_millis(1_714_564_800_500);
        assert_eq!(nanos(time), parse("2024-05-01T12:00:00.5Z").expect("valid"));
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert_eq!(nanos(before), -NANOS_PER_SECOND);
    }
}
