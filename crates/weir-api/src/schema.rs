//! A small builder for OpenAPI v3 structural schemas, so each CRD reads like its API
//! reference: `object().field("url", string().pattern(..)).required(["url"])`.

use serde_json::{Map, Value, json};

/// One schema node.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema(Map<String, Value>);

fn typed(kind: &str) -> Schema {
    let mut map = Map::new();
    map.insert("type".into(), Value::String(kind.into()));
    Schema(map)
}

/// A string.
pub fn string() -> Schema {
    typed("string")
}

/// A boolean.
pub fn boolean() -> Schema {
    typed("boolean")
}

/// A 64-bit integer.
pub fn int64() -> Schema {
    typed("integer").set("format", json!("int64"))
}

/// An integer of Go's `int` (no format), as Flux declares counts such as `maxHistory`.
pub fn integer() -> Schema {
    typed("integer")
}

/// Any JSON value, kept as written (Go's `apiextensionsv1.JSON`, such as Helm values).
pub fn any_json() -> Schema {
    let mut map = Map::new();
    map.insert(
        "x-kubernetes-preserve-unknown-fields".into(),
        Value::Bool(true),
    );
    Schema(map)
}

/// An object with declared fields (add them with [`Schema::field`]).
pub fn object() -> Schema {
    typed("object").set("properties", json!({}))
}

/// A string-to-string map.
pub fn string_map() -> Schema {
    map_of(string())
}

/// A map from strings to `values`.
pub fn map_of(values: Schema) -> Schema {
    typed("object").set("additionalProperties", values.into_value())
}

/// A list of `items`.
pub fn array(items: Schema) -> Schema {
    typed("array").set("items", items.into_value())
}

/// A Go duration string (`1m30s`), with Flux's pattern; `hours` allows the `h` unit.
pub fn duration(hours: bool) -> Schema {
    let pattern = if hours {
        r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
    } else {
        r"^([0-9]+(\.[0-9]+)?(ms|s|m))+$"
    };
    string().pattern(pattern)
}

/// A timestamp.
pub fn date_time() -> Schema {
    string().set("format", json!("date-time"))
}

/// `{ name }`: a reference to an object in the same namespace.
pub fn local_ref(description: &str) -> Schema {
    object()
        .describe(description)
        .field("name", string().describe("Name of the referent."))
        .required(&["name"])
}

/// A `metav1.Condition`, with the API server's own validation.
pub fn condition() -> Schema {
    object()
        .describe("One aspect of the object's current state.")
        .field(
            "lastTransitionTime",
            date_time().describe("When the condition last changed status."),
        )
        .field(
            "message",
            string().max_length(32768).describe("Details, for people."),
        )
        .field(
            "observedGeneration",
            int64().minimum(0).describe("The generation the condition was set for."),
        )
        .field(
            "reason",
            string()
                .min_length(1)
                .max_length(1024)
                .pattern("^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
                .describe("Why, in CamelCase."),
        )
        .field(
            "status",
            string().enumerate(&["True", "False", "Unknown"]).describe("True, False or Unknown."),
        )
        .field(
            "type",
            string()
                .max_length(316)
                .pattern(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$")
                .describe("The condition type, such as Ready."),
        )
        .required(&["lastTransitionTime", "message", "reason", "status", "type"])
}

/// A Flux artifact: a tarball the source controller serves.
pub fn artifact() -> Schema {
    object()
        .describe("A tarball of the source, served over HTTP.")
        .field(
            "digest",
            string()
                .pattern("^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
                .describe("Digest of the tarball, such as sha256:<hex>."),
        )
        .field(
            "lastUpdateTime",
            date_time().describe("When the artifact was last updated."),
        )
        .field(
            "metadata",
            string_map().describe("Metadata from upstream, such as OCI annotations."),
        )
        .field(
            "path",
            string().describe("Path of the tarball in the storage, relative to its root."),
        )
        .field(
            "revision",
            string().describe("Revision of the source, such as main@sha1:<commit>."),
        )
        .field("size", int64().describe("Size of the tarball in bytes."))
        .field("url", string().describe("Where to download the tarball."))
        .required(&["digest", "lastUpdateTime", "path", "revision", "url"])
}

impl Schema {
    fn set(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.into(), value);
        self
    }

    /// Adds a field to an object schema.
    pub fn field(mut self, name: &str, schema: Schema) -> Self {
        if let Some(Value::Object(props)) = self.0.get_mut("properties") {
            props.insert(name.into(), schema.into_value());
        }
        self
    }

    /// The fields that must be set.
    pub fn required(self, names: &[&str]) -> Self {
        self.set("required", json!(names))
    }

    /// The description shown by `kubectl explain`.
    pub fn describe(self, text: &str) -> Self {
        self.set("description", Value::String(text.into()))
    }

    /// The allowed values.
    pub fn enumerate(self, values: &[&str]) -> Self {
        self.set("enum", json!(values))
    }

    /// The value the API server fills in when the field is absent.
    pub fn default(self, value: Value) -> Self {
        self.set("default", value)
    }

    /// A regular expression the value must match.
    pub fn pattern(self, pattern: &str) -> Self {
        self.set("pattern", Value::String(pattern.into()))
    }

    /// Minimum string length.
    pub fn min_length(self, n: u64) -> Self {
        self.set("minLength", json!(n))
    }

    /// Maximum string length.
    pub fn max_length(self, n: u64) -> Self {
        self.set("maxLength", json!(n))
    }

    /// Minimum number.
    pub fn minimum(self, n: i64) -> Self {
        self.set("minimum", json!(n))
    }

    /// Minimum number of items.
    pub fn min_items(self, n: u64) -> Self {
        self.set("minItems", json!(n))
    }

    /// A CEL rule the API server checks, with the message it gives when the rule fails.
    pub fn rule(mut self, rule: &str, message: &str) -> Self {
        let entry = json!({ "rule": rule, "message": message });
        match self.0.get_mut("x-kubernetes-validations") {
            Some(Value::Array(rules)) => rules.push(entry),
            _ => {
                self.0
                    .insert("x-kubernetes-validations".into(), json!([entry]));
            }
        }
        self
    }

    /// A list whose items are keyed by `key` (server-side apply merges them by it).
    pub fn list_map(self, key: &str) -> Self {
        self.set("x-kubernetes-list-type", json!("map"))
            .set("x-kubernetes-list-map-keys", json!([key]))
    }

    /// The schema as JSON.
    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}
