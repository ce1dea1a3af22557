//! Go semantics, case by case (expected outputs as Go 1.2x's text/template gives them).

use std::collections::BTreeMap;

use crate::{Error, Templates, Value};

fn map(entries: &[(&str, Value)]) -> Value {
    Value::map(
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn data() -> Value {
    map(&[
        ("name", "web".into()),
        ("replicas", Value::Float(3.0)),
        ("big", Value::Float(1_000_000.0)),
        ("enabled", true.into()),
        ("empty", "".into()),
        ("nothing", Value::Nil),
        (
            "list",
            Value::list(vec!["a".into(), "b".into(), "c".into()]),
        ),
        (
            "labels",
            map(&[("tier", "front".into()), ("app", "web".into())]),
        ),
    ])
}

fn render(text: &str) -> Result<String, Error> {
    let mut t = Templates::new();
    t.add("t", text)?;
    t.execute("t", &data())
}

fn ok(text: &str) -> String {
    match render(text) {
        Ok(s) => s,
        Err(e) => format!("ERROR: {e}"),
    }
}

#[test]
fn fields_printing_and_missing_keys() {
    assert_eq!(ok("{{ .name }}"), "web");
    assert_eq!(ok("{{ .replicas }}"), "3");
    assert_eq!(ok("{{ .big }}"), "1e+06");
    assert_eq!(ok("{{ .labels }}"), "map[app:web tier:front]");
    assert_eq!(ok("{{ .list }}"), "[a b c]");
    assert_eq!(ok("{{ .missing }}"), "<no value>");
    assert_eq!(ok("{{ .nothing }}"), "<no value>");
    assert_eq!(ok("{{ print .nothing }}"), "<nil>");
    assert_eq!(ok("{{ .labels.app }}"), "web");
    // From a nil start (parenthesised pipeline, variable): nothing, no error.
    assert_eq!(ok("{{ (.missing).sub }}"), "<no value>");
    assert_eq!(ok("{{ $m := .missing }}{{ $m.sub }}"), "<no value>");
    assert_eq!(
        ok("{{ .missing.sub }}"),
        "ERROR: template: t:1:3: executing \"t\" at <.missing.sub>: nil pointer evaluating interface {}.sub"
    );
    assert_eq!(
        ok("{{ .name.sub }}"),
        "ERROR: template: t:1:3: executing \"t\" at <.name.sub>: can't evaluate field sub in type string"
    );
}

#[test]
fn trimming_and_comments() {
    assert_eq!(ok("a  {{- .name -}}  b"), "awebb");
    assert_eq!(ok("a\n  {{- /* note */ -}}\n  b"), "ab");
    assert_eq!(ok("a {{/* x */}} b"), "a  b");
    assert_eq!(ok("x{{- 3}}"), "x3");
    assert_eq!(ok("{{-3}}"), "-3");
}

#[test]
fn conditions_and_else_chains() {
    assert_eq!(ok("{{ if .enabled }}on{{ else }}off{{ end }}"), "on");
    assert_eq!(
        ok("{{ if .empty }}a{{ else if .list }}b{{ else }}c{{ end }}"),
        "b"
    );
    assert_eq!(ok("{{ with .labels }}{{ .tier }}{{ end }}"), "front");
    assert_eq!(ok("{{ with .missing }}x{{ else }}none{{ end }}"), "none");
    assert_eq!(
        ok("{{ if and .enabled .name }}{{ or .empty \"d\" }}{{ end }}"),
        "d"
    );
    assert_eq!(ok("{{ if not .empty }}y{{ end }}"), "y");
}

#[test]
fn ranges_variables_and_scopes() {
    assert_eq!(ok("{{ range .list }}{{ . }}{{ end }}"), "abc");
    assert_eq!(
        ok("{{ range $i, $e := .list }}{{ $i }}={{ $e }} {{ end }}"),
        "0=a 1=b 2=c "
    );
    assert_eq!(
        ok("{{ range $k, $v := .labels }}{{ $k }}:{{ $v }};{{ end }}"),
        "app:web;tier:front;"
    );
    assert_eq!(ok("{{ range .missing }}x{{ else }}empty{{ end }}"), "empty");
    assert_eq!(ok("{{ range 3 }}{{ . }}{{ end }}"), "012");
    assert_eq!(
        ok("{{ range .list }}{{ if eq . \"b\" }}{{ break }}{{ end }}{{ . }}{{ end }}"),
        "a"
    );
    assert_eq!(
        ok("{{ range .list }}{{ if eq . \"b\" }}{{ continue }}{{ end }}{{ . }}{{ end }}"),
        "ac"
    );
    assert_eq!(
        ok("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}"),
        "2"
    );
    assert_eq!(ok("{{ range .list }}{{ $.name }}{{ end }}"), "webwebweb");
    assert_eq!(ok("{{ $v := .name }}{{ $v | printf \"%s!\" }}"), "web!");
}

#[test]
fn define_template_block() {
    assert_eq!(
        ok("{{ define \"x\" }}<{{ . }}>{{ end }}{{ template \"x\" .name }}{{ template \"x\" }}"),
        "<web><<no value>>"
    );
    assert_eq!(ok("{{ block \"b\" .name }}[{{ . }}]{{ end }}"), "[web]");
    assert_eq!(
        ok("{{ template \"nope\" }}"),
        "ERROR: template: t:1:0: executing \"t\" at <{{template \"nope\"}}>: template \"nope\" not defined"
    );
}

#[test]
fn builtins_and_comparisons() {
    assert_eq!(
        ok("{{ len .list }} {{ index .list 1 }} {{ index .labels \"app\" }}"),
        "3 b web"
    );
    assert_eq!(ok("{{ slice .list 1 }}"), "[b c]");
    assert_eq!(ok("{{ printf \"%s-%d\" .name 7 }}"), "web-7");
    assert_eq!(
        ok("{{ eq .name \"web\" \"x\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ ge \"b\" \"a\" }}"),
        "true true true true"
    );
    assert_eq!(ok("{{ eq .replicas 3.0 }}"), "true");
    assert_eq!(
        ok("{{ eq .replicas 3 }}"),
        "ERROR: template: t:1:3: executing \"t\" at <eq .replicas 3>: error calling eq: incompatible types for comparison"
    );
    assert_eq!(ok("{{ eq .missing \"x\" }}"), "false");
    assert_eq!(ok("{{ print 1 2 \"a\" 3 }}"), "1 2a3");
    assert_eq!(
        ok("{{ html \"<a>\" }} {{ urlquery \"a b&c\" }}"),
        "&lt;a&gt; a+b%26c"
    );
    assert_eq!(ok("{{ (index .list 0) }}{{ (.labels).tier }}"), "afront");
}

#[test]
fn parse_errors_name_the_place() {
    let err = render("line1\n{{ if .x }}")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(err, "template: t:2: unexpected EOF in if");
    let err = render("{{ nosuch 1 }}")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(err, "template: t:1: function \"nosuch\" not defined");
    let err = render("{{ \"unterminated }}")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(err, "template: t:1: unterminated quoted string");
    let err = render("{{ end }}")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("unexpected {{end}}"), "{err}");
}
