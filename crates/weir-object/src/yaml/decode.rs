//! A document's node tree to a JSON value, as kustomize gets it.
//!
//! kustomize turns each resource into JSON by decoding it with yaml.v3 into `interface{}` and
//! printing that with `encoding/json`. This follows yaml.v3's `decode.go`: tags checked against
//! what the text resolves to, duplicate keys, alias expansion with its excessive-aliasing
//! guard; merge keys as kyaml's `DeAnchor` expands them beforehand; and `encoding/json`'s view
//! of the result: timestamps become RFC 3339 strings and infinities or NaN are errors.

use std::borrow::Cow;
use std::collections::HashSet;

use granit_parser::ScalarStyle;
use serde_json::{Map, Number, Value};

use super::node::{Node, NodeId, NodeKind, Tree};
use super::resolve::{self, Resolved, Schema};
use super::{Error, folded};

/// Deepest nesting accepted, counting levels added by aliases. The parser already bounds
/// nesting within the text; this bounds chains of aliases to nested anchors so that recursion
/// stays shallow.
const MAX_DEPTH: usize = 512;

/// Decodes the tree's root, or `None` for an empty document.
pub(super) fn decode(
    path: &str,
    text_len: usize,
    tree: &Tree,
    allow_duplicate_keys: bool,
) -> Result<Option<Value>, Error> {
    if tree.nodes.is_empty() {
        return Ok(None);
    }
    let mut decoder = Decoder {
        path,
        tree,
        // yaml.v3 counts the document node too.
        decode_count: 1,
        alias_count: 0,
        expanding: Vec::new(),
        depth: 0,
        alias_bytes: 0,
        alias_byte_budget: text_len.saturating_mul(4).max(16 << 20),
        allow_duplicate_keys,
    };
    decoder.value(0).map(Some)
}

struct Decoder<'a> {
    path: &'a str,
    tree: &'a Tree,
    decode_count: usize,
    alias_count: usize,
    /// Alias nodes being expanded, innermost last; an alias met again inside its own
    /// expansion is a cycle.
    expanding: Vec<NodeId>,
    depth: usize,
    /// Bytes of text copied out of aliased nodes. yaml.v3 shares strings between copies; here
    /// each copy is real memory, so this bounds what yaml.v3's node count cannot see (a huge
    /// string aliased many times).
    alias_bytes: usize,
    alias_byte_budget: usize,
    /// goyaml.v2 (which kustomize reads kustomization files with) lets a later duplicate key
    /// win; yaml.v3 (resources) refuses duplicates.
    allow_duplicate_keys: bool,
}

/// Which [`Error`] variant a decoding failure becomes.
#[derive(Clone, Copy)]
enum Kind {
    DuplicateKey,
    Aliasing,
    Unrepresentable,
    Invalid,
}

/// A scalar after its tag is applied, before it becomes a value or a key.
enum Scalar {
    /// The source text, as a string.
    Text,
    /// Decoded `!!binary` data.
    Binary(String),
    Resolved(Resolved),
}

