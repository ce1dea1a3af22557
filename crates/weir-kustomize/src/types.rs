//! The kustomization file, as kustomize v5 accepts it. Unknown fields are rejected.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::resid::{Gvk, ResId};

/// `kustomization.yaml`: a Kustomization or a Component.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct Kustomization {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    pub metadata: Option<serde_json::Value>,
    pub openapi: Option<BTreeMap<String, String>>,
    pub name_prefix: Option<String>,
    pub name_suffix: Option<String>,
    pub namespace: Option<String>,
    pub common_labels: Option<BTreeMap<String, String>>,
    pub labels: Option<Vec<Label>>,
    pub common_annotations: Option<BTreeMap<String, String>>,
    pub patches_strategic_merge: Option<Vec<String>>,
    #[serde(rename = "patchesJson6902")]
    pub patches_json6902: Option<Vec<Patch>>,
    pub patches: Option<Vec<Patch>>,
    pub images: Option<Vec<Image>>,
    pub image_tags: Option<Vec<Image>>,
    pub replacements: Option<Vec<ReplacementField>>,
    pub replicas: Option<Vec<Replica>>,
    pub vars: Option<Vec<Var>>,
    pub sort_options: Option<SortOptions>,
    pub resources: Option<Vec<String>>,
    pub components: Option<Vec<String>>,
    pub crds: Option<Vec<String>>,
    pub bases: Option<Vec<String>>,
    pub config_map_generator: Option<Vec<GeneratorArgs>>,
    pub secret_generator: Option<Vec<GeneratorArgs>>,
    pub helm_globals: Option<serde_json::Value>,
    pub helm_charts: Option<Vec<serde_json::Value>>,
    pub helm_chart_inflation_generator: Option<Vec<serde_json::Value>>,
    pub generator_options: Option<GeneratorOptions>,
    pub configurations: Option<Vec<String>>,
    pub generators: Option<Vec<String>>,
    pub transformers: Option<Vec<String>>,
    pub validators: Option<Vec<String>>,
    pub build_metadata: Option<Vec<String>>,
}

/// An entry of `labels`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct Label {
    #[serde(default)]
    pub pairs: BTreeMap<String, String>,
    #[serde(default)]
    pub include_selectors: bool,
    #[serde(default)]
    pub include_templates: bool,
    #[serde(default, rename = "fields")]
    pub field_specs: Vec<FieldSpec>,
}

/// Where in which kinds a transformer acts.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct FieldSpec {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub path: String,
    #[serde(default, rename = "create")]
    pub create_if_not_present: bool,
}

impl FieldSpec {
    /// The GVK selector of this field spec.
    pub fn gvk(&self) -> Gvk {
        Gvk::new(&self.group, &self.version, &self.kind)
    }
}

/// Selects resources by id, labels and annotations.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct Selector {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub annotation_selector: String,
    #[serde(default)]
    pub label_selector: String,
}

impl Selector {
    /// The id part of the selector.
    pub fn res_id(&self) -> ResId {
        ResId::new(
            Gvk::new(&self.group, &self.version, &self.kind),
            &self.name,
            &self.namespace,
        )
    }
}

/// An entry of `patches` / `patchesJson6902`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct Patch {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub patch: String,
    pub target: Option<Selector>,
    #[serde(default)]
    pub options: BTreeMap<String, bool>,
}

/// An entry of `images`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct Image {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub new_name: String,
    #[serde(default)]
    pub tag_suffix: String,
    #[serde(default)]
    pub new_tag: String,
    #[serde(default)]
    pub digest: String,
}

/// An entry of `replicas`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct Replica {
    #[serde(default)]
    pub name: String,
    pub count: i64,
}

/// A legacy var.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct Var {
    pub name: String,
    pub objref: VarTarget,
    #[serde(default)]
    pub fieldref: FieldSelector,
}

/// The object a var reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct VarTarget {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
}

impl VarTarget {
    /// The GVK, from `apiVersion` when set.
    pub fn gvk(&self) -> Gvk {
        if self.api_version.is_empty() {
            Gvk::new(&self.group, &self.version, &self.kind)
        } else {
            Gvk::from_api_version(&self.api_version, &self.kind)
        }
    }
}

/// The field a var reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct FieldSelector {
    #[serde(default)]
    pub field_path: String,
}

/// An entry of `replacements`: inline, or a file with `path`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct ReplacementField {
    pub source: Option<SourceSelector>,
    #[serde(default)]
    pub targets: Vec<TargetSelector>,
    #[serde(default)]
    pub path: String,
}

/// A replacement as a whole (the content of a replacement file).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct Replacement {
    pub source: Option<SourceSelector>,
    #[serde(default)]
    pub targets: Vec<TargetSelector>,
}

/// Where a replacement reads its value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct SourceSelector {
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub field_path: String,
    pub options: Option<FieldOptions>,
}

/// Where a replacement writes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct TargetSelector {
    pub select: Option<Selector>,
    #[serde(default)]
    pub reject: Vec<Selector>,
    #[serde(default)]
    pub field_paths: Vec<String>,
    pub options: Option<FieldOptions>,
}

/// How a replacement reads or writes part of a value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct FieldOptions {
    #[serde(default)]
    pub delimiter: String,
    #[serde(default)]
    pub index: i64,
    #[serde(default)]
    pub encoding: String,
    #[serde(default)]
    pub create: bool,
}

/// `sortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct SortOptions {
    #[serde(default)]
    pub order: String,
    pub legacy_sort_options: Option<LegacySortOptions>,
}

/// `sortOptions.legacySortOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct LegacySortOptions {
    #[serde(default)]
    pub order_first: Vec<String>,
    #[serde(default)]
    pub order_last: Vec<String>,
}

