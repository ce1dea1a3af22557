//! YAML timestamps the way the Go YAML libraries see them.
//!
//! yaml.v3 resolves a plain scalar such as `2001-12-14` to a `time.Time` when it parses with one
//! of four Go layouts; `encoding/json` then prints that time as RFC 3339 with nanoseconds, so
//! kustomize turns `date: 2001-12-14` into `date: "2001-12-14T00:00:00Z"`. goyaml.v2 uses the
//! same test to decide that such a string must be quoted on output.

/// A parsed timestamp, kept as the wall clock and zone offset Go would keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Timestamp {
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanosecond: u32,
    /// Offset east of UTC, in seconds.
    offset: i32,
}

/// How the text after the seconds may look in one of the accepted layouts.
#[derive(Clone, Copy)]
enum Layout {
    /// `2006-1-2T15:4:5.999999999Z07:00` (also with a lowercase `t`).
    DateTimeZone(u8),
    /// `2006-1-2 15:4:5.999999999`, in UTC.
    DateSpaceTime,
    /// `2006-1-2`.
    Date,
}

/// yaml.v3/v2 `parseTimestamp`: the text must start with four digits and a dash, then match one
/// of the layouts completely.
pub(super) fn parse(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return None;
    }
    [
        Layout::DateTimeZone(b'T'),
        Layout::DateTimeZone(b't'),
        Layout::DateSpaceTime,
        Layout::Date,
    ]
    .into_iter()
    .find_map(|layout| parse_layout(b, layout))
}

/// Go's `getnum(s, false)`: one or two digits.
fn number(b: &[u8], i: &mut usize) -> Option<u32> {
    let first = b.get(*i).filter(|c| c.is_ascii_digit())?;
    let mut n = u32::from(first - b'0');
    *i += 1;
    if let Some(second) = b.get(*i).filter(|c| c.is_ascii_digit()) {
        n = n * 10 + u32::from(second - b'0');
        *i += 1;
    }
    Some(n)
}

fn literal(b: &[u8], i: &mut usize, c: u8) -> Option<()> {
    (b.get(*i) == Some(&c)).then(|| *i += 1)
}

fn parse_layout(b: &[u8], layout: Layout) -> Option<Timestamp> {
    let year = b[..4]
        .iter()
        .fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
    let mut i = 5;
    let month = number(b, &mut i)?;
    literal(b, &mut i, b'-')?;
    let day = number(b, &mut i)?;
    let mut stamp = Timestamp {
        year,
        month,
        day,
        hour: 0,
        minute: 0,
        second: 0,
        nanosecond: 0,
        offset: 0,
    };
    match layout {
        Layout::Date => {}
        Layout::DateTimeZone(separator) => {
            literal(b, &mut i, separator)?;
            clock(b, &mut i, &mut stamp)?;
            stamp.offset = zone(b, &mut i)?;
        }
        Layout::DateSpaceTime => {
            // A space in a Go layout matches any run of spaces (at least one).
            literal(b, &mut i, b' ')?;
            while b.get(i) == Some(&b' ') {
                i += 1;
            }
            clock(b, &mut i, &mut stamp)?;
        }
    }
    let valid = i == b.len()
        && (1..=12).contains(&stamp.month)
        && stamp.day >= 1
        && stamp.day <= days_in_month(stamp.year, stamp.month);
    valid.then_some(stamp)
}

/// `15:4:5` with an optional fraction of up to nine significant digits (more are read but
/// ignored, as Go does).
fn clock(b: &[u8], i: &mut usize, stamp: &mut Timestamp) -> Option<()> {
    stamp.hour = number(b, i).filter(|h| *h < 24)?;
    literal(b, i, b':')?;
    stamp.minute = number(b, i).filter(|m| *m < 60)?;
    literal(b, i, b':')?;
    stamp.second = number(b, i).filter(|s| *s < 60)?;
    let fraction_follows =
        matches!(b.get(*i), Some(b'.' | b',')) && b.get(*i + 1).is_some_and(u8::is_ascii_digit);
    if fraction_follows {
        *i += 1;
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        let digits = &b[start..(*i).min(start + 9)];
        let scale = 10u32.pow(9 - digits.len() as u32);
        let value = digits
            .iter()
            .fold(0u32, |n, c| n * 10 + u32::from(c - b'0'));
        stamp.nanosecond = value * scale;
    }
    Some(())
}

/// `Z07:00`: either `Z` or `±hh:mm`.
fn zone(b: &[u8], i: &mut usize) -> Option<i32> {
    if b.get(*i) == Some(&b'Z') {
        *i += 1;
        return Some(0);
    }
    let rest = b.get(*i..*i + 6)?;
    let two = |s: &[u8]| -> Option<i32> {
        s.iter()
            .all(u8::is_ascii_digit)
            .then(|| i32::from(s[0] - b'0') * 10 + i32::from(s[1] - b'0'))
    };
    if rest[3] != b':' {
        return None;
    }
    let hours = two(&rest[1..3]).filter(|h| *h <= 24)?;
    let minutes = two(&rest[4..6]).filter(|m| *m <= 60)?;
    let offset = (hours * 60 + minutes) * 60;
    *i += 6;
    match rest[0] {
        b'+' => Some(offset),
        b'-' => Some(-offset),
        _ => None,
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Timestamp {
    /// Go's `time.Time.MarshalJSON` text (RFC 3339 with nanoseconds, trailing zeros dropped),
    /// or `None` where Go refuses to marshal (a zone offset of 24 hours or more).
    pub(super) fn to_rfc3339_nano(self) -> Option<String> {
        let mut text = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if self.nanosecond > 0 {
            let fraction = format!("{:09}", self.nanosecond);
            text.push('.');
            text.push_str(fraction.trim_end_matches('0'));
        }
        if self.offset == 0 {
            text.push('Z');
        } else {
            let minutes = self.offset.unsigned_abs() / 60;
            if minutes / 60 >= 24 {
                return None;
            }
            let sign = if self.offset < 0 { '-' } else { '+' };
            text.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(text: &str) -> Option<String> {
        parse(text).and_then(Timestamp::to_rfc3339_nano)
    }

    #[test]
    fn layouts_go_accepts() {
        assert_eq!(json("2001-12-14").as_deref(), Some("2001-12-14T00:00:00Z"));
        assert_eq!(json("2001-1-2").as_deref(), Some("2001-01-02T00:00:00Z"));
        assert_eq!(
            json("2001-12-14T21:59:43.10Z").as_deref(),
            Some("2001-12-14T21:59:43.1Z")
        );
        assert_eq!(
            json("2001-12-14t21:59:43.10-05:00").as_deref(),
            Some("2001-12-14T21:59:43.1-05:00")
        );
        assert_eq!(
            json("2001-12-14  21:59:43.1234567891").as_deref(),
            Some("2001-12-14T21:59:43.123456789Z")
        );
        assert_eq!(
            json("2001-12-14T01:02:03+00:00").as_deref(),
            Some("2001-12-14T01:02:03Z")
        );
    }

    #[test]
    fn text_go_rejects() {
        for text in [
            "2001-13-01",
            "2001-02-29",
            "2001-12-144",
            "2001-12-14T21:59:43",
            "2001-12-14 21:59:43 -5",
            "01-12-14",
            "2001-12-14T25:00:00Z",
        ] {
            assert_eq!(parse(text), None, "{text}");
        }
        assert!(parse("2000-02-29").is_some());
        assert_eq!(json("2001-12-14T01:02:03+24:00"), None);
    }
}
