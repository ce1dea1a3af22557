//! Fuzzes the YAML reader and writer: parsing never panics, and whatever is written reads
//! back to the same value. Values kustomize itself cannot print faithfully are skipped:
//! unprintable characters (kustomize fails) and NEL / line and paragraph separators (go-yaml
//! folds them on output, and Weir reproduces that).
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_object::yaml;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(docs) = yaml::parse_documents("fuzz.yaml", text) else { return };
    for doc in docs {
        if yaml::unprintable_char(&doc.value).is_some() || has_folded_break(&doc.value) {
            continue;
        }
        let out = yaml::to_yaml(&doc.value);
        let back = yaml::parse_documents("out.yaml", &out).expect("written YAML parses");
        assert_eq!(back.len(), 1, "{out}");
        assert!(same(&back[0].value, &doc.value), "{out}\n{:?}\n{:?}", back[0].value, doc.value);
    }
});

fn has_folded_break(v: &serde_json::Value) -> bool {
    let bad = |s: &str| s.contains(['\u{85}', '\u{2028}', '\u{2029}']);
    match v {
        serde_json::Value::String(s) => bad(s),
        serde_json::Value::Array(a) => a.iter().any(has_folded_break),
        serde_json::Value::Object(m) => m.iter().any(|(k, v)| bad(k) || has_folded_break(v)),
        _ => false,
    }
}

/// Equal, with numbers compared by value: kustomize prints an integral float as an integer
/// (`691.0` comes back as `691`).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (V::Array(x), V::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b)),
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}
