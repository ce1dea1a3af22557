//! kyaml's merge2 tables (scalar, list, element, map and the older merge tests), as our own
//! cases. Most use [`ListOrder::Append`], the Go default those tables were written for.

use serde_json::{Value, json};

use super::*;
use crate::smp::ListOrder;

#[test]
fn scalars() {
    run(&[
        case(
            "replace",
            "kind: K\nfield: value0",
            "kind: K\nfield: value1",
            "kind: K\nfield: value1",
        ),
        case(
            "add",
            "kind: K",
            "kind: K\nfield: value1",
            "kind: K\nfield: value1",
        ),
        case(
            "same",
            "kind: K\nfield: value1",
            "kind: K\nfield: value1",
            "kind: K\nfield: value1",
        ),
        case(
            "unspecified in patch",
            "kind: K\nfield: value1",
            "kind: K",
            "kind: K\nfield: value1",
        ),
        case(
            "null removes",
            "kind: K\nfield: value1",
            "kind: K\nfield: null",
            "kind: K",
        ),
        case(
            "empty value removes",
            "kind: K\nfield: value1",
            "kind: K\nfield:",
            "kind: K",
        ),
        case(
            "null for a missing field",
            "kind: K",
            "kind: K\nfield: null",
            "kind: K",
        ),
        case(
            "null over null",
            "kind: K\nfield: null",
            "kind: K\nfield: null",
            "kind: K",
        ),
        case(
            "target null kept",
            "kind: K\nfield: null",
            "kind: K",
            "kind: K\nfield: null",
        ),
        case(
            "target tilde kept",
            "kind: K\nfield: ~",
            "kind: K",
            "kind: K\nfield: null",
        ),
        case(
            "empty map added",
            "kind: K",
            "kind: K\nfield: {}",
            "kind: K\nfield: {}",
        ),
        case(
            "number over string",
            "kind: K\nf: a",
            "kind: K\nf: 3",
            "kind: K\nf: 3",
        ),
    ]);
}

#[test]
fn associative_lists() {
    use ListOrder::{Append, Prepend};
    let three = "      containers:\n      - name: foo1\n      - name: foo2\n      - name: foo3\n";
    run_deploy(
        "element $patch delete, first",
        three,
        "      containers:\n      - name: foo1\n        $patch: delete\n      - name: foo2\n      - name: foo3\n",
        Some("      containers:\n      - name: foo2\n      - name: foo3\n"),
        Append,
    );
    run_deploy(
        "element $patch delete, last",
        three,
        "      containers:\n      - name: foo1\n      - name: foo2\n      - name: foo3\n        $patch: delete\n",
        Some("      containers:\n      - name: foo1\n      - name: foo2\n"),
        Append,
    );
    for (field, order, expected) in [
        ("containers", Prepend, ["foo1", "foo2", "foo3", "foo0"]),
        ("containers", Append, ["foo0", "foo1", "foo2", "foo3"]),
        ("volumes", Prepend, ["foo1", "foo2", "foo3", "foo0"]),
        ("volumes", Append, ["foo0", "foo1", "foo2", "foo3"]),
    ] {
        let got = merge_with(
            &deploy(&format!("      {field}:\n      - name: foo0\n")),
            &deploy(&format!(
                "      {field}:\n      - name: foo1\n      - name: foo2\n      - name: foo3\n"
            )),
            options(order, false),
        );
        let names: Vec<Value> = expected.iter().map(|n| json!({"name": n})).collect();
        let want = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {field: names}}}});
        assert_eq!(got, Outcome::Merged(want), "{field} {order:?}");
    }
    let two = "      containers:\n      - name: foo4\n      - name: foo5\n";
    run_deploy(
        "list $patch merge",
        two,
        "      containers:\n      - name: foo1\n      - name: foo2\n      - name: foo3\n      - $patch: merge\n",
        Some(
            "      containers:\n      - name: foo4\n      - name: foo5\n      - name: foo1\n      - name: foo2\n      - name: foo3\n",
        ),
        Append,
    );
    run_deploy(
        "list $patch replace",
        two,
        "      containers:\n      - name: foo1\n      - name: foo2\n      - name: foo3\n      - $patch: replace\n",
        Some(three),
        Append,
    );
    run_deploy(
        "list $patch delete",
        two,
        "      containers:\n      - name: foo1\n      - $patch: delete\n",
        Some("      {}\n"),
        Append,
    );
}

