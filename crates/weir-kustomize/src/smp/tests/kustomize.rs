//! kustomize's patchstrategicmerge filter tests, recorded `kubectl kustomize` results, error
//! messages, user schemas, and a sweep of generated documents that must never panic.

use serde_json::{Value, json};

use super::*;
use crate::smp::{Error, ListOrder, Options, Outcome, Schema, apply, apply_with};

/// kustomize's patchstrategicmerge filter tests (prepending, as kustomize does).
#[test]
fn kustomize_filter_cases() {
    use ListOrder::Prepend;
    let one = "      containers:\n      - name: test\n        image: test\n";
    run_deploy(
        "remove element leaves an empty list",
        one,
        "      containers:\n      - name: test\n        image: test\n        $patch: delete\n",
        Some("      containers: []\n"),
        Prepend,
    );
    run_deploy(
        "replace the pod spec",
        one,
        "      $patch: replace\n      containers:\n      - name: new\n",
        Some("      containers:\n      - name: new\n"),
        Prepend,
    );
    run_deploy(
        "element $patch merge",
        one,
        "      containers:\n      - name: test\n        image: test1\n        $patch: merge\n",
        Some("      containers:\n      - name: test\n        image: test1\n"),
        Prepend,
    );
    run_deploy(
        "list $patch delete",
        one,
        "      containers:\n      - whatever\n      - $patch: delete\n",
        Some("      {}\n"),
        Prepend,
    );
    run_deploy(
        "list $patch replace",
        one,
        "      containers:\n      - name: replace\n        image: replace\n      - $patch: replace\n",
        Some("      containers:\n      - name: replace\n        image: replace\n"),
        Prepend,
    );
    run_deploy(
        "list $patch merge",
        one,
        "      containers:\n      - name: test2\n        image: test2\n      - $patch: merge\n",
        Some(
            "      containers:\n      - name: test2\n        image: test2\n      - name: test\n        image: test\n",
        ),
        Prepend,
    );
    let ports = |p: &str| format!("      containers:\n      - name: app\n        ports: {p}\n");
    for (name, target, patch, expected) in [
        (
            "add a port, no names",
            "[{containerPort: 8080, protocol: TCP}]",
            "[{containerPort: 8080, protocol: UDP}, {containerPort: 80, protocol: UDP}]",
            "[{containerPort: 8080, protocol: UDP}, {containerPort: 80, protocol: UDP}, {containerPort: 8080, protocol: TCP}]",
        ),
        (
            "add a name to a port",
            "[{containerPort: 8080, protocol: UDP}, {containerPort: 8080, protocol: TCP}]",
            "[{containerPort: 8080, protocol: UDP, name: udp}]",
            "[{containerPort: 8080, protocol: UDP, name: udp}, {containerPort: 8080, protocol: TCP}]",
        ),
        (
            "replace a port name",
            "[{containerPort: 8080, protocol: UDP, name: u0}, {containerPort: 8080, protocol: TCP, name: t0}]",
            "[{containerPort: 8080, protocol: UDP, name: u1}]",
            "[{containerPort: 8080, protocol: UDP, name: u1}, {containerPort: 8080, protocol: TCP, name: t0}]",
        ),
        (
            "add a port, no protocol",
            "[{containerPort: 8080}]",
            "[{containerPort: 80}]",
            "[{containerPort: 80}, {containerPort: 8080}]",
        ),
    ] {
        run_deploy(
            name,
            &ports(target),
            &ports(patch),
            Some(&ports(expected)),
            Prepend,
        );
    }
    // kustomize issue 3513: ports with and without protocol survive an unrelated patch.
    let consul = "[{containerPort: 8500, name: http}, {containerPort: 8301, protocol: TCP}, {containerPort: 8301, protocol: UDP}]";
    let got = merge_with(
        &deploy(&ports(consul)),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {labels: {a: b}}",
        Options::default(),
    );
    let mut want = yaml(&deploy(&ports(consul)));
    want["metadata"] = json!({"labels": {"a": "b"}});
    assert_eq!(got, Outcome::Merged(want));
}

#[test]
fn patch_without_kind_still_merges() {
    // With no apiVersion/kind in the patch, the target's type still picks the schema.
    let got = merge_with(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {template: {spec: {containers: [{name: x}]}}}",
        "metadata: {name: b}\nspec: {template: {spec: {containers: [{name: y}]}}}",
        Options::default(),
    );
    let want = yaml(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\nspec: {template: {spec: {containers: [{name: y}, {name: x}]}}}",
    );
    assert_eq!(got, Outcome::Merged(want));
}

