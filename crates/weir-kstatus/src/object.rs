//! Reading an object held as JSON, with the two degrees of tolerance kstatus has.
//!
//! kstatus reads the fields of specific kinds leniently: a missing or mistyped `spec.replicas`
//! means the default. It reads the generic fields (`metadata.generation`,
//! `metadata.deletionTimestamp`, `status.conditions`) strictly: a wrong type there is an error
//! rather than a guess. Both are reproduced so that the same objects get the same verdicts.
//!
//! One deliberate difference: a JSON `null` reads as an absent field everywhere, where kstatus
//! would reject a `null` generation or deletion timestamp. Clients that serialise optional
//! fields as `null` then get the verdict the API server's own representation would get.

use serde_json::{Map, Value};

use crate::Error;

/// A condition from `status.conditions`; absent fields read as `""`, as they do in kstatus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ObservedCondition<'a> {
    pub(crate) type_: &'a str,
    pub(crate) status: &'a str,
    pub(crate) reason: &'a str,
    pub(crate) message: &'a str,
}

/// The first condition of `type_` whose status is `status`.
pub(crate) fn find_condition<'c, 'a>(
    conditions: &'c [ObservedCondition<'a>],
    type_: &str,
    status: &str,
) -> Option<&'c ObservedCondition<'a>> {
    conditions
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
}

/// The object being judged.
pub(crate) struct Object<'a> {
    root: &'a Map<String, Value>,
}

/// Where a walk down a path ended.
enum Lookup<'a> {
    Found(&'a Value),
    Missing,
    /// A value on the way is not an object, so the path cannot be followed.
    Blocked {
        path: String,
        found: &'static str,
    },
}

impl<'a> Object<'a> {
    pub(crate) fn new(root: &'a Map<String, Value>) -> Self {
        Self { root }
    }

    /// `kind`, or `""` if it is not a string.
    pub(crate) fn kind(&self) -> &'a str {
        self.str_or(&["kind"], "")
    }

    /// `apiVersion`, or `""` if it is not a string.
    pub(crate) fn api_version(&self) -> &'a str {
        self.str_or(&["apiVersion"], "")
    }

    fn lookup(&self, path: &[&str]) -> Lookup<'a> {
        let mut map = self.root;
        for (depth, key) in path.iter().enumerate() {
            let Some(value) = map.get(*key) else {
                return Lookup::Missing;
            };
            if depth + 1 == path.len() {
                return match value {
                    Value::Null => Lookup::Missing,
                    value => Lookup::Found(value),
                };
            }
            match value {
                Value::Object(next) => map = next,
                Value::Null => return Lookup::Missing,
                other => {
                    return Lookup::Blocked {
                        path: path[..=depth].join("."),
                        found: describe(other),
                    };
                }
            }
        }
        Lookup::Missing
    }

    /// The integer at `path`, or `default` if it is absent or anything but an integer.
    pub(crate) fn int_or(&self, path: &[&str], default: i64) -> i64 {
        match self.lookup(path) {
            Lookup::Found(value) => value.as_i64().unwrap_or(default),
            Lookup::Missing | Lookup::Blocked { .. } => default,
        }
    }

    /// The string at `path`, or `default` if it is absent or anything but a string.
    pub(crate) fn str_or(&self, path: &[&str], default: &'a str) -> &'a str {
        match self.lookup(path) {
            Lookup::Found(value) => value.as_str().unwrap_or(default),
            Lookup::Missing | Lookup::Blocked { .. } => default,
        }
    }

    /// The boolean at `path`, or `default` if it is absent or anything but a boolean.
    pub(crate) fn bool_or(&self, path: &[&str], default: bool) -> bool {
        match self.lookup(path) {
            Lookup::Found(value) => value.as_bool().unwrap_or(default),
            Lookup::Missing | Lookup::Blocked { .. } => default,
        }
    }

    /// Strictly typed read: absent is `None`, a value of another type an error.
    fn strict<T>(
        &self,
        path: &[&str],
        expected: &'static str,
        read: impl FnOnce(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, Error> {
        match self.lookup(path) {
            Lookup::Found(value) => read(value)
                .map(Some)
                .ok_or_else(|| mistyped(path.join("."), expected, value)),
            Lookup::Missing => Ok(None),
            Lookup::Blocked { path, found } => Err(Error::Field {
                path,
                expected: "an object",
                found,
            }),
        }
    }

    /// The integer at `path`, strictly.
    pub(crate) fn int(&self, path: &[&str]) -> Result<Option<i64>, Error> {
        self.strict(path, "an integer", Value::as_i64)
    }

    /// The string at `path`, strictly.
    pub(crate) fn str(&self, path: &[&str]) -> Result<Option<&'a str>, Error> {
        self.strict(path, "a string", Value::as_str)
    }

    /// The list at `path`, strictly.
    pub(crate) fn list(&self, path: &[&str]) -> Result<Option<&'a [Value]>, Error> {
        self.strict(path, "a list", |value| value.as_array().map(Vec::as_slice))
    }

    /// `status.conditions`, strictly: kstatus decodes them into typed structs, which fails on
    /// any mistyped field it knows. Unknown fields are ignored, and `null` entries skipped.
    pub(crate) fn conditions(&self) -> Result<Vec<ObservedCondition<'a>>, Error> {
        const PATH: &str = "status.conditions";
        let Some(items) = self.list(&["status", "conditions"])? else {
            return Ok(Vec::new());
        };
        let mut conditions = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let at = || format!("{PATH}[{index}]");
            let fields = match item {
                Value::Object(fields) => fields,
                Value::Null => continue,
                other => return Err(mistyped(at(), "an object", other)),
            };
            let field = |name: &str| member_str(fields, name, &at).map(Option::unwrap_or_default);
            conditions.push(ObservedCondition {
                type_: field("type")?,
                status: field("status")?,
                reason: field("reason")?,
                message: field("message")?,
            });
        }
        Ok(conditions)
    }
}

