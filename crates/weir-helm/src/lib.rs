//! Helm charts, rendered as `helm template` renders them: chart directories with their
//! subcharts, values coalesced as Helm does (chart defaults, parent values for subcharts,
//! globals, `-f` files, `null` deleting a key), the render context (`.Values`, `.Release`,
//! `.Chart`, `.Capabilities`, `.Template`, `.Files`), and the manifests in Helm's install
//! order with `# Source:` headers.
//!
//! Pure: files in, text out. Templates run on `weir-gotmpl`.

mod chart;
mod files;
mod order;
pub mod release;
mod set;

use std::collections::BTreeMap;

pub use chart::{Chart, load_dir};
pub use order::Manifest;
use serde_json::Value as Json;
pub use set::{
    parse as parse_set, parse_file_into as parse_set_file_into, parse_into as parse_set_into,
    parse_json_into as parse_set_json_into, parse_literal_into as parse_set_literal_into,
};
use weir_gotmpl::{Templates, Value};

/// Why a chart could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A chart file could not be read.
    #[error("{path}: {message}")]
    Load {
        /// The file or directory.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A template failed (parse or execution), in Go's words.
    #[error(transparent)]
    Template(#[from] weir_gotmpl::Error),
    /// A values file is invalid.
    #[error("{0}")]
    Values(String),
    /// The values do not satisfy a chart's `values.schema.json`.
    #[error(
        "values don't meet the specifications of the schema(s) in the following chart(s):\n{0}"
    )]
    Schema(String),
}

/// How to render: `helm template`'s settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// The release name.
    pub release: String,
    /// The release namespace.
    pub namespace: String,
    /// The Kubernetes version `.Capabilities` reports (`1.36.0`).
    pub kube_version: String,
    /// Extra API versions for `.Capabilities.APIVersions`.
    pub api_versions: Vec<String>,
    /// Print the `crds/` directory's files first.
    pub include_crds: bool,
    /// Leave out test hooks.
    pub skip_tests: bool,
    /// Render as an upgrade rather than an install.
    pub is_upgrade: bool,
    /// User values (from `-f` files, in order), merged over the chart's.
    pub values: Vec<Json>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            release: "release-name".into(),
            namespace: "default".into(),
            kube_version: "1.36.0".into(),
            api_versions: Vec::new(),
            include_crds: false,
            skip_tests: false,
            is_upgrade: false,
            values: Vec::new(),
        }
    }
}