#[test]
fn top_level_outcomes() {
    let target =
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": 1}});
    let with = |directive: &str| {
        let patch = json!({"kind": "Pod", "spec": {"y": 2}, "$patch": directive});
        apply(&target, &patch, Schema::builtin())
    };
    assert_eq!(with("delete"), Ok(Outcome::Deleted));
    // kustomize keeps the resource's own node, which a top-level replace never touches.
    assert_eq!(with("replace"), Ok(Outcome::Merged(target.clone())));
    let mut merged = target.clone();
    merged["spec"]["y"] = json!(2);
    assert_eq!(with("merge"), Ok(Outcome::Merged(merged)));
    // Nothing left is a deleted resource too.
    let emptied = json!({"apiVersion": null, "kind": null, "metadata": null, "spec": null});
    assert_eq!(
        apply(&target, &emptied, Schema::builtin()),
        Ok(Outcome::Deleted)
    );
    // The inputs are not modified (kyaml strips directives from its patch in place).
    let patch = json!({"spec": {"$patch": "replace", "z": 3}});
    let before = patch.clone();
    let _ = apply(&target, &patch, Schema::builtin());
    assert_eq!(patch, before);
}

#[test]
fn errors_name_the_field() {
    let err = |target: &str, patch: &str| {
        apply(&yaml(target), &yaml(patch), Schema::builtin())
            .expect_err("merge fails")
            .to_string()
    };
    assert_eq!(
        err(
            &deploy("      containers: [{name: a}]\n"),
            &deploy("      containers: {name: a}\n")
        ),
        "spec.template.spec.containers: cannot merge a map from the patch into a list"
    );
    assert_eq!(
        err(
            &deploy("      containers: [{name: a}]\n"),
            &deploy("      containers: [{name: a, $patch: bogus}]\n")
        ),
        "spec.template.spec.containers[name=a]: unknown patch strategy \"bogus\" in $patch (expected replace, merge or delete)"
    );
    assert_eq!(
        err(
            &deploy("      containers: [x]\n"),
            &deploy("      containers: [{name: a}]\n")
        ),
        "spec.template.spec.containers[name=]: list element is a scalar, expected a map"
    );
    assert_eq!(
        err("kind: K\nspec: 1", "kind: K\n$patch: 3"),
        "(root): unknown patch strategy \"3\" in $patch (expected replace, merge or delete)"
    );
    let infer = |target: &str, patch: &str| {
        apply_with(
            &yaml(target),
            &yaml(patch),
            Schema::builtin(),
            options(ListOrder::Prepend, true),
        )
        .expect_err("merge fails")
        .to_string()
    };
    assert_eq!(
        infer("kind: K\nl: [{name: a}]", "kind: K\nl: [{id: a}]"),
        "l: conflicting merge keys \"name\" and \"\""
    );
    // Just under the limit merges (within a test thread's 2 MiB stack); past it is an error.
    // Alternate maps and keyed lists (containers), one subtree per level.
    let nested = |levels: usize| {
        (0..levels).fold(
            json!("x"),
            |v, _| json!({"containers": [{"name": "c", "a": v}]}),
        )
    };
    let almost = nested(60);
    assert!(apply(&almost, &almost, Schema::builtin()).is_ok());
    let deep = (0..300).fold(json!(1), |v, _| json!({ "a": v }));
    assert!(matches!(
        apply(&deep, &deep, Schema::builtin()),
        Err(Error::TooDeep { .. })
    ));
}

#[test]
fn user_schema_alone_or_layered() {
    let doc = json!({"definitions": {"x.Foo": {
        "properties": {"items": {"type": "array", "x-kubernetes-patch-strategy": "merge", "x-kubernetes-patch-merge-key": "id"}},
        "x-kubernetes-group-version-kind": [{"group": "example.com", "version": "v1", "kind": "Foo"}]}}});
    let user = Schema::from_openapi(&doc).expect("valid");
    let foo_target =
        json!({"apiVersion": "example.com/v1", "kind": "Foo", "items": [{"id": 1, "v": 1}]});
    let foo_patch = json!({"apiVersion": "example.com/v1", "kind": "Foo", "items": [{"id": 2}, {"id": 1, "v": 2}]});
    let merged = json!({"apiVersion": "example.com/v1", "kind": "Foo", "items": [{"id": 2}, {"id": 1, "v": 2}]});
    assert_eq!(
        apply(&foo_target, &foo_patch, &user),
        Ok(Outcome::Merged(merged.clone()))
    );
    // Without the user schema the list is replaced: here that happens to look the same, so
    // check with a patch that omits an element.
    let partial = json!({"apiVersion": "example.com/v1", "kind": "Foo", "items": [{"id": 2}]});
    assert_eq!(
        apply(&foo_target, &partial, Schema::builtin()),
        Ok(Outcome::Merged(
            json!({"apiVersion": "example.com/v1", "kind": "Foo", "items": [{"id": 2}]})
        ))
    );
    let deploy_target = yaml(&deploy("      containers: [{name: a}]\n"));
    let deploy_patch = yaml(&deploy("      containers: [{name: b}]\n"));
    let replaced = yaml(&deploy("      containers: [{name: b}]\n"));
    let merged_deploy = yaml(&deploy("      containers: [{name: b}, {name: a}]\n"));
    assert_eq!(
        apply(&deploy_target, &deploy_patch, &user),
        Ok(Outcome::Merged(replaced))
    );
    let both = Schema::builtin().layered(&user);
    assert_eq!(
        apply(&deploy_target, &deploy_patch, &both),
        Ok(Outcome::Merged(merged_deploy))
    );
    assert_eq!(
        apply(&foo_target, &partial, &both),
        Ok(Outcome::Merged(
            json!({"apiVersion": "example.com/v1", "kind": "Foo", "items": [{"id": 2}, {"id": 1, "v": 1}]})
        ))
    );
}

