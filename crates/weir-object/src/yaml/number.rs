//! Numbers as Go sees them: `strconv` parsing rules and float formatting.
//!
//! kustomize's numbers pass through Go three times (yaml.v3 resolves the source text, then
//! `encoding/json` prints it, then goyaml.v2 re-reads that text and prints it again), so the
//! digits it writes are whatever those Go functions produce. This module reproduces them.

/// Go `strconv.ParseUint(s, 0, 64)`: optional `0b`/`0o`/`0x` prefix, a leading `0` meaning
/// octal, no sign. The YAML resolvers strip underscores before calling it, so none are accepted.
pub(super) fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let bytes = s.as_bytes();
    let (digits, base) = if bytes[0] == b'0' {
        match bytes.get(1).map(u8::to_ascii_lowercase) {
            Some(b'b') if bytes.len() >= 3 => (&bytes[2..], 2),
            Some(b'o') if bytes.len() >= 3 => (&bytes[2..], 8),
            Some(b'x') if bytes.len() >= 3 => (&bytes[2..], 16),
            // "0" alone is a valid (empty) octal number in Go.
            _ => (&bytes[1..], 8),
        }
    } else {
        (bytes, 10)
    };
    digits.iter().try_fold(0u64, |n, &c| {
        let digit = char::from(c).to_digit(36)?;
        if digit >= base {
            return None;
        }
        n.checked_mul(u64::from(base))?
            .checked_add(u64::from(digit))
    })
}

/// Go `strconv.ParseInt(s, 0, 64)`: an optional sign, then [`parse_uint`]'s syntax.
pub(super) fn parse_int(s: &str) -> Option<i64> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_uint(rest)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Whether `s` matches the YAML resolvers' float pattern
/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
pub(super) fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go `strconv.ParseFloat(s, 64)` for decimal text (the only kind the resolvers pass it):
/// underscores allowed between digits, and out-of-range values rejected as Go rejects them.
pub(super) fn parse_decimal_float(s: &str) -> Option<f64> {
    let cleaned;
    let text = if s.contains('_') {
        if !underscores_ok(s) {
            return None;
        }
        cleaned = s.replace('_', "");
        cleaned.as_str()
    } else {
        s
    };
    if !is_yaml_style_float(text) {
        return None;
    }
    let value: f64 = text.parse().ok()?;
    // Go reports overflow as an error; Rust rounds to infinity.
    value.is_finite().then_some(value)
}

/// Go's rule for underscores in number literals: each one sits between two digits.
fn underscores_ok(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut previous = '^';
    for c in body.chars() {
        previous = match c {
            '0'..='9' => '0',
            '_' if previous == '0' => '_',
            '_' => return false,
            _ if previous == '_' => return false,
            _ => '!',
        };
    }
    previous != '_'
}

/// The shortest decimal digits that round-trip `value` (finite, non-zero), and the position of
/// the decimal point relative to them: `value = 0.DIGITS × 10^point`.
fn shortest_digits(value: f64) -> (String, i32) {
    // Rust's `{:e}` prints the shortest round-tripping digits, as Go's 'g'/-1 formatting does.
    let formatted = format!("{:e}", value.abs());
    let (mantissa, exponent) = formatted.split_once('e').unwrap_or((&formatted, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let exponent: i32 = exponent.parse().unwrap_or(0);
    (digits, exponent + 1)
}

/// Go `strconv.FormatFloat(value, 'g', -1, 64)` for a finite value.
pub(super) fn format_float_g(value: f64) -> String {
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let (digits, point) = shortest_digits(value);
    let sign = if value < 0.0 { "-" } else { "" };
    let exponent = point - 1;
    // With the shortest digits Go switches to exponent form below 1e-4 and from 1e6 (eprec 6).
    if !(-4..6).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{sign}{first}{dot}{rest}e{exp_sign}{:02}",
            exponent.unsigned_abs()
        )
    } else {
        format!("{sign}{}", fixed_notation(&digits, point))
    }
}

/// Digits with the decimal point placed `point` places from the left, zero-padded as needed
/// (Go's %f with the shortest precision).
fn fixed_notation(digits: &str, point: i32) -> String {
    let len = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        format!("0.{zeros}{digits}")
    } else if point >= len {
        let zeros = "0".repeat((point - len) as usize);
        format!("{digits}{zeros}")
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{int}.{frac}")
    }
}

/// The text kustomize prints for a float64 field.
///
/// `encoding/json` writes integral floats below 1e21 as plain integers ('f' format), and
/// goyaml.v2 re-reads those as integers when they fit an int64 or uint64; everything else is
/// re-read as a float and printed with 'g' formatting.
pub(super) fn float_to_yaml(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    if value.fract() == 0.0 && value.abs() < 1e21 {
        let (digits, point) = shortest_digits(value);
        let sign = if value < 0.0 { "-" } else { "" };
        let text = format!("{sign}{}", fixed_notation(&digits, point));
        if parse_int(&text).is_some() || parse_uint(&text).is_some() {
            return text;
        }
    }
    format_float_g(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_integer_syntax() {
        assert_eq!(parse_int("0755"), Some(493));
        assert_eq!(parse_int("0x1F"), Some(31));
        assert_eq!(parse_int("0o17"), Some(15));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("-0"), Some(0));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("08"), None);
        assert_eq!(parse_int("0x"), None);
        assert_eq!(parse_int("-"), None);
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int("9223372036854775808"), None);
        assert_eq!(parse_uint("9223372036854775808"), Some(1 << 63));
        assert_eq!(parse_uint("18446744073709551616"), None);
    }

    #[test]
    fn go_float_syntax() {
        assert!(is_yaml_style_float("1."));
        assert!(is_yaml_style_float("-.5e3"));
        assert!(!is_yaml_style_float("."));
        assert!(!is_yaml_style_float("1e"));
        assert_eq!(parse_decimal_float(".5_0"), Some(0.5));
        assert_eq!(parse_decimal_float("._5"), None);
        assert_eq!(parse_decimal_float("1e400"), None);
        assert_eq!(parse_decimal_float("1e-400"), Some(0.0));
    }

    #[test]
    fn go_g_formatting() {
        assert_eq!(format_float_g(1.5e-7), "1.5e-07");
        assert_eq!(format_float_g(1234567.5), "1.2345675e+06");
        assert_eq!(format_float_g(123456.5), "123456.5");
        assert_eq!(format_float_g(0.0001), "0.0001");
        assert_eq!(format_float_g(0.00001), "1e-05");
        assert_eq!(format_float_g(1e21), "1e+21");
        assert_eq!(format_float_g(-2.5e300), "-2.5e+300");
    }

    #[test]
    fn kustomize_float_output() {
        assert_eq!(float_to_yaml(1.0), "1");
        assert_eq!(float_to_yaml(-0.0), "0");
        assert_eq!(float_to_yaml(0.5), "0.5");
        assert_eq!(float_to_yaml(1e18), "1000000000000000000");
        assert_eq!(float_to_yaml(1e19), "10000000000000000000");
        assert_eq!(float_to_yaml(1e20), "1e+20");
        assert_eq!(
            float_to_yaml(123456789012345678901.0),
            "1.2345678901234568e+20"
        );
        assert_eq!(float_to_yaml(-1e19), "-1e+19");
    }
}