impl Decoder<'_> {
    fn fail(&self, id: NodeId, kind: Kind, message: impl Into<String>) -> Error {
        let node = self.tree.node(id);
        let (path, line, column) = (self.path.to_owned(), node.line, node.column);
        let message = message.into();
        match kind {
            Kind::DuplicateKey => Error::DuplicateKey {
                path,
                line,
                column,
                message,
            },
            Kind::Aliasing => Error::Aliasing {
                path,
                line,
                column,
                message,
            },
            Kind::Unrepresentable => Error::Unrepresentable {
                path,
                line,
                column,
                message,
            },
            Kind::Invalid => Error::Invalid {
                path,
                line,
                column,
                message,
            },
        }
    }

    /// yaml.v3's billion-laughs guard: once past small documents, the share of work done inside
    /// aliases must stay under a ratio that shrinks as the document grows.
    fn count(&mut self, id: NodeId) -> Result<(), Error> {
        self.decode_count += 1;
        if !self.expanding.is_empty() {
            self.alias_count += 1;
        }
        let ratio = self.alias_count as f64 / self.decode_count as f64;
        if self.alias_count > 100
            && self.decode_count > 1000
            && ratio > allowed_alias_ratio(self.decode_count)
        {
            return Err(self.fail(id, Kind::Aliasing, "document contains excessive aliasing"));
        }
        Ok(())
    }

    /// Runs `inside` on an alias's target, refusing cycles.
    fn through_alias<T>(
        &mut self,
        alias: NodeId,
        target: NodeId,
        inside: impl FnOnce(&mut Self, NodeId) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if self.expanding.contains(&alias) {
            let name = match &self.tree.node(alias).kind {
                NodeKind::Alias { name, .. } => name.as_str(),
                _ => "",
            };
            let message = format!("anchor '{name}' value contains itself");
            return Err(self.fail(alias, Kind::Invalid, message));
        }
        self.expanding.push(alias);
        let result = inside(self, target);
        self.expanding.pop();
        result
    }

    /// Counts text copied out of an alias against the byte budget.
    fn charge(&mut self, id: NodeId, bytes: usize) -> Result<(), Error> {
        if !self.expanding.is_empty() {
            self.alias_bytes += bytes;
            if self.alias_bytes > self.alias_byte_budget {
                let message = "document contains excessive aliasing (too much text copied)";
                return Err(self.fail(id, Kind::Aliasing, message));
            }
        }
        Ok(())
    }

    /// Runs `inside` one nesting level deeper.
    fn nested<T>(
        &mut self,
        id: NodeId,
        inside: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if self.depth >= MAX_DEPTH {
            let message = format!("nesting deeper than {MAX_DEPTH} levels");
            return Err(self.fail(id, Kind::Invalid, message));
        }
        self.depth += 1;
        let result = inside(self);
        self.depth -= 1;
        result
    }

    fn value(&mut self, id: NodeId) -> Result<Value, Error> {
        self.count(id)?;
        let tree = self.tree;
        match &tree.node(id).kind {
            NodeKind::Alias { target, .. } => self.through_alias(id, *target, Self::value),
            NodeKind::Scalar { text, style, tag } => {
                self.charge(id, text.len())?;
                let text = scalar_text(text, *style);
                match self.scalar(id, &text, *style, tag.as_deref())? {
                    Scalar::Text => Ok(Value::String(text.into_owned())),
                    Scalar::Binary(decoded) => Ok(Value::String(decoded)),
                    Scalar::Resolved(resolved) => self.resolved(id, &text, resolved),
                }
            }
            NodeKind::Sequence(children) => self.nested(id, |this| {
                let items = children.iter().map(|&child| this.value(child));
                items.collect::<Result<_, _>>().map(Value::Array)
            }),
            NodeKind::Mapping(_) => self.nested(id, |this| {
                let mut map = Map::new();
                this.mapping(id, &mut map, None)?;
                Ok(Value::Object(map))
            }),
        }
    }

    /// Decodes mapping `id` into `out`. `merged` is set while decoding the source of a merge
    /// key: keys already present (from the merging map or an earlier source) are skipped.
    fn mapping(
        &mut self,
        id: NodeId,
        out: &mut Map<String, Value>,
        mut merged: Option<&mut HashSet<String>>,
    ) -> Result<(), Error> {
        let tree = self.tree;
        let NodeKind::Mapping(content) = &tree.node(id).kind else {
            return Ok(());
        };
        let merge_keys: Vec<NodeId> = content
            .iter()
            .step_by(2)
            .copied()
            .filter(|&key| is_merge_key(tree.node(key)))
            .collect();
        if let [_, second, ..] = merge_keys[..] {
            return Err(self.fail(second, Kind::Invalid, "duplicate merge key"));
        }
        // kyaml expands merges with `Clear("<<")`, which drops the first key spelled `<<`
        // whatever its quoting: a quoted `"<<"` key vanishes when it comes first.
        let dropped = content.iter().step_by(2).position(
            |&key| matches!(&tree.node(key).kind, NodeKind::Scalar { text, .. } if text == "<<"),
        );
        if !self.allow_duplicate_keys {
            self.check_duplicates(content, dropped)?;
        }
        let mut merge_source = None;
        for (index, pair) in content.chunks(2).enumerate() {
            let [key, value] = *pair else { continue };
            if is_merge_key(tree.node(key)) {
                merge_source = Some(value);
                continue;
            }
            if Some(index) == dropped {
                continue;
            }
            let key = self.key(key)?;
            if let Some(seen) = merged.as_deref_mut()
                && !seen.insert(key.clone())
            {
                continue;
            }
            let value = self.value(value)?;
            out.insert(key, value);
        }
        let Some(source) = merge_source else {
            return Ok(());
        };
        match merged {
            Some(seen) => self.merge(source, out, seen),
            None => {
                // The merging map's own keys win over anything merged in.
                let mut seen = HashSet::from(["<<".to_owned()]);
                for (index, pair) in content.chunks(2).enumerate() {
                    if Some(index) != dropped && !is_merge_key(tree.node(pair[0])) {
                        seen.insert(self.key(pair[0])?);
                    }
                }
                self.merge(source, out, &mut seen)
            }
        }
    }

    /// yaml.v3 compares key nodes by kind and raw text, so `a` and `"a"` collide but `1` and
    /// `1.0` do not. The key kyaml dropped (see [`Self::mapping`]) takes no part.
    fn check_duplicates(&self, content: &[NodeId], dropped: Option<usize>) -> Result<(), Error> {
        let keys = || {
            content
                .iter()
                .step_by(2)
                .enumerate()
                .filter(|(index, _)| Some(*index) != dropped)
                .map(|(_, &key)| key)
        };
        let mut seen = HashSet::new();
        for key in keys() {
            let identity = self.identity(key);
            if seen.insert(identity) {
                continue;
            }
            let first = keys()
                .find(|&other| self.identity(other) == identity)
                .map_or(0, |other| self.tree.node(other).line);
            let message = format!(
                "mapping key {} already defined at line {first}",
                go_quote(identity.1)
            );
            return Err(self.fail(key, Kind::DuplicateKey, message));
        }
        Ok(())
    }

    /// What yaml.v3 compares keys by, once kyaml has replaced aliases by copies of their
    /// targets: the node kind and its raw text.
    fn identity(&self, id: NodeId) -> (u8, &str) {
        let node = match &self.tree.node(id).kind {
            NodeKind::Alias { target, .. } => self.tree.node(*target),
            _ => self.tree.node(id),
        };
        match &node.kind {
            NodeKind::Scalar { text, .. } => (0, text.as_str()),
            NodeKind::Sequence(_) => (2, ""),
            NodeKind::Mapping(_) => (3, ""),
            NodeKind::Alias { name, .. } => (1, name.as_str()),
        }
    }

    /// The value of a merge key: a mapping, an alias to one, or a sequence of those. Earlier
    /// sources win over later ones.
    fn merge(
        &mut self,
        source: NodeId,
        out: &mut Map<String, Value>,
        seen: &mut HashSet<String>,
    ) -> Result<(), Error> {
        let tree = self.tree;
        let sources: &[NodeId] = match &tree.node(source).kind {
            NodeKind::Sequence(items) => items,
            _ => std::slice::from_ref(&source),
        };
        let is_map = |id: NodeId| match &tree.node(id).kind {
            NodeKind::Mapping(_) => true,
            NodeKind::Alias { target, .. } => {
                matches!(tree.node(*target).kind, NodeKind::Mapping(_))
            }
            _ => false,
        };
        if !sources.iter().all(|&id| is_map(id)) {
            let message = "map merge requires map or sequence of maps as the value";
            return Err(self.fail(source, Kind::Invalid, message));
        }
        for &id in sources {
            self.merge_one(id, out, seen)?;
        }
        Ok(())
    }

    fn merge_one(
        &mut self,
        id: NodeId,
        out: &mut Map<String, Value>,
        seen: &mut HashSet<String>,
    ) -> Result<(), Error> {
        self.count(id)?;
        match &self.tree.node(id).kind {
            NodeKind::Alias { target, .. } => self.through_alias(id, *target, |this, target| {
                this.merge_one(target, out, seen)
            }),
            _ => self.nested(id, |this| this.mapping(id, out, Some(seen))),
        }
    }

    /// A mapping key as JSON needs it: a string. Scalars keep their source text (yaml.v3
    /// decodes keys of `map[string]interface{}` that way), so `1.0: x` keeps the key `1.0`.
    fn key(&mut self, id: NodeId) -> Result<String, Error> {
        self.count(id)?;
        let tree = self.tree;
        match &tree.node(id).kind {
            NodeKind::Alias { target, .. } => self.through_alias(id, *target, Self::key),
            NodeKind::Scalar { text, style, tag } => {
                self.charge(id, text.len())?;
                let text = scalar_text(text, *style);
                match self.scalar(id, &text, *style, tag.as_deref())? {
                    Scalar::Binary(decoded) => Ok(decoded),
                    Scalar::Resolved(Resolved::Null) => {
                        let message = format!(
                            "mapping key {} is null, which JSON cannot hold",
                            go_quote(&text)
                        );
                        Err(self.fail(id, Kind::Unrepresentable, message))
                    }
                    _ => Ok(text.into_owned()),
                }
            }
            NodeKind::Sequence(_) | NodeKind::Mapping(_) => {
                let message = "a mapping key must be a scalar to be held in JSON";
                Err(self.fail(id, Kind::Unrepresentable, message))
            }
        }
    }

    /// Applies the scalar's tag as yaml.v3's `decoder.scalar` does.
    fn scalar(
        &self,
        id: NodeId,
        text: &str,
        style: ScalarStyle,
        tag: Option<&str>,
    ) -> Result<Scalar, Error> {
        let resolved = match tag {
            // Quoted and block scalars are strings; so is a plain `<<` outside key position.
            None if style != ScalarStyle::Plain || text == "<<" => return Ok(Scalar::Text),
            None => resolve::resolve(text, Schema::V3, true),
            Some("!!binary") => {
                return match decode_base64(text) {
                    Some(bytes) => Ok(Scalar::Binary(go_string(&bytes))),
                    None => {
                        let message = "!!binary value contains invalid base64 data";
                        Err(self.fail(id, Kind::Invalid, message))
                    }
                };
            }
            Some(tag) if tag == "!!str" || !is_resolvable(tag) => return Ok(Scalar::Text),
            Some(tag) => {
                let resolved = resolve::resolve(text, Schema::V3, tag == "!!timestamp");
                match (tag, resolved) {
                    ("!!float", Resolved::Int(int)) => Resolved::Float(int as f64),
                    _ if resolved.tag() == tag => resolved,
                    _ => {
                        let message =
                            format!("cannot decode {} `{text}` as a {tag}", resolved.tag());
                        return Err(self.fail(id, Kind::Invalid, message));
                    }
                }
            }
        };
        Ok(Scalar::Resolved(resolved))
    }

    /// A resolved scalar as `encoding/json` would print it.
    fn resolved(&self, id: NodeId, text: &str, resolved: Resolved) -> Result<Value, Error> {
        Ok(match resolved {
            Resolved::Null => Value::Null,
            Resolved::Bool(b) => Value::Bool(b),
            Resolved::Int(i) => Value::from(i),
            Resolved::Uint(u) => Value::from(u),
            Resolved::Float(f) => match Number::from_f64(f) {
                Some(number) => Value::Number(number),
                None => {
                    let message =
                        format!("{text} cannot be held in JSON, which has no infinity or NaN");
                    return Err(self.fail(id, Kind::Unrepresentable, message));
                }
            },
            Resolved::Timestamp(stamp) => match stamp.to_rfc3339_nano() {
                Some(text) => Value::String(text),
                None => {
                    let message = format!("timestamp {text} has a zone offset of 24 hours or more");
                    return Err(self.fail(id, Kind::Unrepresentable, message));
                }
            },
            Resolved::Str => Value::String(text.to_owned()),
        })
    }
}

