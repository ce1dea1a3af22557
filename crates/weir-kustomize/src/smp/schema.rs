//! The OpenAPI facts a strategic merge needs, and kyaml's way of looking them up.
//!
//! kyaml (kyaml/openapi) indexes OpenAPI v2 `definitions` by the
//! `x-kubernetes-group-version-kind` extension, resolves `$ref`s lazily against all definitions,
//! and reads three extensions on list fields: `x-kubernetes-patch-strategy`,
//! `x-kubernetes-patch-merge-key` and `x-kubernetes-list-map-keys`. Everything else in a schema
//! (descriptions, formats, validation) plays no part in a merge and is dropped on parsing.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde_json::Value;

use super::SchemaError;

/// The built-in table, reduced from the Kubernetes API server's `/openapi/v2` by
/// `tools/gen-smp-schema`.
const BUILTIN: &str = include_str!("builtin-schema.json");

/// How many `$ref` hops a lookup follows before giving up (a reference cycle).
const MAX_REF_HOPS: usize = 64;

/// Merge-relevant OpenAPI definitions and the index from `apiVersion`/`kind` to them.
///
/// [`Schema::builtin`] holds the Kubernetes API types. Kustomize replaces it wholesale with the
/// document a kustomization names in `openapi: {path: ...}`: build that with
/// [`Schema::from_openapi`], or use [`Schema::layered`] to keep the built-in types as well.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    definitions: HashMap<String, Node>,
    kinds: HashMap<(String, String), String>,
}

/// One schema object, keeping only what a merge reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Node {
    /// `$ref`, as JSON-pointer tokens below the document root (`["definitions", name]`).
    reference: Option<Vec<String>>,
    /// `type` is exactly `array` (kyaml looks at `items` only then).
    array: bool,
    items: Option<Box<Node>>,
    properties: BTreeMap<String, Node>,
    additional: Option<Box<Node>>,
    strategy: Option<String>,
    merge_key: Option<String>,
    list_map_keys: Option<Vec<String>>,
}

