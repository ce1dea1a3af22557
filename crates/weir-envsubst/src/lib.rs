//! Variable substitution as Flux's `postBuild` does it: bash-style `${...}` expressions,
//! nothing else. `$var` without braces is left alone, `$$` stands for `$` (so `$${var}` gives
//! `${var}`), and these forms are understood:
//!
//! | form | value |
//! |---|---|
//! | `${var}` | the variable, or empty when unset (an error in strict mode) |
//! | `${var=def}`, `${var-def}` | `def` when unset |
//! | `${var:=def}`, `${var:-def}` | `def` when unset or empty |
//! | `${#var}` | the length |
//! | `${var^}`, `${var^^}`, `${var,}`, `${var,,}` | first letter or all upper/lower case |
//! | `${var:pos}`, `${var:pos:len}` | a substring (characters) |
//! | `${var#pat}`, `${var##pat}` | without the shortest/longest prefix matching the glob |
//! | `${var%pat}`, `${var%%pat}` | without the shortest/longest suffix matching the glob |
//! | `${var/pat/rep}`, `${var//pat/rep}` | first/every match replaced |
//! | `${var/#pat/rep}`, `${var/%pat/rep}` | a matching prefix/suffix replaced |
//!
//! Defaults, patterns and replacements may themselves hold `${...}` expressions.

/// Why a substitution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `${` without its `}`.
    #[error("unclosed '${{' at offset {offset}")]
    Unclosed {
        /// Byte offset of the `$`.
        offset: usize,
    },
    /// A `${...}` whose content is not a valid expression.
    #[error("bad substitution '${{{expression}}}'")]
    Bad {
        /// The content between the braces.
        expression: String,
    },
    /// Strict mode: a variable without a value and without a default.
    #[error("variable not set (strict mode): \"{name}\"")]
    NotSet {
        /// The variable.
        name: String,
    },
}

/// Expands every `${...}` in `text`, looking variables up with `lookup` (none: unset).
/// With `strict`, an unset variable without a default is an error instead of empty.
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    strict: bool,
) -> Result<String, Error> {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'$', Some(b'$')) => {
                out.push('$');
                i += 2;
            }
            (b'$', Some(b'{')) => {
                let end = closing(text, i + 2).ok_or(Error::Unclosed { offset: i })?;
                out.push_str(&expression(&text[i + 2..end], lookup, strict)?);
                i = end + 1;
            }
            _ => {
                let c = text[i..].chars().next().unwrap_or_default();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    Ok(out)
}

/// The index of the `}` closing an expression whose content starts at `start`.
fn closing(text: &str, start: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

/// Splits `text` at the first unescaped `/` outside nested expressions.
fn split_slash(text: &str) -> (String, Option<String>) {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    let mut pattern = String::new();
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'/') => {
                pattern.push('/');
                i += 2;
                continue;
            }
            b'$' if bytes.get(i + 1) == Some(&b'{') => depth += 1,
            b'}' if depth > 0 => depth -= 1,
            b'/' if depth == 0 => return (pattern, Some(text[i + 1..].to_owned())),
            _ => {}
        }
        let c = text[i..].chars().next().unwrap_or_default();
        pattern.push(c);
        i += c.len_utf8();
    }
    (pattern, None)
}

