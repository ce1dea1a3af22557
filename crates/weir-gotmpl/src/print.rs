//! Go's `fmt` printing of template values: `%v` (what `{{ . }}` and `print` show), `Sprint`,
//! `Sprintln` and `Sprintf` with the verbs templates use.

use crate::value::Value;

/// A float64 as Go's `%v` prints it (`strconv.FormatFloat(f, 'g', -1, 64)`): the shortest
/// digits that read back the same, in exponent form when the exponent is below -4 or at least
/// 6 (so `1e+06`, the form Helm users meet with large numbers in values).
pub fn float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    // Shortest round-trip digits and the decimal exponent, from Rust's `{:e}`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        return exponent_form(mantissa, exp);
    }
    format!("{f}")
}

fn exponent_form(mantissa: &str, exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// A value as `%v` prints it (nil as `<nil>`).
pub fn sprint_value(value: &Value, out: &mut String) {
    match value {
        Value::Nil => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(i) => out.push_str(&i.to_string()),
        Value::Float(f) => out.push_str(&float_g(*f)),
        Value::Str(s) => out.push_str(s),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                sprint_value(item, out);
            }
            out.push(']');
        }
        Value::Map(map) => {
            out.push_str("map[");
            for (i, (k, v)) in map.snapshot().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                sprint_value(v, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            out.push_str(o.type_name());
            out.push('}');
        }
    }
}

/// A value as `%v` prints it.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    sprint_value(value, &mut out);
    out
}

/// `fmt.Sprint`: operands printed with `%v`, a space between two operands when neither is a
/// string.
pub fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 && !matches!(arg, Value::Str(_)) && !matches!(args[i - 1], Value::Str(_)) {
            out.push(' ');
        }
        sprint_value(arg, &mut out);
    }
    out
}