#[test]
fn non_associative_lists() {
    run(&[
        case(
            "different",
            "kind: K\nitems: [0, 1]",
            "kind: K\nitems: [1, 2, 3]",
            "kind: K\nitems: [1, 2, 3]",
        ),
        case(
            "missing in target",
            "kind: K",
            "kind: K\nitems: [1, 2, 3]",
            "kind: K\nitems: [1, 2, 3]",
        ),
        case(
            "same",
            "kind: K\nitems: [1, 2, 3]",
            "kind: K\nitems: [1, 2, 3]",
            "kind: K\nitems: [1, 2, 3]",
        ),
        case(
            "unspecified in patch",
            "kind: K\nitems: [1, 2, 3]",
            "kind: K",
            "kind: K\nitems: [1, 2, 3]",
        ),
        case(
            "null removes",
            "kind: K\nitems: [1, 2, 3]",
            "kind: K\nitems: null",
            "kind: K",
        ),
        case(
            "empty replaces",
            "kind: K\nitems: [1, 2, 3]",
            "kind: K\nitems: []",
            "kind: K\nitems: []",
        ),
        // A list of named elements in a kind without schema is replaced too.
        case(
            "unknown kind",
            "apiVersion: x/v1\nkind: K\nl: [{name: a, v: 1}]",
            "apiVersion: x/v1\nkind: K\nl: [{name: b}]",
            "apiVersion: x/v1\nkind: K\nl: [{name: b}]",
        ),
    ]);
}

#[test]
fn elements() {
    let foo_v1 = "      containers:\n      - name: foo\n        image: foo:v1\n";
    let foo_v1_run = "      containers:\n      - name: foo\n        image: foo:v1\n        command: ['run.sh']\n";
    let both = "      containers:\n      - name: foo\n        image: foo:v1\n      - name: bar\n        image: bar:v1\n        command: ['run2.sh']\n";
    let bar_first = "      containers:\n      - name: bar\n        image: bar:v1\n        command: ['run2.sh']\n      - name: foo\n        image: foo:v1\n";
    let foo_v0 = "      containers:\n      - name: foo\n        image: foo:v0\n";
    use ListOrder::{Append, Prepend};
    for (name, target, patch, expected, order) in [
        (
            "keep a target field",
            "      containers:\n      - name: foo\n        image: foo:v0\n        command: ['run.sh']\n",
            foo_v1,
            foo_v1_run,
            Append,
        ),
        ("add a field", foo_v0, foo_v1_run, foo_v1_run, Append),
        (
            "list empty in target",
            "      containers: []\n",
            foo_v1_run,
            foo_v1_run,
            Append,
        ),
        (
            "new element listed first, appended",
            foo_v0,
            bar_first,
            both,
            Append,
        ),
        (
            "new element listed second, appended",
            foo_v0,
            both,
            both,
            Append,
        ),
        (
            "new element listed first, prepended",
            foo_v0,
            bar_first,
            bar_first,
            Prepend,
        ),
        (
            "new element listed second, prepended",
            foo_v0,
            both,
            both,
            Prepend,
        ),
        (
            "element missing in patch",
            "      containers:\n      - name: foo\n        image: foo:v0\n      - name: bar\n        image: bar:v1\n        command: ['run2.sh']\n",
            foo_v1,
            both,
            Append,
        ),
        (
            "empty list in patch",
            both,
            "      containers: []\n",
            both,
            Append,
        ),
        (
            "null list in patch",
            both,
            "      containers: null\n",
            "      {}\n",
            Append,
        ),
    ] {
        run_deploy(name, target, patch, Some(expected), order);
    }
    run(&[
        case(
            "list missing in target",
            DEPLOY,
            "apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: foo}]}}}",
            "apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: foo}]}}}",
        ),
        case(
            "list missing in patch",
            "apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: foo}]}}}",
            DEPLOY,
            "apiVersion: apps/v1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: foo}]}}}",
        ),
        Case {
            infer: true,
            ..case(
                "inferred merge key",
                "apiVersion: custom\nkind: Deployment\ncontainers:\n- name: foo\n  image: foo:bar",
                "apiVersion: custom\nkind: Deployment\ncontainers:\n- name: foo\n  command: ['run2.sh']",
                "apiVersion: custom\nkind: Deployment\ncontainers:\n- name: foo\n  image: foo:bar\n  command: ['run2.sh']",
            )
        },
        case(
            "finalizers are a primitive merge list",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  finalizers: [b, c]",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  finalizers: [a, b]",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  finalizers: [b, c, a]",
        ),
        prepend(case(
            "finalizers, prepended",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  finalizers: [b, c]",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  finalizers: [a, b]",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  finalizers: [a, b, c]",
        )),
    ]);
}

