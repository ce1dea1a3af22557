//! Inputs chosen to pin quoting, folding, number and reading rules, with what
//! `kubectl kustomize` printed for them (recorded by `testdata/record.sh`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::yaml::{parse_documents, to_yaml, unprintable_char};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/yaml/testdata/oracle");
    let mut inputs: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("oracle fixtures are committed")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.to_string_lossy().ends_with(".in.yaml"))
        .collect();
    inputs.sort();
    inputs
}

/// What this crate makes of an input: kustomize's output, or an error message.
fn render(path: &Path) -> Result<String, String> {
    let input = fs::read_to_string(path).expect("readable fixture");
    let documents = parse_documents("r.yaml", &input).map_err(|err| err.to_string())?;
    let mut written = Vec::new();
    for document in &documents {
        if let Some(c) = unprintable_char(&document.value) {
            return Err(format!("kustomize cannot print {c:?}"));
        }
        written.push(to_yaml(&document.value));
    }
    Ok(written.join("---\n"))
}

#[test]
fn output_matches_kubectl_kustomize() {
    let inputs = fixtures();
    assert!(inputs.len() >= 20, "fixtures missing: {}", inputs.len());
    let mut failures = Vec::new();
    for input in &inputs {
        let name = input
            .to_string_lossy()
            .trim_end_matches(".in.yaml")
            .to_owned();
        let expected = fs::read_to_string(format!("{name}.out.yaml")).ok();
        let refused = Path::new(&format!("{name}.err")).exists();
        match (render(input), expected) {
            (Ok(actual), Some(expected)) if actual == expected => {}
            (Ok(actual), Some(expected)) => failures.push(format!(
                "{name}: output differs\n--- kustomize\n{expected}\n--- ours\n{actual}"
            )),
            (Err(_), None) if refused => {}
            (Ok(actual), None) => {
                failures.push(format!("{name}: kustomize fails but we wrote\n{actual}"))
            }
            (Err(err), _) => failures.push(format!("{name}: {err}")),
        }
    }
    println!(
        "kustomize oracle fixtures: {} passed, {} failed",
        inputs.len() - failures.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
