//! Sprig v3's functions that charts use most, with Sprig's semantics (argument order for
//! pipelines, `default`/`empty` truth, `dict`/`list` helpers, string helpers, arithmetic on
//! int64, type tests), plus Helm's `toYaml`/`toJson`/`fromJson`/`required`/`fail`.
//! [`register`] adds them to a template set.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::exec::{Func, Templates, want as args_n};
use crate::print;
use crate::value::Value;

type R = Result<Value, String>;

/// Sprig's `toString`: strings as they are, everything else as `%v`.
fn string_of(v: &Value) -> String {
    match v {
        Value::Str(s) => s.to_string(),
        Value::Nil => String::new(),
        other => print::to_string(other),
    }
}

/// The bytes a string-taking function works on (binary strings included).
fn bytes_of(v: &Value) -> Vec<u8> {
    v.as_bytes().unwrap_or_else(|| string_of(v).into_bytes())
}

/// Sprig's `toInt64` conversion (cast.ToInt64 semantics, lenient).
fn int_of(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::Str(s) => {
            let t = s.trim();
            t.parse::<i64>()
                .ok()
                .or_else(|| t.parse::<f64>().ok().map(|f| f as i64))
                .unwrap_or(0)
        }
        _ => 0,
    }
}

fn float_of(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Str(s) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// Sprig's `empty`: Go's zero values are empty.
fn empty(v: &Value) -> bool {
    !v.truthy()
}

fn list_of(v: &Value) -> Result<Vec<Value>, String> {
    match v {
        Value::List(items) => Ok(items.to_vec()),
        Value::Nil => Ok(Vec::new()),
        other => Err(format!("cannot use {} as a list", other.type_name())),
    }
}

fn map_of(v: &Value) -> Result<BTreeMap<String, Value>, String> {
    match v {
        Value::Map(m) => Ok(m.snapshot()),
        Value::Nil => Ok(BTreeMap::new()),
        other => Err(format!("cannot use {} as a dict", other.type_name())),
    }
}

/// Sprig's `indent`: every line prefixed with `n` spaces.
fn indent(n: i64, text: &str) -> String {
    let pad = " ".repeat(usize::try_from(n).unwrap_or(0));
    format!("{pad}{}", text.replace('\n', &format!("\n{pad}")))
}

/// Deep merge of `src` into `dst`: keys missing in `dst` (or all, with `overwrite`) come from
/// `src`; maps merge recursively (mergo semantics as Sprig uses them).
fn merge_into(dst: &mut BTreeMap<String, Value>, src: &BTreeMap<String, Value>, overwrite: bool) {
    for (k, v) in src {
        match (dst.get_mut(k), v) {
            (Some(Value::Map(d)), Value::Map(s)) => {
                let mut merged = d.snapshot();
                merge_into(&mut merged, &s.snapshot(), overwrite);
                *d = crate::value::Dict::new(merged);
            }
            (Some(existing), _) => {
                if overwrite || empty(existing) && !matches!(existing, Value::Bool(false)) {
                    *existing = v.clone();
                }
            }
            (None, _) => {
                dst.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A JSON value for a template value (numbers: integral floats as integers, as Go's
/// encoding/json prints them).
pub fn to_json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Nil => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                serde_json::Value::from(*f as i64)
            } else {
                serde_json::Number::from_f64(*f)
                    .map(serde_json::Value::Number)
                    .unwrap_or(serde_json::Value::Null)
            }
        }
        Value::Str(s) => serde_json::Value::String(s.to_string()),
        Value::List(items) => serde_json::Value::Array(items.iter().map(to_json_value).collect()),
        Value::Map(map) => serde_json::Value::Object(
            map.snapshot()
                .iter()
                .map(|(k, v)| (k.clone(), to_json_value(v)))
                .collect(),
        ),
        Value::Object(o) => serde_json::Value::String(format!("{{{}}}", o.type_name())),
    }
}

/// A template value for a JSON value: numbers become float64, as in Helm.
pub fn from_json_value(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => Value::Float(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::str(s),
        serde_json::Value::Array(items) => Value::list(items.iter().map(from_json_value).collect()),
        serde_json::Value::Object(map) => Value::map(
            map.iter()
                .map(|(k, v)| (k.clone(), from_json_value(v)))
                .collect(),
        ),
    }
}

/// Helm's `toYaml`: sigs.k8s.io/yaml's output without the final newline.
fn to_yaml(v: &Value) -> String {
    let text = weir_object::yaml::to_yaml(&to_json_value(v));
    text.strip_suffix('\n').unwrap_or(&text).to_owned()
}

/// Sprig's `kindOf`: Go's reflect kind names.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Nil => "invalid",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Str(_) => "string",
        Value::List(_) => "slice",
        Value::Map(_) => "map",
        Value::Object(_) => "struct",
    }
}

