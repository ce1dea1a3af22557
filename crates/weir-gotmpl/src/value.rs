//! Values as a template sees them: Go's `interface{}` trees as Helm builds them from YAML and
//! JSON (maps with string keys, slices, strings, float64 and int64 numbers, bools, nil), plus
//! objects with fields and methods (`.Files`, `.Capabilities`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

/// A map shared by reference, as Go's maps are: Sprig's `set`, `unset` and `merge` change it
/// where every holder sees the change.
#[derive(Debug, Clone, Default)]
pub struct Dict(Arc<RwLock<BTreeMap<String, Value>>>);

impl Dict {
    /// A map holding `entries`.
    pub fn new(entries: BTreeMap<String, Value>) -> Self {
        Dict(Arc::new(RwLock::new(entries)))
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Sets `key`.
    pub fn insert(&self, key: String, value: Value) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, value);
    }

    /// Removes `key`.
    pub fn remove(&self, key: &str) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Whether `key` is set.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(key)
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the entries, in key order.
    pub fn snapshot(&self) -> BTreeMap<String, Value> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The keys, in order.
    pub fn keys(&self) -> Vec<String> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// Replaces the entries.
    pub fn replace(&self, entries: BTreeMap<String, Value>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = entries;
    }

    /// Whether both are the same map.
    pub fn same(&self, other: &Dict) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A method or function result.
pub type CallResult = Result<Value, String>;

/// Something with fields and methods, such as Helm's `.Files`.
pub trait Object: fmt::Debug + Send + Sync {
    /// The Go type name, for error messages (`chartutil.Files`).
    fn type_name(&self) -> &str;
    /// A field (or a method without arguments), if there is one by that name.
    fn field(&self, name: &str) -> Option<Value>;
    /// The raw bytes, for an object standing for a Go string that is not UTF-8 (a binary
    /// file read with `.Files.Get`): functions such as `b64enc` and `sha256sum` use them.
    fn bytes(&self) -> Option<Vec<u8>> {
        None
    }

    /// The entries `range` iterates over (key, value), when the object is iterable.
    fn entries(&self) -> Option<Vec<(Value, Value)>> {
        None
    }

    /// Calls method `name` with `args`; `None` when there is no such method.
    fn call(&self, name: &str, args: &[Value]) -> Option<CallResult> {
        let _ = (name, args);
        None
    }
}

/// A template value.
#[derive(Debug, Clone, Default)]
pub enum Value {
    /// Go's nil interface (YAML `null`, a missing map key under `missingkey=zero`).
    #[default]
    Nil,
    /// A bool.
    Bool(bool),
    /// An integer (template literals, `len`, Sprig arithmetic).
    Int(i64),
    /// A float64 (every number read from YAML or JSON values, as Helm reads them).
    Float(f64),
    /// A string.
    Str(Arc<str>),
    /// A slice (`[]interface{}`).
    List(Arc<Vec<Value>>),
    /// A map (`map[string]interface{}`), iterated in key order as Go does; shared by
    /// reference like Go's.
    Map(Dict),
    /// An object with fields and methods.
    Object(Arc<dyn Object>),
}

impl Value {
    /// A string value.
    pub fn str(s: impl AsRef<str>) -> Value {
        Value::Str(Arc::from(s.as_ref()))
    }

    /// A list value.
    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Arc::new(items))
    }

    /// A map value.
    pub fn map(entries: BTreeMap<String, Value>) -> Value {
        Value::Map(Dict::new(entries))
    }

    /// Go's truth: false, 0, nil, and empty strings, slices and maps are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(_) => true,
        }
    }

    /// The Go type name, for error messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_) => "int".into(),
            Value::Float(_) => "float64".into(),
            Value::Str(_) => "string".into(),
            Value::List(_) => "[]interface {}".into(),
            Value::Map(_) => "map[string]interface {}".into(),
            Value::Object(o) => o.type_name().to_owned(),
        }
    }

    /// The bytes of a string, or of a binary string object.
    pub fn as_bytes(&self) -> Option<Vec<u8>> {
        match self {
            Value::Str(s) => Some(s.as_bytes().to_vec()),
            Value::Object(o) => o.bytes(),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Converts a JSON value, numbers becoming float64 as in Helm's values.
    pub fn from_json(json: &JsonLike) -> Value {
        match json {
            JsonLike::Null => Value::Nil,
            JsonLike::Bool(b) => Value::Bool(*b),
            JsonLike::Number(n) => Value::Float(*n),
            JsonLike::String(s) => Value::str(s),
            JsonLike::Array(items) => Value::list(items.iter().map(Value::from_json).collect()),
            JsonLike::Object(map) => Value::map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// A JSON tree, the shape values files are read into (kept independent of any JSON crate).
#[derive(Debug, Clone, PartialEq)]
pub enum JsonLike {
    /// null
    Null,
    /// true or false
    Bool(bool),
    /// a number
    Number(f64),
    /// a string
    String(String),
    /// an array
    Array(Vec<JsonLike>),
    /// an object
    Object(BTreeMap<String, JsonLike>),
}

impl PartialEq for Value {
    /// Deep equality, as Sprig's `deepEqual`; numbers compare by value across int and float.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::Map(a), Value::Map(b)) => a.same(b) || a.snapshot() == b.snapshot(),
            (Value::Object(a), Value::Object(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::str(s)
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(Arc::from(s))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
