//! kyaml's `walk.Walker` driven by `merge2.Merger`, fused into one recursive merge.
//!
//! Each step mirrors a Go function (named in its doc comment) closely enough that the
//! surprising results of the original come out the same: elements without a merge key that
//! reset a merged list, `$patch` elements left in lists the target did not have, multi-key
//! lists (ports by `containerPort` and `protocol`) whose partial keys are reconciled. The
//! module's tests pin those behaviours against recorded `kubectl kustomize` output.

use super::schema::{Node as SchemaNode, Schema};
use super::tree::{Id, NodeKind, Tree, WrongKind};
use super::{Error, ListOrder, Options};

/// Deepest nesting merged before giving up (far beyond any real manifest).
pub(crate) const MAX_DEPTH: usize = 200;

/// A strategic merge patch directive (`$patch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Directive {
    Merge,
    Replace,
    Delete,
    /// kyaml's `smpUnknown`: what an unreadable directive counts as where errors are ignored.
    Unknown,
}

/// The `(target, patch)` pair at one place in the documents, with its schema.
struct Frame<'s> {
    schema: Option<&'s SchemaNode>,
    /// kyaml's `Sources`: `[dest, origin]`; `dest` is replaced by the visitor's result.
    sources: [Option<Id>; 2],
    path: String,
    depth: usize,
}

/// One merge: the arena holding target and patch, the schema, the options.
pub(crate) struct Merge<'a> {
    pub(crate) tree: Tree,
    pub(crate) schema: &'a Schema,
    pub(crate) options: Options,
}

impl<'a> Merge<'a> {
    /// `Walker{Sources: [dest, src]}.Walk()` from the top.
    pub(crate) fn run(&mut self, dest: Id, patch: Id) -> Result<Option<Id>, Error> {
        self.walk(Frame {
            schema: None,
            sources: [Some(dest), Some(patch)],
            path: String::new(),
            depth: 0,
        })
    }

    /// `Walker.Walk`.
    fn walk(&mut self, mut f: Frame<'a>) -> Result<Option<Id>, Error> {
        if f.depth > MAX_DEPTH {
            return Err(Error::TooDeep {
                path: display(&f.path),
                limit: MAX_DEPTH,
            });
        }
        f.schema = self.schema_for(&f);
        let present: Vec<Id> = f
            .sources
            .iter()
            .flatten()
            .copied()
            .filter(|&s| !self.tree.is_null(Some(s)))
            .collect();
        let Some(&first) = present.first() else {
            return self.walk_map(f);
        };
        let kind = self.tree.kind(first);
        if let Some(&other) = present.iter().find(|&&s| self.tree.kind(s) != kind) {
            let (target, patch) = if Some(first) == f.sources[0] {
                (kind, self.tree.kind(other))
            } else {
                (self.tree.kind(other), kind)
            };
            return Err(Error::KindMismatch {
                path: display(&f.path),
                target,
                patch,
            });
        }
        match kind {
            NodeKind::Map => self.walk_map(f),
            NodeKind::List if self.is_associative(&f) => self.walk_associative_list(f),
            NodeKind::List => Ok(f.sources[1].or(f.sources[0])),
            NodeKind::Scalar | NodeKind::Null => Ok(f.sources[1].or(f.sources[0])),
        }
    }

