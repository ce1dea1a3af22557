//! `configMapGenerator` and `secretGenerator`, and the content hash kustomize appends to
//! generated names.

use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::Error;
use crate::loader::Loader;
use crate::resource::{Behavior, Resource};
use crate::types::{GeneratorArgs, GeneratorOptions};

/// Which generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ConfigMap,
    Secret,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
        }
    }
}

/// Builds one generated ConfigMap or Secret.
pub(crate) fn generate(
    ldr: &Loader<'_>,
    kind: Kind,
    args: &GeneratorArgs,
    global: Option<&GeneratorOptions>,
    origin: &str,
) -> Result<Resource, Error> {
    let fail = |message: String| Error::Build {
        context: format!(
            "{origin}: {} generator '{}'",
            kind.name().to_lowercase(),
            args.name
        ),
        message,
    };
    if args.name.is_empty() {
        return Err(fail(format!(
            "a {} must have a name",
            kind.name().to_lowercase()
        )));
    }
    let behavior = Behavior::parse(&args.behavior).map_err(fail)?;
    let options = GeneratorOptions::merged_with_global(args.options.as_ref(), global);

    let pairs = load_pairs(ldr, args).map_err(|e| match e {
        Error::Build { message, .. } => fail(message),
        other => other,
    })?;
    let mut seen = std::collections::BTreeMap::new();
    for (k, v) in pairs {
        validate_key(&k).map_err(fail)?;
        if seen.insert(k.clone(), v).is_some() {
            return Err(fail(format!(
                "configmap {} illegally repeats the key `{k}`",
                args.name
            )));
        }
    }

    let mut obj = Map::new();
    obj.insert("apiVersion".into(), Value::String("v1".into()));
    obj.insert("kind".into(), Value::String(kind.name().into()));
    let mut meta = Map::new();
    meta.insert("name".into(), Value::String(args.name.clone()));
    if !args.namespace.is_empty() {
        meta.insert("namespace".into(), Value::String(args.namespace.clone()));
    }
    obj.insert("metadata".into(), Value::Object(meta));
    match kind {
        Kind::ConfigMap => {
            let mut data = Map::new();
            let mut binary = Map::new();
            for (k, v) in seen {
                match String::from_utf8(v) {
                    Ok(text) => {
                        data.insert(k, Value::String(text));
                    }
                    Err(bytes) => {
                        binary.insert(k, Value::String(encode_base64_lines(bytes.as_bytes())));
                    }
                }
            }
            if !data.is_empty() {
                obj.insert("data".into(), Value::Object(data));
            }
            if !binary.is_empty() {
                obj.insert("binaryData".into(), Value::Object(binary));
            }
        }
        Kind::Secret => {
            let t = if args.type_.is_empty() {
                "Opaque"
            } else {
                &args.type_
            };
            obj.insert("type".into(), Value::String(t.to_owned()));
            let data: Map<String, Value> = seen
                .into_iter()
                .map(|(k, v)| (k, Value::String(encode_base64_lines(&v))))
                .collect();
            obj.insert("data".into(), Value::Object(data));
        }
    }
    let mut res = Resource::new(obj, origin);
    if let Some(opts) = &options {
        let mut labels: Vec<(String, String)> = opts
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        labels.sort();
        if !labels.is_empty() {
            res.set_string_map("labels", labels);
        }
        let mut annotations: Vec<(String, String)> = opts
            .annotations
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        annotations.sort();
        if !annotations.is_empty() {
            res.set_string_map("annotations", annotations);
        }
        if opts.immutable {
            res.obj.insert("immutable".into(), Value::Bool(true));
        }
    }
    res.behavior = Some(behavior);
    res.needs_hash = !options.as_ref().is_some_and(|o| o.disable_name_suffix_hash);
    Ok(res)
}

/// Key/value pairs from env files, literals and files, in kustomize's order.
fn load_pairs(ldr: &Loader<'_>, args: &GeneratorArgs) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    let mut envs = args.envs.clone();
    if !args.env.is_empty() {
        envs.push(args.env.clone());
    }
    for path in &envs {
        let content = ldr.load(path)?;
        out.extend(parse_env_file(&content).map_err(|message| Error::Build {
            context: ldr.show(path),
            message,
        })?);
    }
    for literal in &args.literals {
        let (k, v) = parse_literal(literal).map_err(|message| Error::Build {
            context: String::new(),
            message,
        })?;
        out.push((k, v.into_bytes()));
    }
    for source in &args.files {
        let (key, path) = parse_file_source(source).map_err(|message| Error::Build {
            context: String::new(),
            message,
        })?;
        out.push((key, ldr.load(&path)?));
    }
    Ok(out)
}

/// `KEY=VALUE` lines; blank lines and `#` comments skipped, a UTF-8 BOM on the first line
/// dropped, leading white space trimmed, a line without `=` gives an empty value.
fn parse_env_file(content: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for (i, raw) in content.split(|b| *b == b'\n').enumerate() {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let line = std::str::from_utf8(raw)
            .map_err(|_| format!("line {} has invalid utf8 bytes", i + 1))?;
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or((line, ""));
        if !is_env_var_name(key) {
            return Err(format!(
                "line {}: invalid environment variable name '{key}': must consist of letters, digits, '_', '-' or '.', and not start with a digit",
                i + 1
            ));
        }
        out.push((key.to_owned(), value.as_bytes().to_vec()));
    }
    Ok(out)
}

fn is_env_var_name(key: &str) -> bool {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || "-._".contains(c) => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

/// A ConfigMap/Secret data key must be `[-._a-zA-Z0-9]+`, at most 253 characters, and not
/// `.` or `..`.
fn validate_key(key: &str) -> Result<(), String> {
    let ok = !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{key}\" is not a valid key name: a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        ))
    }
}

