//! `--set` and `--set-string` as Helm parses them (`a.b=c,list[0]=x,d=1`): dotted paths,
//! list indexes, commas between assignments (`\,` for a literal comma), and with `--set`,
//! `true`/`false`, integers and `null` typed (`null` deletes the key).

use serde_json::{Map, Value as Json};

use crate::Error;

/// Splits at unescaped `sep`, dropping the escapes of `sep`.
fn split_unescaped(text: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&sep) {
            current.push(sep);
            chars.next();
        } else if c == sep {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
}

fn typed(value: &str) -> Json {
    match value {
        "true" => Json::Bool(true),
        "false" => Json::Bool(false),
        "null" => Json::Null,
        v => match v.parse::<i64>() {
            // Helm keeps leading-zero numbers such as 0123 as strings.
            Ok(i) if !(v.len() > 1 && v.starts_with('0')) => Json::from(i),
            _ => Json::String(v.to_owned()),
        },
    }
}

/// One step of a key path: a map key, or a list index after it.
enum Step {
    Key(String),
    Index(usize),
}

fn steps(key: &str) -> Result<Vec<Step>, Error> {
    let bad = |why: &str| Error::Values(format!("--set: key '{key}': {why}"));
    let mut out = Vec::new();
    for part in split_unescaped(key, '.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (part[..i].to_owned(), &part[i..]),
            None => (part.clone(), ""),
        };
        if name.is_empty() && out.is_empty() {
            return Err(bad("empty name"));
        }
        if !name.is_empty() {
            out.push(Step::Key(name));
        }
        while let Some(inner) = rest.strip_prefix('[') {
            let end = inner.find(']').ok_or_else(|| bad("unclosed ["))?;
            let index = inner[..end]
                .parse()
                .map_err(|_| bad("index is not a number"))?;
            out.push(Step::Index(index));
            rest = &inner[end + 1..];
        }
    }
    Ok(out)
}

fn assign(target: &mut Json, steps: &[Step], value: Json) {
    let Some((first, rest)) = steps.split_first() else {
        *target = value;
        return;
    };
    match first {
        Step::Key(k) => {
            if !target.is_object() {
                *target = Json::Object(Map::new());
            }
            if let Json::Object(map) = target {
                if rest.is_empty() {
                    map.insert(k.clone(), value);
                } else {
                    assign(map.entry(k.clone()).or_insert(Json::Null), rest, value);
                }
            }
        }
        Step::Index(i) => {
            if !target.is_array() {
                *target = Json::Array(Vec::new());
            }
            if let Json::Array(list) = target {
                while list.len() <= *i {
                    list.push(Json::Null);
                }
                assign(&mut list[*i], rest, value);
            }
        }
    }
}

/// The values one `--set` (or, with `typed` false, `--set-string`) argument gives.
pub fn parse(expr: &str, typed_values: bool) -> Result<Json, Error> {
    let mut out = Json::Object(Map::new());
    parse_into(expr, typed_values, &mut out)?;
    Ok(out)
}

/// Applies one `--set` (or `--set-string`) argument to `out`, as Helm does: onto the values
/// given before, so `list[1]=x` changes one item of a list a values file gave.
pub fn parse_into(expr: &str, typed_values: bool, out: &mut Json) -> Result<(), Error> {
    for assignment in split_unescaped(expr, ',') {
        if assignment.is_empty() {
            continue;
        }
        let (key, value) = assignment
            .split_once('=')
            .ok_or_else(|| Error::Values(format!("--set: '{assignment}' is not key=value")))?;
        let value = if typed_values {
            typed(value)
        } else {
            Json::String(value.to_owned())
        };
        assign(out, &steps(key)?, value);
    }
    Ok(())
}