/// `n` characters from `alphabet`, from a generator seeded by the clock.
fn random(args: &[Value], alphabet: &[u8]) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let n = usize::try_from(int_of(args.first().unwrap_or(&Value::Nil))).unwrap_or(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        x = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15)
            | 1;
    }
    let mut out = String::with_capacity(n);
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(alphabet[(x % alphabet.len() as u64) as usize] as char);
    }
    STATE.store(x, Ordering::Relaxed);
    out
}

/// A Go (RE2) pattern for the `regex` crate: in a character class, a `-` right after a
/// class escape (`[\w-.]`) is a literal for Go.
fn go_regex(pattern: &str) -> Result<regex::Regex, String> {
    let mut out = String::with_capacity(pattern.len());
    let mut in_class = false;
    let mut chars = pattern.chars().peekable();
    let mut after_escape_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                out.push(c);
                if let Some(n) = chars.next() {
                    out.push(n);
                    after_escape_class = in_class && "wdsWDS".contains(n);
                    continue;
                }
            }
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '-' if in_class && after_escape_class => {
                out.push_str("\\-");
                after_escape_class = false;
                continue;
            }
            _ => {}
        }
        after_escape_class = false;
        out.push(c);
    }
    regex::Regex::new(&out).map_err(|e| e.to_string())
}

/// Go's `time.ParseDuration` (`1h30m`, `-5s`, `1.5h`, `300ms`), in nanoseconds.
fn parse_duration(text: &str) -> Option<i64> {
    let (sign, t) = match text.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, text.strip_prefix('+').unwrap_or(text)),
    };
    if t == "0" {
        return Some(0);
    }
    let mut rest = t;
    if rest.is_empty() {
        return None;
    }
    let mut total = 0.0;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let (unit, scale) = [
            ("ns", 1.0),
            ("us", 1e3),
            ("µs", 1e3),
            ("μs", 1e3),
            ("ms", 1e6),
            ("s", 1e9),
            ("m", 60e9),
            ("h", 3600e9),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u))?;
        rest = &rest[unit.len()..];
        total += number * scale;
    }
    Some((sign * total) as i64)
}

/// Seconds since the epoch as a UTC date and time.
fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// Formats a time (seconds since the epoch, UTC) with a Go layout (`2006-01-02T15:04:05Z07:00`).
fn go_date(layout: &str, secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    let mut out = layout.to_owned();
    for (token, value) in [
        ("2006", format!("{y:04}")),
        ("Z07:00", "Z".to_owned()),
        ("-07:00", "+00:00".to_owned()),
        ("MST", "UTC".to_owned()),
        ("01", format!("{mo:02}")),
        ("02", format!("{d:02}")),
        ("15", format!("{h:02}")),
        ("04", format!("{mi:02}")),
        ("05", format!("{s:02}")),
    ] {
        out = out.replace(token, &value);
    }
    out
}

/// The current time, in nanoseconds since the epoch (how times are held).
fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn f(body: impl Fn(&[Value]) -> R + Send + Sync + 'static) -> Func {
    Arc::new(body)
}

/// Helm's `include NAME DATA` (a named template's output, so it can be piped) and
/// `tpl TEXT DATA` (a string rendered as a template, with the chart's named templates).
fn register_helm(templates: &mut Templates) {
    templates.exec_func(
        "include",
        Arc::new(|exec: &mut crate::Exec<'_>, a: &[Value]| {
            args_n("include", a, 2)?;
            let mut out = String::new();
            exec.run(&string_of(&a[0]), &a[1], &mut out)
                .map_err(|e| e.to_string())?;
            Ok(Value::str(out))
        }),
    );
    templates.exec_func(
        "tpl",
        Arc::new(|exec: &mut crate::Exec<'_>, a: &[Value]| {
            args_n("tpl", a, 2)?;
            let mut out = String::new();
            exec.run_text("tpl", &string_of(&a[0]), &a[1], &mut out)
                .map_err(|e| e.to_string())?;
            // Helm strips "<no value>" from rendered text, tpl output included.
            Ok(Value::str(out.replace("<no value>", "")))
        }),
    );
}

/// A copy sharing no map with `v`.
fn deep_copy(v: &Value) -> Value {
    match v {
        Value::Map(m) => Value::map(
            m.snapshot()
                .iter()
                .map(|(k, v)| (k.clone(), deep_copy(v)))
                .collect(),
        ),
        Value::List(items) => Value::list(items.iter().map(deep_copy).collect()),
        other => other.clone(),
    }
}

/// Adds the functions to `templates`.
pub fn register(templates: &mut Templates) {
    register_helm(templates);
    register_sprig(templates);
    crate::crypto::register(templates);
    // Sprig's `must*` forms return the error the plain forms swallow; ours already do.
    for name in [
        "Uniq",
        "RegexReplaceAllLiteral",
        "RegexReplaceAll",
        "RegexMatch",
        "ToJson",
        "ToPrettyJson",
        "FromJson",
        "Append",
        "Prepend",
        "First",
        "Last",
        "Rest",
        "Initial",
        "Has",
        "Without",
        "Compact",
        "Dig",
        "DeepCopy",
    ] {
        let plain = format!("{}{}", name[..1].to_lowercase(), &name[1..]);
        if let Some(func) = templates.function(&plain) {
            templates.func(&format!("must{name}"), func);
        }
    }
}