/// Deep merge of `over` onto `base` (Helm's coalescing for user values: maps merge, other
/// values replace, `null` deletes the key).
pub fn merge_values(base: &mut Json, over: &Json) {
    match (base, over) {
        (Json::Object(b), Json::Object(o)) => {
            for (k, v) in o {
                if v.is_null() {
                    b.remove(k);
                    continue;
                }
                match b.get_mut(k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        merge_values(existing, v)
                    }
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// The values a chart's templates see: its defaults under the values given for it, and for
/// each enabled subchart, the parent's values under the subchart's name over the
/// subchart's defaults, with `global` passed down.
fn coalesce(chart: &Chart, given: &Json) -> Json {
    let mut values = chart.values.clone();
    if !values.is_object() {
        values = Json::Object(Default::default());
    }
    // Nulls in the chart's defaults do not reach the templates (Helm cleans them).
    clean_nulls(&mut values);
    merge_values(&mut values, given);
    values
}

fn clean_nulls(value: &mut Json) {
    if let Json::Object(map) = value {
        map.retain(|_, v| !v.is_null());
        for v in map.values_mut() {
            clean_nulls(v);
        }
    }
}

/// The values of `chart` and, under each enabled subchart's name, the subchart's own (as
/// Helm coalesces the whole tree: a parent's templates see its subcharts' values).
fn coalesce_tree(chart: &Chart, given: &Json) -> Json {
    let mut values = coalesce(chart, given);
    for sub in &chart.subcharts {
        if !enabled(sub, &values) {
            continue;
        }
        let given_sub = subchart_given(&values, sub);
        let sub_values = coalesce_tree(sub, &given_sub);
        if let Json::Object(map) = &mut values {
            map.insert(sub.name().to_owned(), sub_values);
        }
    }
    import_values(chart, values)
}

/// The value at dotted `path` in `value`.
fn at_path<'a>(value: &'a Json, path: &str) -> Option<&'a Json> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .try_fold(value, |v, part| v.get(part))
}

/// Applies the `import-values` of `chart`'s enabled dependencies, as Helm does: a string
/// `name` imports the child's `exports.name` table at the parent's root, a map
/// `{child, parent}` the child's table at `child` to `parent`; the parent's own values win
/// over what is imported.
fn import_values(chart: &Chart, values: Json) -> Json {
    let mut imported = Json::Object(Default::default());
    for sub in chart
        .subcharts
        .iter()
        .filter(|s| !s.import_values.is_empty())
    {
        if !enabled(sub, &values) {
            continue;
        }
        let Some(sub_values) = values.get(sub.name()) else {
            continue;
        };
        for entry in &sub.import_values {
            let (table, parent) = match entry {
                Json::String(name) => (at_path(sub_values, &format!("exports.{name}")), ""),
                Json::Object(m) => (
                    m.get("child")
                        .and_then(Json::as_str)
                        .and_then(|c| at_path(sub_values, c)),
                    m.get("parent").and_then(Json::as_str).unwrap_or(""),
                ),
                _ => (None, ""),
            };
            let Some(table @ Json::Object(_)) = table else {
                continue;
            };
            let mut wrapped = table.clone();
            for part in parent.split('.').filter(|p| !p.is_empty()).rev() {
                wrapped = Json::Object([(part.to_owned(), wrapped)].into_iter().collect());
            }
            merge_values(&mut imported, &wrapped);
        }
    }
    if imported.as_object().is_some_and(|m| m.is_empty()) {
        return values;
    }
    merge_values(&mut imported, &values);
    imported
}

fn subchart_given(parent: &Json, sub: &Chart) -> Json {
    let mut given = parent
        .get(sub.name())
        .cloned()
        .unwrap_or_else(|| Json::Object(Default::default()));
    // Every subchart gets `global` (empty when no one sets it), as Helm's coalescing does.
    if let Json::Object(map) = &mut given {
        let mut merged = map
            .get("global")
            .cloned()
            .unwrap_or_else(|| Json::Object(Default::default()));
        if let Some(global) = parent.get("global") {
            merge_values(&mut merged, global);
        }
        map.insert("global".into(), merged);
    }
    given
}

/// Whether dependency `sub` is enabled in the parent's values, by Helm's rules: its
/// `condition` (the first path resolving to a bool) decides; without one, its `tags` under
/// the parent's `tags:` (any true enables, else any false disables); else enabled.
fn enabled(sub: &Chart, parent: &Json) -> bool {
    if let Some(decided) = condition_value(sub.condition.as_deref(), parent) {
        return decided;
    }
    let tags = parent.get("tags");
    let set: Vec<bool> = sub
        .tags
        .iter()
        .filter_map(|t| tags.and_then(|tags| tags.get(t)).and_then(Json::as_bool))
        .collect();
    set.is_empty() || set.contains(&true)
}

/// The bool a dependency's `condition` resolves to, if any of its paths does.
fn condition_value(condition: Option<&str>, parent: &Json) -> Option<bool> {
    let condition = condition?;
    for path in condition.split(',') {
        let mut v = parent;
        let mut found = true;
        for part in path.trim().split('.') {
            match v.get(part) {
                Some(next) => v = next,
                None => {
                    found = false;
                    break;
                }
            }
        }
        if found && let Some(b) = v.as_bool() {
            return Some(b);
        }
    }
    None
}

struct Rendering {
    templates: Templates,
    /// (template name, chart context) of every template to render.
    jobs: Vec<(String, Value, Value)>,
    crds: Vec<(String, String)>,
    /// The top chart's `NOTES.txt`, its context and `.Template`.
    notes: Option<(String, Value, Value)>,
}

fn chart_value(chart: &Chart) -> Value {
    let meta = &chart.metadata;
    let text = |k: &str| Value::str(meta.get(k).and_then(Json::as_str).unwrap_or_default());
    let any = |k: &str| {
        meta.get(k)
            .map(weir_gotmpl::sprig::from_json_value)
            .unwrap_or(Value::Nil)
    };
    let mut m = BTreeMap::new();
    for (field, key) in [
        ("Name", "name"),
        ("Home", "home"),
        ("Version", "version"),
        ("Description", "description"),
        ("Icon", "icon"),
        ("APIVersion", "apiVersion"),
        ("Condition", "condition"),
        ("Tags", "tags"),
        ("AppVersion", "appVersion"),
        ("KubeVersion", "kubeVersion"),
        ("Type", "type"),
    ] {
        m.insert(field.to_owned(), text(key));
    }
    for (field, key) in [
        ("Sources", "sources"),
        ("Keywords", "keywords"),
        ("Maintainers", "maintainers"),
        ("Annotations", "annotations"),
        ("Dependencies", "dependencies"),
    ] {
        m.insert(field.to_owned(), any(key));
    }
    m.insert(
        "Deprecated".into(),
        Value::Bool(
            meta.get("deprecated")
                .and_then(Json::as_bool)
                .unwrap_or(false),
        ),
    );
    m.insert("IsRoot".into(), Value::Bool(chart.parent_path.is_empty()));
    Value::map(m)
}

/// The top-level objects of `chart`'s templates: `.Values`, `.Chart`, `.Files`, `.Release`,
/// `.Capabilities` and `.Subcharts` (each enabled subchart's own).
fn context(chart: &Chart, values: &Json, top: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let mut ctx = top.clone();
    ctx.insert("Values".into(), weir_gotmpl::sprig::from_json_value(values));
    ctx.insert("Chart".into(), chart_value(chart));
    ctx.insert("Files".into(), files::files_value(chart));
    let mut subcharts = BTreeMap::new();
    for sub in &chart.subcharts {
        if let Some(sub_values) = values.get(sub.name()).filter(|_| enabled(sub, values)) {
            subcharts.insert(
                sub.name().to_owned(),
                Value::map(context(sub, sub_values, top)),
            );
        }
    }
    ctx.insert("Subcharts".into(), Value::map(subcharts));
    ctx
}

/// Adds `chart`'s templates, with `ctx` (its [`context`]), and those of its enabled
/// subcharts, whose contexts are in `ctx`'s `.Subcharts`.
fn collect(
    chart: &Chart,
    ctx: &BTreeMap<String, Value>,
    prefix: &str,
    out: &mut Rendering,
) -> Result<(), Error> {
    let base = format!("{prefix}{}", chart.name());
    // One context per chart, shared by its templates as in Helm: what a template sets on `.`
    // (Cilium's generated CA) the next ones see. `.Template` is set before each runs.
    let shared = Value::map(ctx.clone());
    for (path, text) in &chart.templates {
        let name = format!("{base}/{path}");
        out.templates.add(&name, text)?;
        let template = Value::map(
            [
                ("Name".to_owned(), Value::str(&name)),
                (
                    "BasePath".to_owned(),
                    Value::str(format!("{base}/templates")),
                ),
            ]
            .into_iter()
            .collect(),
        );
        let file = path.rsplit('/').next().unwrap_or(path);
        if path == "templates/NOTES.txt" && prefix.is_empty() {
            out.notes = Some((name, shared.clone(), template));
        } else if !file.starts_with('_')
            && path.starts_with("templates/")
            && !file.eq_ignore_ascii_case("NOTES.txt")
        {
            out.jobs.push((name, shared.clone(), template));
        }
    }
    for (path, text) in &chart.crds {
        out.crds.push((format!("{base}/{path}"), text.clone()));
    }
    let Some(Value::Map(subcharts)) = ctx.get("Subcharts") else {
        return Ok(());
    };
    for sub in &chart.subcharts {
        if let Some(Value::Map(sub_ctx)) = subcharts.get(sub.name()) {
            collect(sub, &sub_ctx.snapshot(), &format!("{base}/charts/"), out)?;
        }
    }
    Ok(())
}

/// Checks `values` against `chart`'s `values.schema.json`, then each subchart's values (those
/// under its name) against its own schema, as Helm does; returns the failures, per chart.
fn schema_failures(chart: &Chart, values: &Json, out: &mut String) {
    if let Some((_, data)) = chart.files.iter().find(|(p, _)| p == "values.schema.json") {
        let failures = match serde_json::from_slice::<Json>(data) {
            Err(e) => vec![format!("- values.schema.json is not JSON: {e}")],
            Ok(schema) => match jsonschema::validator_for(&schema) {
                Err(e) => vec![format!("- values.schema.json is not a valid schema: {e}")],
                Ok(validator) => validator
                    .iter_errors(values)
                    .map(|e| format!("- at '{}': {e}", e.instance_path().as_str()))
                    .collect(),
            },
        };
        if !failures.is_empty() {
            out.push_str(&format!("{}:\n{}\n", chart.name(), failures.join("\n")));
        }
    }
    // Disabled subcharts are not part of the release, so not checked (Helm removes them first).
    for sub in chart.subcharts.iter().filter(|sub| enabled(sub, values)) {
        match values.get(sub.name()) {
            None | Some(Json::Null) => {}
            Some(sub_values @ Json::Object(_)) => schema_failures(sub, sub_values, out),
            Some(_) => out.push_str(&format!(
                "{}:\ninvalid type for values: expected object (map)\n",
                sub.name()
            )),
        }
    }
}

/// A rendered chart, as a release records it.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The manifests that are not hooks, in install order, each as
    /// `---\n# Source: PATH\nDOCUMENT\n` (Helm's release manifest).
    pub manifests: Vec<Manifest>,
    /// The hooks, in install order.
    pub hooks: Vec<Manifest>,
    /// The `crds/` files of the chart and its enabled subcharts: (path, text).
    pub crds: Vec<(String, String)>,
    /// The top chart's rendered `templates/NOTES.txt`.
    pub notes: String,
    /// The values the templates saw (`.Values` of the top chart).
    pub values: Json,
}

impl Rendered {
    /// The release manifest: every non-hook manifest with its `# Source:` header.
    pub fn manifest(&self) -> String {
        let mut out = String::new();
        for m in &self.manifests {
            out.push_str(&format!("---\n# Source: {}\n{}\n", m.path, m.content));
        }
        out
    }
}

/// Renders `chart` with `options`, release `revision`.
pub fn render(chart: &Chart, options: &Options, revision: u32) -> Result<Rendered, Error> {
    let mut given = Json::Object(Default::default());
    for v in &options.values {
        merge_values(&mut given, v);
    }
    let values = coalesce_tree(chart, &given);
    let mut failures = String::new();
    schema_failures(chart, &values, &mut failures);
    if !failures.is_empty() {
        return Err(Error::Schema(failures));
    }
    let mut top = BTreeMap::new();
    top.insert(
        "Release".into(),
        Value::map(
            [
                ("Name", Value::str(&options.release)),
                ("Namespace", Value::str(&options.namespace)),
                ("IsUpgrade", Value::Bool(options.is_upgrade)),
                ("IsInstall", Value::Bool(!options.is_upgrade)),
                ("Revision", Value::Int(i64::from(revision))),
                ("Service", Value::str("Helm")),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        ),
    );
    top.insert(
        "Capabilities".into(),
        files::capabilities(&options.kube_version, &options.api_versions),
    );
    let mut templates = Templates::new();
    weir_gotmpl::sprig::register(&mut templates);
    let mut rendering = Rendering {
        templates,
        jobs: Vec::new(),
        crds: Vec::new(),
        notes: None,
    };
    collect(chart, &context(chart, &values, &top), "", &mut rendering)?;
    // Helm's order: deeper paths first, then names in reverse.
    rendering.jobs.sort_by(|a, b| {
        let depth = |n: &str| n.matches('/').count();
        depth(&b.0).cmp(&depth(&a.0)).then_with(|| b.0.cmp(&a.0))
    });
    let run = |name: &str, ctx: &Value, template: &Value| {
        if let Value::Map(dict) = ctx {
            dict.insert("Template".into(), template.clone());
        }
        rendering.templates.execute(name, ctx)
    };
    let mut files = Vec::new();
    for (name, ctx, template) in &rendering.jobs {
        let text = run(name, ctx, template)?;
        files.push((name.clone(), text.replace("<no value>", "")));
    }
    let notes = match &rendering.notes {
        Some((name, ctx, template)) => run(name, ctx, template)?.replace("<no value>", ""),
        None => String::new(),
    };
    let (manifests, mut hooks) = order::sort(files);
    if options.skip_tests {
        hooks.retain(|h| !h.is_test);
    }
    Ok(Rendered {
        manifests,
        hooks,
        crds: rendering.crds,
        notes,
        values,
    })
}

/// Renders `chart` as `helm template` prints it.
pub fn template(chart: &Chart, options: &Options) -> Result<String, Error> {
    let rendered = render(chart, options, 1)?;
    let mut out = String::new();
    if options.include_crds {
        for (path, text) in &rendered.crds {
            out.push_str(&format!("---\n# Source: {path}\n{text}\n"));
        }
    }
    out.push_str(rendered.manifest().trim());
    out.push('\n');
    for h in &rendered.hooks {
        out.push_str(&format!("---\n# Source: {}\n{}\n", h.path, h.content));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chart_with_schema() -> Chart {
        let schema = json!({
            "$schema": "https://json-schema.org/draft-07/schema#",
            "type": "object",
            "required": ["replicas"],
            "properties": { "replicas": { "type": "integer", "minimum": 1 } },
        });
        Chart {
            metadata: json!({ "apiVersion": "v2", "name": "demo", "version": "1.0.0" }),
            values: json!({ "replicas": 1 }),
            templates: vec![(
                "templates/cm.yaml".into(),
                "kind: ConfigMap\nreplicas: {{ .Values.replicas }}\n".into(),
            )],
            files: std::sync::Arc::new(vec![(
                "values.schema.json".into(),
                schema.to_string().into_bytes(),
            )]),
            ..Chart::default()
        }
    }

    #[test]
    fn tags_and_import_values() {
        let child = |name: &str| Chart {
            metadata: json!({ "apiVersion": "v2", "name": name, "version": "1.0.0" }),
            values: json!({ "exports": { "data": { "port": 80, "host": "child" } }, "deep": { "x": { "y": 1 } } }),
            parent_path: "parent/".into(),
            ..Chart::default()
        };
        let mut tagged = child("tagged");
        tagged.tags = vec!["extras".into()];
        let mut importer = child("importer");
        importer.import_values = vec![
            json!("data"),
            json!({ "child": "deep.x", "parent": "from.deep" }),
        ];
        let parent = Chart {
            metadata: json!({ "apiVersion": "v2", "name": "parent", "version": "1.0.0" }),
            values: json!({ "host": "parent", "tags": { "extras": false } }),
            templates: vec![(
                "templates/cm.yaml".into(),
                "kind: ConfigMap\nhost: {{ .Values.host }}\nport: {{ .Values.port }}\ny: {{ .Values.from.deep.y }}\ntagged: {{ hasKey .Subcharts \"tagged\" }}\n".into(),
            )],
            subcharts: vec![tagged, importer],
            ..Chart::default()
        };
        let out = template(&parent, &Options::default()).unwrap();
        assert!(
            out.contains("host: parent\nport: 80\ny: 1\ntagged: false"),
            "{out}"
        );
        let options = Options {
            values: vec![json!({ "tags": { "extras": true } })],
            ..Options::default()
        };
        assert!(
            template(&parent, &options)
                .unwrap()
                .contains("tagged: true")
        );
    }

    #[test]
    fn values_are_checked_against_the_schema() {
        let chart = chart_with_schema();
        let ok = template(&chart, &Options::default()).unwrap();
        assert!(ok.contains("replicas: 1"));
        let options = Options {
            values: vec![json!({ "replicas": "three" })],
            ..Options::default()
        };
        let err = template(&chart, &options).unwrap_err().to_string();
        assert!(
            err.starts_with("values don't meet the specifications of the schema(s) in the following chart(s):\ndemo:\n- at '/replicas':"),
            "{err}"
        );
        let options = Options {
            values: vec![json!({ "replicas": 0 })],
            ..Options::default()
        };
        assert!(
            template(&chart, &options)
                .unwrap_err()
                .to_string()
                .contains("minimum")
        );
    }
}
