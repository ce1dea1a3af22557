//! Every `expected.yaml` of the shared kustomize conformance corpus is real `kubectl kustomize`
//! output, so reading it and writing it back must give the same bytes.

use std::fs;
use std::path::Path;

use crate::yaml::{parse_documents, to_yaml};

/// Splits kustomize output into its documents; `---` alone on a line separates them. Empty
/// output has no documents.
fn split(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut documents = vec![String::new()];
    for line in text.split_inclusive('\n') {
        if line == "---\n" {
            documents.push(String::new());
        } else if let Some(last) = documents.last_mut() {
            last.push_str(line);
        }
    }
    documents
}

/// Reads one document and writes it back.
fn round_trip(path: &str, document: &str) -> Result<String, String> {
    let parsed = parse_documents(path, document).map_err(|err| err.to_string())?;
    match parsed.as_slice() {
        [only] => Ok(to_yaml(&only.value)),
        other => Err(format!("expected one document, found {}", other.len())),
    }
}

#[test]
fn kustomize_output_round_trips_byte_for_byte() {
    let cases =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/kustomize/cases");
    let Ok(entries) = fs::read_dir(&cases) else {
        println!("skipped: no conformance corpus at {}", cases.display());
        return;
    };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("expected.yaml"))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    let mut failures = Vec::new();
    for file in &files {
        let expected = fs::read_to_string(file).expect("readable expected.yaml");
        let name = file.display().to_string();
        let written: Result<Vec<String>, String> = split(&expected)
            .iter()
            .map(|document| round_trip(&name, document))
            .collect();
        match written {
            Ok(documents) if documents.join("---\n") == expected => {}
            Ok(documents) => failures.push(format!(
                "{name}: differs\n{}",
                first_difference(&expected, &documents.join("---\n"))
            )),
            Err(err) => failures.push(format!("{name}: {err}")),
        }
    }
    println!(
        "kustomize conformance round trip: {} passed, {} failed",
        files.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn first_difference(expected: &str, actual: &str) -> String {
    let line = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    let show = |text: &str| {
        text.lines()
            .skip(line.saturating_sub(2))
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "line {}:\nexpected:\n{}\nactual:\n{}",
        line + 1,
        show(expected),
        show(actual)
    )
}
