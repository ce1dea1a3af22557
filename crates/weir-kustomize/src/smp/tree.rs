//! YAML nodes the way kyaml's merge sees them, and the kyaml filters it is built from.
//!
//! kyaml merges `*yaml.Node` trees in place: a merged element is the target's node mutated, a
//! patch node can end up in the output by pointer, and directive keys are removed from the
//! patch as a side effect of reading them. Some observable results (which list elements
//! survive, in what order) depend on that sharing, so the merge runs on an arena where a
//! [`Id`] plays the part of a pointer, and the filters below keep the Go filters' exact rules
//! (comments name each one).

use serde_json::{Map, Value};

use super::plain::reads_as_non_string;

/// A node's place in the arena (a `*yaml.Node`).
pub(crate) type Id = usize;

/// The kinds of YAML node a merge tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A mapping (JSON object).
    Map,
    /// A sequence (JSON array).
    List,
    /// A string, number or boolean.
    Scalar,
    /// An explicit `null`.
    Null,
}

impl std::fmt::Display for NodeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NodeKind::Map => "map",
            NodeKind::List => "list",
            NodeKind::Scalar => "scalar",
            NodeKind::Null => "null",
        })
    }
}

/// A node's contents. Cloning copies child ids, not children: that is Go's `*n = *m`.
#[derive(Debug, Clone)]
enum Node {
    Map(Vec<(String, Id)>),
    Seq(Vec<Id>),
    /// `text` is the YAML `Value` kyaml compares; `value` is the JSON scalar it came from.
    Scalar {
        text: String,
        value: Value,
    },
    /// A `!!null` node; `keep` is kyaml's `ShouldKeep` (a null the merge must not drop).
    Null {
        keep: bool,
    },
}

/// A filter met a node of the wrong kind (kyaml's `ErrorIfInvalid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WrongKind {
    pub(crate) expected: NodeKind,
    pub(crate) found: NodeKind,
}

/// The arena.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    nodes: Vec<Node>,
}

impl Tree {
    /// Copies a JSON value into the arena; `None` past `depth_left` levels.
    pub(crate) fn add_json(&mut self, value: &Value, depth_left: usize) -> Option<Id> {
        let depth_left = depth_left.checked_sub(1)?;
        let node = match value {
            Value::Null => Node::Null { keep: false },
            Value::Object(m) => {
                let mut fields = Vec::with_capacity(m.len());
                for (k, v) in m {
                    fields.push((k.clone(), self.add_json(v, depth_left)?));
                }
                Node::Map(fields)
            }
            Value::Array(a) => {
                let mut items = Vec::with_capacity(a.len());
                for v in a {
                    items.push(self.add_json(v, depth_left)?);
                }
                Node::Seq(items)
            }
            Value::String(s) => Node::Scalar {
                text: s.clone(),
                value: value.clone(),
            },
            Value::Number(n) => Node::Scalar {
                text: n.to_string(),
                value: value.clone(),
            },
            Value::Bool(b) => Node::Scalar {
                text: b.to_string(),
                value: value.clone(),
            },
        };
        Some(self.alloc(node))
    }

    /// The JSON value of a node; `None` past `depth_left` levels.
    pub(crate) fn to_json(&self, id: Id, depth_left: usize) -> Option<Value> {
        let depth_left = depth_left.checked_sub(1)?;
        Some(match &self.nodes[id] {
            Node::Null { .. } => Value::Null,
            Node::Scalar { value, .. } => value.clone(),
            Node::Seq(items) => Value::Array(
                items
                    .iter()
                    .map(|&i| self.to_json(i, depth_left))
                    .collect::<Option<_>>()?,
            ),
            Node::Map(fields) => {
                let mut m = Map::with_capacity(fields.len());
                for (k, v) in fields {
                    m.insert(k.clone(), self.to_json(*v, depth_left)?);
                }
                Value::Object(m)
            }
        })
    }

