//! What a plain (unquoted) YAML scalar means, as far as the merge needs to know.
//!
//! JSON keeps no YAML styles, but one of them still shows in kustomize's output: a string the
//! target could only have written quoted keeps its quotes when the patch replaces it (see
//! `Tree::set_field`).

/// Words yaml.v3 reads as null, booleans or special floats.
const WORDS: [&str; 23] = [
    "", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE", ".inf",
    ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN",
];

/// Whether yaml.v3 reads this text, written plain, as something other than a string: null,
/// a boolean, an integer (decimal, `0x`, `0o`, `0b` or leading-zero octal, underscores
/// ignored) or a float. (Timestamps are left out: kustomize turns them into strings anyway.)
pub(crate) fn reads_as_non_string(text: &str) -> bool {
    if WORDS.contains(&text) {
        return true;
    }
    // yaml.v3 only tries numbers for text starting like one.
    if !text.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '+' | '-' | '.')) {
        return false;
    }
    let plain = text.replace('_', "");
    let digits = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    let with_radix = |prefixes: [&str; 2], radix: u32| {
        prefixes
            .iter()
            .find_map(|p| digits.strip_prefix(p))
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_digit(radix)))
    };
    if with_radix(["0x", "0X"], 16) || with_radix(["0o", "0O"], 8) || with_radix(["0b", "0B"], 2) {
        return true;
    }
    // yaml.v3's float pattern, which also covers decimal (and leading-zero octal) integers:
    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let all_digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let (mantissa, exponent) = match digits.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (digits, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => !frac.is_empty() && all_digits(frac),
        Some((int, frac)) => all_digits(int) && all_digits(frac),
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_strings_are_recognised_as_yaml_v3_reads_them() {
        for text in [
            "", "~", "null", "True", "8080", "-1", "+1_000", "0x1F", "0o17", "0b101", "0755", "08",
            "1.5", ".5", "1e3", "-.inf", ".NaN",
        ] {
            assert!(reads_as_non_string(text), "{text:?}");
        }
        for text in [
            "http",
            "yes",
            "on",
            "1.2.3",
            "0x",
            "1e",
            "e3",
            ".",
            "-",
            "1_a",
            "2001-12-14",
            "_1",
            "--1",
            "+-.inf",
        ] {
            assert!(!reads_as_non_string(text), "{text:?}");
        }
    }
}