/// A `configMapGenerator` or `secretGenerator` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct GeneratorArgs {
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub behavior: String,
    #[serde(default)]
    pub literals: Vec<String>,
    #[serde(default)]
    pub files: Vec<String>,
    #[serde(default)]
    pub envs: Vec<String>,
    #[serde(default)]
    pub env: String,
    pub options: Option<GeneratorOptions>,
    /// Secrets only.
    #[serde(default, rename = "type")]
    pub type_: String,
}

/// `generatorOptions`, or an entry's `options`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(
    missing_docs,
    reason = "fields are documented by kustomize's reference"
)]
pub struct GeneratorOptions {
    pub labels: Option<BTreeMap<String, String>>,
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub disable_name_suffix_hash: bool,
    #[serde(default)]
    pub immutable: bool,
}

impl GeneratorOptions {
    /// kustomize's MergeGlobalOptionsIntoLocal: local labels/annotations win over global ones,
    /// and the flags are or-ed.
    pub fn merged_with_global(local: Option<&Self>, global: Option<&Self>) -> Option<Self> {
        match (local, global) {
            (None, None) => None,
            (Some(l), None) => Some(l.clone()),
            (None, Some(g)) => Some(g.clone()),
            (Some(l), Some(g)) => {
                let merge = |a: &Option<BTreeMap<String, String>>,
                             b: &Option<BTreeMap<String, String>>| {
                    match (a, b) {
                        (None, None) => None,
                        _ => {
                            let mut out = b.clone().unwrap_or_default();
                            out.extend(a.clone().unwrap_or_default());
                            Some(out)
                        }
                    }
                };
                Some(GeneratorOptions {
                    labels: merge(&l.labels, &g.labels),
                    annotations: merge(&l.annotations, &g.annotations),
                    disable_name_suffix_hash: l.disable_name_suffix_hash
                        || g.disable_name_suffix_hash,
                    immutable: l.immutable || g.immutable,
                })
            }
        }
    }
}

/// The top-level fields of a kustomization.
pub(crate) const TOP_LEVEL_FIELDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "openapi",
    "namePrefix",
    "nameSuffix",
    "namespace",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patchesStrategicMerge",
    "patchesJson6902",
    "patches",
    "images",
    "imageTags",
    "replacements",
    "replicas",
    "vars",
    "sortOptions",
    "resources",
    "components",
    "crds",
    "bases",
    "configMapGenerator",
    "secretGenerator",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
    "generatorOptions",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
];

/// Every field name of the kustomization schema below the top level. kustomize decodes with
/// Go's encoding/json, which matches field names case-insensitively (`fieldpath` is
/// `fieldPath`).
const NESTED_FIELD_NAMES: &[&str] = &[
    "pairs",
    "includeSelectors",
    "includeTemplates",
    "fields",
    "group",
    "version",
    "path",
    "create",
    "name",
    "annotationSelector",
    "labelSelector",
    "patch",
    "target",
    "options",
    "newName",
    "tagSuffix",
    "newTag",
    "digest",
    "count",
    "objref",
    "fieldref",
    "fieldPath",
    "source",
    "targets",
    "select",
    "reject",
    "fieldPaths",
    "delimiter",
    "index",
    "encoding",
    "order",
    "legacySortOptions",
    "orderFirst",
    "orderLast",
    "behavior",
    "literals",
    "files",
    "envs",
    "env",
    "type",
    "annotations",
    "disableNameSuffixHash",
    "immutable",
];

/// Keys whose values are free-form maps, left as written.
const FREE_FORM: &[&str] = &[
    "metadata",
    "openapi",
    "commonLabels",
    "commonAnnotations",
    "pairs",
    "labels",
    "annotations",
    "options",
    "helmGlobals",
    "helmCharts",
    "helmChartInflationGenerator",
];

/// Renames keys that match a kustomization field name only case-insensitively.
pub(crate) fn fold_field_names(value: &mut serde_json::Value) {
    fn fold(value: &mut serde_json::Value, free: bool) {
        match value {
            serde_json::Value::Object(map) if !free => {
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let canonical = TOP_LEVEL_FIELDS.iter().chain(NESTED_FIELD_NAMES).find(|f| {
                        **f != key && f.eq_ignore_ascii_case(&key) && !map.contains_key(**f)
                    });
                    let name = match canonical {
                        Some(c) => {
                            let v = map.remove(&key).unwrap_or(serde_json::Value::Null);
                            map.insert((*c).to_owned(), v);
                            (*c).to_owned()
                        }
                        None => key,
                    };
                    // `labels` is a list of label sets at the top, a free-form map elsewhere.
                    let child_free = FREE_FORM.contains(&name.as_str())
                        && !(name == "labels" && map.get(&name).is_some_and(|v| v.is_array()));
                    if let Some(v) = map.get_mut(&name) {
                        fold(v, child_free);
                    }
                }
            }
            serde_json::Value::Array(items) if !free => {
                items.iter_mut().for_each(|v| fold(v, false))
            }
            _ => {}
        }
    }
    fold(value, false);
}

/// Decodes `value` into `T`, failing on any field `T` does not know (kustomize decodes
/// kustomization and configuration files with unknown fields disallowed). The error names the
/// field's path.
pub(crate) fn decode_strict<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> Result<T, String> {
    let mut unknown = Vec::new();
    let decoded: T = serde_ignored::deserialize(value, |path| unknown.push(path.to_string()))
        .map_err(|e| e.to_string())?;
    match unknown.first() {
        None => Ok(decoded),
        Some(field) => Err(format!("unknown field `{field}`")),
    }
}