    /// `Walker.GetSchema` (without kyaml's schema-in-comment lookup, as JSON has no comments):
    /// the schema handed down, else the one of the first source naming a known
    /// `apiVersion` and `kind`.
    fn schema_for(&self, f: &Frame<'a>) -> Option<&'a SchemaNode> {
        if f.schema.is_some() {
            return f.schema;
        }
        let schema: &'a Schema = self.schema;
        f.sources.iter().flatten().find_map(|&s| {
            let meta = |name| {
                let v = self.tree.field(s, name);
                if self.tree.is_nil_or_empty(v) {
                    ""
                } else {
                    v.map_or("", |v| self.tree.value_text(v))
                }
            };
            let (api_version, kind) = (meta("apiVersion"), meta("kind"));
            if api_version.is_empty() || kind.is_empty() {
                return None;
            }
            schema.for_kind(api_version, kind)
        })
    }

    /// `schema.IsAssociative`: with a schema, whether its strategy includes `merge`; without
    /// one, only when inferring, whether some list has `name` on every element.
    fn is_associative(&self, f: &Frame<'a>) -> bool {
        if let Some(s) = f.schema {
            return s.has_merge_strategy();
        }
        self.options.infer_associative_lists
            && f.sources
                .iter()
                .flatten()
                .any(|&s| !self.tree.is_null(Some(s)) && self.associative_key(s).is_some())
    }

    /// `RNode.GetAssociativeKey`: `name` when every element has it (vacuously for `[]`).
    fn associative_key(&self, list: Id) -> Option<&'static str> {
        self.tree
            .items(list)
            .iter()
            .all(|&e| self.tree.field(e, "name").is_some())
            .then_some("name")
    }

    /// `Walker.walkMap` with `Merger.VisitMap`.
    fn walk_map(&mut self, mut f: Frame<'a>) -> Result<Option<Id>, Error> {
        let dest = self.visit_map(&f)?;
        f.sources[0] = dest;
        let Some(dest) = dest else { return Ok(None) };
        let mut names: Vec<String> = Vec::new();
        for &s in f.sources.iter().flatten() {
            names.extend(self.tree.field_names(s).map(str::to_owned));
        }
        names.sort();
        names.dedup();
        for name in names {
            let schema: &'a Schema = self.schema;
            let child = Frame {
                schema: f.schema.and_then(|s| schema.field(s, &name)),
                sources: f.sources.map(|s| s.and_then(|s| self.tree.field(s, &name))),
                path: join(&f.path, &name),
                depth: f.depth + 1,
            };
            let path = child.path.clone();
            let value = self.walk(child)?;
            self.tree
                .set_field(dest, &name, value)
                .map_err(|e| wrong_kind(&path, e))?;
        }
        Ok(Some(dest))
    }

    /// `Merger.VisitMap`.
    fn visit_map(&mut self, f: &Frame<'a>) -> Result<Option<Id>, Error> {
        let [dest, origin] = f.sources;
        if self.tree.missing_or_null(dest) {
            // A map only the patch has: kyaml ignores a bad directive here.
            let directive = self
                .directive(origin, &f.path)
                .unwrap_or(Directive::Unknown);
            if directive == Directive::Delete {
                return Ok(None);
            }
            // A null only the target has stays (kyaml keeps `null` and `~`, drops an empty
            // value; JSON cannot tell them apart and every null here reads as `null`).
            if origin.is_none() && dest.is_some() {
                return Ok(Some(self.tree.new_kept_null()));
            }
            return Ok(origin);
        }
        if self.tree.is_null(origin) {
            return Ok(None);
        }
        Ok(match self.directive(origin, &f.path)? {
            Directive::Delete => None,
            Directive::Replace => origin,
            Directive::Merge | Directive::Unknown => dest,
        })
    }