fn expression(
    content: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    strict: bool,
) -> Result<String, Error> {
    let bad = || Error::Bad {
        expression: content.to_owned(),
    };
    let (length, rest) = match content.strip_prefix('#') {
        Some(rest) if rest.starts_with(is_name_start) => (true, rest),
        _ => (false, content),
    };
    if !rest.starts_with(is_name_start) {
        return Err(bad());
    }
    let name_end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
    let (name, op) = rest.split_at(name_end);
    let value = lookup(name);
    let sub = |text: &str| substitute(text, lookup, strict);
    let unset = || {
        if strict {
            Err(Error::NotSet {
                name: name.to_owned(),
            })
        } else {
            Ok(String::new())
        }
    };
    if length {
        if !op.is_empty() {
            return Err(bad());
        }
        return match value {
            Some(v) => Ok(v.chars().count().to_string()),
            None => unset().map(|_| "0".to_owned()),
        };
    }
    // Defaults first: they apply when the variable is unset (or empty, with ':').
    for (prefix, when_empty) in [(":=", true), (":-", true), ("=", false), ("-", false)] {
        if let Some(default) = op.strip_prefix(prefix) {
            return match value {
                Some(v) if !(when_empty && v.is_empty()) => Ok(v),
                _ => sub(default),
            };
        }
    }
    let Some(value) = value else {
        return unset();
    };
    match op {
        "" => Ok(value),
        "^" => Ok(first(&value, true)),
        "^^" => Ok(value.to_uppercase()),
        "," => Ok(first(&value, false)),
        ",," => Ok(value.to_lowercase()),
        _ if op.starts_with("##") => Ok(strip(&value, &sub(&op[2..])?, true, true)),
        _ if op.starts_with('#') => Ok(strip(&value, &sub(&op[1..])?, true, false)),
        _ if op.starts_with("%%") => Ok(strip(&value, &sub(&op[2..])?, false, true)),
        _ if op.starts_with('%') => Ok(strip(&value, &sub(&op[1..])?, false, false)),
        _ if op.starts_with('/') => {
            let body = &op[1..];
            let (mode, body) = match body.chars().next() {
                Some('/') => ('a', &body[1..]),
                Some('#') => ('p', &body[1..]),
                Some('%') => ('s', &body[1..]),
                _ => ('f', body),
            };
            let (pattern, replacement) = split_slash(body);
            let pattern = sub(&pattern)?;
            let replacement = sub(&replacement.unwrap_or_default())?;
            Ok(replace(&value, &pattern, &replacement, mode))
        }
        _ if op.starts_with(':') => {
            let mut parts = op[1..].splitn(2, ':');
            let position: i64 = parts
                .next()
                .unwrap_or_default()
                .trim()
                .parse()
                .map_err(|_| bad())?;
            let length: Option<i64> = parts
                .next()
                .map(|l| l.trim().parse().map_err(|_| bad()))
                .transpose()?;
            let chars: Vec<char> = value.chars().collect();
            let n = chars.len() as i64;
            let start = if position < 0 {
                (n + position).max(0)
            } else {
                position.min(n)
            };
            let end = match length {
                Some(l) if l < 0 => (n + l).max(start),
                Some(l) => (start + l).min(n),
                None => n,
            };
            Ok(chars[start as usize..end.max(start) as usize]
                .iter()
                .collect())
        }
        _ => Err(bad()),
    }
}