    fn alloc(&mut self, node: Node) -> Id {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// `MakePersistentNullNode`.
    pub(crate) fn new_kept_null(&mut self) -> Id {
        self.alloc(Node::Null { keep: true })
    }

    /// `NewListRNode()`.
    pub(crate) fn new_list(&mut self) -> Id {
        self.alloc(Node::Seq(Vec::new()))
    }

    /// `NewScalarRNode(text)` as a field value: an untagged plain scalar, which kyaml's
    /// `FieldSetter` quotes whenever YAML 1.1 would read it as anything but a string, so it
    /// comes out as a JSON string.
    pub(crate) fn new_string(&mut self, text: &str) -> Id {
        self.alloc(Node::Scalar {
            text: text.to_owned(),
            value: Value::String(text.to_owned()),
        })
    }

    pub(crate) fn kind(&self, id: Id) -> NodeKind {
        match &self.nodes[id] {
            Node::Map(_) => NodeKind::Map,
            Node::Seq(_) => NodeKind::List,
            Node::Scalar { .. } => NodeKind::Scalar,
            Node::Null { .. } => NodeKind::Null,
        }
    }

    /// `IsMissingOrNull`.
    pub(crate) fn missing_or_null(&self, id: Option<Id>) -> bool {
        id.is_none_or(|id| self.kind(id) == NodeKind::Null)
    }

    /// `IsTaggedNull`.
    pub(crate) fn is_null(&self, id: Option<Id>) -> bool {
        id.is_some_and(|id| self.kind(id) == NodeKind::Null)
    }

    /// `IsEmptyMap`: missing, null, or a map without fields.
    pub(crate) fn is_empty_map(&self, id: Option<Id>) -> bool {
        match id {
            None => true,
            Some(id) => match &self.nodes[id] {
                Node::Null { .. } => true,
                Node::Map(f) => f.is_empty(),
                _ => false,
            },
        }
    }

    /// `IsNilOrEmpty`: missing, null, or an empty map or list.
    pub(crate) fn is_nil_or_empty(&self, id: Option<Id>) -> bool {
        match id {
            None => true,
            Some(id) => match &self.nodes[id] {
                Node::Null { .. } => true,
                Node::Map(f) => f.is_empty(),
                Node::Seq(s) => s.is_empty(),
                Node::Scalar { .. } => false,
            },
        }
    }

    /// Whether kyaml's `ShouldKeep` is set on a null.
    pub(crate) fn is_kept_null(&self, id: Id) -> bool {
        matches!(self.nodes[id], Node::Null { keep: true })
    }

    /// `node.YNode().Value`: a scalar's text, `null` for a null (as a JSON null reads), empty
    /// for collections.
    pub(crate) fn text(&self, id: Id) -> &str {
        match &self.nodes[id] {
            Node::Scalar { text, .. } => text,
            Node::Null { .. } => "null",
            _ => "",
        }
    }

    /// `GetValue`: like [`Tree::text`] but empty for a null.
    pub(crate) fn value_text(&self, id: Id) -> &str {
        match &self.nodes[id] {
            Node::Null { .. } => "",
            _ => self.text(id),
        }
    }

    /// `Content()` of a list (empty for anything else).
    pub(crate) fn items(&self, id: Id) -> &[Id] {
        match &self.nodes[id] {
            Node::Seq(items) => items,
            _ => &[],
        }
    }

    /// `Fields()` of a map (empty for anything else).
    pub(crate) fn field_names(&self, id: Id) -> impl Iterator<Item = &str> {
        let fields: &[(String, Id)] = match &self.nodes[id] {
            Node::Map(f) => f,
            _ => &[],
        };
        fields.iter().map(|(k, _)| k.as_str())
    }

    /// Number of fields of a map.
    pub(crate) fn field_count(&self, id: Id) -> usize {
        match &self.nodes[id] {
            Node::Map(f) => f.len(),
            _ => 0,
        }
    }

    /// `Field(name).Value`: the first field of that name of a map; `None` for anything else.
    pub(crate) fn field(&self, id: Id, name: &str) -> Option<Id> {
        match &self.nodes[id] {
            Node::Map(f) => f.iter().find(|(k, _)| k == name).map(|&(_, v)| v),
            _ => None,
        }
    }

    /// `*dst = *src`: `dst` takes `src`'s contents (sharing its children).
    fn set_node(&mut self, dst: Id, src: Id) {
        if dst != src {
            self.nodes[dst] = self.nodes[src].clone();
        }
    }

    fn expect_kind(&self, id: Id, expected: NodeKind) -> Result<(), WrongKind> {
        // `ErrorIfInvalid` lets missing and null nodes pass.
        let found = self.kind(id);
        if found == expected || found == NodeKind::Null {
            Ok(())
        } else {
            Err(WrongKind { expected, found })
        }
    }

    /// `FieldMatcher{Name}` (`yaml.Get`): the field's value, whatever it is.
    pub(crate) fn get(&self, id: Id, name: &str) -> Result<Option<Id>, WrongKind> {
        self.field_matcher(id, name, None)
    }

    /// `FieldMatcher{Name, Value}`: the field's value if its text equals `value` (or any value
    /// when `value` is `None`). With an empty name it matches a scalar node itself by value.
    fn field_matcher(
        &self,
        id: Id,
        name: &str,
        value: Option<&str>,
    ) -> Result<Option<Id>, WrongKind> {
        if self.missing_or_null(Some(id)) {
            return Ok(None);
        }
        if name.is_empty() {
            self.expect_kind(id, NodeKind::Scalar)?;
            let matched = self.value_text(id) == value.unwrap_or("");
            return Ok(matched.then_some(id));
        }
        self.expect_kind(id, NodeKind::Map)?;
        Ok(self
            .field(id, name)
            .filter(|&f| value.is_none_or(|v| self.text(f) == v)))
    }

    /// `ElementSetter{Element, Keys, Values}`: drops null and empty-map elements, then replaces
    /// (or, without `element`, removes) the elements matching every key/value pair; appends
    /// `element` when none matched. Returns `element` unless it is missing or null.
    ///
    /// The Go quirks are kept on purpose: with fewer values than keys, the last match stands
    /// in for the missing ones; with no values at all nothing matches and every element is
    /// dropped.
    pub(crate) fn element_setter(
        &mut self,
        list: Id,
        element: Option<Id>,
        keys: &[String],
        values: &[String],
    ) -> Result<Option<Id>, WrongKind> {
        let blank = [String::new()];
        let keys = if keys.is_empty() { &blank[..] } else { keys };
        self.expect_kind(list, NodeKind::List)?;
        let mapping_setter = !keys[0].is_empty() && values.first().is_some_and(|v| !v.is_empty());
        let mut kept = Vec::new();
        let mut matched_any = false;
        for &elem in self.items(list) {
            if self.missing_or_null(Some(elem)) || self.is_empty_map(Some(elem)) {
                continue;
            }
            if self.kind(elem) != NodeKind::Map && mapping_setter {
                kept.push(elem);
                continue;
            }
            let mut found = true;
            let mut last = None;
            for (j, key) in keys.iter().enumerate() {
                if let Some(v) = values.get(j) {
                    last = self.field_matcher(elem, key, (!v.is_empty()).then_some(v.as_str()))?;
                }
                if last.is_none() {
                    found = false;
                    break;
                }
            }
            if !found {
                if !values.is_empty() {
                    kept.push(elem);
                }
                continue;
            }
            matched_any = true;
            if let Some(e) = element {
                kept.push(e);
            }
        }
        if let Node::Seq(items) = &mut self.nodes[list] {
            *items = kept;
        }
        let Some(element) = element.filter(|&e| !self.missing_or_null(Some(e))) else {
            return Ok(None);
        };
        if !matched_any {
            self.append(list, element)?;
        }
        Ok(Some(element))
    }

    /// `ElementAppender`.
    pub(crate) fn append(&mut self, list: Id, element: Id) -> Result<(), WrongKind> {
        self.expect_kind(list, NodeKind::List)?;
        if let Node::Seq(items) = &mut self.nodes[list] {
            items.push(element);
        }
        Ok(())
    }

    /// `RNode.ElementList` (`ElementMatcher{Keys, Values}`): the first element whose fields
    /// have exactly these texts; with an empty first key, the first element whose own text is
    /// `values[0]`. Errors count as no match, as in kyaml.
    pub(crate) fn element_list(&self, list: Id, keys: &[String], values: &[String]) -> Option<Id> {
        let Node::Seq(items) = &self.nodes[list] else {
            return None;
        };
        let first_value = values.first().map_or("", String::as_str);
        if keys.first().is_none_or(String::is_empty) {
            return items.iter().copied().find(|&i| self.text(i) == first_value);
        }
        let blank = [String::new()];
        let values = if values.is_empty() {
            &blank[..]
        } else {
            values
        };
        for &elem in items {
            if self.expect_kind(elem, NodeKind::Map).is_err() {
                continue;
            }
            if keys.len() != values.len() {
                return None;
            }
            let all = keys.iter().zip(values).all(|(k, v)| {
                !self.missing_or_null(Some(elem))
                    && self.field(elem, k).is_some_and(|f| self.text(f) == v)
            });
            if all {
                return Some(elem);
            }
        }
        None
    }

    /// `GetElementByKey(key)`: the first map element that has the field (any value).
    pub(crate) fn element_with_field(&self, list: Id, key: &str) -> Option<Id> {
        self.items(list)
            .iter()
            .copied()
            .find(|&e| self.kind(e) == NodeKind::Map && self.field(e, key).is_some())
    }

    /// `FieldClearer`: removes the first field of that name.
    pub(crate) fn clear(&mut self, map: Id, name: &str) -> Result<(), WrongKind> {
        self.expect_kind(map, NodeKind::Map)?;
        if let Node::Map(fields) = &mut self.nodes[map]
            && let Some(i) = fields.iter().position(|(k, _)| k == name)
        {
            fields.remove(i);
        }
        Ok(())
    }

    /// `FieldSetter{Name, Value}`: removes the field for a missing or (not kept) null value,
    /// overwrites an existing field's node in place, or appends the field.
    ///
    /// With an empty name the node itself is overwritten, as kyaml does for scalars.
    pub(crate) fn set_field(
        &mut self,
        target: Id,
        name: &str,
        value: Option<Id>,
    ) -> Result<(), WrongKind> {
        if name.is_empty() {
            self.expect_kind(target, NodeKind::Scalar)?;
            if let Some(v) = value.filter(|&v| !self.missing_or_null(Some(v))) {
                self.set_node(target, v);
            }
            return Ok(());
        }
        let Some(value) = value.filter(|&v| !self.is_null(Some(v)) || self.is_kept_null(v)) else {
            return self.clear(target, name);
        };
        match self.field_matcher(target, name, None)? {
            Some(existing) => {
                // kyaml gives the new value the old one's YAML style. A string that reads as
                // a number, boolean or null must have been quoted, and a number or boolean
                // printed with quotes comes back a string.
                if let (
                    Node::Scalar {
                        value: Value::String(old),
                        ..
                    },
                    Node::Scalar { text, value: new },
                ) = (&self.nodes[existing], &self.nodes[value])
                    && !new.is_string()
                    && reads_as_non_string(old)
                {
                    let quoted = Value::String(text.clone());
                    self.nodes[existing] = Node::Scalar {
                        text: text.clone(),
                        value: quoted,
                    };
                    return Ok(());
                }
                self.set_node(existing, value);
            }
            None => {
                if let Node::Map(fields) = &mut self.nodes[target] {
                    fields.push((name.to_owned(), value));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn tree(v: &Value) -> (Tree, Id) {
        let mut t = Tree::default();
        let id = t.add_json(v, 100).expect("shallow");
        (t, id)
    }

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn json_round_trips() {
        let v = json!({"a": [1, "x", null, true, {"b": 2.5}], "c": {}});
        let (t, id) = tree(&v);
        assert_eq!(t.to_json(id, 100), Some(v));
        assert_eq!(Tree::default().add_json(&json!([[[[1]]]]), 3), None);
    }

    #[test]
    fn element_setter_replaces_appends_and_deletes_by_key() {
        let (mut t, list) = tree(&json!([{"name": "a"}, {}, null, {"name": "b", "v": 1}]));
        let new = t
            .add_json(&json!({"name": "b", "v": 2}), 10)
            .expect("small");
        t.element_setter(list, Some(new), &keys(&["name"]), &keys(&["b"]))
            .expect("lists");
        assert_eq!(
            t.to_json(list, 10),
            Some(json!([{"name": "a"}, {"name": "b", "v": 2}]))
        );
        let c = t.add_json(&json!({"name": "c"}), 10).expect("small");
        t.element_setter(list, Some(c), &keys(&["name"]), &keys(&["c"]))
            .expect("lists");
        t.element_setter(list, None, &keys(&["name"]), &keys(&["a"]))
            .expect("lists");
        assert_eq!(
            t.to_json(list, 10),
            Some(json!([{"name": "b", "v": 2}, {"name": "c"}]))
        );
    }

    #[test]
    fn element_setter_without_values_drops_everything() {
        // appendListNode hands ElementSetter no values for an element without its key.
        let (mut t, list) = tree(&json!([{"name": "a"}, {"name": "b"}]));
        let e = t.add_json(&json!({"image": "x"}), 10).expect("small");
        t.element_setter(list, Some(e), &keys(&["name"]), &[])
            .expect("lists");
        assert_eq!(t.to_json(list, 10), Some(json!([{"image": "x"}])));
    }

    #[test]
    fn element_setter_with_an_empty_value_matches_any_element_with_the_field() {
        let (mut t, list) = tree(&json!([{"name": "a"}, {"image": "x"}, {"name": "b"}]));
        t.element_setter(list, None, &keys(&["name"]), &keys(&[""]))
            .expect("lists");
        assert_eq!(t.to_json(list, 10), Some(json!([{"image": "x"}])));
    }

    #[test]
    fn element_setter_reports_scalars_in_keyed_lists() {
        let (mut t, list) = tree(&json!(["a"]));
        let e = t.element_setter(list, None, &keys(&["name"]), &keys(&[""]));
        assert_eq!(
            e,
            Err(WrongKind {
                expected: NodeKind::Map,
                found: NodeKind::Scalar
            })
        );
    }

    #[test]
    fn element_list_matches_texts() {
        let (t, list) = tree(&json!([{"port": 80}, {"port": 80, "protocol": "UDP"}, "x"]));
        assert_eq!(
            t.element_list(list, &keys(&["port", "protocol"]), &keys(&["80", "UDP"])),
            Some(t.items(list)[1])
        );
        assert_eq!(
            t.element_list(list, &keys(&["port"]), &keys(&["80"])),
            Some(t.items(list)[0])
        );
        assert_eq!(
            t.element_list(list, &keys(&[""]), &keys(&["x"])),
            Some(t.items(list)[2])
        );
        assert_eq!(
            t.element_list(list, &keys(&["port", "protocol"]), &keys(&["80"])),
            None
        );
    }

    #[test]
    fn a_number_replacing_a_quoted_number_stays_a_string() {
        let (mut t, map) = tree(&json!({"a": "8080", "b": "http", "c": "true"}));
        for (k, v) in [("a", json!(9090)), ("b", json!(9090)), ("c", json!(false))] {
            let v = t.add_json(&v, 10).expect("small");
            t.set_field(map, k, Some(v)).expect("map");
        }
        assert_eq!(
            t.to_json(map, 10),
            Some(json!({"a": "9090", "b": 9090, "c": "false"}))
        );
    }

    #[test]
    fn set_field_overwrites_in_place_and_clears_nulls() {
        let (mut t, map) = tree(&json!({"a": 1, "b": 2}));
        let old_a = t.field(map, "a").expect("a");
        let v = t.add_json(&json!("x"), 10).expect("small");
        t.set_field(map, "a", Some(v)).expect("map");
        assert_eq!(t.field(map, "a"), Some(old_a));
        let null = t.add_json(&Value::Null, 10).expect("small");
        t.set_field(map, "b", Some(null)).expect("map");
        let kept = t.new_kept_null();
        t.set_field(map, "c", Some(kept)).expect("map");
        assert_eq!(t.to_json(map, 10), Some(json!({"a": "x", "c": null})));
    }
}