impl Schema {
    /// The schema of the built-in Kubernetes types (generated from kube-apiserver's OpenAPI v2
    /// document; see `tools/gen-smp-schema`).
    pub fn builtin() -> &'static Schema {
        static BUILTIN_SCHEMA: OnceLock<Schema> = OnceLock::new();
        BUILTIN_SCHEMA.get_or_init(|| {
            let doc: Value =
                serde_json::from_str(BUILTIN).expect("tools/gen-smp-schema writes valid JSON");
            Schema::from_compact(&doc).expect("tools/gen-smp-schema writes the compact form")
        })
    }

    /// Reads an OpenAPI v2 (swagger) document, as JSON or as YAML already turned into JSON.
    ///
    /// Only `definitions` is used, as kustomize does; a document without it gives an empty
    /// schema. Malformed merge extensions or `x-kubernetes-group-version-kind` entries (which
    /// make kustomize panic) are errors.
    pub fn from_openapi(doc: &Value) -> Result<Schema, SchemaError> {
        let Value::Object(doc) = doc else {
            return Err(SchemaError::NotAnObject {
                path: String::new(),
            });
        };
        let mut schema = Schema::default();
        let definitions = match doc.get("definitions") {
            None | Some(Value::Null) => return Ok(schema),
            Some(Value::Object(d)) => d,
            Some(_) => {
                return Err(SchemaError::NotAnObject {
                    path: "definitions".into(),
                });
            }
        };
        for (name, def) in definitions {
            let path = format!("definitions.{name}");
            schema
                .definitions
                .insert(name.clone(), Node::from_openapi(def, &path)?);
            if let Some(Value::Array(gvks)) = def
                .as_object()
                .and_then(|d| d.get("x-kubernetes-group-version-kind"))
            {
                for gvk in gvks {
                    // kyaml skips entries that are not objects and panics on ones without a
                    // version or kind.
                    let Value::Object(gvk) = gvk else { continue };
                    let text = |key: &str| match gvk.get(key) {
                        Some(Value::String(s)) => Ok(s.clone()),
                        _ => Err(SchemaError::GroupVersionKind {
                            path: format!("{path}.x-kubernetes-group-version-kind"),
                            field: key.to_owned(),
                        }),
                    };
                    let (version, kind) = (text("version")?, text("kind")?);
                    let api_version = match gvk.get("group") {
                        Some(Value::String(g)) if !g.is_empty() => format!("{g}/{version}"),
                        _ => version,
                    };
                    schema.kinds.insert((api_version, kind), name.clone());
                }
            }
        }
        Ok(schema)
    }

    /// This schema with `over`'s definitions and kinds added, replacing same-named ones.
    /// References in either resolve against the combined definitions.
    pub fn layered(&self, over: &Schema) -> Schema {
        let mut out = self.clone();
        out.definitions
            .extend(over.definitions.iter().map(|(k, v)| (k.clone(), v.clone())));
        out.kinds
            .extend(over.kinds.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// Whether a resource of this `apiVersion` and `kind` has a schema (an unknown kind, such
    /// as a custom resource without a user schema, merges every list by replacing it).
    pub fn knows_kind(&self, api_version: &str, kind: &str) -> bool {
        self.for_kind(api_version, kind).is_some()
    }

    /// Reads the compact form `tools/gen-smp-schema` writes:
    /// `{"definitions": {name: node}, "kinds": [[apiVersion, kind, name]]}` where a node is
    /// `0` (no merge facts), a string (a reference to that definition) or an object with the
    /// one-letter keys of [`Node::from_compact`].
    fn from_compact(doc: &Value) -> Result<Schema, SchemaError> {
        let mut schema = Schema::default();
        let defs = doc.get("definitions").and_then(Value::as_object);
        for (name, def) in defs.into_iter().flatten() {
            schema
                .definitions
                .insert(name.clone(), Node::from_compact(def, name)?);
        }
        let kinds = doc.get("kinds").and_then(Value::as_array);
        for entry in kinds.into_iter().flatten() {
            match entry
                .as_array()
                .map(|e| e.iter().map(Value::as_str).collect::<Vec<_>>())
            {
                Some(e) if e.len() == 3 => {
                    if let [Some(av), Some(kind), Some(name)] = e[..] {
                        schema
                            .kinds
                            .insert((av.to_owned(), kind.to_owned()), name.to_owned());
                        continue;
                    }
                }
                _ => {}
            }
            return Err(SchemaError::GroupVersionKind {
                path: "kinds".into(),
                field: entry.to_string(),
            });
        }
        Ok(schema)
    }

    /// `openapi.SchemaForResourceType`: the definition indexed under this type, as stored
    /// (kyaml does not resolve a top-level `$ref` here).
    pub(crate) fn for_kind(&self, api_version: &str, kind: &str) -> Option<&Node> {
        let name = self.kinds.get(&(api_version.to_owned(), kind.to_owned()))?;
        self.definitions.get(name)
    }

    /// `ResourceSchema.Field`: a property's schema, else the `additionalProperties` schema,
    /// with references resolved.
    pub(crate) fn field<'a>(&'a self, node: &'a Node, name: &str) -> Option<&'a Node> {
        let found = node.properties.get(name).or(node.additional.as_deref())?;
        self.resolve(found)
    }

    /// `ResourceSchema.Elements`: the schema of an array's items, with references resolved.
    pub(crate) fn elements<'a>(&'a self, node: &'a Node) -> Option<&'a Node> {
        if !node.array {
            return None;
        }
        self.resolve(node.items.as_deref()?)
    }

    /// Follows `$ref`s: each hop replaces the schema entirely, as kyaml's `Resolve` does (so
    /// extensions written next to a `$ref` are lost).
    fn resolve<'a>(&'a self, mut node: &'a Node) -> Option<&'a Node> {
        for _ in 0..MAX_REF_HOPS {
            let Some(tokens) = &node.reference else {
                return Some(node);
            };
            node = self.pointer(tokens)?;
        }
        None
    }

    /// Resolves JSON-pointer tokens below the root: `definitions/<name>` followed by any of
    /// `properties/<name>`, `items`, `additionalProperties`.
    fn pointer(&self, tokens: &[String]) -> Option<&Node> {
        let [first, name, rest @ ..] = tokens else {
            return None;
        };
        if first != "definitions" {
            return None;
        }
        let mut node = self.definitions.get(name)?;
        let mut rest = rest.iter();
        while let Some(token) = rest.next() {
            node = match token.as_str() {
                "properties" => node.properties.get(rest.next()?)?,
                "items" => node.items.as_deref()?,
                "additionalProperties" => node.additional.as_deref()?,
                _ => return None,
            };
        }
        Some(node)
    }
}

impl Node {
    /// `ResourceSchema.PatchStrategyAndKeyList`: the strategy, and the merge keys (the list-map
    /// keys when present, else the merge key). Without a strategy there are no keys at all.
    pub(crate) fn strategy_and_keys(&self) -> (&str, Vec<String>) {
        let Some(strategy) = &self.strategy else {
            return ("", Vec::new());
        };
        let keys = match (&self.list_map_keys, &self.merge_key) {
            (Some(keys), _) => keys.clone(),
            (None, Some(key)) => vec![key.clone()],
            (None, None) => Vec::new(),
        };
        (strategy, keys)
    }

    /// `schemaHasMergeStrategy`: one of the comma-separated strategies is `merge`.
    pub(crate) fn has_merge_strategy(&self) -> bool {
        self.strategy
            .as_deref()
            .is_some_and(|s| s.split(',').any(|s| s == "merge"))
    }

    fn from_openapi(value: &Value, path: &str) -> Result<Node, SchemaError> {
        let Value::Object(map) = value else {
            return Err(SchemaError::NotAnObject {
                path: path.to_owned(),
            });
        };
        let mut node = Node::default();
        for (key, v) in map {
            let here = || format!("{path}.{key}");
            match key.as_str() {
                "$ref" => {
                    let Value::String(r) = v else {
                        return Err(SchemaError::Extension { path: here() });
                    };
                    node.reference = Some(pointer_tokens(r));
                }
                "type" => {
                    node.array = match v {
                        Value::String(t) => t == "array",
                        Value::Array(t) => t.len() == 1 && t[0] == "array",
                        _ => false,
                    }
                }
                // A tuple (`items: [...]`) has no single item schema; kyaml sees none.
                "items" if v.is_object() => {
                    node.items = Some(Box::new(Node::from_openapi(v, &here())?))
                }
                "additionalProperties" if v.is_object() => {
                    node.additional = Some(Box::new(Node::from_openapi(v, &here())?));
                }
                "properties" => {
                    let Value::Object(props) = v else {
                        return Err(SchemaError::NotAnObject { path: here() });
                    };
                    for (name, p) in props {
                        let sub = Node::from_openapi(p, &format!("{path}.properties.{name}"))?;
                        node.properties.insert(name.clone(), sub);
                    }
                }
                "x-kubernetes-patch-strategy" => node.strategy = Some(string(v, here)?),
                "x-kubernetes-patch-merge-key" => node.merge_key = Some(string(v, here)?),
                "x-kubernetes-list-map-keys" => {
                    let Value::Array(keys) = v else {
                        return Err(SchemaError::Extension { path: here() });
                    };
                    let keys = keys
                        .iter()
                        .map(|k| string(k, here))
                        .collect::<Result<_, _>>()?;
                    node.list_map_keys = Some(keys);
                }
                _ => {}
            }
        }
        Ok(node)
    }

    /// Reads a node of the compact form: `0`, a definition name, or an object with
    /// `r` (reference), `a` (array), `i` (items), `p` (properties), `m` (additional
    /// properties), `s` (strategy), `k` (merge key), `l` (list-map keys).
    fn from_compact(value: &Value, path: &str) -> Result<Node, SchemaError> {
        let bad = || SchemaError::NotAnObject {
            path: path.to_owned(),
        };
        let map = match value {
            Value::Number(_) => return Ok(Node::default()),
            Value::String(name) => {
                return Ok(Node {
                    reference: Some(vec!["definitions".into(), name.clone()]),
                    ..Node::default()
                });
            }
            Value::Object(map) => map,
            _ => return Err(bad()),
        };
        let mut node = Node::default();
        for (key, v) in map {
            let here = || format!("{path}.{key}");
            match key.as_str() {
                "r" => node.reference = Some(vec!["definitions".into(), string(v, here)?]),
                "a" => node.array = true,
                "i" => node.items = Some(Box::new(Node::from_compact(v, &here())?)),
                "m" => node.additional = Some(Box::new(Node::from_compact(v, &here())?)),
                "p" => {
                    for (name, p) in v.as_object().ok_or_else(bad)? {
                        node.properties.insert(
                            name.clone(),
                            Node::from_compact(p, &format!("{path}.{name}"))?,
                        );
                    }
                }
                "s" => node.strategy = Some(string(v, here)?),
                "k" => node.merge_key = Some(string(v, here)?),
                "l" => {
                    let keys = v.as_array().ok_or_else(bad)?;
                    node.list_map_keys = Some(
                        keys.iter()
                            .map(|k| string(k, here))
                            .collect::<Result<_, _>>()?,
                    );
                }
                _ => return Err(bad()),
            }
        }
        Ok(node)
    }
}

fn string(v: &Value, path: impl Fn() -> String) -> Result<String, SchemaError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(SchemaError::Extension { path: path() }),
    }
}