/// Member `name` of `fields` (found at `parent()`) as a string, strictly.
pub(crate) fn member_str<'v>(
    fields: &'v Map<String, Value>,
    name: &str,
    parent: &dyn Fn() -> String,
) -> Result<Option<&'v str>, Error> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(mistyped(format!("{}.{name}", parent()), "a string", other)),
    }
}

/// Member `name` of `fields` (found at `parent()`) as an object, strictly.
pub(crate) fn member_object<'v>(
    fields: &'v Map<String, Value>,
    name: &str,
    parent: &dyn Fn() -> String,
) -> Result<Option<&'v Map<String, Value>>, Error> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(mistyped(format!("{}.{name}", parent()), "an object", other)),
    }
}

pub(crate) fn mistyped(path: String, expected: &'static str, value: &Value) -> Error {
    Error::Field {
        path,
        expected,
        found: describe(value),
    }
}

/// The JSON type of `value`, as an error message names it.
pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn with<T>(value: Value, read: impl FnOnce(&Object<'_>) -> T) -> T {
        let root = value.as_object().expect("tests pass objects");
        read(&Object::new(root))
    }

    #[test]
    fn lenient_reads_fall_back_to_the_default() {
        let object = json!({
            "spec": { "replicas": "3", "paused": "yes", "type": 7, "ratio": 0.5, "big": 3.0 },
            "status": "broken",
        });
        with(object, |o| {
            assert_eq!(o.int_or(&["spec", "replicas"], 1), 1);
            assert_eq!(o.int_or(&["spec", "ratio"], 1), 1);
            // A float is not an integer, even a whole one: Go decodes `3.0` as float64.
            assert_eq!(o.int_or(&["spec", "big"], 1), 1);
            assert!(!o.bool_or(&["spec", "paused"], false));
            assert_eq!(o.str_or(&["spec", "type"], "ClusterIP"), "ClusterIP");
            assert_eq!(o.int_or(&["status", "replicas"], 0), 0);
            assert_eq!(o.int_or(&["spec", "missing", "deeper"], 4), 4);
        });
    }

    #[test]
    fn lenient_reads_take_well_typed_values() {
        let object = json!({ "spec": { "replicas": 3, "suspend": true, "type": "NodePort" } });
        with(object, |o| {
            assert_eq!(o.int_or(&["spec", "replicas"], 1), 3);
            assert!(o.bool_or(&["spec", "suspend"], false));
            assert_eq!(o.str_or(&["spec", "type"], "ClusterIP"), "NodePort");
        });
    }

    #[test]
    fn strict_reads_name_the_mistyped_field() {
        let object = json!({ "metadata": { "generation": "2" }, "status": ["x"] });
        with(object, |o| {
            assert_eq!(
                o.int(&["metadata", "generation"]),
                Err(Error::Field {
                    path: "metadata.generation".into(),
                    expected: "an integer",
                    found: "a string",
                })
            );
            assert_eq!(
                o.int(&["status", "observedGeneration"]),
                Err(Error::Field {
                    path: "status".into(),
                    expected: "an object",
                    found: "a list",
                })
            );
            assert_eq!(o.str(&["metadata", "deletionTimestamp"]), Ok(None));
        });
    }

    #[test]
    fn null_reads_as_absent() {
        let object = json!({ "metadata": { "generation": null }, "status": null });
        with(object, |o| {
            assert_eq!(o.int(&["metadata", "generation"]), Ok(None));
            assert_eq!(o.int(&["status", "observedGeneration"]), Ok(None));
            assert_eq!(o.conditions(), Ok(Vec::new()));
        });
    }

    #[test]
    fn conditions_are_read_with_missing_fields_empty() {
        let object = json!({ "status": { "conditions": [
            { "type": "Ready", "status": "True", "lastTransitionTime": "2024-05-01T12:00:00Z" },
            null,
            { "type": "Progressing", "status": "False", "reason": "Waiting", "message": "m" },
        ] } });
        with(object, |o| {
            let conditions = o.conditions().expect("well-formed");
            assert_eq!(conditions.len(), 2);
            assert_eq!(
                conditions[0],
                ObservedCondition {
                    type_: "Ready",
                    status: "True",
                    ..Default::default()
                }
            );
            assert_eq!(
                find_condition(&conditions, "Progressing", "False").map(|c| c.reason),
                Some("Waiting")
            );
            assert_eq!(find_condition(&conditions, "Progressing", "True"), None);
        });
    }

    #[test]
    fn malformed_conditions_are_errors() {
        let cases = [
            (
                json!({ "status": "Ready" }),
                "`status` is a string, expected an object",
            ),
            (
                json!({ "status": { "conditions": { "type": "Ready" } } }),
                "`status.conditions` is an object, expected a list",
            ),
            (
                json!({ "status": { "conditions": ["Ready"] } }),
                "`status.conditions[0]` is a string, expected an object",
            ),
            (
                json!({ "status": { "conditions": [{ "type": "Ready", "status": true }] } }),
                "`status.conditions[0].status` is a boolean, expected a string",
            ),
        ];
        for (object, message) in cases {
            let error = with(object, |o| o.conditions().map(|c| c.len())).expect_err(message);
            assert_eq!(error.to_string(), message);
        }
    }
}