    /// `determineSmpDirective`: reads the patch's `$patch` and removes it from the patch
    /// (which kyaml does as a side effect, so a later visit of the same node sees none).
    fn directive(&mut self, patch: Option<Id>, path: &str) -> Result<Directive, Error> {
        let Some(patch) = patch else {
            return Ok(Directive::Merge);
        };
        let (holder, value) = match self.tree.kind(patch) {
            NodeKind::Map => match self.tree.field(patch, "$patch") {
                Some(v) => (None, v),
                None => return Ok(Directive::Merge),
            },
            NodeKind::List => {
                // Only a `{$patch: ...}` element with nothing else speaks for the list.
                let Some(elem) = self.tree.element_with_field(patch, "$patch") else {
                    return Ok(Directive::Merge);
                };
                if self.tree.field_count(elem) > 1 {
                    return Ok(Directive::Merge);
                }
                match self.tree.field(elem, "$patch") {
                    Some(v) => (Some(elem), v),
                    None => return Ok(Directive::Merge),
                }
            }
            // Unreachable through `walk` (kinds are checked first); kyaml errors.
            NodeKind::Scalar | NodeKind::Null => return Ok(Directive::Unknown),
        };
        let text = self.tree.text(value).to_owned();
        let directive = match text.as_str() {
            "delete" => Directive::Delete,
            "replace" => Directive::Replace,
            "merge" => Directive::Merge,
            _ => {
                return Err(Error::UnknownDirective {
                    path: display(path),
                    value: text,
                });
            }
        };
        let elided = match holder {
            None => self.tree.clear(patch, "$patch"),
            Some(_) => self
                .tree
                .element_setter(patch, None, &["$patch".to_owned()], &[text])
                .map(drop),
        };
        elided.map_err(|e| wrong_kind(path, e))?;
        Ok(directive)
    }

    /// `Merger.VisitList` for an associative list.
    fn visit_list(&mut self, f: &Frame<'a>) -> Result<Option<Id>, Error> {
        let [dest, origin] = f.sources;
        if self.tree.missing_or_null(dest) {
            return Ok(origin);
        }
        if self.tree.is_null(origin) {
            return Ok(None);
        }
        Ok(match self.directive(origin, &f.path)? {
            Directive::Delete => None,
            Directive::Replace => origin,
            Directive::Merge | Directive::Unknown => dest,
        })
    }

    /// `Walker.walkAssociativeSequence`.
    fn walk_associative_list(&mut self, mut f: Frame<'a>) -> Result<Option<Id>, Error> {
        let dest = self.visit_list(&f)?;
        f.sources[0] = dest;
        let Some(dest) = dest else { return Ok(None) };
        let (strategy, mut keys) = f
            .schema
            .map_or(("", Vec::new()), SchemaNode::strategy_and_keys);
        if strategy.is_empty() && keys.is_empty() {
            keys.push(self.element_key(&f)?.to_owned());
        }
        let values = self.element_values(&f, &keys);
        if !values.is_empty() || !keys.is_empty() {
            return self.set_elements(&f, values, &keys, dest);
        }
        let primitives = self.primitive_values(&f);
        self.set_elements(&f, primitives, &[String::new()], dest)
    }

    /// `Walker.elementKey` (only reached when inferring merge keys): `name`, provided every
    /// non-empty list has it on all elements.
    fn element_key(&self, f: &Frame<'a>) -> Result<&'static str, Error> {
        let mut key = "";
        for &s in f.sources.iter().flatten() {
            if self.tree.items(s).is_empty() {
                continue;
            }
            let found = self.associative_key(s).unwrap_or("");
            if !key.is_empty() && key != found {
                return Err(Error::ConflictingMergeKeys {
                    path: display(&f.path),
                    first: key.to_owned(),
                    second: found.to_owned(),
                });
            }
            key = found;
        }
        if key.is_empty() {
            return Err(Error::NoMergeKey {
                path: display(&f.path),
            });
        }
        Ok(key)
    }

    /// The sources in the order their elements are listed: with [`ListOrder::Prepend`] the
    /// patch's come first.
    fn ordered_sources(&self, f: &Frame<'a>) -> [Option<Id>; 2] {
        match self.options.list_order {
            ListOrder::Prepend => [f.sources[1], f.sources[0]],
            ListOrder::Append => f.sources,
        }
    }

    /// `Walker.elementValues`: each element's merge-key texts (empty for a missing or empty
    /// key), first occurrence only, in source order.
    fn element_values(&self, f: &Frame<'a>, keys: &[String]) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        for s in self.ordered_sources(f).into_iter().flatten() {
            for &elem in self.tree.items(s) {
                let values: Vec<String> = keys
                    .iter()
                    .map(|k| {
                        let field = self.tree.field(elem, k);
                        if self.tree.is_nil_or_empty(field) {
                            String::new()
                        } else {
                            field.map_or_else(String::new, |v| self.tree.text(v).to_owned())
                        }
                    })
                    .collect();
                if !values.is_empty() && !out.contains(&values) {
                    out.push(values);
                }
            }
        }
        out
    }