/// Splits `#/definitions/a~1b/properties/x` into unescaped tokens below the root. A reference
/// into another document cannot be resolved; it gets a token list that resolves to nothing.
fn pointer_tokens(reference: &str) -> Vec<String> {
    let Some(local) = reference.strip_prefix("#/") else {
        return Vec::new();
    };
    local
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn builtin_indexes_workloads_and_resolves_references() {
        let s = Schema::builtin();
        let deploy = s
            .for_kind("apps/v1", "Deployment")
            .expect("Deployment is built in");
        let pod_spec = ["spec", "template", "spec"]
            .iter()
            .try_fold(deploy, |n, f| s.field(n, f));
        let containers = s
            .field(pod_spec.expect("path resolves"), "containers")
            .expect("containers");
        assert_eq!(
            containers.strategy_and_keys(),
            ("merge", vec!["name".to_owned()])
        );
        let container = s.elements(containers).expect("items resolve");
        let ports = s.field(container, "ports").expect("ports");
        assert_eq!(ports.strategy_and_keys().1, ["containerPort", "protocol"]);
        let tolerations = s
            .field(pod_spec.expect("path resolves"), "tolerations")
            .expect("tolerations");
        assert!(!tolerations.has_merge_strategy());
        assert!(s.knows_kind("v1", "ConfigMap"));
        assert!(!s.knows_kind("example.com/v1", "Foo"));
    }

    #[test]
    fn builtin_keeps_finalizers_primitive_and_labels_as_map() {
        let s = Schema::builtin();
        let cm = s.for_kind("v1", "ConfigMap").expect("ConfigMap");
        let meta = s.field(cm, "metadata").expect("metadata");
        let fin = s.field(meta, "finalizers").expect("finalizers");
        assert_eq!(fin.strategy_and_keys(), ("merge", vec![]));
        let labels = s.field(meta, "labels").expect("labels");
        // Any key of a map gets the additionalProperties schema.
        assert!(s.field(labels, "whatever").is_some());
    }

    #[test]
    fn openapi_documents_parse_and_layer() {
        let doc = json!({"definitions": {
            "x.Foo": {
                "type": "object",
                "properties": {"spec": {"$ref": "#/definitions/x.FooSpec"}},
                "x-kubernetes-group-version-kind": [
                    {"group": "example.com", "version": "v1", "kind": "Foo"},
                    {"group": "", "version": "v1", "kind": "Foo"},
                    "skipped"
                ]
            },
            "x.FooSpec": {"properties": {
                "items": {"type": ["array"], "items": {"$ref": "#/definitions/x.Item"},
                          "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "id"},
                "template": {"$ref": "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"}
            }},
            "x.Item": {"properties": {"id": {"type": "string"}}}
        }});
        let user = Schema::from_openapi(&doc).expect("valid document");
        assert!(user.knows_kind("example.com/v1", "Foo") && user.knows_kind("v1", "Foo"));
        assert!(!user.knows_kind("apps/v1", "Deployment"));
        let foo = user.for_kind("example.com/v1", "Foo").expect("Foo");
        let spec = user.field(foo, "spec").expect("spec");
        let items = user.field(spec, "items").expect("items");
        assert_eq!(items.strategy_and_keys(), ("merge", vec!["id".to_owned()]));
        assert!(user.elements(items).is_some());
        // Alone, the user schema cannot resolve the Kubernetes reference; layered, it can.
        assert!(user.field(spec, "template").is_none());
        let both = Schema::builtin().layered(&user);
        assert!(both.knows_kind("apps/v1", "Deployment"));
        let spec = both
            .field(both.for_kind("v1", "Foo").expect("Foo"), "spec")
            .expect("spec");
        assert!(both.field(spec, "template").is_some());
    }

    #[test]
    fn openapi_errors_name_the_place() {
        let e = Schema::from_openapi(&json!({"definitions": {"a": {"properties": {
            "l": {"x-kubernetes-patch-merge-key": 3}}}}}))
        .expect_err("merge key must be a string");
        assert_eq!(
            e.to_string(),
            "OpenAPI schema: definitions.a.properties.l.x-kubernetes-patch-merge-key is not a string (or list of strings)"
        );
        let e = Schema::from_openapi(
            &json!({"definitions": {"a": {"x-kubernetes-group-version-kind": [{"kind": "A"}]}}}),
        )
        .expect_err("version is required");
        assert!(e.to_string().contains("version"), "{e}");
        assert!(Schema::from_openapi(&json!([])).is_err());
        assert!(Schema::from_openapi(&json!({})).is_ok());
    }

    #[test]
    fn reference_cycles_and_foreign_references_resolve_to_nothing() {
        let s = Schema::from_openapi(&json!({"definitions": {
            "a": {"$ref": "#/definitions/b"},
            "b": {"$ref": "#/definitions/a"},
            "c": {"properties": {"x": {"$ref": "#/definitions/a"}, "y": {"$ref": "other.json#/x"},
                                  "z": {"$ref": "#/definitions/c/properties/w"}, "w": {"type": "array"}}}
        }}))
        .expect("valid");
        let c = s.definitions.get("c").expect("c");
        assert!(s.field(c, "x").is_none());
        assert!(s.field(c, "y").is_none());
        assert!(s.field(c, "z").is_some_and(|n| n.array));
    }
}
