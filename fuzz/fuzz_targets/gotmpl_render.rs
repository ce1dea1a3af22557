//! Parses arbitrary text as a Go template and runs it with Sprig's and Helm's functions over a
//! small values tree: errors are fine, panics and hangs are bugs.
#![no_main]

use std::collections::BTreeMap;

use libfuzzer_sys::fuzz_target;
use weir_gotmpl::{Templates, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut templates = Templates::new();
    weir_gotmpl::sprig::register(&mut templates);
    if templates.add("fuzz", text).is_err() {
        return;
    }
    let values = weir_gotmpl::sprig::from_json_value(&serde_json::json!({
        "name": "demo", "replicas": 3, "enabled": true, "ratio": 0.5,
        "list": ["a", "b", 1], "nested": { "key": "value", "empty": {} }, "nothing": null,
    }));
    let ctx = Value::map(BTreeMap::from([
        ("Values".to_owned(), values),
        ("Release".to_owned(), Value::map(BTreeMap::from([("Name".to_owned(), Value::str("rel"))]))),
    ]));
    let _ = templates.execute("fuzz", &ctx);
});