/// `key=value`; surrounding matching quotes are removed from the value.
fn parse_literal(source: &str) -> Result<(String, String), String> {
    match source.split_once('=') {
        Some((k, v)) if !k.is_empty() => {
            let b = v.as_bytes();
            let unquoted =
                if b.len() >= 2 && b[0] == b[b.len() - 1] && (b[0] == b'"' || b[0] == b'\'') {
                    &v[1..v.len() - 1]
                } else {
                    v
                };
            Ok((k.to_owned(), unquoted.to_owned()))
        }
        _ => Err(format!(
            "invalid literal source {source}, expected key=value"
        )),
    }
}

/// `path` (key = file name) or `key=path`.
fn parse_file_source(source: &str) -> Result<(String, String), String> {
    match source.matches('=').count() {
        0 => {
            let name = source.rsplit('/').next().unwrap_or(source);
            Ok((name.to_owned(), source.to_owned()))
        }
        1 if source.starts_with('=') => Err(format!(
            "missing key name for file path \"{}\" in source \"{source}\"",
            &source[1..]
        )),
        1 if source.ends_with('=') => Err(format!(
            "missing file path for key name \"{}\" in source \"{source}\"",
            &source[..source.len() - 1]
        )),
        1 => {
            let (k, p) = source.split_once('=').unwrap_or((source, ""));
            Ok((k.to_owned(), p.to_owned()))
        }
        _ => Err(format!(
            "source \"{source}\" key name or file path contains '='"
        )),
    }
}

/// Base64 in 70-character lines, each followed by a newline when there is more than one line
/// (kyaml's encodeBase64).
fn encode_base64_lines(bytes: &[u8]) -> String {
    let enc = base64::engine::general_purpose::STANDARD.encode(bytes);
    if enc.len() < 70 {
        return enc;
    }
    let mut out = String::with_capacity(enc.len() + enc.len() / 70 + 1);
    for chunk in enc.as_bytes().chunks(70) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// kustomize's content hash of a generated object: SHA-256 over a JSON encoding of selected
/// fields (note: kustomize looks the name up with a path it never finds, so the name is always
/// empty), its first ten hex digits with 0, 1, 3, a and e swapped for letters.
pub(crate) fn content_hash(obj: &Map<String, Value>) -> String {
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or_default();
    let field = |name: &str| {
        obj.get(name)
            .cloned()
            .unwrap_or(Value::String(String::new()))
    };
    let mut m = Map::new();
    match kind {
        "ConfigMap" => {
            m.insert("kind".into(), Value::String("ConfigMap".into()));
            m.insert("name".into(), Value::String(String::new()));
            m.insert("data".into(), field("data"));
            if let Some(b @ Value::Object(_)) = obj.get("binaryData") {
                m.insert("binaryData".into(), b.clone());
            }
        }
        "Secret" => {
            m.insert("kind".into(), Value::String("Secret".into()));
            m.insert("type".into(), field("type"));
            m.insert("name".into(), Value::String(String::new()));
            m.insert("data".into(), field("data"));
            if let Some(s @ Value::Object(_)) = obj.get("stringData") {
                m.insert("stringData".into(), s.clone());
            }
        }
        _ => return encode_hash(&go_json(&Value::Object(obj.clone()))),
    }
    encode_hash(&go_json(&Value::Object(m)))
}

fn encode_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest
        .iter()
        .take(5)
        .flat_map(|b| [b >> 4, b & 0xf])
        .map(|n| match n {
            0 => 'g',
            1 => 'h',
            3 => 'k',
            0xa => 'm',
            0xe => 't',
            n => char::from_digit(u32::from(n), 16).unwrap_or('0'),
        })
        .collect()
}

/// JSON as Go's encoding/json writes it: object keys sorted, `<`, `>`, `&`, U+2028 and U+2029
/// escaped.
pub(crate) fn go_json(value: &Value) -> String {
    let mut out = String::new();
    write_go_json(value, &mut out);
    out
}

fn write_go_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_string(k, out);
                out.push(':');
                write_go_json(&map[k.as_str()], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_go_json(v, out);
            }
            out.push(']');
        }
        Value::String(s) => write_go_string(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hash_matches_kustomize() {
        // `kubectl kustomize` names this ConfigMap foo-7fh8db662m.
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "foo"}, "data": {"a": "b<c"}});
        assert_eq!(content_hash(obj.as_object().expect("object")), "7fh8db662m");
    }

    #[test]
    fn literals_and_file_sources_parse() {
        assert_eq!(parse_literal("a='b c'"), Ok(("a".into(), "b c".into())));
        assert_eq!(parse_literal("a=b=c"), Ok(("a".into(), "b=c".into())));
        assert!(parse_literal("=b").is_err());
        assert_eq!(
            parse_file_source("dir/x.txt"),
            Ok(("x.txt".into(), "dir/x.txt".into()))
        );
        assert_eq!(
            parse_file_source("k=dir/x.txt"),
            Ok(("k".into(), "dir/x.txt".into()))
        );
        assert!(parse_file_source("a=b=c").is_err());
    }

    #[test]
    fn env_files_skip_comments_and_blank_lines() {
        let pairs = parse_env_file(b"\xef\xbb\xbfA=1\n# c\n\n  B=two=2\nC\n").expect("valid");
        let keys: Vec<_> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        assert_eq!(
            keys,
            [
                ("A", "1".to_owned()),
                ("B", "two=2".to_owned()),
                ("C", String::new())
            ]
        );
    }
}