/// The fixtures in `testdata/oracle/`, recorded from `kubectl kustomize` by `testdata/record`.
#[test]
fn recorded_kustomize_results() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/smp/testdata/oracle");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    assert!(names.len() >= 30, "fixtures missing from {}", dir.display());
    let mut failures = Vec::new();
    for path in &names {
        let fixture: Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON");
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("?")
            .to_owned();
        let user;
        let schema = match fixture.get("schema") {
            Some(doc) => {
                user = Schema::from_openapi(doc).expect("fixture schema");
                &user
            }
            None => Schema::builtin(),
        };
        let got = apply(&fixture["target"], &fixture["patch"], schema);
        let ok = match (&got, fixture.get("error"), fixture.get("expected")) {
            (Err(e), Some(Value::String(oracle)), _) => match e {
                Error::UnknownDirective { .. } => oracle.contains("unknown patch strategy"),
                Error::KindMismatch { .. } | Error::ElementKind { .. } => {
                    oracle.contains("wrong node kind")
                }
                _ => false,
            },
            (Ok(Outcome::Deleted), None, Some(Value::Null)) => true,
            (Ok(Outcome::Merged(v)), None, Some(expected)) => {
                &restore_identity(v.clone(), &fixture["target"]) == expected
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures differ:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}

/// What kustomize does after the merge: the patch transformer gives the target back its kind
/// and name, and the build drops an empty `metadata.annotations` (it does so for any resource).
fn restore_identity(mut merged: Value, target: &Value) -> Value {
    if let Some(m) = merged.as_object_mut() {
        m.insert("kind".into(), target["kind"].clone());
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("name".into(), target["metadata"]["name"].clone());
            if meta
                .get("annotations")
                .and_then(Value::as_object)
                .is_some_and(serde_json::Map::is_empty)
            {
                meta.remove("annotations");
            }
        }
    }
    merged
}

/// Merging never panics, whatever the documents hold.
#[test]
fn arbitrary_documents_never_panic() {
    // A small deterministic generator (xorshift) over the shapes that matter: keyed and
    // primitive lists, directives, nulls, kind mismatches.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
        fn value(&mut self, depth: u32) -> Value {
            const KEYS: [&str; 10] = [
                "name",
                "containerPort",
                "protocol",
                "$patch",
                "containers",
                "ports",
                "finalizers",
                "spec",
                "template",
                "x",
            ];
            const WORDS: [&str; 7] = ["a", "b", "delete", "replace", "merge", "TCP", ""];
            match if depth == 0 {
                self.next(4)
            } else {
                self.next(8)
            } {
                0 => Value::Null,
                1 => json!(self.next(3)),
                2 => json!(WORDS[self.next(7) as usize]),
                3 => json!(self.next(2) == 0),
                4 | 5 => (0..self.next(4)).map(|_| self.value(depth - 1)).collect(),
                _ => Value::Object(
                    (0..self.next(5))
                        .map(|_| {
                            (
                                KEYS[self.next(10) as usize].to_owned(),
                                self.value(depth - 1),
                            )
                        })
                        .collect(),
                ),
            }
        }
    }
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let kinds = [
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("v1", "ConfigMap"),
        ("x/v1", "X"),
    ];
    for round in 0..3000 {
        let (api_version, kind) = kinds[round % kinds.len()];
        let mut doc = || {
            let mut v = json!({"apiVersion": api_version, "kind": kind});
            v["spec"] = json!({"template": {"spec": {"containers": g.value(3), "x": g.value(3)}}, "ports": g.value(3)});
            v["metadata"] = json!({"finalizers": g.value(2)});
            v
        };
        let (target, patch) = (doc(), doc());
        for order in [ListOrder::Prepend, ListOrder::Append] {
            for infer in [false, true] {
                let _ = apply_with(&target, &patch, Schema::builtin(), options(order, infer));
            }
        }
    }
}