    /// `Walker.elementPrimitiveValues`: the distinct element texts, in source order.
    fn primitive_values(&self, f: &Frame<'a>) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = Vec::new();
        for s in self.ordered_sources(f).into_iter().flatten() {
            for &item in self.tree.items(s) {
                let text = vec![self.tree.text(item).to_owned()];
                if !out.contains(&text) {
                    out.push(text);
                }
            }
        }
        out
    }

    /// `Walker.setAssociativeSequenceElements`: merges the elements of each key in turn,
    /// collects the results, and joins them with the target's remaining elements.
    fn set_elements(
        &mut self,
        f: &Frame<'a>,
        mut values_list: Vec<Vec<String>>,
        keys: &[String],
        mut dest: Id,
    ) -> Result<Option<Id>, Error> {
        let items = self.tree.new_list();
        let schema: &'a Schema = self.schema;
        let element_schema = f.schema.and_then(|s| schema.elements(s));
        if keys.len() > 1 {
            merge_values(&mut values_list);
        }
        // kyaml joins the lists using the keys valid for the last element merged.
        let mut last_keys: Vec<String> = Vec::new();
        for values in &values_list {
            if values.is_empty() {
                continue;
            }
            let (valid_keys, valid_values) = validate_keys(&values_list, values, keys);
            last_keys.clone_from(&valid_keys);
            let path = element_path(&f.path, &valid_keys, &valid_values);
            let sources = self.element_sources(f, &valid_keys, &valid_values);
            let value = self.walk(Frame {
                schema: element_schema,
                sources,
                path: path.clone(),
                depth: f.depth + 1,
            })?;
            let mut removed = false;
            for (key, key_value) in valid_keys.iter().zip(&valid_values) {
                if self.tree.missing_or_null(value) || self.tree.is_empty_map(value) {
                    self.tree
                        .element_setter(dest, None, &valid_keys, &valid_values)
                        .map_err(|e| wrong_kind(&path, e))?;
                    removed = true;
                } else if let Some(v) = value
                    && !key.is_empty()
                    && self.tree.field(v, key).is_none()
                    && !key_value.is_empty()
                {
                    // kyaml puts a missing merge key back on the merged element. (In a
                    // primitive list it rewrites the element with its own text: a no-op.)
                    let key_node = self.tree.new_string(key_value);
                    self.tree
                        .set_field(v, key, Some(key_node))
                        .map_err(|e| wrong_kind(&path, e))?;
                }
            }
            if removed {
                continue;
            }
            self.tree
                .element_setter(items, value, &valid_keys, &valid_values)
                .map_err(|e| wrong_kind(&path, e))?;
        }
        if !values_list.is_empty() {
            dest = match self.options.list_order {
                ListOrder::Prepend => self.append_list(items, dest, &last_keys, &f.path)?,
                ListOrder::Append => self.append_list(dest, items, &last_keys, &f.path)?,
            };
        }
        Ok((!self.tree.missing_or_null(Some(dest))).then_some(dest))
    }

    /// `Walker.elementValueList`: each source's element with these key texts.
    fn element_sources(
        &self,
        f: &Frame<'a>,
        keys: &[String],
        values: &[String],
    ) -> [Option<Id>; 2] {
        let (keys, values) = validate_keys(&[values.to_vec()], values, keys);
        f.sources
            .map(|s| s.and_then(|s| self.tree.element_list(s, &keys, &values)))
    }