/// Sprig's functions.
fn register_sprig(templates: &mut Templates) {
    let mut add = |name: &str, func: Func| templates.func(name, func);

    // Defaults and truth.
    add(
        "default",
        f(|a| {
            // `default DEFAULT VALUE`: VALUE when it is set and not empty.
            match a {
                [d] => Ok(d.clone()),
                [d, v] => Ok(if empty(v) { d.clone() } else { v.clone() }),
                _ => Err(format!(
                    "wrong number of args for default: want 2 got {}",
                    a.len()
                )),
            }
        }),
    );
    add("empty", f(|a| Ok(Value::Bool(a.first().is_none_or(empty)))));
    add(
        "coalesce",
        f(|a| Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Nil))),
    );
    add(
        "ternary",
        f(|a| {
            args_n("ternary", a, 3)?;
            Ok(if a[2].truthy() {
                a[0].clone()
            } else {
                a[1].clone()
            })
        }),
    );
    add(
        "required",
        f(|a| {
            args_n("required", a, 2)?;
            match &a[1] {
                Value::Nil => Err(string_of(&a[0])),
                Value::Str(s) if s.is_empty() => Err(string_of(&a[0])),
                v => Ok(v.clone()),
            }
        }),
    );
    add(
        "fail",
        f(|a| Err(a.first().map(string_of).unwrap_or_default())),
    );

    // Strings.
    add(
        "quote",
        f(|a| {
            Ok(Value::str(
                a.iter()
                    .filter(|v| !matches!(v, Value::Nil))
                    .map(|v| print::quote(&string_of(v)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ))
        }),
    );
    add(
        "squote",
        f(|a| {
            Ok(Value::str(
                a.iter()
                    .filter(|v| !matches!(v, Value::Nil))
                    .map(|v| format!("'{}'", string_of(v)))
                    .collect::<Vec<_>>()
                    .join(" "),
            ))
        }),
    );
    add(
        "toString",
        f(|a| Ok(Value::str(a.first().map(string_of).unwrap_or_default()))),
    );
    add(
        "upper",
        f(|a| {
            Ok(Value::str(
                a.first().map(string_of).unwrap_or_default().to_uppercase(),
            ))
        }),
    );
    add(
        "lower",
        f(|a| {
            Ok(Value::str(
                a.first().map(string_of).unwrap_or_default().to_lowercase(),
            ))
        }),
    );
    add(
        "title",
        f(|a| {
            let s = a.first().map(string_of).unwrap_or_default();
            let mut out = String::new();
            let mut start = true;
            for c in s.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = c.is_whitespace();
            }
            Ok(Value::str(out))
        }),
    );
    add(
        "trim",
        f(|a| {
            Ok(Value::str(
                a.first().map(string_of).unwrap_or_default().trim(),
            ))
        }),
    );
    add(
        "trimAll",
        f(|a| {
            args_n("trimAll", a, 2)?;
            let cut: Vec<char> = string_of(&a[0]).chars().collect();
            Ok(Value::str(string_of(&a[1]).trim_matches(cut.as_slice())))
        }),
    );
    add(
        "trimPrefix",
        f(|a| {
            args_n("trimPrefix", a, 2)?;
            let (p, s) = (string_of(&a[0]), string_of(&a[1]));
            Ok(Value::str(s.strip_prefix(p.as_str()).unwrap_or(&s)))
        }),
    );
    add(
        "trimSuffix",
        f(|a| {
            args_n("trimSuffix", a, 2)?;
            let (p, s) = (string_of(&a[0]), string_of(&a[1]));
            Ok(Value::str(s.strip_suffix(p.as_str()).unwrap_or(&s)))
        }),
    );
    add(
        "trunc",
        f(|a| {
            args_n("trunc", a, 2)?;
            let n = int_of(&a[0]);
            let s = string_of(&a[1]);
            let len = s.len() as i64;
            Ok(Value::str(if n < 0 {
                if -n < len {
                    &s[(len + n) as usize..]
                } else {
                    &s[..]
                }
            } else if n < len {
                &s[..n as usize]
            } else {
                &s[..]
            }))
        }),
    );
    add(
        "contains",
        f(|a| {
            args_n("contains", a, 2)?;
            Ok(Value::Bool(string_of(&a[1]).contains(&string_of(&a[0]))))
        }),
    );
    add(
        "hasPrefix",
        f(|a| {
            args_n("hasPrefix", a, 2)?;
            Ok(Value::Bool(string_of(&a[1]).starts_with(&string_of(&a[0]))))
        }),
    );
    add(
        "hasSuffix",
        f(|a| {
            args_n("hasSuffix", a, 2)?;
            Ok(Value::Bool(string_of(&a[1]).ends_with(&string_of(&a[0]))))
        }),
    );
    add(
        "replace",
        f(|a| {
            args_n("replace", a, 3)?;
            Ok(Value::str(
                string_of(&a[2]).replace(&string_of(&a[0]), &string_of(&a[1])),
            ))
        }),
    );
    add(
        "repeat",
        f(|a| {
            args_n("repeat", a, 2)?;
            Ok(Value::str(
                string_of(&a[1]).repeat(usize::try_from(int_of(&a[0])).unwrap_or(0)),
            ))
        }),
    );
    add(
        "indent",
        f(|a| {
            args_n("indent", a, 2)?;
            Ok(Value::str(indent(int_of(&a[0]), &string_of(&a[1]))))
        }),
    );
    add(
        "nindent",
        f(|a| {
            args_n("nindent", a, 2)?;
            Ok(Value::str(format!(
                "\n{}",
                indent(int_of(&a[0]), &string_of(&a[1]))
            )))
        }),
    );
    add(
        "split",
        f(|a| {
            args_n("split", a, 2)?;
            let parts: BTreeMap<String, Value> = string_of(&a[1])
                .split(string_of(&a[0]).as_str())
                .enumerate()
                .map(|(i, p)| (format!("_{i}"), Value::str(p)))
                .collect();
            Ok(Value::map(parts))
        }),
    );
    add(
        "splitList",
        f(|a| {
            args_n("splitList", a, 2)?;
            Ok(Value::list(
                string_of(&a[1])
                    .split(string_of(&a[0]).as_str())
                    .map(Value::str)
                    .collect(),
            ))
        }),
    );
    add(
        "join",
        f(|a| {
            args_n("join", a, 2)?;
            let items = match &a[1] {
                Value::List(items) => items.iter().map(string_of).collect::<Vec<_>>(),
                other => vec![string_of(other)],
            };
            Ok(Value::str(items.join(&string_of(&a[0]))))
        }),
    );
    add(
        "printf",
        f(|a| match a.first() {
            Some(fmt) => Ok(Value::str(print::sprintf(&string_of(fmt), &a[1..]))),
            None => Err("wrong number of args for printf".into()),
        }),
    );
    add(
        "b64enc",
        f(|a| {
            use base64::Engine as _;
            Ok(Value::str(
                base64::engine::general_purpose::STANDARD
                    .encode(bytes_of(a.first().unwrap_or(&Value::Nil))),
            ))
        }),
    );
    add(
        "b64dec",
        f(|a| {
            use base64::Engine as _;
            let s = a.first().map(string_of).unwrap_or_default();
            Ok(Value::str(
                base64::engine::general_purpose::STANDARD
                    .decode(s.as_bytes())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_else(|e| e.to_string()),
            ))
        }),
    );
    add(
        "sha256sum",
        f(|a| {
            use sha2::Digest as _;
            let digest = sha2::Sha256::digest(bytes_of(a.first().unwrap_or(&Value::Nil)));
            Ok(Value::str(
                digest
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>(),
            ))
        }),
    );
    add(
        "regexMatch",
        f(|a| {
            args_n("regexMatch", a, 2)?;
            let re = go_regex(&string_of(&a[0]))?;
            Ok(Value::Bool(re.is_match(&string_of(&a[1]))))
        }),
    );
    add(
        "regexReplaceAll",
        f(|a| {
            args_n("regexReplaceAll", a, 3)?;
            let re = go_regex(&string_of(&a[0]))?;
            // Go's `${1}` expansion matches the regex crate's.
            Ok(Value::str(
                re.replace_all(&string_of(&a[1]), string_of(&a[2]).as_str()),
            ))
        }),
    );

    // Lists and dicts.
    add("list", f(|a| Ok(Value::list(a.to_vec()))));
    add(
        "dict",
        f(|a| {
            let mut map = BTreeMap::new();
            for pair in a.chunks(2) {
                let key = string_of(&pair[0]);
                map.insert(key, pair.get(1).cloned().unwrap_or(Value::Nil));
            }
            Ok(Value::map(map))
        }),
    );
    add(
        "get",
        f(|a| {
            args_n("get", a, 2)?;
            Ok(map_of(&a[0])?
                .get(&string_of(&a[1]))
                .cloned()
                .unwrap_or_else(|| Value::str("")))
        }),
    );
    add(
        "hasKey",
        f(|a| {
            args_n("hasKey", a, 2)?;
            Ok(Value::Bool(map_of(&a[0])?.contains_key(&string_of(&a[1]))))
        }),
    );
    add(
        "keys",
        f(|a| {
            let mut keys: Vec<Value> = Vec::new();
            for m in a {
                keys.extend(map_of(m)?.keys().map(Value::str));
            }
            Ok(Value::list(keys))
        }),
    );
    add(
        "pick",
        f(|a| {
            let map = map_of(a.first().unwrap_or(&Value::Nil))?;
            let wanted: Vec<String> = a.iter().skip(1).map(string_of).collect();
            Ok(Value::map(
                map.into_iter()
                    .filter(|(k, _)| wanted.contains(k))
                    .collect(),
            ))
        }),
    );
    add(
        "omit",
        f(|a| {
            let map = map_of(a.first().unwrap_or(&Value::Nil))?;
            let unwanted: Vec<String> = a.iter().skip(1).map(string_of).collect();
            Ok(Value::map(
                map.into_iter()
                    .filter(|(k, _)| !unwanted.contains(k))
                    .collect(),
            ))
        }),
    );
    add(
        "dig",
        f(|a| {
            // `dig "a" "b" DEFAULT DICT`.
            if a.len() < 3 {
                return Err("dig needs at least three arguments".into());
            }
            let (keys, rest) = a.split_at(a.len() - 2);
            let mut current = a[a.len() - 1].clone();
            for key in keys {
                match &current {
                    Value::Map(m) => match m.get(&string_of(key)) {
                        Some(v) => current = v.clone(),
                        None => return Ok(rest[0].clone()),
                    },
                    _ => return Ok(rest[0].clone()),
                }
            }
            Ok(current)
        }),
    );
    for (name, overwrite) in [
        ("merge", false),
        ("mergeOverwrite", true),
        ("mustMerge", false),
        ("mustMergeOverwrite", true),
    ] {
        add(
            name,
            f(move |a| {
                // Go maps are references: the destination itself changes.
                let mut dst = map_of(a.first().unwrap_or(&Value::Nil))?;
                for src in a.iter().skip(1) {
                    merge_into(&mut dst, &map_of(src)?, overwrite);
                }
                match a.first() {
                    Some(Value::Map(d)) => {
                        d.replace(dst);
                        Ok(Value::Map(d.clone()))
                    }
                    _ => Ok(Value::map(dst)),
                }
            }),
        );
    }
    add(
        "set",
        f(|a| {
            args_n("set", a, 3)?;
            match &a[0] {
                Value::Map(d) => {
                    d.insert(string_of(&a[1]), a[2].clone());
                    Ok(Value::Map(d.clone()))
                }
                other => Err(format!("cannot use {} as a dict", other.type_name())),
            }
        }),
    );
    add(
        "unset",
        f(|a| {
            args_n("unset", a, 2)?;
            match &a[0] {
                Value::Map(d) => {
                    d.remove(&string_of(&a[1]));
                    Ok(Value::Map(d.clone()))
                }
                other => Err(format!("cannot use {} as a dict", other.type_name())),
            }
        }),
    );
    add(
        "values",
        f(|a| {
            Ok(Value::list(
                map_of(a.first().unwrap_or(&Value::Nil))?
                    .into_values()
                    .collect(),
            ))
        }),
    );
    add("tuple", f(|a| Ok(Value::list(a.to_vec()))));
    add(
        "reverse",
        f(|a| {
            let mut l = list_of(a.first().unwrap_or(&Value::Nil))?;
            l.reverse();
            Ok(Value::list(l))
        }),
    );
    add(
        "semver",
        f(|a| {
            let text = a.first().map(string_of).unwrap_or_default();
            let v =
                crate::semver::parts(&text).ok_or_else(|| "Invalid Semantic Version".to_owned())?;
            Ok(Value::map(
                [
                    ("Major".to_owned(), Value::Int(v.0 as i64)),
                    ("Minor".to_owned(), Value::Int(v.1 as i64)),
                    ("Patch".to_owned(), Value::Int(v.2 as i64)),
                    ("Prerelease".to_owned(), Value::str(v.3)),
                    ("Metadata".to_owned(), Value::str(v.4)),
                    ("Original".to_owned(), Value::str(&text)),
                ]
                .into_iter()
                .collect(),
            ))
        }),
    );
    // `helm template` has no cluster: lookups find nothing.
    add("lookup", f(|_| Ok(Value::map(BTreeMap::new()))));
    add(
        "fromYaml",
        f(|a| {
            let text = a.first().map(string_of).unwrap_or_default();
            Ok(
                match weir_object::yaml::parse_documents("fromYaml", &text) {
                    Ok(docs) => docs
                        .first()
                        .map(|d| from_json_value(&d.value))
                        .unwrap_or_else(|| Value::map(BTreeMap::new())),
                    Err(e) => Value::map(
                        [("Error".to_owned(), Value::str(e.to_string()))]
                            .into_iter()
                            .collect(),
                    ),
                },
            )
        }),
    );
    add(
        "fromYamlArray",
        f(|a| {
            let text = a.first().map(string_of).unwrap_or_default();
            Ok(
                match weir_object::yaml::parse_documents("fromYamlArray", &text) {
                    Ok(docs) => docs
                        .first()
                        .map(|d| from_json_value(&d.value))
                        .unwrap_or_else(|| Value::list(Vec::new())),
                    Err(e) => Value::list(vec![Value::str(e.to_string())]),
                },
            )
        }),
    );
    add(
        "regexReplaceAllLiteral",
        f(|a| {
            args_n("regexReplaceAllLiteral", a, 3)?;
            let re = go_regex(&string_of(&a[0]))?;
            Ok(Value::str(re.replace_all(
                &string_of(&a[1]),
                regex::NoExpand(&string_of(&a[2])),
            )))
        }),
    );
    // Times are nanoseconds since the epoch, UTC.
    add("now", f(|_| Ok(Value::Int(now_nanos()))));
    for name in ["dateModify", "mustDateModify"] {
        add(
            name,
            f(move |a| {
                args_n(name, a, 2)?;
                let duration = string_of(&a[0]);
                let Some(nanos) = parse_duration(&duration) else {
                    return Err(format!(
                        "time: invalid duration {}",
                        print::quote(&duration)
                    ));
                };
                Ok(Value::Int(int_of(&a[1]).saturating_add(nanos)))
            }),
        );
    }
    add(
        "date",
        f(|a| {
            args_n("date", a, 2)?;
            Ok(Value::str(go_date(
                &string_of(&a[0]),
                int_of(&a[1]) / 1_000_000_000,
            )))
        }),
    );
    add(
        "dateInZone",
        f(|a| {
            args_n("dateInZone", a, 3)?;
            Ok(Value::str(go_date(
                &string_of(&a[0]),
                int_of(&a[1]) / 1_000_000_000,
            )))
        }),
    );
    add(
        "regexSplit",
        f(|a| {
            args_n("regexSplit", a, 3)?;
            let re = go_regex(&string_of(&a[0]))?;
            let text = string_of(&a[1]);
            let n = int_of(&a[2]);
            let parts: Vec<Value> = if n < 0 {
                re.split(&text).map(Value::str).collect()
            } else {
                re.splitn(&text, n as usize).map(Value::str).collect()
            };
            Ok(Value::list(parts))
        }),
    );
    add(
        "regexFind",
        f(|a| {
            args_n("regexFind", a, 2)?;
            let re = go_regex(&string_of(&a[0]))?;
            Ok(Value::str(
                re.find(&string_of(&a[1])).map(|m| m.as_str()).unwrap_or(""),
            ))
        }),
    );
    add(
        "regexFindAll",
        f(|a| {
            args_n("regexFindAll", a, 3)?;
            let re = go_regex(&string_of(&a[0]))?;
            let text = string_of(&a[1]);
            let n = int_of(&a[2]);
            let all = re.find_iter(&text).map(|m| Value::str(m.as_str()));
            Ok(Value::list(if n < 0 {
                all.collect()
            } else {
                all.take(n as usize).collect()
            }))
        }),
    );
    add(
        "deepCopy",
        f(|a| Ok(deep_copy(a.first().unwrap_or(&Value::Nil)))),
    );
    add(
        "first",
        f(|a| {
            Ok(list_of(a.first().unwrap_or(&Value::Nil))?
                .first()
                .cloned()
                .unwrap_or(Value::Nil))
        }),
    );
    add(
        "last",
        f(|a| {
            Ok(list_of(a.first().unwrap_or(&Value::Nil))?
                .last()
                .cloned()
                .unwrap_or(Value::Nil))
        }),
    );
    add(
        "rest",
        f(|a| {
            Ok(Value::list(
                list_of(a.first().unwrap_or(&Value::Nil))?
                    .into_iter()
                    .skip(1)
                    .collect(),
            ))
        }),
    );
    add(
        "initial",
        f(|a| {
            let mut l = list_of(a.first().unwrap_or(&Value::Nil))?;
            l.pop();
            Ok(Value::list(l))
        }),
    );
    add(
        "append",
        f(|a| {
            args_n("append", a, 2)?;
            let mut l = list_of(&a[0])?;
            l.push(a[1].clone());
            Ok(Value::list(l))
        }),
    );
    add(
        "prepend",
        f(|a| {
            args_n("prepend", a, 2)?;
            let mut l = list_of(&a[0])?;
            l.insert(0, a[1].clone());
            Ok(Value::list(l))
        }),
    );
    add(
        "concat",
        f(|a| {
            let mut out = Vec::new();
            for l in a {
                out.extend(list_of(l)?);
            }
            Ok(Value::list(out))
        }),
    );
    add(
        "has",
        f(|a| {
            args_n("has", a, 2)?;
            Ok(Value::Bool(list_of(&a[1])?.contains(&a[0])))
        }),
    );
    add(
        "uniq",
        f(|a| {
            let mut out: Vec<Value> = Vec::new();
            for v in list_of(a.first().unwrap_or(&Value::Nil))? {
                if !out.contains(&v) {
                    out.push(v);
                }
            }
            Ok(Value::list(out))
        }),
    );
    add(
        "without",
        f(|a| {
            let l = list_of(a.first().unwrap_or(&Value::Nil))?;
            Ok(Value::list(
                l.into_iter().filter(|v| !a[1..].contains(v)).collect(),
            ))
        }),
    );
    add(
        "compact",
        f(|a| {
            Ok(Value::list(
                list_of(a.first().unwrap_or(&Value::Nil))?
                    .into_iter()
                    .filter(|v| !empty(v))
                    .collect(),
            ))
        }),
    );
    add(
        "sortAlpha",
        f(|a| {
            let mut l: Vec<String> = list_of(a.first().unwrap_or(&Value::Nil))?
                .iter()
                .map(string_of)
                .collect();
            l.sort();
            Ok(Value::list(l.into_iter().map(Value::from).collect()))
        }),
    );
    add(
        "until",
        f(|a| {
            Ok(Value::list(
                (0..int_of(a.first().unwrap_or(&Value::Nil)))
                    .map(Value::Int)
                    .collect(),
            ))
        }),
    );

    // Versions.
    add(
        "semverCompare",
        f(|a| {
            args_n("semverCompare", a, 2)?;
            crate::semver::compare(&string_of(&a[0]), &string_of(&a[1])).map(Value::Bool)
        }),
    );

    // Random values (Helm's output with them differs from run to run; so does ours).
    add(
        "randAlphaNum",
        f(|a| {
            Ok(Value::str(random(
                a,
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
            )))
        }),
    );
    add(
        "randAlpha",
        f(|a| {
            Ok(Value::str(random(
                a,
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
            )))
        }),
    );
    add(
        "randNumeric",
        f(|a| Ok(Value::str(random(a, b"0123456789")))),
    );
    add(
        "randAscii",
        f(|a| {
            Ok(Value::str(random(a, b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")))
        }),
    );
    add(
        "uuidv4",
        f(|_| {
            let hex = random(&[Value::Int(32)], b"0123456789abcdef");
            Ok(Value::str(format!(
                "{}-{}-4{}-a{}-{}",
                &hex[..8],
                &hex[8..12],
                &hex[13..16],
                &hex[17..20],
                &hex[20..32]
            )))
        }),
    );

    // Numbers.
    add("add", f(|a| Ok(Value::Int(a.iter().map(int_of).sum()))));
    add(
        "add1",
        f(|a| Ok(Value::Int(int_of(a.first().unwrap_or(&Value::Nil)) + 1))),
    );
    add(
        "sub",
        f(|a| {
            args_n("sub", a, 2)?;
            Ok(Value::Int(int_of(&a[0]) - int_of(&a[1])))
        }),
    );
    add("mul", f(|a| Ok(Value::Int(a.iter().map(int_of).product()))));
    add(
        "div",
        f(|a| {
            args_n("div", a, 2)?;
            let d = int_of(&a[1]);
            if d == 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Ok(Value::Int(int_of(&a[0]) / d))
        }),
    );
    add(
        "mod",
        f(|a| {
            args_n("mod", a, 2)?;
            let d = int_of(&a[1]);
            if d == 0 {
                return Err("runtime error: integer divide by zero".into());
            }
            Ok(Value::Int(int_of(&a[0]) % d))
        }),
    );
    add(
        "max",
        f(|a| Ok(Value::Int(a.iter().map(int_of).max().unwrap_or(0)))),
    );
    add(
        "min",
        f(|a| Ok(Value::Int(a.iter().map(int_of).min().unwrap_or(0)))),
    );
    add(
        "int",
        f(|a| Ok(Value::Int(int_of(a.first().unwrap_or(&Value::Nil))))),
    );
    add(
        "int64",
        f(|a| Ok(Value::Int(int_of(a.first().unwrap_or(&Value::Nil))))),
    );
    add(
        "float64",
        f(|a| Ok(Value::Float(float_of(a.first().unwrap_or(&Value::Nil))))),
    );
    add(
        "atoi",
        f(|a| {
            Ok(Value::Int(
                string_of(a.first().unwrap_or(&Value::Nil))
                    .trim()
                    .parse()
                    .unwrap_or(0),
            ))
        }),
    );

    // Types.
    add(
        "kindOf",
        f(|a| Ok(Value::str(kind_of(a.first().unwrap_or(&Value::Nil))))),
    );
    add(
        "kindIs",
        f(|a| {
            args_n("kindIs", a, 2)?;
            Ok(Value::Bool(kind_of(&a[1]) == string_of(&a[0])))
        }),
    );
    add(
        "typeOf",
        f(|a| {
            Ok(Value::str(
                a.first().map(Value::type_name).unwrap_or_default(),
            ))
        }),
    );
    add(
        "typeIs",
        f(|a| {
            args_n("typeIs", a, 2)?;
            Ok(Value::Bool(a[1].type_name() == string_of(&a[0])))
        }),
    );
    add(
        "deepEqual",
        f(|a| {
            args_n("deepEqual", a, 2)?;
            Ok(Value::Bool(a[0] == a[1]))
        }),
    );

    // Encodings.
    add(
        "toYaml",
        f(|a| Ok(Value::str(to_yaml(a.first().unwrap_or(&Value::Nil))))),
    );
    add(
        "toToml",
        f(|a| {
            Ok(Value::str(crate::toml::to_toml(
                a.first().unwrap_or(&Value::Nil),
            )))
        }),
    );
    add(
        "toJson",
        f(|a| {
            Ok(Value::str(
                to_json_value(a.first().unwrap_or(&Value::Nil)).to_string(),
            ))
        }),
    );
    add(
        "toPrettyJson",
        f(|a| {
            serde_json::to_string_pretty(&to_json_value(a.first().unwrap_or(&Value::Nil)))
                .map(Value::str)
                .map_err(|e| e.to_string())
        }),
    );
    add(
        "fromJson",
        f(|a| {
            let text = a.first().map(string_of).unwrap_or_default();
            Ok(serde_json::from_str::<serde_json::Value>(&text)
                .map(|v| from_json_value(&v))
                .unwrap_or_else(|e| {
                    Value::map(
                        [("Error".to_owned(), Value::str(e.to_string()))]
                            .into_iter()
                            .collect(),
                    )
                }))
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(text: &str, data: Value) -> String {
        let mut t = Templates::new();
        register(&mut t);
        match t.add("t", text).and_then(|()| t.execute("t", &data)) {
            Ok(s) => s,
            Err(e) => format!("ERROR: {e}"),
        }
    }

    fn values() -> Value {
        from_json_value(&serde_json::json!({
            "name": "web", "port": 8080, "labels": {"app": "web", "tier": "front"},
            "list": ["a", "b"], "empty": "", "off": false,
            "nested": {"a": {"b": "deep"}}
        }))
    }

    #[test]
    fn common_chart_idioms() {
        let v = values;
        assert_eq!(render("{{ .missing | default \"x\" }}", v()), "x");
        assert_eq!(render("{{ .name | default \"x\" }}", v()), "web");
        assert_eq!(render("{{ .off | default true }}", v()), "true");
        assert_eq!(render("{{ .name | quote }}", v()), "\"web\"");
        assert_eq!(render("{{ .port | quote }}", v()), "\"8080\"");
        assert_eq!(
            render("x:{{ .labels | toYaml | nindent 2 }}", v()),
            "x:\n  app: web\n  tier: front"
        );
        assert_eq!(render("{{ toYaml .list }}", v()), "- a\n- b");
        assert_eq!(
            render(
                "{{ printf \"%s-%s\" .name \"svc\" | trunc 63 | trimSuffix \"-\" }}",
                v()
            ),
            "web-svc"
        );
        assert_eq!(render("{{ \"abcdef\" | trunc 3 }}", v()), "abc");
        assert_eq!(
            render(
                "{{ hasKey .labels \"app\" }} {{ hasKey .labels \"x\" }}",
                v()
            ),
            "true false"
        );
        assert_eq!(
            render(
                "{{ dig \"nested\" \"a\" \"b\" \"none\" . }} {{ dig \"nested\" \"z\" \"none\" . }}",
                v()
            ),
            "deep none"
        );
        assert_eq!(
            render(
                "{{ $d := dict \"a\" 1 \"b\" \"two\" }}{{ $d.b }} {{ toJson $d }}",
                v()
            ),
            "two {\"a\":1,\"b\":\"two\"}"
        );
        assert_eq!(
            render(
                "{{ merge (dict \"a\" 1) (dict \"a\" 2 \"b\" 3) | toJson }}",
                v()
            ),
            "{\"a\":1,\"b\":3}"
        );
        assert_eq!(
            render(
                "{{ mergeOverwrite (dict \"a\" 1) (dict \"a\" 2) | toJson }}",
                v()
            ),
            "{\"a\":2}"
        );
        assert_eq!(
            render(
                "{{ add 1 2 3 }} {{ sub 5 2 }} {{ mul 2 .port }} {{ div 7 2 }}",
                v()
            ),
            "6 3 16160 3"
        );
        assert_eq!(
            render(
                "{{ kindIs \"map\" .labels }} {{ kindOf .list }} {{ kindOf .port }}",
                v()
            ),
            "true slice float64"
        );
        assert_eq!(
            render("{{ join \",\" .list }} {{ splitList \"-\" \"a-b\" }}", v()),
            "a,b [a b]"
        );
        assert_eq!(
            render(
                "{{ ternary \"y\" \"n\" .off }} {{ empty .empty }} {{ coalesce .empty .name }}",
                v()
            ),
            "n true web"
        );
        assert_eq!(
            render("{{ required \"name is required\" .missing }}", v()),
            "ERROR: template: t:1:3: executing \"t\" at <required \"name is required\" .missing>: error calling required: name is required"
        );
        assert_eq!(
            render("{{ \"hello\" | b64enc }} {{ \"aGVsbG8=\" | b64dec }}", v()),
            "aGVsbG8= hello"
        );
        assert_eq!(
            render(
                "{{ regexReplaceAll \"[^a-z]\" \"a1b2\" \"\" }} {{ \"x\" | upper | repeat 2 }}",
                v()
            ),
            "ab XX"
        );
        assert_eq!(
            render("{{ int .port }} {{ 3 | int64 }} {{ toString 5 }}", v()),
            "8080 3 5"
        );
        assert_eq!(
            render(
                "{{- define \"n\" }}{{ .name }}-x{{ end }}{{ include \"n\" . | upper }}",
                v()
            ),
            "WEB-X"
        );
        assert_eq!(
            render("{{ tpl \"{{ .name }}:{{ .port }}\" . }}", v()),
            "web:8080"
        );
    }
}