fn allowed_alias_ratio(decode_count: usize) -> f64 {
    const LOW: f64 = 400_000.0;
    const HIGH: f64 = 4_000_000.0;
    let count = decode_count as f64;
    if count <= LOW {
        0.99
    } else if count >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((count - LOW) / (HIGH - LOW))
    }
}

/// yaml.v3's merge key: a plain `<<`, untagged or tagged `!!merge`.
fn is_merge_key(node: &Node) -> bool {
    matches!(&node.kind, NodeKind::Scalar { text, style, tag }
    if text == "<<" && match tag.as_deref() {
        None => *style == ScalarStyle::Plain,
        Some(tag) => tag == "!!merge",
    })
}

/// A scalar's text after kustomize's internal yaml.v3 round trip.
fn scalar_text(text: &str, style: ScalarStyle) -> Cow<'_, str> {
    if style == ScalarStyle::Folded {
        folded::after_reencode(text)
    } else {
        Cow::Borrowed(text)
    }
}

/// Tags yaml.v3 checks the text against; any other tag leaves the text a string.
fn is_resolvable(tag: &str) -> bool {
    matches!(
        tag,
        "!!str" | "!!bool" | "!!int" | "!!float" | "!!null" | "!!timestamp"
    )
}

/// Go's `base64.StdEncoding.DecodeString`: padding required, line breaks ignored, stray bits in
/// the last character tolerated.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let symbols: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    let padding = symbols.iter().rev().take_while(|&&b| b == b'=').count();
    if !symbols.len().is_multiple_of(4) || padding > 2 {
        return None;
    }
    let body = &symbols[..symbols.len() - padding];
    let mut bytes = Vec::with_capacity(body.len() / 4 * 3 + 2);
    for chunk in body.chunks(4) {
        let mut bits = 0u32;
        for &symbol in chunk {
            let value = match symbol {
                b'A'..=b'Z' => symbol - b'A',
                b'a'..=b'z' => symbol - b'a' + 26,
                b'0'..=b'9' => symbol - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            };
            bits = bits << 6 | u32::from(value);
        }
        bits <<= 6 * (4 - chunk.len());
        let [_, first, second, third] = bits.to_be_bytes();
        bytes.extend_from_slice(&[first, second, third][..chunk.len() - 1]);
    }
    Some(bytes)
}

/// Bytes as Go's `encoding/json` prints a string: each byte that is not part of valid UTF-8
/// becomes U+FFFD.
fn go_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                out.push_str(valid);
                break;
            }
            Err(err) => {
                let (valid, after) = rest.split_at(err.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{FFFD}');
                rest = &after[1..];
            }
        }
    }
    out
}

/// Go's `%#v` of a string, as yaml.v3 quotes keys in messages.
fn go_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_like_go() {
        assert_eq!(decode_base64("aGVsbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode_base64("aGVs\nbG8=").as_deref(), Some(&b"hello"[..]));
        assert_eq!(decode_base64("").as_deref(), Some(&b""[..]));
        assert_eq!(decode_base64("aGVsbG8"), None);
        assert_eq!(decode_base64("aG=sbG8="), None);
        assert_eq!(decode_base64("a==="), None);
        assert_eq!(decode_base64("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64("YR==").as_deref(), Some(&b"a"[..]));
    }

    #[test]
    fn invalid_utf8_like_go() {
        assert_eq!(go_string(b"a\xe2\x82b\xff"), "a\u{FFFD}\u{FFFD}b\u{FFFD}");
    }
}