/// `fmt.Sprintln`: operands separated by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        sprint_value(arg, &mut out);
    }
    out.push('\n');
    out
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Default)]
struct Spec {
    minus: bool,
    plus: bool,
    zero: bool,
    space: bool,
    sharp: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

fn pad(text: String, spec: &Spec, numeric: bool) -> String {
    let Some(width) = spec.width else {
        return text;
    };
    let len = text.chars().count();
    if len >= width {
        return text;
    }
    let fill = width - len;
    if spec.minus {
        format!("{text}{}", " ".repeat(fill))
    } else if spec.zero && numeric {
        let (sign, digits) = match text.strip_prefix('-') {
            Some(rest) => ("-", rest.to_owned()),
            None => match text.strip_prefix('+') {
                Some(rest) => ("+", rest.to_owned()),
                None => ("", text.clone()),
            },
        };
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{text}", " ".repeat(fill))
    }
}

fn bad_verb(verb: char, arg: &Value) -> String {
    let mut out = format!("%!{verb}({}=", arg.type_name());
    sprint_value(arg, &mut out);
    out.push(')');
    out
}

fn signed(text: String, spec: &Spec, negative: bool) -> String {
    if negative {
        text
    } else if spec.plus {
        format!("+{text}")
    } else if spec.space {
        format!(" {text}")
    } else {
        text
    }
}

/// One verb applied to one operand.
fn format_one(verb: char, spec: &Spec, arg: &Value) -> String {
    match verb {
        'v' => pad(to_string(arg), spec, false),
        's' => match arg {
            Value::Str(_) | Value::List(_) | Value::Map(_) | Value::Nil => {
                let mut text = if matches!(arg, Value::Nil) {
                    "%!s(<nil>)".to_owned()
                } else {
                    to_string(arg)
                };
                if let Some(p) = spec.precision {
                    text = text.chars().take(p).collect();
                }
                pad(text, spec, false)
            }
            _ => bad_verb('s', arg),
        },
        'q' => match arg {
            Value::Str(s) => pad(quote(s), spec, false),
            _ => bad_verb('q', arg),
        },
        'd' => match arg {
            Value::Int(i) => pad(signed(i.to_string(), spec, *i < 0), spec, true),
            _ => bad_verb('d', arg),
        },
        't' => match arg {
            Value::Bool(b) => pad(b.to_string(), spec, false),
            _ => bad_verb('t', arg),
        },
        'f' | 'F' | 'e' | 'g' => {
            let f = match arg {
                Value::Float(f) => *f,
                _ => return bad_verb(verb, arg),
            };
            let text = match verb {
                'e' => {
                    let p = spec.precision.unwrap_or(6);
                    let sci = format!("{f:.p$e}");
                    let (m, e) = sci.split_once('e').unwrap_or((&sci, "0"));
                    let e: i32 = e.parse().unwrap_or(0);
                    exponent_form(m, e)
                }
                'g' => float_g(f),
                _ => format!("{f:.*}", spec.precision.unwrap_or(6)),
            };
            pad(signed(text, spec, f < 0.0), spec, true)
        }
        'x' | 'X' => {
            let text = match arg {
                Value::Int(i) => {
                    if *i < 0 {
                        format!("-{:x}", i.unsigned_abs())
                    } else {
                        format!("{i:x}")
                    }
                }
                Value::Str(s) => s.bytes().map(|b| format!("{b:02x}")).collect(),
                _ => return bad_verb(verb, arg),
            };
            let text = if spec.sharp {
                format!("0x{text}")
            } else {
                text
            };
            let text = if verb == 'X' {
                text.to_uppercase()
            } else {
                text
            };
            pad(text, spec, true)
        }
        'o' => match arg {
            Value::Int(i) => pad(format!("{i:o}"), spec, true),
            _ => bad_verb('o', arg),
        },
        'b' => match arg {
            Value::Int(i) => pad(format!("{i:b}"), spec, true),
            _ => bad_verb('b', arg),
        },
        'c' => match arg {
            Value::Int(i) => char::from_u32(*i as u32)
                .map(|c| pad(c.to_string(), spec, false))
                .unwrap_or_else(|| "\u{FFFD}".into()),
            _ => bad_verb('c', arg),
        },
        'T' => pad(arg.type_name(), spec, false),
        other => bad_verb(other, arg),
    }
}

/// `fmt.Sprintf` with Go's verbs, flags, width and precision, and Go's error notes for a wrong
/// verb (`%!d(string=x)`), a missing operand (`%!d(MISSING)`) and extra ones.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '0' => spec.zero = !spec.minus,
                ' ' => spec.space = true,
                '#' => spec.sharp = true,
                _ => break,
            }
            chars.next();
        }
        let mut width = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() {
                width.push(d);
                chars.next();
            } else {
                break;
            }
        }
        if !width.is_empty() {
            spec.width = width.parse().ok();
        } else if chars.peek() == Some(&'*') {
            chars.next();
            if let Some(Value::Int(w)) = args.get(next) {
                spec.width = usize::try_from(*w).ok();
            }
            next += 1;
        }
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut precision = String::new();
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() {
                    precision.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            spec.precision = Some(precision.parse().unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match args.get(next) {
            Some(arg) => out.push_str(&format_one(verb, &spec, arg)),
            None => out.push_str(&format!("%!{verb}(MISSING)")),
        }
        next += 1;
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, arg) in args[next..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&arg.type_name());
            out.push('=');
            sprint_value(arg, &mut out);
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go_does() {
        for (f, want) in [
            (2.0, "2"),
            (1.5, "1.5"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-3.25, "-3.25"),
            (0.1, "0.1"),
        ] {
            assert_eq!(float_g(f), want, "{f}");
        }
    }

    #[test]
    fn sprint_spaces_and_composites() {
        let list = Value::list(vec![Value::str("a"), Value::Int(1), Value::Nil]);
        assert_eq!(to_string(&list), "[a 1 <nil>]");
        let map = Value::map(
            [
                ("b".to_owned(), Value::Int(2)),
                ("a".to_owned(), Value::str("x")),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(to_string(&map), "map[a:x b:2]");
        assert_eq!(sprint(&[Value::Int(1), Value::Int(2)]), "1 2");
        assert_eq!(sprint(&[Value::str("a"), Value::Int(2)]), "a2");
        assert_eq!(sprintln(&[Value::str("a"), Value::Int(2)]), "a 2\n");
    }

    #[test]
    fn sprintf_verbs() {
        let s = |f: &str, a: Vec<Value>| sprintf(f, &a);
        assert_eq!(s("%s-%s", vec!["a".into(), "b".into()]), "a-b");
        assert_eq!(s("%d", vec![Value::Int(42)]), "42");
        assert_eq!(s("%05d", vec![Value::Int(42)]), "00042");
        assert_eq!(s("%-4d|", vec![Value::Int(7)]), "7   |");
        assert_eq!(s("%q", vec!["a\"b".into()]), "\"a\\\"b\"");
        assert_eq!(s("%v", vec![Value::Float(1.0)]), "1");
        assert_eq!(s("%.2f", vec![Value::Float(1.0)]), "1.00");
        assert_eq!(s("%d", vec!["x".into()]), "%!d(string=x)");
        assert_eq!(s("%s %s", vec!["x".into()]), "x %!s(MISSING)");
        assert_eq!(s("%s", vec!["x".into(), Value::Int(1)]), "x%!(EXTRA int=1)");
        assert_eq!(s("100%%", vec![]), "100%");
        assert_eq!(s("%x", vec![Value::Int(255)]), "ff");
        assert_eq!(s("%t", vec![Value::Bool(true)]), "true");
    }
}
