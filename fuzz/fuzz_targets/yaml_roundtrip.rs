//! Fuzzes the YAML reader and writer: parsing never panics, and whatever is written reads
//! back to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weir_object::yaml;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(docs) = yaml::parse_documents("fuzz.yaml", text) else { return };
    for doc in docs {
        if yaml::unprintable_char(&doc.value).is_some() {
            continue;
        }
        let out = yaml::to_yaml(&doc.value);
        let back = yaml::parse_documents("out.yaml", &out).expect("written YAML parses");
        assert_eq!(back.len(), 1, "{out}");
        assert_eq!(back[0].value, doc.value, "{out}");
    }
});