/// Applies one `--set-json` argument to `out` (see [`parse_into`]): `path=JSON` pairs
/// separated by commas (a JSON value may contain commas).
pub fn parse_json_into(expr: &str, out: &mut Json) -> Result<(), Error> {
    let mut rest = expr;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| Error::Values(format!("--set-json: '{rest}' is not key=JSON")))?;
        let mut stream = serde_json::Deserializer::from_str(after).into_iter::<Json>();
        let value = match stream.next() {
            Some(Ok(v)) => v,
            Some(Err(e)) => {
                return Err(Error::Values(format!(
                    "--set-json: the value of '{key}' is not JSON: {e}"
                )));
            }
            None => return Err(Error::Values(format!("--set-json: '{key}' has no value"))),
        };
        let used = stream.byte_offset();
        assign(out, &steps(key)?, value);
        rest = after[used..].trim_start();
        rest = match rest.strip_prefix(',') {
            Some(next) => next,
            None if rest.is_empty() => rest,
            None => {
                return Err(Error::Values(format!(
                    "--set-json: unexpected '{rest}' after the value of '{key}'"
                )));
            }
        };
    }
    Ok(())
}

/// Applies one `--set-file` argument to `out` (see [`parse_into`]): `path=FILE` pairs, each
/// value the file's text (read with `read`).
pub fn parse_file_into(
    expr: &str,
    read: impl Fn(&str) -> Result<String, Error>,
    out: &mut Json,
) -> Result<(), Error> {
    for assignment in split_unescaped(expr, ',') {
        if assignment.is_empty() {
            continue;
        }
        let (key, file) = assignment
            .split_once('=')
            .ok_or_else(|| Error::Values(format!("--set-file: '{assignment}' is not key=FILE")))?;
        assign(out, &steps(key)?, Json::String(read(file)?));
    }
    Ok(())
}

/// Applies one `--set-literal` argument to `out` (see [`parse_into`]): one `path=VALUE`, the
/// value taken as it is (commas and backslashes included).
pub fn parse_literal_into(expr: &str, out: &mut Json) -> Result<(), Error> {
    let (key, value) = expr
        .split_once('=')
        .ok_or_else(|| Error::Values(format!("--set-literal: '{expr}' is not key=value")))?;
    assign(out, &steps(key)?, Json::String(value.to_owned()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse;

    #[test]
    fn helm_set_syntax() -> Result<(), crate::Error> {
        assert_eq!(
            parse("image.tag=v1,replicas=3,debug=true,name=0123", true)?,
            json!({"image": {"tag": "v1"}, "replicas": 3, "debug": true, "name": "0123"})
        );
        assert_eq!(
            parse("list[1]=b,list[0]=a,obj.items[0].name=x", true)?,
            json!({"list": ["a", "b"], "obj": {"items": [{"name": "x"}]}})
        );
        assert_eq!(
            parse("a=1\\,2,b=null", true)?,
            json!({"a": "1,2", "b": null})
        );
        assert_eq!(parse("a.b\\.c=3", false)?, json!({"a": {"b.c": "3"}}));
        assert!(parse("novalue", true).is_err());
        Ok(())
    }

    #[test]
    fn json_file_and_literal_forms() -> Result<(), crate::Error> {
        let mut v = json!({"keep": 1, "list": ["a", "b"]});
        super::parse_json_into(r#"a.b={"x":[1,2]},c=[3, "d,e"],f=null"#, &mut v)?;
        assert_eq!(
            v,
            json!({"keep": 1, "list": ["a", "b"], "a": {"b": {"x": [1, 2]}}, "c": [3, "d,e"], "f": null})
        );
        assert!(super::parse_json_into("a={oops}", &mut v).is_err());
        super::parse_into("list[1]=z", true, &mut v)?;
        assert_eq!(v["list"], json!(["a", "z"]));
        let mut v = json!({});
        super::parse_file_into(
            "cfg=x.txt,other.key=y.txt",
            |f| Ok(format!("<{f}>")),
            &mut v,
        )?;
        assert_eq!(v, json!({"cfg": "<x.txt>", "other": {"key": "<y.txt>"}}));
        let mut v = json!({});
        super::parse_literal_into(r"a.b=1,2\n", &mut v)?;
        assert_eq!(v, json!({"a": {"b": r"1,2\n"}}));
        Ok(())
    }
}
