//! Merge behaviour: kyaml's merge2 test tables and kustomize's patchstrategicmerge tests
//! re-expressed as our own cases (`kyaml`), and the recorded `kubectl kustomize` fixtures in
//! `testdata/oracle/`, error messages and a no-panic sweep over generated input (`kustomize`).
//!
//! Where kyaml's own tests compare through a formatter that sorts `containers` by name, the
//! cases here state the real order.

mod kustomize;
mod kyaml;

use serde_json::Value;

use super::{ListOrder, Options, Outcome, Schema, apply_with};

fn yaml(text: &str) -> Value {
    weir_object::yaml::parse_documents("test.yaml", text)
        .expect("test YAML parses")
        .into_iter()
        .next()
        .map_or(Value::Null, |d| d.value)
}

fn merge_with(target: &str, patch: &str, options: Options) -> Outcome {
    apply_with(&yaml(target), &yaml(patch), Schema::builtin(), options).expect("merge succeeds")
}

fn options(list_order: ListOrder, infer: bool) -> Options {
    Options {
        list_order,
        infer_associative_lists: infer,
    }
}

/// One table row: target, patch, expected (`None`: the resource is deleted).
struct Case {
    name: &'static str,
    target: &'static str,
    patch: &'static str,
    expected: Option<&'static str>,
    order: ListOrder,
    infer: bool,
}

const fn case(
    name: &'static str,
    target: &'static str,
    patch: &'static str,
    expected: &'static str,
) -> Case {
    Case {
        name,
        target,
        patch,
        expected: Some(expected),
        order: ListOrder::Append,
        infer: false,
    }
}

const fn prepend(c: Case) -> Case {
    Case {
        order: ListOrder::Prepend,
        ..c
    }
}

fn run(cases: &[Case]) {
    for c in cases {
        let got = merge_with(c.target, c.patch, options(c.order, c.infer));
        let want = match c.expected {
            None => Outcome::Deleted,
            Some(e) => Outcome::Merged(yaml(e)),
        };
        assert_eq!(got, want, "case {:?}", c.name);
    }
}

const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\n";

/// A Deployment whose pod spec is `podspec` (YAML, indented 6).
fn deploy(podspec: &str) -> String {
    format!("{DEPLOY}spec:\n  template:\n    spec:\n{podspec}")
}

fn run_deploy(name: &str, target: &str, patch: &str, expected: Option<&str>, order: ListOrder) {
    let got = merge_with(&deploy(target), &deploy(patch), options(order, false));
    let want = expected.map_or(Outcome::Deleted, |e| Outcome::Merged(yaml(&deploy(e))));
    assert_eq!(got, want, "case {name:?}");
}