    /// `appendListNode`: adds `src`'s elements to `dst`, replacing same-keyed ones. An element
    /// without a key is appended directly and then, as in kyaml, replaces every element of
    /// `dst` (an `ElementSetter` with no values matches nothing and keeps nothing).
    fn append_list(&mut self, dst: Id, src: Id, keys: &[String], path: &str) -> Result<Id, Error> {
        let err = |e| wrong_kind(path, e);
        let elements = self.tree.items(src).to_vec();
        for elem in elements {
            if keys.first().is_none_or(String::is_empty) {
                let text = self.tree.text(elem).to_owned();
                self.tree
                    .element_setter(dst, Some(elem), &[String::new()], &[text])
                    .map_err(err)?;
                continue;
            }
            let mut values = Vec::new();
            for key in keys {
                match self.tree.get(elem, key).map_err(err)? {
                    None => self.tree.append(dst, elem).map_err(err)?,
                    Some(v) => values.push(self.tree.text(v).to_owned()),
                }
            }
            if keys.len() > 1 {
                // kyaml removes a multi-key element first: ElementSetter would append it
                // again even when present.
                self.tree
                    .element_setter(dst, None, keys, &values)
                    .map_err(err)?;
            }
            self.tree
                .element_setter(dst, Some(elem), keys, &values)
                .map_err(err)?;
        }
        Ok(dst)
    }
}

/// `validateKeys`: the keys some element has a value for (all keys when none has any), and
/// this element's values for them.
fn validate_keys(
    values_list: &[Vec<String>],
    values: &[String],
    keys: &[String],
) -> (Vec<String>, Vec<String>) {
    let valid = |i: usize| {
        values_list
            .iter()
            .any(|vs| vs.get(i).is_some_and(|v| !v.is_empty()))
    };
    if !(0..keys.len()).any(valid) {
        return (keys.to_vec(), values.to_vec());
    }
    let valid_keys = keys
        .iter()
        .enumerate()
        .filter(|&(i, _)| valid(i))
        .map(|(_, k)| k.clone())
        .collect();
    let valid_values = values
        .iter()
        .enumerate()
        .filter(|&(i, v)| !v.is_empty() || valid(i))
        .map(|(_, v)| v.clone())
        .collect();
    (valid_keys, valid_values)
}

/// `mergeValues`: key tuples that agree wherever both have a value (and share at least one)
/// become one tuple, so a port without `protocol` meets the same port with one.
fn merge_values(values_list: &mut [Vec<String>]) {
    for i in 0..values_list.len() {
        let first = values_list[i].clone();
        for j in 0..values_list.len() {
            if let Some(merged) = matching(&first, &values_list[j]) {
                values_list[i] = merged.clone();
                values_list[j] = merged;
            }
        }
    }
}

/// `match`: the combined tuple when the two agree.
fn matching(a: &[String], b: &[String]) -> Option<Vec<String>> {
    if a.len() != b.len() {
        return None;
    }
    let mut common = false;
    let mut out = Vec::with_capacity(a.len());
    for (x, y) in a.iter().zip(b) {
        if x == y {
            common = true;
            out.push(x.clone());
        } else if !x.is_empty() && !y.is_empty() {
            return None;
        } else {
            out.push(if x.is_empty() { y.clone() } else { x.clone() });
        }
    }
    common.then_some(out)
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// `containers[name=app]`, `ports[containerPort=80,protocol=TCP]`, `finalizers[=a]`.
fn element_path(path: &str, keys: &[String], values: &[String]) -> String {
    let pairs: Vec<String> = keys
        .iter()
        .zip(values)
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!("{path}[{}]", pairs.join(","))
}

fn display(path: &str) -> String {
    if path.is_empty() {
        "(root)".to_owned()
    } else {
        path.to_owned()
    }
}

fn wrong_kind(path: &str, e: WrongKind) -> Error {
    Error::ElementKind {
        path: display(path),
        expected: e.expected,
        found: e.found,
    }
}