fn first(value: &str, upper: bool) -> String {
    let mut chars = value.chars();
    match chars.next() {
        Some(c) if upper => c.to_uppercase().chain(chars).collect(),
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Whether `text` matches the glob `pattern` (`*` any run, `?` one character).
fn glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some(('?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

/// Removes the shortest or longest prefix (or suffix) of `value` matching `pattern`.
fn strip(value: &str, pattern: &str, prefix: bool, longest: bool) -> String {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    let lengths: Vec<usize> = if longest {
        (0..=v.len()).rev().collect()
    } else {
        (0..=v.len()).collect()
    };
    for len in lengths {
        let (part, keep) = if prefix {
            (&v[..len], &v[len..])
        } else {
            (&v[v.len() - len..], &v[..v.len() - len])
        };
        if glob(&p, part) {
            return keep.iter().collect();
        }
    }
    value.to_owned()
}

/// Replaces matches of `pattern` in `value`: first (`f`), all (`a`), prefix (`p`), suffix
/// (`s`). Matches are the longest at each position, as in bash.
fn replace(value: &str, pattern: &str, replacement: &str, mode: char) -> String {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    match mode {
        'p' => (0..=v.len())
            .rev()
            .find(|&len| glob(&p, &v[..len]))
            .map(|len| format!("{replacement}{}", v[len..].iter().collect::<String>()))
            .unwrap_or_else(|| value.to_owned()),
        's' => (0..=v.len())
            .find(|&start| glob(&p, &v[start..]))
            .map(|start| format!("{}{replacement}", v[..start].iter().collect::<String>()))
            .unwrap_or_else(|| value.to_owned()),
        _ => {
            if p.is_empty() {
                return value.to_owned();
            }
            let mut out = String::new();
            let mut i = 0;
            let mut replaced = false;
            while i < v.len() {
                let found = if replaced && mode == 'f' {
                    None
                } else {
                    (i + 1..=v.len()).rev().find(|&end| glob(&p, &v[i..end]))
                };
                match found {
                    Some(end) => {
                        out.push_str(replacement);
                        i = end;
                        replaced = true;
                    }
                    None => {
                        out.push(v[i]);
                        i += 1;
                    }
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(vars: &[(&str, &str)], input: &str) -> String {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        substitute(input, &lookup, false).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn expands_bash_forms_as_flux() {
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let cases: &[Case<'_>] = &[
            (&[], "abcdEFGH28ij", "abcdEFGH28ij"),
            (&[("v", "abcdEFGH28ij")], "${#v}", "12"),
            (&[("v", "abcdEFGH28ij")], "${v^}", "AbcdEFGH28ij"),
            (&[("v", "abcdEFGH28ij")], "${v^^}", "ABCDEFGH28IJ"),
            (&[("v", "ABCDEFGH28IJ")], "${v,}", "aBCDEFGH28IJ"),
            (&[("v", "ABCDEFGH28IJ")], "${v,,}", "abcdefgh28ij"),
            (
                &[("p", "/home/bozo/ideas/thoughts.for.today")],
                "${p:11}",
                "ideas/thoughts.for.today",
            ),
            (
                &[("p", "/home/bozo/ideas/thoughts.for.today")],
                "${p:11:5}",
                "ideas",
            ),
            (&[("var", "abc")], "${var=xyz}", "abc"),
            (&[], "${var=xyz}", "xyz"),
            (&[("d", "foo")], "something ${var=${d}}", "something foo"),
            (
                &[("d", "foo1")],
                "foo: ${var=prefix${d}-suffix}",
                "foo: prefixfoo1-suffix",
            ),
            (&[], "${var:=xyz}", "xyz"),
            (&[("var", "")], "${var:-xyz}", "xyz"),
            (&[("var", "")], "${var-xyz}", ""),
            (
                &[("z", "abcABC123ABCabc")],
                "${z/%abc/XYZ}",
                "abcABC123ABCXYZ",
            ),
            (
                &[("z", "abcABC123ABCabc")],
                "${z/#abc/XYZ}",
                "XYZABC123ABCabc",
            ),
            (&[("z", "somevalue")], "${z/#/prefix-}", "prefix-somevalue"),
            (&[("z", "somevalue")], "${z/%/-suffix}", "somevalue-suffix"),
            (
                &[("z", "abcABC123ABCabc")],
                "${z//abc/xyz}",
                "xyzABC123ABCxyz",
            ),
            (
                &[("z", "abcABC123ABCabc")],
                "${z/abc/xyz}",
                "xyzABC123ABCabc",
            ),
            (&[("f", "bash.string.txt")], "${f#*.}", "string.txt"),
            (&[("f", "/path/to/file")], "${f#*/}", "path/to/file"),
            (&[("f", "bash.string.txt")], "${f##*.}", "txt"),
            (&[("f", "bash.string.txt")], "${f%.*}", "bash.string"),
            (&[("f", "bash.string.txt")], "${f%%.*}", "bash"),
            (&[("v", "abcdEFGH28ij")], "${var=${v^^}}", "ABCDEFGH28IJ"),
            (&[("v", "abcdEFGH28ij")], "$${v}", "${v}"),
            (
                &[("v", "abcdEFGH28ij")],
                "some text ${v}$${var$${v}$v${v}",
                "some text abcdEFGH28ij${var${v}$vabcdEFGH28ij",
            ),
            (
                &[("d", "foo")],
                "something $${var=${d}}",
                "something ${var=foo}",
            ),
            (&[("z", "foo/bar")], r"${z/\//-}", "foo-bar"),
            (&[("z", "foo/bar/baz")], r"${z//\//-}", "foo-bar-baz"),
            (&[("z", "foo.bar")], "${z/./}", "foobar"),
            (&[], "cost: $5 and ${missing}", "cost: $5 and "),
        ];
        for (vars, input, output) in cases {
            assert_eq!(run(vars, input), *output, "{input}");
        }
    }

    #[test]
    fn strict_mode_and_errors() {
        let none = |_: &str| None;
        assert_eq!(
            substitute("${missing}", &none, true),
            Err(Error::NotSet {
                name: "missing".into()
            })
        );
        assert!(substitute("${missing^^}", &none, true).is_err());
        assert_eq!(
            substitute("${missing:-fallback}", &none, true),
            Ok("fallback".into())
        );
        assert_eq!(
            substitute("${unclosed", &none, false),
            Err(Error::Unclosed { offset: 0 })
        );
        assert!(matches!(
            substitute("${1bad}", &none, false),
            Err(Error::Bad { .. })
        ));
    }
}