#[test]
fn maps() {
    run(&[
        Case {
            expected: None,
            ..case(
                "$patch delete at the top",
                "kind: K\nspec: {foo: bar1}",
                "kind: K\n$patch: delete",
                "",
            )
        },
        Case {
            expected: None,
            ..case(
                "$patch delete with identity",
                "apiVersion: apps/v1\nmetadata: {name: d}\nkind: Deployment\nspec: {replicas: 2}",
                "apiVersion: apps/v1\nmetadata: {name: d}\nkind: Deployment\n$patch: delete",
                "",
            )
        },
        case(
            "$patch delete on a field",
            "kind: K\nspec: {foo: bar, color: red}",
            "kind: K\nspec: {$patch: delete}",
            "kind: K",
        ),
        case(
            "$patch delete nested",
            "kind: K\nspec:\n  metadata: {name: wut}\n  template: {spec: {containers: [{name: foo}]}}",
            "kind: K\nspec:\n  metadata: {name: wut}\n  template: {$patch: delete}",
            "kind: K\nspec:\n  metadata: {name: wut}",
        ),
        case(
            "$patch replace",
            "kind: K\nspec: {river: nile, color: red}",
            "kind: K\nspec: {metal: heavy, $patch: replace, veggie: carrot}",
            "kind: K\nspec: {metal: heavy, veggie: carrot}",
        ),
        case(
            "$patch merge is removed",
            "kind: K\nspec: {a: 1}",
            "kind: K\nspec: {b: 2, $patch: merge}",
            "kind: K\nspec: {a: 1, b: 2}",
        ),
        case(
            "update a field",
            "kind: K\nspec: {foo: bar0, baz: buz}",
            "kind: K\nspec: {foo: bar1}",
            "kind: K\nspec: {foo: bar1, baz: buz}",
        ),
        case(
            "add a field",
            "kind: K\nspec: {foo: bar0}",
            "kind: K\nspec: {foo: bar1, baz: buz}",
            "kind: K\nspec: {foo: bar1, baz: buz}",
        ),
        case(
            "into an empty map",
            "kind: K\nspec: {}",
            "kind: K\nspec: {foo: bar1, baz: buz}",
            "kind: K\nspec: {foo: bar1, baz: buz}",
        ),
        case(
            "map missing in target",
            "kind: K",
            "kind: K\nspec: {foo: bar1}",
            "kind: K\nspec: {foo: bar1}",
        ),
        case(
            "map missing in patch",
            "kind: K\nspec: {foo: bar1}",
            "kind: K",
            "kind: K\nspec: {foo: bar1}",
        ),
        case(
            "empty map in patch",
            "kind: K\nspec: {foo: bar1}",
            "kind: K\nitems: {}",
            "kind: K\nspec: {foo: bar1}\nitems: {}",
        ),
        case(
            "null removes",
            "kind: K\nspec: {foo: bar1}",
            "kind: K\nspec: null",
            "kind: K",
        ),
        case(
            "annotations merge",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, annotations: {a.b.c: d.e.f, g: h1, i: j, m: n2}}",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, annotations: {a.b.c: d.e.f, g: h2, k: l, m: n1}}",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, annotations: {a.b.c: d.e.f, g: h2, i: j, k: l, m: n1}}",
        ),
        case(
            "annotations cleared",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, labels: {app: java}, annotations: {g: h1}}",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {annotations: null}",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app, labels: {app: java}}",
        ),
        case(
            "numeric-looking keys",
            "apiVersion: v1\nkind: ConfigMap\ndata: {'6443': foobar}",
            "apiVersion: v1\nkind: ConfigMap\ndata: {6443: barfoo, '9110': foo-foo}",
            "apiVersion: v1\nkind: ConfigMap\ndata: {'6443': barfoo, '9110': foo-foo}",
        ),
    ]);
}

#[test]
fn service_ports_without_protocol() {
    let svc = |ports: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec:\n  ports: {ports}")
    };
    for (target, patch, expected) in [
        (
            "[{port: 30900, targetPort: 30900, protocol: TCP}]",
            "[{port: 30900, targetPort: 30900}]",
            "[{port: 30900, targetPort: 30900, protocol: TCP}]",
        ),
        (
            "[{port: 30900, targetPort: 30900, protocol: TCP}]",
            "[{port: 30901, targetPort: 30901}]",
            "[{port: 30900, targetPort: 30900, protocol: TCP}, {port: 30901, targetPort: 30901}]",
        ),
    ] {
        let got = merge_with(&svc(target), &svc(patch), options(ListOrder::Append, false));
        assert_eq!(got, Outcome::Merged(yaml(&svc(expected))), "{patch}");
    }
}

#[test]
fn env_and_args_in_a_container() {
    let target = "      containers:\n      - name: nginx\n        image: nginx:1.7.9\n        args: [c, a, b]\n        env:\n        - {name: DEMO_GREETING, value: Hello}\n        - {name: DEMO_FAREWELL, value: Sorrow}\n";
    run_deploy(
        "env merges by name",
        target,
        "      containers:\n      - name: nginx\n        env:\n        - {name: DEMO_GREETING, value: New}\n        - {name: NEW_DEMO_VALUE, value: Another}\n",
        Some(
            "      containers:\n      - name: nginx\n        image: nginx:1.7.9\n        args: [c, a, b]\n        env:\n        - {name: DEMO_GREETING, value: New}\n        - {name: DEMO_FAREWELL, value: Sorrow}\n        - {name: NEW_DEMO_VALUE, value: Another}\n",
        ),
        ListOrder::Append,
    );
    run_deploy(
        "args are replaced",
        target,
        "      containers:\n      - name: nginx\n        args: [e, d, f]\n",
        Some(
            "      containers:\n      - name: nginx\n        image: nginx:1.7.9\n        args: [e, d, f]\n        env:\n        - {name: DEMO_GREETING, value: Hello}\n        - {name: DEMO_FAREWELL, value: Sorrow}\n",
        ),
        ListOrder::Append,
    );
}
